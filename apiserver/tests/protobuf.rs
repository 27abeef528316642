//! The real kubectl 1.32 and 1.33, whose generators POST protobuf, against skiff-apiserver: each
//! generator creates its object, and `kubectl get -o json` shows the fields it set.
//!
//! The versioned binaries (`kubectl.1.32`, `kubectl.1.33`) sit beside the `kubectl` dispatcher on
//! PATH; the dispatcher itself would pick 1.31 (the server says minor 31), which sends JSON. Also
//! here, over plain HTTP: a typed client's protobuf Lease, and what a body the decoder cannot read
//! gets (415, or 400).

mod common;

use std::process::Output;

use common::Cluster;
use serde_json::{json, Value};

/// `kubectl.1.NN` beside the kubectl on PATH.
fn versioned_kubectl(version: &str) -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("kubectl")).find(|p| p.is_file()))
        .expect("kubectl is on PATH");
    std::fs::canonicalize(on_path).unwrap().parent().unwrap().join(format!("kubectl.{version}"))
}

/// One kubectl of `version` in namespace `namespace`, with its own discovery cache.
async fn kubectl(cluster: &Cluster, version: &str, namespace: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(versioned_kubectl(version))
        .arg("--kubeconfig")
        .arg(cluster.dir.path().join("kubeconfig"))
        .arg("--cache-dir")
        .arg(cluster.dir.path().join(format!("cache-{version}")))
        .args(["-n", namespace])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("the versioned kubectl runs")
}

