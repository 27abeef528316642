//! Per-kind validation and `fieldValidation`, as the real kubectl shows them.

mod common;

use common::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_refused_with_every_bad_field_named() {
    let cluster = Cluster::start().await;
    let bad = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers:
      - image: skiff/demo-web:v1
";
    let err = cluster.fails_with_input(&["apply", "-f", "-"], bad).await;
    assert!(err.contains("The Deployment \"web\" is invalid"), "{err}");
    assert!(err.contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0"), "{err}");
    assert!(err.contains("spec.template.spec.containers[0].name: Required value"), "{err}");
    assert!(err.contains("`selector` does not match template `labels`"), "{err}");
    assert!(cluster.kubectl(&["get", "deploy", "web"]).await.status.code() == Some(1), "nothing was stored");

    // Immutable fields: a Deployment's selector.
    cluster.ok(&["create", "deployment", "web", "--image=skiff/demo-web:v1"]).await;
    let err = cluster
        .fails(&[
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}}}}}"#,
        ])
        .await;
    assert!(err.contains("spec.selector: Invalid value:") && err.contains("field is immutable"), "{err}");

    // A Service port out of range.
    let service = "apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{port: 70000}]
";
    let err = cluster.fails_with_input(&["create", "-f", "-"], service).await;
    assert!(err.contains("spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_fail_strict_requests_and_warn_otherwise() {
    let cluster = Cluster::start().await;
    let typo = "apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
dataa: {a: '1'}
";
    // kubectl apply/create validate strictly by default.
    let err = cluster.fails_with_input(&["create", "-f", "-"], typo).await;
    assert!(
        err.contains("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"dataa\""),
        "{err}"
    );
    // --validate=warn: created, with the unknown field dropped and a warning printed.
    let out = cluster.kubectl_with_input(&["create", "--validate=warn", "-f", "-"], Some(typo)).await;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"dataa\""), "{out:?}");
    let stored = cluster.ok(&["get", "cm", "cfg", "-o", "json"]).await;
    assert!(!stored.contains("dataa"), "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_of_the_wrong_type_fail_whatever_the_field_validation() {
    let cluster = Cluster::start().await;
    let quoted = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: \"3\"
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: skiff/demo-web:v1}]
";
    let expected = "Deployment in version \"v1\" cannot be handled as a Deployment: \
                    json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32";
    for validate in ["--validate=strict", "--validate=false"] {
        let err = cluster.fails_with_input(&["create", validate, "-f", "-"], quoted).await;
        assert!(err.contains("(BadRequest)") && err.contains(expected), "{validate}: {err}");
    }
    assert!(cluster.kubectl(&["get", "deploy", "web"]).await.status.code() == Some(1), "nothing was stored");

    // A label's value is a string, not a number (the YAML has no quotes).
    let numeric_label = "apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: 5}}
";
    let err = cluster.fails_with_input(&["apply", "-f", "-"], numeric_label).await;
    assert!(
        err.contains("json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
        "{err}"
    );

    // A patch whose result holds one: 422 on the patch, the object unchanged.
    cluster.ok(&["create", "deployment", "web", "--image=skiff/demo-web:v1"]).await;
    let err = cluster.fails(&["patch", "deploy", "web", "--type=merge", "-p", r#"{"spec":{"replicas":"two"}}"#]).await;
    assert!(err.contains("The request is invalid: patch: Invalid value:"), "{err}");
    assert!(
        err.contains("json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
        "{err}"
    );
    assert_eq!(cluster.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).await.trim(), "1");
}

/// One HTTP/1.1 POST with this Content-Type, as curl sends it: the status code and the body.
async fn post(address: std::net::SocketAddr, path: &str, content_type: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let code = response.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, response.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_bodies_create_as_json_ones_do() {
    let cluster = Cluster::start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  greeting: hello\n";
    let (code, body) = post(cluster.api_address, path, "application/yaml", manifest).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(cluster.ok(&["get", "cm", "from-yaml", "-o", "jsonpath={.data.greeting}"]).await.trim(), "hello");

    // YAML that does not parse, and YAML of the wrong type, are 400s.
    let (code, body) = post(cluster.api_address, path, "application/yaml", "metadata: {name: x\n").await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("error converting YAML to JSON"), "{body}");
    let typed = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typed}\ndata: {count: 3}\n";
    let (code, body) = post(cluster.api_address, path, "application/yaml; charset=utf-8", typed).await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("json: cannot unmarshal number into Go struct field ConfigMap.data of type string"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_a_media_type_without_a_decoder_are_415() {
    let cluster = Cluster::start().await;
    let configmap = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"form"}}"#;
    // What `curl -d` sends when no Content-Type is given.
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, body) = post(cluster.api_address, path, "application/x-www-form-urlencoded", configmap).await;
    assert_eq!(code, 415, "{body}");
    assert!(body.contains("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"), "{body}");
    assert!(cluster.kubectl(&["get", "cm", "form"]).await.status.code() == Some(1), "nothing was stored");
    let (code, body) = post(cluster.api_address, path, "application/json; charset=utf-8", configmap).await;
    assert_eq!(code, 201, "{body}");
}
