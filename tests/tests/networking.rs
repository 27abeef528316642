//! The pod network, Services by name, and the Ingress router's rewrites, on a whole cluster in
//! this process (`common`): what a pod sees of the cluster's names and addresses.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::http::{fetch, Request};
use common::upstream::Upstream;
use common::{Cluster, ControlPlane, Options};

const REWRITE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: skiff/demo-web:v1
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rewrite
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /$2
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.test
    http:
      paths:
      - path: /app1(/|$)(.*)
        pathType: ImplementationSpecific
        backend: {service: {name: web, port: {number: 8080}}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rewrite_ingress_sends_app1_paths_to_the_services_root_and_other_hosts_get_404() {
    let cluster = Cluster::start(1).await;
    cluster.apply(REWRITE).await;
    cluster.rolled_out("web").await;
    let pod = cluster.jsonpath(&["pods", "-l", "app=web"], "{.items[0].metadata.name}").await;
    let service = SocketAddr::from((cluster.cluster_ip("web").await, 8080));
    let router = cluster.router;
    let through = |host: &str, path: &str| {
        let request = Request::get(host, path);
        async move { fetch(router, &request).await.map(|r| (r.status, r.body)) }
    };
    cluster
        .plane
        .eventually("the router serves the Ingress", Duration::from_secs(30), || async {
            through("shop.example.test", "/app1/version").await == Ok((200, "v1".into()))
        })
        .await;
    // What the Service itself answers for its own paths, asked without the router.
    let direct = |path: &str| {
        let request = Request::get("web", path);
        async move { fetch(service, &request).await.map(|r| (r.status, r.body)) }
    };
    let root = direct("/").await.unwrap();
    assert_eq!(root.0, 200);
    assert!(root.1.contains("v1") && root.1.contains(&pod), "the demo page names its version and pod: {}", root.1);

    let cases = [
        ("shop.example.test", "/app1", root.clone()),
        ("shop.example.test", "/app1/", root.clone()),
        ("shop.example.test", "/app1/version", (200, "v1".to_string())),
        ("shop.example.test", "/app1/hostname", (200, pod.clone())),
        ("SHOP.example.test", "/APP1/version", (200, "v1".to_string())),
    ];
    for (host, path, expected) in cases {
        assert_eq!(through(host, path).await, Ok(expected), "Host {host}, {path}");
    }
    for (host, path) in
        [("other.example.test", "/app1/version"), ("shop.example.test", "/app2"), ("shop.example.test", "/app10")]
    {
        let (status, body) = through(host, path).await.unwrap();
        assert_eq!(status, 404, "Host {host}, {path}: {body}");
    }
    cluster.stop().await;
}

/// `nslookup -type=a name` in `pod`: the addresses the cluster DNS gave, or the output if none.
///
/// busybox's nslookup applies the search path only to names without a dot (`web`), asking for
/// each of its names at once, and prints every answer, NXDOMAINs included; it exits with 1
/// when any of them failed, even if one was found. So the addresses count, not the status;
/// and dotted short names (`web.default`) are left to [`resolved`], the pods' own resolver.
async fn nslookup(plane: &ControlPlane, pod: &str, name: &str) -> Result<BTreeSet<Ipv4Addr>, String> {
    let out = plane.kubectl(&["exec", pod, "--", "nslookup", "-type=a", name]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The server's own address comes first, before any `Name:`.
    let answers = text.lines().skip_while(|l| !l.starts_with("Name:"));
    let addresses: BTreeSet<Ipv4Addr> =
        answers.filter_map(|l| l.strip_prefix("Address:")).filter_map(|a| a.trim().parse().ok()).collect();
    if addresses.is_empty() {
        return Err(text);
    }
    Ok(addresses)
}

/// The address `name` has for the C library in `pod` — glibc's resolver, with the search
/// path and `ndots:5` of the resolv.conf the kubelet wrote, as every program of the pod
/// resolves names: the address busybox's `ping` says it pings (no answer is needed).
async fn resolved(plane: &ControlPlane, pod: &str, name: &str) -> Result<Ipv4Addr, String> {
    let out = plane.kubectl(&["exec", pod, "--", "ping", "-c", "1", "-W", "1", name]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let address = text.lines().find_map(|l| l.strip_prefix(&format!("PING {name} ("))?.split(')').next()?.parse().ok());
    address.ok_or(text)
}

/// Waits until `lookup` gives `expected` (the DNS view follows the endpoints within a moment).
async fn eventually_equal<T, F, Fut>(what: &str, expected: &T, lookup: F)
where
    T: PartialEq + std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = lookup().await;
        if found.as_ref() == Ok(expected) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {found:?}, not {expected:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const NAMES: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: skiff/demo-web:v1
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec:
  hostname: db-0
  subdomain: db
  containers:
  - name: db
    image: skiff/demo-web:v1
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: outside}
spec:
  type: ExternalName
  externalName: www.outside.test
---
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  containers:
  - {name: box, image: 'skiff/toolbox:1', command: [sleep, '3600']}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toolbox_pod_resolves_services_in_every_form_headless_pods_a_subdomain_pod_and_forwarded_names() {
    let outside = Ipv4Addr::new(198, 51, 100, 7);
    let upstream = Upstream::start(&[("www.outside.test.", outside)]).await;
    let cluster = Cluster::start_with(1, Options { dns_upstreams: vec![upstream.address], ..Default::default() }).await;
    let plane = &cluster.plane;
    cluster.apply(NAMES).await;
    cluster.rolled_out("web").await;
    plane.ok(&["wait", "--for=condition=Ready", "pod/db-0", "pod/box", "--timeout=60s"]).await;
    let resolv = plane.ok(&["exec", "box", "--", "cat", "/etc/resolv.conf"]).await;
    assert!(resolv.contains(&format!("nameserver {}", cluster.dns_ip)), "{resolv}");

    let cluster_ip = cluster.cluster_ip("web").await;
    let found = |name: &'static str| async move { nslookup(plane, "box", name).await };
    let by_libc = |name: &'static str| async move { resolved(plane, "box", name).await };
    for name in ["web", "web.default.svc.cluster.local"] {
        eventually_equal(&format!("nslookup {name}"), &BTreeSet::from([cluster_ip]), || found(name)).await;
    }
    for name in ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local"] {
        eventually_equal(&format!("{name} for the C library"), &cluster_ip, || by_libc(name)).await;
        let version =
            plane.ok(&["exec", "box", "--", "wget", "-qO-", "-T", "5", &format!("http://{name}/version")]).await;
        assert_eq!(version, "v1", "wget http://{name}/version");
    }
    let pods: BTreeSet<Ipv4Addr> =
        cluster.ready_endpoints("web").await.into_iter().map(|(_, ip)| ip.parse().unwrap()).collect();
    assert_eq!(pods.len(), 2, "{pods:?}");
    eventually_equal("nslookup web-headless", &pods, || found("web-headless")).await;
    let db = cluster.pod_ip("db-0").await;
    let fqdn = "db-0.db.default.svc.cluster.local";
    eventually_equal(&format!("nslookup {fqdn}"), &BTreeSet::from([db]), || found(fqdn)).await;
    eventually_equal("db-0.db for the C library", &db, || by_libc("db-0.db")).await;

    // Names outside the cluster go to the upstream, an ExternalName's target too.
    let outside = BTreeSet::from([outside]);
    eventually_equal("nslookup www.outside.test", &outside, || found("www.outside.test")).await;
    assert!(upstream.was_asked("www.outside.test."), "forwarded: {:?}", upstream.asked.lock().unwrap());
    eventually_equal("nslookup outside (an ExternalName)", &outside, || found("outside")).await;
    let unknown = nslookup(plane, "box", "nowhere.outside.test").await;
    assert!(unknown.as_ref().is_err_and(|text| text.contains("NXDOMAIN")), "an unknown name: {unknown:?}");
    assert!(upstream.was_asked("nowhere.outside.test."), "forwarded: {:?}", upstream.asked.lock().unwrap());
    cluster.stop().await;
}

/// A demo-web pod and a toolbox pod on `node`, and a Service in front of the demo-web pod.
fn on_node(index: usize, node: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: web-{index}, labels: {{app: web-{index}}}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {node}}}
  containers:
  - name: web
    image: skiff/demo-web:v1
    ports: [{{containerPort: 8080}}]
    readinessProbe: {{httpGet: {{path: /ready, port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web-{index}}}
spec:
  selector: {{app: web-{index}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: box-{index}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {node}}}
  containers:
  - {{name: box, image: 'skiff/toolbox:1', command: [sleep, '3600']}}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_two_nodes_reach_each_other_and_each_others_services() {
    let cluster = Cluster::start(2).await;
    let plane = &cluster.plane;
    let manifests: Vec<String> = cluster.nodes.iter().enumerate().map(|(i, node)| on_node(i, node)).collect();
    cluster.apply(&manifests.join("---\n")).await;
    plane
        .ok(&["wait", "--for=condition=Ready", "pod/web-0", "pod/web-1", "pod/box-0", "pod/box-1", "--timeout=60s"])
        .await;
    let mut web_ips = Vec::new();
    for (index, (node, cidr)) in cluster.nodes.iter().zip(&cluster.pod_cidrs).enumerate() {
        for pod in [format!("web-{index}"), format!("box-{index}")] {
            assert_eq!(&cluster.jsonpath(&["pod", &pod], "{.spec.nodeName}").await, node, "{pod}");
            let ip = cluster.pod_ip(&pod).await;
            let base = cidr.trim_end_matches(".0/24");
            assert!(ip.to_string().starts_with(&format!("{base}.")), "{pod} on {node} has {ip}, not in {cidr}");
        }
        web_ips.push(cluster.pod_ip(&format!("web-{index}")).await);
    }
    for (from, to) in [(0, 1), (1, 0)] {
        let box_pod = format!("box-{from}");
        let target = format!("web-{to}");
        let cluster_ip = cluster.cluster_ip(&target).await;
        for url in [
            format!("http://{}:8080/hostname", web_ips[to]),
            format!("http://{cluster_ip}/hostname"),
            format!("http://{target}/hostname"),
            format!("http://{target}.default.svc.cluster.local/hostname"),
        ] {
            let answer = plane.kubectl(&["exec", &box_pod, "--", "wget", "-qO-", "-T", "5", &url]).await;
            let text = String::from_utf8_lossy(&answer.stdout);
            assert!(
                answer.status.success() && text == target,
                "{box_pod} on {} → {url}: {text}{}",
                cluster.nodes[from],
                String::from_utf8_lossy(&answer.stderr)
            );
        }
    }
    cluster.stop().await;
}