async fn ok(cluster: &Cluster, version: &str, namespace: &str, args: &[&str]) -> String {
    let out = kubectl(cluster, version, namespace, args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl {version} {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

async fn get(cluster: &Cluster, version: &str, namespace: &str, resource: &str) -> Value {
    let out = ok(cluster, version, namespace, &["get", resource, "-o", "json"]).await;
    serde_json::from_str(&out).unwrap()
}

/// The throwaway certificate and key the fixtures were captured with, from the TLS secret's JSON.
fn tls_pair(dir: &std::path::Path) -> (String, String) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/tests/fixtures/protobuf/secret-tls.json");
    let secret: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut files = Vec::new();
    for key in ["tls.crt", "tls.key"] {
        let file = dir.join(key);
        std::fs::write(&file, unbase64(secret["data"][key].as_str().unwrap())).unwrap();
        files.push(file.to_str().unwrap().to_string());
    }
    (files[0].clone(), files[1].clone())
}

fn unbase64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextets: Vec<u32> =
        text.bytes().filter_map(|c| ALPHABET.iter().position(|&a| a == c)).map(|i| i as u32).collect();
    let mut out = Vec::new();
    for chunk in sextets.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, s)| n | s << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_32_and_1_33_generators_create_what_they_say() {
    let cluster = Cluster::start().await;
    let (cert, key) = tls_pair(cluster.dir.path());
    for (version, node_port) in [("1.32", "30132"), ("1.33", "30133")] {
        let ns = format!("gen-{}", version.replace('.', "-"));
        let ns = ns.as_str();
        let run = |args: &'static [&'static str]| ok(&cluster, version, ns, args);
        ok(&cluster, version, "default", &["create", "namespace", ns]).await;
        assert_eq!(get(&cluster, version, "default", &format!("namespace/{ns}")).await["status"]["phase"], "Active");

        run(&["create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80"]).await;
        let web = get(&cluster, version, ns, "deployment/web").await;
        assert_eq!(web["spec"]["replicas"], 3, "{version}");
        assert_eq!(web["spec"]["selector"], json!({"matchLabels": {"app": "web"}}));
        let container = &web["spec"]["template"]["spec"]["containers"][0];
        assert_eq!((&container["name"], &container["image"]), (&json!("nginx"), &json!("nginx:1.27")));
        assert_eq!(container["ports"][0]["containerPort"], 80);

        run(&["create", "deployment", "multi", "--image=nginx", "--image=busybox:1.36"]).await;
        let multi = get(&cluster, version, ns, "deployment/multi").await;
        let images: Vec<&Value> =
            multi["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().map(|c| &c["image"]).collect();
        assert_eq!(images, [&json!("nginx"), &json!("busybox:1.36")], "{version}");

        run(&["create", "service", "clusterip", "front", "--tcp=80:8080", "--tcp=443:8443"]).await;
        let front = get(&cluster, version, ns, "service/front").await;
        assert_eq!(front["spec"]["type"], "ClusterIP", "{version}");
        assert_eq!(front["spec"]["ports"][1]["port"], 443);
        assert_eq!(front["spec"]["ports"][1]["targetPort"], 8443);
        assert_eq!(front["spec"]["selector"], json!({"app": "front"}));
        assert!(front["spec"]["clusterIP"].as_str().is_some_and(|ip| ip.starts_with("10.")));

        let node_port_flag = format!("--node-port={node_port}");
        ok(&cluster, version, ns, &["create", "service", "nodeport", "edge", "--tcp=80:8080", &node_port_flag]).await;
        let edge = get(&cluster, version, ns, "service/edge").await;
        assert_eq!(edge["spec"]["type"], "NodePort", "{version}");
        assert_eq!(edge["spec"]["ports"][0]["nodePort"].to_string(), node_port);

        run(&["create", "service", "loadbalancer", "public", "--tcp=443:8443"]).await;
        assert_eq!(get(&cluster, version, ns, "service/public").await["spec"]["type"], "LoadBalancer");
        run(&["create", "service", "externalname", "upstream", "--external-name=example.com"]).await;
        let upstream = get(&cluster, version, ns, "service/upstream").await;
        assert_eq!(
            (&upstream["spec"]["type"], &upstream["spec"]["externalName"]),
            (&json!("ExternalName"), &json!("example.com"))
        );

        run(&["create", "job", "once", "--image=busybox", "--", "echo", "hi"]).await;
        let job = get(&cluster, version, ns, "job/once").await;
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["command"], json!(["echo", "hi"]), "{version}");
        assert_eq!(pod["restartPolicy"], "Never");

        run(&[
            "create",
            "ingress",
            "routes",
            "--rule=foo.com/bar*=svc1:8080,tls=my-cert",
            "--class=nginx",
            "--annotation=team=web",
            "--default-backend=defsvc:http",
        ])
        .await;
        let routes = get(&cluster, version, ns, "ingress/routes").await;
        assert_eq!(routes["metadata"]["annotations"]["team"], "web", "{version}");
        assert_eq!(routes["spec"]["ingressClassName"], "nginx");
        assert_eq!(routes["spec"]["tls"], json!([{"hosts": ["foo.com"], "secretName": "my-cert"}]));
        let path = &routes["spec"]["rules"][0]["http"]["paths"][0];
        assert_eq!((&path["path"], &path["pathType"]), (&json!("/bar"), &json!("Prefix")));
        assert_eq!(path["backend"]["service"], json!({"name": "svc1", "port": {"number": 8080}}));

        run(&["create", "configmap", "settings", "--from-literal=A=b"]).await;
        assert_eq!(get(&cluster, version, ns, "configmap/settings").await["data"], json!({"A": "b"}));
        run(&["create", "secret", "generic", "creds", "--from-literal=K=v"]).await;
        let creds = get(&cluster, version, ns, "secret/creds").await;
        assert_eq!((&creds["data"], &creds["type"]), (&json!({"K": "dg=="}), &json!("Opaque")), "{version}");
        run(&[
            "create",
            "secret",
            "docker-registry",
            "registry",
            "--docker-server=r.io",
            "--docker-username=u",
            "--docker-password=p",
        ])
        .await;
        let registry = get(&cluster, version, ns, "secret/registry").await;
        assert_eq!(registry["type"], "kubernetes.io/dockerconfigjson", "{version}");
        let config = unbase64(registry["data"][".dockerconfigjson"].as_str().unwrap());
        assert!(String::from_utf8(config).unwrap().contains("\"r.io\""));
        ok(&cluster, version, ns, &["create", "secret", "tls", "cert", "--cert", &cert, "--key", &key]).await;
        let tls = get(&cluster, version, ns, "secret/cert").await;
        assert_eq!(tls["type"], "kubernetes.io/tls", "{version}");
        assert!(unbase64(tls["data"]["tls.crt"].as_str().unwrap()).starts_with(b"-----BEGIN CERTIFICATE-----"));

        run(&["create", "serviceaccount", "robot"]).await;
        assert_eq!(get(&cluster, version, ns, "serviceaccount/robot").await["metadata"]["name"], "robot");

        // A server-side dry run reads the same body and stores nothing.
        run(&["create", "deployment", "dry", "--image=nginx", "--dry-run=server"]).await;
        let out = kubectl(&cluster, version, ns, &["get", "deployment", "dry"]).await;
        assert!(String::from_utf8_lossy(&out.stderr).contains("NotFound"), "{version}");

        // HorizontalPodAutoscalers are not served: the URL is a 404, as Kubernetes answers for a
        // resource it does not have, before any body is read.
        let out = kubectl(&cluster, version, ns, &["autoscale", "deployment", "web", "--min=2", "--max=5"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("NotFound"), "{version}: {stderr}");
    }
}

/// The API server's address, from the kubeconfig the harness wrote.
fn server_address(cluster: &Cluster) -> String {
    let kubeconfig = std::fs::read_to_string(cluster.dir.path().join("kubeconfig")).unwrap();
    let start = kubeconfig.find("http://").unwrap() + "http://".len();
    kubeconfig[start..].split('"').next().unwrap().to_string()
}

/// A protobuf POST over plain HTTP/1.1: the status line and the body of the answer.
async fn post_protobuf(address: &str, path: &str, body: &[u8]) -> (String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/vnd.kubernetes.protobuf\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(&[head.as_bytes(), body].concat()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), serde_json::from_str(body).unwrap_or(Value::Null))
}

