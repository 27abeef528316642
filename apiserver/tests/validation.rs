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
        .fails(&["patch", "deploy", "web", "--type=merge", "-p",
                 r#"{"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}}}}}"#])
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
