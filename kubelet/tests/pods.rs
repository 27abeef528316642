//! Pods end to end: skiff-store, skiff-apiserver and skiff-kubelet in process, real Docker.

mod common;

use common::{container_id, docker_exec, phase, state, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_share_localhost_and_an_empty_dir() {
    let node = Node::start("pair", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: pair, labels: {app: pair}}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  volumes: [{name: shared, emptyDir: {}}]
  containers:
  - name: web
    image: skiff/demo-web:v1
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: client
    image: skiff/toolbox:1
    command: [sh, -c]
    args: ["until wget -qO /shared/version http://localhost:8080/version; do sleep 0.2; done; echo $(hostname) > /shared/who; exec sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
"#,
    )
    .await;
    let pod = node
        .wait_for("pair", 60, "Running and Ready", |p| {
            phase(p) == "Running" && common::condition(p, "Ready").as_deref() == Some("True")
        })
        .await;
    let status = pod.status.clone().unwrap();
    let ip = status.pod_ip.clone().unwrap();
    assert!(ip.starts_with("10.244."), "{ip}");
    assert_eq!(state(&pod, "web"), "running");
    let client = container_id(&pod, "client");
    let who = common::eventually(20, "the client's files", || async {
        let (ok, out) = docker_exec(&client, &["cat", "/shared/version", "/shared/who"]);
        (ok && out.ends_with('\n')).then_some(out)
    })
    .await;
    assert_eq!(who, "v1pair\n", "localhost reached the web container; the hostname is the pod's");
    // The web container serves the file the client wrote into the shared emptyDir.
    let (ok, served) = docker_exec(&client, &["wget", "-qO-", &format!("http://{ip}:8080/file/shared/who")]);
    assert!(ok, "the pod IP answers");
    assert_eq!(served, "pair\n");
    let shown = node.cluster.ok(&["get", "pod", "pair", "--no-headers"]).await;
    assert!(shown.contains("2/2") && shown.contains("Running"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_in_order_and_a_failing_one_is_retried_or_fails_a_never_pod() {
    let node = Node::start("init", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  restartPolicy: OnFailure
  volumes: [{name: work, emptyDir: {}}]
  initContainers:
  - {name: first, image: "skiff/toolbox:1", command: [sh, -c, "echo first >> /work/order"], volumeMounts: [{name: work, mountPath: /work}]}
  - name: flaky
    image: skiff/toolbox:1
    command: [sh, -c, "echo flaky >> /work/order; test -f /work/tried || { touch /work/tried; exit 3; }"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - {name: app, image: "skiff/toolbox:1", command: [sh, -c, "echo app >> /work/order; exec sleep 3600"], volumeMounts: [{name: work, mountPath: /work}]}
---
apiVersion: v1
kind: Pod
metadata: {name: doomed}
spec:
  nodeName: NODE
  restartPolicy: Never
  initContainers:
  - {name: setup, image: "skiff/toolbox:1", command: [sh, -c, "exit 2"]}
  containers:
  - {name: app, image: "skiff/toolbox:1", command: [sleep, "3600"]}
"#,
    )
    .await;
    let pod = node.wait_for("ordered", 60, "Running", |p| phase(p) == "Running").await;
    assert_eq!(state(&pod, "first"), "terminated:Completed:0");
    assert_eq!(state(&pod, "flaky"), "terminated:Completed:0");
    assert_eq!(common::container_status(&pod, "flaky").unwrap().restart_count, 1, "retried once");
    assert_eq!(common::condition(&pod, "Initialized").as_deref(), Some("True"));
    let (_, order) = docker_exec(&container_id(&pod, "app"), &["cat", "/work/order"]);
    assert_eq!(order, "first\nflaky\nflaky\napp\n");

    let doomed = node.wait_for("doomed", 60, "Failed", |p| phase(p) == "Failed").await;
    assert_eq!(state(&doomed, "setup"), "terminated:Error:2");
    assert_eq!(state(&doomed, "app"), "waiting:PodInitializing");
    assert_eq!(common::container_status(&doomed, "setup").unwrap().restart_count, 0, "Never: no retry");
    let initialized =
        doomed.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "Initialized").unwrap();
    assert_eq!(initialized.reason.as_deref(), Some("ContainersNotInitialized"));
    assert_eq!(initialized.message.as_deref(), Some("containers with incomplete status: [setup]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_args_env_and_env_from_config_maps_and_secrets_and_the_wait_for_a_missing_one() {
    let node = Node::start("env", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: blue, MODE: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: env, labels: {app: env}}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: show
    image: skiff/toolbox:1
    workingDir: /tmp
    command: [sh, -c]
    args: ["echo \"$(GREETING) from $(POD_NAME) in $(pwd)\" > /tmp/said; exec sleep 3600"]
    resources: {limits: {cpu: 500m, memory: 64Mi}}
    envFrom:
    - {configMapRef: {name: settings}, prefix: CFG_}
    env:
    - {name: GREETING, value: "hello $(CFG_color)"}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
    - {name: MISSING, valueFrom: {secretKeyRef: {name: nowhere, key: k, optional: true}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: waits}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: skiff/toolbox:1
    command: [sleep, "3600"]
    env: [{name: LATE, valueFrom: {configMapKeyRef: {name: late, key: value}}}]
"#,
    )
    .await;
    let pod = node.wait_for("env", 60, "Running", |p| phase(p) == "Running").await;
    let id = container_id(&pod, "show");
    let said = common::eventually(10, "the greeting", || async {
        let (ok, out) = docker_exec(&id, &["cat", "/tmp/said"]);
        ok.then_some(out)
    })
    .await;
    assert_eq!(said, "hello blue from env in /tmp\n");
    let (_, env) = docker_exec(&id, &["env"]);
    let ip = pod.status.as_ref().unwrap().pod_ip.clone().unwrap();
    for line in ["CFG_color=blue", "CFG_MODE=fast", "PASSWORD=s3cret", "MEM=64", &format!("POD_IP={ip}")] {
        assert!(env.lines().any(|l| l == line), "{line} in {env}");
    }
    assert!(!env.contains("MISSING="), "an optional missing secret sets nothing");
    let limits = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", &id])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&limits.stdout).trim(), "67108864 500000000");

    let waiting = node
        .wait_for("waits", 30, "CreateContainerConfigError", |p| {
            state(p, "app") == "waiting:CreateContainerConfigError"
        })
        .await;
    let message = common::container_status(&waiting, "app").unwrap().state.unwrap().waiting.unwrap().message;
    assert_eq!(message.as_deref(), Some("configmap \"late\" not found"));
    node.cluster.ok(&["create", "configmap", "late", "--from-literal=other=x"]).await;
    let wrong_key = node
        .wait_for("waits", 30, "the missing key", |p| {
            common::container_status(p, "app").and_then(|s| s.state?.waiting?.message).as_deref()
                == Some("couldn't find key value in ConfigMap default/late")
        })
        .await;
    assert_eq!(phase(&wrong_key), "Pending");
    node.cluster.ok(&["patch", "configmap", "late", "-p", r#"{"data":{"value":"here"}}"#]).await;
    node.wait_for("waits", 30, "Running once the key exists", |p| state(p, "app") == "running").await;
    let events = node.events("waits").await;
    assert!(events.iter().any(|e| e == "Failed: Error: configmap \"late\" not found"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_get_the_service_links_of_their_namespace_and_the_api_servers() {
    let node = Node::start("links", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Service
metadata: {name: web-front}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: metrics, port: 9090, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: elsewhere}
---
apiVersion: v1
kind: Service
metadata: {name: cache, namespace: elsewhere}
spec: {selector: {app: cache}, ports: [{port: 6379}]}
"#,
    )
    .await;
    let ip_of = |name: &'static str| {
        let cluster = &node.cluster;
        async move {
            let out = cluster.kubectl(&["get", "service", name, "-o", "jsonpath={.spec.clusterIP}"]).await;
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    let web = ip_of("web-front").await;
    common::eventually(10, "the kubernetes Service", || async {
        (ip_of("kubernetes").await == "10.96.0.1").then_some(())
    })
    .await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: linked}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: skiff/toolbox:1
    command: [sleep, "3600"]
    env:
    - {name: API, value: "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"}
    - {name: WEB_FRONT_SERVICE_PORT, value: mine}
---
apiVersion: v1
kind: Pod
metadata: {name: unlinked}
spec:
  nodeName: NODE
  enableServiceLinks: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: skiff/toolbox:1
    command: [sleep, "3600"]
"#,
    )
    .await;
    let env_of = |pod: &'static str| {
        let node = &node;
        async move {
            let pod = node.wait_for(pod, 60, "Running", |p| phase(p) == "Running").await;
            let (ok, env) = docker_exec(&container_id(&pod, "app"), &["env"]);
            assert!(ok, "{env}");
            env
        }
    };
    let linked = env_of("linked").await;
    for line in [
        format!("WEB_FRONT_SERVICE_HOST={web}"),
        "WEB_FRONT_SERVICE_PORT=mine".to_string(),
        "WEB_FRONT_SERVICE_PORT_HTTP=80".to_string(),
        "WEB_FRONT_SERVICE_PORT_METRICS=9090".to_string(),
        format!("WEB_FRONT_PORT=tcp://{web}:80"),
        format!("WEB_FRONT_PORT_9090_UDP=udp://{web}:9090"),
        format!("WEB_FRONT_PORT_9090_UDP_ADDR={web}"),
        "KUBERNETES_SERVICE_HOST=10.96.0.1".to_string(),
        "KUBERNETES_SERVICE_PORT=443".to_string(),
        "KUBERNETES_SERVICE_PORT_HTTPS=443".to_string(),
        "KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443".to_string(),
        "API=https://10.96.0.1:443".to_string(),
    ] {
        assert!(linked.lines().any(|l| l == line), "{line} in {linked}");
    }
    assert!(!linked.contains("DB_SERVICE_HOST"), "a headless Service has no link: {linked}");
    assert!(!linked.contains("CACHE_"), "another namespace's Service has none: {linked}");

    let unlinked = env_of("unlinked").await;
    assert!(unlinked.lines().any(|l| l == "KUBERNETES_SERVICE_HOST=10.96.0.1"), "always the API server's: {unlinked}");
    assert!(!unlinked.contains("WEB_FRONT_"), "enableServiceLinks: false: {unlinked}");
    let spec = node.cluster.ok(&["get", "pod", "linked", "-o", "jsonpath={.spec.enableServiceLinks}"]).await;
    assert_eq!(spec, "true", "defaulted as Kubernetes does");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_map_and_secret_volumes_hold_their_keys_and_follow_updates() {
    let node = Node::start("vol", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: page}
data: {color: blue, size: large}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: abc}
---
apiVersion: v1
kind: Pod
metadata: {name: files, labels: {app: files}}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: config, configMap: {name: page}}
  - {name: picked, configMap: {name: page, items: [{key: color, path: ui/colour}]}}
  - {name: secret, secret: {secretName: creds, defaultMode: 0400}}
  - name: info
    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: name, fieldRef: {fieldPath: metadata.name}}]}
  containers:
  - name: app
    image: skiff/toolbox:1
    command: [sleep, "3600"]
    volumeMounts:
    - {name: config, mountPath: /etc/config}
    - {name: picked, mountPath: /etc/picked}
    - {name: secret, mountPath: /etc/secret}
    - {name: info, mountPath: /etc/info}
    - {name: config, mountPath: /etc/size, subPath: size}
"#,
    )
    .await;
    let pod = node.wait_for("files", 60, "Running", |p| phase(p) == "Running").await;
    let id = container_id(&pod, "app");
    let cat = |path: &str| docker_exec(&id, &["cat", path]).1;
    assert_eq!(cat("/etc/config/color"), "blue");
    assert_eq!(cat("/etc/picked/ui/colour"), "blue");
    assert_eq!(cat("/etc/secret/token"), "abc");
    assert_eq!(cat("/etc/info/labels"), "app=\"files\"");
    assert_eq!(cat("/etc/info/name"), "files");
    assert_eq!(cat("/etc/size"), "large");
    let (_, mode) = docker_exec(&id, &["stat", "-L", "-c", "%a", "/etc/secret/token"]);
    assert_eq!(mode.trim(), "400");
    let (writable, _) = docker_exec(&id, &["sh", "-c", "echo x > /etc/config/new"]);
    assert!(!writable, "configMap volumes are read-only");

    node.cluster.ok(&["patch", "configmap", "page", "-p", r#"{"data":{"color":"green"}}"#]).await;
    common::eventually(20, "the updated file", || async { (cat("/etc/config/color") == "green").then_some(()) }).await;
    assert_eq!(cat("/etc/picked/ui/colour"), "green");
    assert_eq!(cat("/etc/size"), "large", "a subPath mount keeps its file, as in Kubernetes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_mounts_its_bound_volume_and_an_unbound_one_waits_with_failed_mount() {
    let node = Node::start("pvc", |_| {}).await;
    let disk = node.cluster.dir.path().join("disk");
    let yaml = r#"
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-NODE}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: DISK}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: pv-NODE
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: claims}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
  containers:
  - {name: app, image: "skiff/toolbox:1", command: [sh, -c, "echo kept > /data/file; exec sleep 3600"], volumeMounts: [{name: data, mountPath: /data}]}
"#
    .replace("DISK", &disk.display().to_string());
    node.apply(&yaml).await;
    common::eventually(30, "FailedMount", || async {
        let events = node.events("claims").await;
        events
            .iter()
            .any(|e| e == "FailedMount: MountVolume.SetUp failed for volume \"data\" : persistentvolumeclaim \"data\" is not bound")
            .then_some(())
    })
    .await;
    let waiting =
        node.wait_for("claims", 10, "ContainerCreating", |p| state(p, "app") == "waiting:ContainerCreating").await;
    assert_eq!(phase(&waiting), "Pending");

    // The binder's part (no controller runs here): the claim is Bound.
    let claims: skiff_client::Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        skiff_client::Api::namespaced(node.client.clone(), "default");
    claims
        .patch_status("data", &skiff_client::Patch::Merge(serde_json::json!({"status": {"phase": "Bound"}})))
        .await
        .unwrap();
    node.wait_for("claims", 30, "Running", |p| phase(p) == "Running").await;
    common::eventually(10, "the file on the volume", || async {
        (std::fs::read_to_string(disk.join("file")).ok()? == "kept\n").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_starts_before_the_next_init_container_and_is_restarted_beside_the_app() {
    let node = Node::start("sidecar", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: sided}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  volumes: [{name: work, emptyDir: {}}]
  initContainers:
  - name: logger
    image: skiff/toolbox:1
    restartPolicy: Always
    command: [sh, -c, "echo logger >> /work/order; exec sleep 3600"]
    volumeMounts: [{name: work, mountPath: /work}]
  - {name: setup, image: "skiff/toolbox:1", command: [sh, -c, "echo setup >> /work/order"], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: app, image: "skiff/toolbox:1", command: [sh, -c, "echo app >> /work/order; exec sleep 3600"], volumeMounts: [{name: work, mountPath: /work}]}
"#,
    )
    .await;
    let pod = node
        .wait_for("sided", 60, "Running and Ready", |p| {
            phase(p) == "Running" && common::condition(p, "Ready").as_deref() == Some("True")
        })
        .await;
    assert_eq!(state(&pod, "logger"), "running");
    assert_eq!(state(&pod, "setup"), "terminated:Completed:0");
    let (_, order) = docker_exec(&container_id(&pod, "app"), &["cat", "/work/order"]);
    assert_eq!(order, "logger\nsetup\napp\n");
    // The sidecar dies: it comes back, the app keeps running.
    let app = container_id(&pod, "app");
    std::process::Command::new("docker").args(["kill", &container_id(&pod, "logger")]).output().unwrap();
    let after = node
        .wait_for("sided", 30, "the sidecar restarted", |p| {
            common::container_status(p, "logger").is_some_and(|s| s.restart_count == 1)
                && state(p, "logger") == "running"
        })
        .await;
    assert_eq!(container_id(&after, "app"), app, "the app was not touched");
    assert_eq!(phase(&after), "Running");
}
