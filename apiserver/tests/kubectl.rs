//! The real `kubectl` against skiff-apiserver on skiff-store (both in process, on free ports).
//!
//! A few of the same scenarios also run with the API server on a real etcd 3.4.
//!
//! What works without controllers or a kubelet: discovery, namespaces, ConfigMaps,
//! Deployments as stored objects (scale, set image), Services, labels, the three patch types,
//! Tables, watches, and Kubernetes' error messages. kubectl runs with a fresh `--cache-dir` per
//! test, as discovery caches would otherwise hide server changes.

mod common;

use common::Cluster;
use skiff_store::Retention;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_version_and_the_initial_namespaces() {
    let cluster = Cluster::start().await;
    assert!(cluster.ok(&["version"]).await.contains("Server Version: v1.31.0"));
    let resources = cluster.ok(&["api-resources"]).await;
    for line in ["pods", "po ", "deployments", "deploy", "apps/v1", "persistentvolumes", "statefulsets"] {
        assert!(resources.contains(line), "api-resources lacks {line:?}:\n{resources}");
    }
    let namespaces = cluster.ok(&["get", "ns"]).await;
    assert!(namespaces.starts_with("NAME"), "{namespaces}");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(ns) && namespaces.contains("Active"), "{namespaces}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmaps_are_created_read_labeled_patched_and_deleted() {
    configmaps(Cluster::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_works_on_a_real_etcd() {
    let cluster = Cluster::start_on_etcd().await;
    configmaps(cluster).await;
    let cluster = Cluster::start_on_etcd().await;
    watch(cluster).await;
}

async fn configmaps(cluster: Cluster) {
    assert_eq!(
        cluster.ok(&["create", "configmap", "app-config", "--from-literal=A=b"]).await.trim(),
        "configmap/app-config created"
    );
    assert_eq!(cluster.ok(&["get", "cm", "app-config", "-o", "jsonpath={.data.A}"]).await, "b");
    let table = cluster.ok(&["get", "cm"]).await;
    assert!(table.lines().next().unwrap().split_whitespace().eq(["NAME", "DATA", "AGE"]), "{table}");
    cluster.ok(&["label", "cm", "app-config", "tier=front"]).await;
    assert!(cluster.ok(&["get", "cm", "-l", "tier=front"]).await.contains("app-config"));
    assert!(cluster.ok(&["get", "cm", "-l", "tier!=front"]).await.is_empty());
    for (kind, patch) in [
        ("merge", r#"{"data":{"B":"1"}}"#),
        ("strategic", r#"{"data":{"C":"2"}}"#),
        ("json", r#"[{"op":"add","path":"/data/D","value":"3"}]"#),
    ] {
        cluster.ok(&["patch", "cm", "app-config", "--type", kind, "-p", patch]).await;
    }
    assert_eq!(
        cluster.ok(&["get", "cm", "app-config", "-o", "jsonpath={.data}"]).await,
        r#"{"A":"b","B":"1","C":"2","D":"3"}"#
    );
    let again = cluster.fails(&["create", "configmap", "app-config"]).await;
    // Generators word it their way; the server's message is inside.
    assert!(again.contains("failed to create configmap: configmaps \"app-config\" already exists"), "{again}");
    assert_eq!(cluster.ok(&["delete", "cm", "app-config"]).await.trim(), "configmap \"app-config\" deleted");
    let missing = cluster.fails(&["get", "cm", "app-config"]).await;
    assert!(missing.contains("Error from server (NotFound): configmaps \"app-config\" not found"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_scale_and_change_image_as_stored_objects() {
    let cluster = Cluster::start().await;
    cluster.ok(&["create", "deployment", "web", "--image=skiff/demo-web:v1", "--replicas=2"]).await;
    let wide = cluster.ok(&["get", "deploy", "-o", "wide"]).await;
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    assert!(wide.contains("0/2") && wide.contains("skiff/demo-web:v1") && wide.contains("app=web"), "{wide}");
    let defaults = "jsonpath={.spec.strategy.rollingUpdate.maxSurge} {.spec.revisionHistoryLimit} {.spec.template.spec.containers[0].imagePullPolicy}";
    assert_eq!(
        cluster.ok(&["get", "deploy", "web", "-o", defaults]).await,
        "25% 10 IfNotPresent",
        "server-side defaults"
    );
    assert_eq!(cluster.ok(&["scale", "deploy", "web", "--replicas=4"]).await.trim(), "deployment.apps/web scaled");
    assert_eq!(
        cluster.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"]).await,
        "4 2"
    );
    cluster.ok(&["set", "image", "deployment/web", "demo-web=skiff/demo-web:v2"]).await;
    assert_eq!(
        cluster.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]).await,
        "skiff/demo-web:v2"
    );
    // A server-side dry run answers as if, and changes nothing.
    let dry = cluster.ok(&["scale", "deploy", "web", "--replicas=9", "--dry-run=server"]).await;
    assert!(dry.contains("scaled (server dry run)"), "{dry}");
    cluster.ok(&["create", "deployment", "ghost", "--image=x", "--dry-run=server"]).await;
    assert!(cluster.fails(&["get", "deploy", "ghost"]).await.contains("not found"));
    assert_eq!(cluster.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).await, "4");
    let bad = cluster.fails(&["create", "deployment", "Bad_Name", "--image=x"]).await;
    assert!(
        bad.contains("Deployment.apps \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""),
        "{bad}"
    );
    assert_eq!(cluster.ok(&["delete", "deploy", "web"]).await.trim(), "deployment.apps \"web\" deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_then_leaves_unchanged_objects_alone() {
    let cluster = Cluster::start().await;
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n  - port: 80\n    targetPort: 8080\n";
    // kubectl validates by default: it finds the OpenAPI v3 documents and leaves it to the server.
    for want in ["service/web created", "service/web unchanged"] {
        let out = cluster.kubectl_with_input(&["apply", "-f", "-"], Some(service)).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
    }
    let services = cluster.ok(&["get", "svc"]).await;
    assert!(services.contains("80/TCP"), "{services}");
    let edited = service.replace("port: 80", "port: 81");
    let out = cluster.kubectl_with_input(&["apply", "-f", "-"], Some(&edited)).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "service/web configured",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cluster.ok(&["get", "svc"]).await.contains("81/TCP"));
    let out = cluster.kubectl_with_input(&["create", "-f", "-"], Some(service)).await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Error from server (AlreadyExists): error when creating \"STDIN\": services \"web\" already exists"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cluster.kubectl_with_input(&["delete", "-f", "-"], Some(service)).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "service \"web\" deleted");
}

/// The API server's half of deleting a namespace: it is marked `Terminating` and closed to new
/// content; emptying it is the namespace controller's (`controller-manager/tests/
/// garbage_collection.rs`), and here the test finalizes it by hand, as people do with a stuck
/// namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_namespace_is_terminating_and_closed_until_it_is_finalized() {
    let cluster = Cluster::start().await;
    assert_eq!(cluster.ok(&["create", "namespace", "dev"]).await.trim(), "namespace/dev created");
    let held = cluster.ok(&["get", "namespace", "dev", "-o", "jsonpath={.spec.finalizers}"]).await;
    assert_eq!(held, r#"["kubernetes"]"#, "every namespace starts held by the namespace controller");
    cluster.ok(&["-n", "dev", "create", "configmap", "settings"]).await;
    let denied = cluster.fails(&["-n", "nowhere", "create", "configmap", "x"]).await;
    assert!(denied.contains("namespaces \"nowhere\" not found"), "{denied}");

    let deleted = cluster.ok(&["delete", "namespace", "dev", "--wait=false"]).await;
    assert_eq!(deleted.trim(), "namespace \"dev\" deleted");
    let shown = cluster.ok(&["get", "namespace", "dev"]).await;
    assert!(shown.contains("Terminating"), "{shown}");
    let refused = cluster.fails(&["-n", "dev", "create", "configmap", "late"]).await;
    assert!(
        refused.contains(
            "configmaps \"late\" is forbidden: unable to create new content in namespace dev because it is being terminated"
        ),
        "{refused}"
    );
    let again = cluster.fails(&["delete", "namespace", "dev", "--wait=false"]).await;
    assert!(again.contains("The system is ensuring all content is removed from this namespace"), "{again}");
    let immortal = cluster.fails(&["delete", "namespace", "default", "--wait=false"]).await;
    assert!(immortal.contains("namespaces \"default\" is forbidden: this namespace may not be deleted"), "{immortal}");
    // A plain update cannot drop the finalizer; `finalize` can, and that write removes it.
    cluster.ok(&["patch", "namespace", "dev", "--type=merge", "-p", r#"{"spec":{"finalizers":[]}}"#]).await;
    let still = cluster.ok(&["get", "namespace", "dev", "-o", "jsonpath={.spec.finalizers}"]).await;
    assert_eq!(still, r#"["kubernetes"]"#);
    let finalized = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"},"spec":{"finalizers":[]}}"#;
    cluster.ok_with_input(&["replace", "--raw", "/api/v1/namespaces/dev/finalize", "-f", "-"], finalized).await;
    assert!(cluster.fails(&["get", "namespace", "dev"]).await.contains("namespaces \"dev\" not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_hold_a_deleted_object_until_they_are_removed() {
    let cluster = Cluster::start().await;
    let held =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/cleanup]\ndata: {a: b}\n";
    let out = cluster.kubectl_with_input(&["apply", "-f", "-"], Some(held)).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    cluster.ok(&["delete", "cm", "held", "--wait=false"]).await;
    let marked = cluster.ok(&["get", "cm", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"]).await;
    assert!(marked.ends_with('Z'), "still there, marked for deletion: {marked:?}");
    cluster.ok(&["patch", "cm", "held", "--type", "merge", "-p", r#"{"metadata":{"finalizers":null}}"#]).await;
    assert!(cluster.fails(&["get", "cm", "held"]).await.contains("not found"), "gone with its last finalizer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_new_objects_as_rows() {
    watch(Cluster::start().await).await;
}

async fn watch(cluster: Cluster) {
    cluster.ok(&["create", "configmap", "first"]).await;
    let watcher = cluster.kubectl(&["get", "cm", "-w", "--request-timeout=4s"]);
    let creator = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        cluster.ok(&["create", "configmap", "second"]).await;
    };
    let (watched, _) = tokio::join!(watcher, creator);
    let out = String::from_utf8_lossy(&watched.stdout);
    assert!(out.contains("first") && out.contains("second"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_service_is_there_from_the_start_and_comes_back_when_deleted() {
    let cluster = Cluster::start().await;
    let wait_for_it = || async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let out = cluster.kubectl(&["get", "svc", "kubernetes", "-o", "jsonpath={.metadata.uid}"]).await;
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).to_string();
            }
            assert!(std::time::Instant::now() < deadline, "no kubernetes Service");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let first = wait_for_it().await;
    let table = cluster.ok(&["get", "svc"]).await;
    let row = table.lines().find(|l| l.starts_with("kubernetes ")).unwrap_or_default();
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(words[..5], ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"], "{table}");
    assert_eq!(
        cluster
            .ok(&["get", "svc", "kubernetes", "-o", "jsonpath={.metadata.labels.component} {.spec.ports[0].name}"])
            .await,
        "apiserver https"
    );
    // This API server listens on 127.0.0.1, which a pod cannot reach: nothing is published.
    assert_eq!(
        cluster.ok(&["get", "endpoints", "kubernetes", "-o", "jsonpath={.metadata.labels}"]).await,
        r#"{"endpointslice.kubernetes.io/skip-mirror":"true"}"#
    );
    assert!(cluster.ok(&["get", "endpointslice", "kubernetes"]).await.contains("IPv4"));

    cluster.ok(&["delete", "svc", "kubernetes"]).await;
    let again = wait_for_it().await;
    assert_ne!(again, first, "made anew");
    assert_eq!(cluster.ok(&["get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"]).await, "10.96.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_gets_a_selector_and_pod_labels_made_from_its_uid() {
    let cluster = Cluster::start().await;
    cluster.ok(&["create", "job", "hello", "--image=skiff/toolbox:1", "--", "echo", "hello"]).await;
    let shown = cluster
        .ok(&[
            "get",
            "job",
            "hello",
            "-o",
            r#"jsonpath={.metadata.uid} {.spec.selector.matchLabels} {.spec.template.metadata.labels} {.metadata.labels.job-name} {.spec.suspend} {.spec.podReplacementPolicy}"#,
        ])
        .await;
    let uid = shown.split(' ').next().unwrap().to_string();
    assert_eq!(uid.len(), 36, "{shown}");
    let labels = format!(
        r#"{{"batch.kubernetes.io/controller-uid":"{uid}","batch.kubernetes.io/job-name":"hello","controller-uid":"{uid}","job-name":"hello"}}"#
    );
    assert_eq!(
        shown,
        format!(r#"{uid} {{"batch.kubernetes.io/controller-uid":"{uid}"}} {labels} hello false TerminatingOrFailed"#)
    );
    assert!(cluster.ok(&["get", "jobs", "-l", "job-name=hello", "-o", "name"]).await.contains("job.batch/hello"));

    let refused = cluster
        .fails_with_input(
            &["apply", "-f", "-"],
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: pi}\nspec:\n  template:\n    spec:\n      containers: [{name: pi, image: skiff/toolbox:1}]\n",
        )
        .await;
    assert!(
        refused.contains(r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#),
        "{refused}"
    );
    let own = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: mine}\nspec:\n  selector: {matchLabels: {app: mine}}\n  template:\n    metadata: {labels: {app: mine}}\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: skiff/toolbox:1}]\n";
    let refused = cluster.fails_with_input(&["apply", "-f", "-"], own).await;
    assert!(refused.contains("`selector` not auto-generated"), "{refused}");
    let manual = own.replace("spec:\n  selector", "spec:\n  manualSelector: true\n  selector");
    cluster.ok_with_input(&["apply", "-f", "-"], &manual).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_cluster_ips_and_node_ports_that_are_theirs_alone() {
    let cluster = Cluster::start().await;
    cluster.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]).await;
    let ip = cluster.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]).await;
    let octets: Vec<u8> = ip.split('.').map(|o| o.parse().unwrap()).collect();
    assert!(octets[0] == 10 && (96..=111).contains(&octets[1]), "{ip} is in 10.96.0.0/12");
    assert_eq!(
        cluster.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.ports[0].protocol} {.spec.type}"]).await,
        "TCP ClusterIP"
    );

    let node_port = "apiVersion: v1\nkind: Service\nmetadata:\n  name: np\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports:\n  - port: 80\n    nodePort: 30080\n";
    let out = cluster.kubectl_with_input(&["apply", "-f", "-"], Some(node_port)).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(cluster.ok(&["get", "svc", "np"]).await.contains("80:30080/TCP"));
    let taken = node_port.replace("name: np", "name: np2");
    let out = cluster.kubectl_with_input(&["apply", "-f", "-"], Some(&taken)).await;
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"),
        "{error}"
    );

    let same_ip = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: copy\nspec:\n  clusterIP: {ip}\n  ports:\n  - port: 80\n"
    );
    let out = cluster.kubectl_with_input(&["create", "-f", "-"], Some(&same_ip)).await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("provided IP is already allocated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Deleting the owner frees the IP for another Service.
    cluster.ok(&["delete", "svc", "web"]).await;
    let out = cluster.kubectl_with_input(&["create", "-f", "-"], Some(&same_ip)).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let headless =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  clusterIP: None\n  ports:\n  - port: 5432\n";
    let out = cluster.kubectl_with_input(&["apply", "-f", "-"], Some(headless)).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(cluster.ok(&["get", "svc", "db", "-o", "jsonpath={.spec.clusterIP}"]).await, "None");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_lists_creates_patches_scales_and_watches() {
    let venv =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/test-venv.sh")).output().unwrap();
    assert!(venv.status.success(), "the test venv: {}", String::from_utf8_lossy(&venv.stderr));
    let python = String::from_utf8(venv.stdout).unwrap().trim().to_string();

    let cluster = Cluster::start().await;
    // History below the present is compacted, so that an old resourceVersion is expired.
    let mut store =
        skiff_store::client::StoreClient::connect(std::slice::from_ref(&cluster.store_endpoint)).await.unwrap();
    store.put("/scratch", "x").await.unwrap();
    let now = store.put("/scratch", "y").await.unwrap();
    store.kv.compact(skiff_store::client::CompactionRequest { revision: now, physical: true }).await.unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(cluster.dir.path().join("kubeconfig"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("expired watch: 410"), "{stdout}");
}

/// A store and an API server on `dir`, restartable: what `serve` returns is awaited on stop, so
/// that the store has closed its files before the next start.
struct Restartable {
    stop: CancellationToken,
    store: tokio::task::JoinHandle<Result<(), skiff_store::RunError>>,
    api: tokio::task::JoinHandle<Result<(), skiff_apiserver::RunError>>,
    api_address: std::net::SocketAddr,
}

async fn start_on(dir: &std::path::Path) -> Restartable {
    let stop = CancellationToken::new();
    let store_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let store_address = store_listener.local_addr().unwrap();
    let config = skiff_store::Config {
        listen: store_address,
        data_dir: dir.join("store"),
        metrics_listen: None,
        name: "test".into(),
        retention: Retention::Off,
        progress_interval: std::time::Duration::from_secs(600),
        cache_bytes: 8 << 20,
    };
    let store = tokio::spawn(skiff_store::serve(config, store_listener, None, stop.clone()));
    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_address = api_listener.local_addr().unwrap();
    let api_config = skiff_apiserver::Config {
        listen: api_address,
        grpc_listen: None,
        store_endpoints: vec![store_address.to_string()],
        advertise_address: None,
    };
    let api = tokio::spawn(skiff_apiserver::serve(api_config, api_listener, None, stop.clone()));
    Restartable { stop, store, api, api_address }
}

async fn http_get(address: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..50 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(address).await {
            let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
            // A server still starting may reset the connection: that is a retry, not a failure.
            let mut body = String::new();
            let answered =
                stream.write_all(request.as_bytes()).await.is_ok() && stream.read_to_string(&mut body).await.is_ok();
            if answered && body.starts_with("HTTP/1.1 200") {
                return body;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("GET {path} never answered 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_objects_resource_versions_and_allocations() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_on(dir.path()).await;
    let service = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"NodePort","ports":[{"port":80}]}}"#;
    let before = {
        let created = http_post(first.api_address, "/api/v1/namespaces/default/services", service).await;
        serde_json::from_str::<serde_json::Value>(&created).unwrap()
    };
    let metrics = http_get(first.api_address, "/metrics").await;
    // (Other tests of this process may have created Services too: the count is not checked.)
    assert!(metrics.contains("apiserver_request_duration_seconds_bucket"), "{metrics}");
    assert!(
        metrics.contains("apiserver_request_total{code=\"201\",resource=\"services\",verb=\"POST\"} "),
        "{metrics}"
    );
    assert!(metrics.contains("apiserver_watch_cache_size{resource=\"namespaces\"}"), "{metrics}");

    first.stop.cancel();
    first.api.await.unwrap().unwrap();
    first.store.await.unwrap().unwrap();

    let second = start_on(dir.path()).await;
    let after: serde_json::Value =
        serde_json::from_str(body_of(&http_get(second.api_address, "/api/v1/namespaces/default/services/web").await))
            .unwrap();
    for field in ["/metadata/uid", "/metadata/resourceVersion", "/spec/clusterIP", "/spec/ports/0/nodePort"] {
        assert_eq!(after.pointer(field), before.pointer(field), "{field} survives the restart");
    }
    // The allocations survived too: the same NodePort is refused to a newcomer.
    let node_port = before.pointer("/spec/ports/0/nodePort").unwrap();
    let copy = format!(
        r#"{{"metadata":{{"name":"copy"}},"spec":{{"type":"NodePort","ports":[{{"port":80,"nodePort":{node_port}}}]}}}}"#
    );
    let refused = http_post(second.api_address, "/api/v1/namespaces/default/services", &copy).await;
    assert!(refused.contains("provided port is already allocated"), "{refused}");
    second.stop.cancel();
}

fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

async fn http_post(address: std::net::SocketAddr, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Wait until the server answers at all.
    http_get(address, "/healthz").await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    body_of(&response).to_string()
}

/// The versioned kubectl binaries beside the `kubectl` dispatcher on PATH.
fn versioned_kubectl(version: &str) -> std::path::PathBuf {
    let dispatcher = std::fs::canonicalize(which("kubectl")).unwrap();
    dispatcher.parent().unwrap().join(format!("kubectl.{version}"))
}

fn which(program: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|p| p.is_file()))
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_29_to_1_33_read_apply_and_generate() {
    let cluster = Cluster::start().await;
    for version in ["1.29", "1.30", "1.31", "1.32", "1.33"] {
        let run = |args: Vec<String>, input: Option<String>| {
            let binary = versioned_kubectl(version);
            let kubeconfig = cluster.dir.path().join("kubeconfig");
            let cache = cluster.dir.path().join(format!("cache-{version}"));
            async move {
                use tokio::io::AsyncWriteExt;
                let mut child = tokio::process::Command::new(binary)
                    .arg("--kubeconfig")
                    .arg(kubeconfig)
                    .arg("--cache-dir")
                    .arg(cache)
                    .args(&args)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut stdin = child.stdin.take().unwrap();
                if let Some(input) = input {
                    stdin.write_all(input.as_bytes()).await.unwrap();
                }
                drop(stdin);
                let out = child.wait_with_output().await.unwrap();
                assert!(out.status.success(), "kubectl {version} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
                String::from_utf8(out.stdout).unwrap()
            }
        };
        let v = version.replace('.', "-");
        assert!(run(vec!["get".into(), "ns".into()], None).await.contains("kube-system"), "{version}");
        let manifest = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied-{v}\ndata:\n  a: b\n");
        assert_eq!(
            run(vec!["apply".into(), "-f".into(), "-".into()], Some(manifest)).await.trim(),
            format!("configmap/applied-{v} created")
        );
        // 1.32 and later send these as protobuf.
        run(vec!["create".into(), "configmap".into(), format!("gen-{v}"), "--from-literal=A=b".into()], None).await;
        run(
            vec!["create".into(), "secret".into(), "generic".into(), format!("s-{v}"), "--from-literal=K=v".into()],
            None,
        )
        .await;
        run(vec!["create".into(), "namespace".into(), format!("ns-{v}")], None).await;
        let data =
            run(vec!["get".into(), "cm".into(), format!("gen-{v}"), "-o".into(), "jsonpath={.data.A}".into()], None)
                .await;
        assert_eq!(data, "b", "{version}");
        let secret = run(
            vec!["get".into(), "secret".into(), format!("s-{v}"), "-o".into(), "jsonpath={.data.K} {.type}".into()],
            None,
        )
        .await;
        assert_eq!(secret, "dg== Opaque", "{version}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_changes_nothing_is_not_written_and_sorting_sees_whole_objects() {
    let cluster = Cluster::start().await;
    cluster.ok(&["create", "configmap", "app", "--from-literal=color=red"]).await;
    let rv = ["get", "cm", "app", "-o", "jsonpath={.metadata.resourceVersion}"];
    let before = cluster.ok(&rv).await;
    let out = cluster.ok(&["patch", "cm", "app", "-p", r#"{"data":{"color":"red"}}"#]).await;
    assert_eq!(out.trim(), "configmap/app patched (no change)");
    assert_eq!(cluster.ok(&rv).await, before, "no write, no new resourceVersion");
    cluster.ok(&["patch", "cm", "app", "-p", r#"{"data":{"color":"blue"}}"#]).await;
    assert_ne!(cluster.ok(&rv).await, before);

    // --sort-by asks for Tables whose rows carry whole objects.
    for name in ["b-second", "a-first"] {
        cluster.ok(&["create", "configmap", name, &format!("--from-literal=n={name}")]).await;
    }
    let sorted = cluster.ok(&["get", "cm", "--sort-by=.data.n", "-o", "name"]).await;
    let names: Vec<&str> = sorted.lines().filter(|l| l.contains("-first") || l.contains("-second")).collect();
    assert_eq!(names, ["configmap/a-first", "configmap/b-second"], "{sorted}");
    let table = cluster.ok(&["get", "cm", "--sort-by=.metadata.name"]).await;
    assert!(table.starts_with("NAME") && table.contains("a-first"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_cordons_the_node_and_evicts_its_pods_through_the_eviction_subresource() {
    let cluster = Cluster::start().await;
    // No kubelet here: pods with no grace period go at once when deleted.
    let pod = |name: &str, node: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  nodeName: {node}\n  \
             terminationGracePeriodSeconds: 0\n  containers: [{{name: web, image: skiff/demo-web:v1}}]\n---\n"
        )
    };
    let manifests = format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: n1}}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: n2}}\n---\n{}{}{}",
        pod("web-1", "n1"),
        pod("web-2", "n1"),
        pod("other", "n2")
    );
    cluster.ok_with_input(&["apply", "-f", "-"], &manifests).await;
    let out = cluster.kubectl(&["drain", "n1", "--force", "--ignore-daemonsets", "--timeout=30s"]).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "drain failed:\n{stdout}\n{stderr}");
    for line in ["node/n1 cordoned", "pod/web-1 evicted", "pod/web-2 evicted", "node/n1 drained"] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}\n{stderr}");
    }
    // ("deleted" instead of "evicted" would mean kubectl found no eviction subresource.)
    assert!(stdout.contains("evicting pod default/web-1"), "drain used evictions, not deletes:\n{stdout}");
    assert_eq!(cluster.ok(&["get", "node", "n1", "-o", "jsonpath={.spec.unschedulable}"]).await, "true");
    let left = cluster.ok(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]).await;
    assert_eq!(left, "other", "only the other node's pod is left");

    // The subresource as curl sees it.
    let address = cluster.api_address;
    let post = |name: &str, body: String| {
        let path = format!("/api/v1/namespaces/default/pods/{name}/eviction");
        async move { http_post(address, &path, &body).await }
    };
    let eviction =
        |name: &str| format!(r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{name}"}}}}"#);
    let mismatch: serde_json::Value = serde_json::from_str(&post("other", eviction("web-1")).await).unwrap();
    assert_eq!(mismatch["code"], 400, "{mismatch}");
    assert_eq!(mismatch["message"], "name in URL does not match name in Eviction object");
    let missing: serde_json::Value = serde_json::from_str(&post("ghost", eviction("ghost")).await).unwrap();
    assert_eq!((missing["code"].as_i64(), missing["message"].as_str()), (Some(404), Some("pods \"ghost\" not found")));
    let done: serde_json::Value = serde_json::from_str(&post("other", eviction("other")).await).unwrap();
    assert_eq!(
        (done["kind"].as_str(), done["status"].as_str(), done["code"].as_i64()),
        (Some("Status"), Some("Success"), Some(201))
    );
    assert!(cluster.fails(&["get", "pod", "other"]).await.contains("not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_list_their_checks_when_asked() {
    let cluster = Cluster::start().await;
    assert_eq!(cluster.ok(&["get", "--raw", "/readyz"]).await.trim(), "ok");
    let verbose = cluster.ok(&["get", "--raw", "/readyz?verbose"]).await;
    assert_eq!(verbose, "[+]ping ok\n[+]log ok\n[+]etcd ok\nreadyz check passed\n", "the store answered");
    let livez = cluster.ok(&["get", "--raw", "/livez?verbose"]).await;
    assert!(livez.ends_with("livez check passed\n") && !livez.contains("etcd"), "{livez}");
    assert_eq!(cluster.ok(&["get", "--raw", "/readyz/etcd"]).await.trim(), "ok");
    assert!(cluster.fails(&["get", "--raw", "/livez/nonsense"]).await.contains("NotFound"));
}