/// `k8s\0` + `runtime.Unknown{typeMeta{apiVersion, kind}, raw}` with one-byte lengths.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let field = |number: u8, bytes: &[u8]| [&[number << 3 | 2, bytes.len() as u8][..], bytes].concat();
    let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
    [b"k8s\0".to_vec(), field(1, &type_meta), field(2, raw)].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_clients_protobuf_is_read_and_what_the_decoder_cannot_read_is_415_or_400() {
    let cluster = Cluster::start().await;
    let address = server_address(&cluster);
    // A Lease as a Go controller's leader election writes it: {metadata: {name: "l"}, spec:
    // {holderIdentity: "me", leaseDurationSeconds: 15}}.
    let lease = envelope("coordination.k8s.io/v1", "Lease", b"\x0a\x03\x0a\x01l\x12\x06\x0a\x02me\x10\x0f");
    let (status, body) =
        post_protobuf(&address, "/apis/coordination.k8s.io/v1/namespaces/default/leases", &lease).await;
    assert!(status.contains("201"), "{status}: {body}");
    let stored =
        cluster.ok(&["get", "lease", "l", "-o", "jsonpath={.spec.holderIdentity} {.spec.leaseDurationSeconds}"]).await;
    assert_eq!(stored, "me 15");
    // An envelope naming a kind the decoder has no table for.
    let autoscaler = envelope("autoscaling/v2", "HorizontalPodAutoscaler", &[0x0a, 0x03, 0x0a, 0x01, b'h']);
    let (status, body) = post_protobuf(&address, "/api/v1/namespaces/default/configmaps", &autoscaler).await;
    assert!(status.contains("415"), "{status}");
    assert_eq!(body["reason"], "UnsupportedMediaType");
    assert_eq!(
        body["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json"
    );
    // A ConfigMap whose data entry claims more bytes than there are.
    let broken = envelope("v1", "ConfigMap", &[0x0a, 0x03, 0x0a, 0x01, b'c', 0x12, 0x09, 0x0a]);
    let (status, body) = post_protobuf(&address, "/api/v1/namespaces/default/configmaps", &broken).await;
    assert!(status.contains("400"), "{status}");
    assert_eq!(body["reason"], "BadRequest");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap"), "{message}");
    // And nothing was stored.
    assert!(cluster.kubectl(&["get", "configmap", "c"]).await.stderr.starts_with(b"Error from server (NotFound)"));
}
