//! Traffic while it moves: a rolling update, a blue/green switch and a canary, each under load
//! through the three ways into a Service — its ClusterIP and its NodePort (a new connection per
//! request) and the Ingress router (kept-alive connections) — on a whole cluster in this
//! process (`common`).
//!
//! "After a change" has one meaning here: a request *started* after the proxy's Lease shows the
//! EndpointSlice revision of the change (`Cluster::proxy_caught_up`): from then on the proxy's
//! Service rules and its Ingress routes both hold the new endpoints, so such a request can
//! only be answered by the new version. Requests started between the change and that instant
//! may be answered by either, but must not fail.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::http::Request;
use common::load::{burst, Load, Path};
use common::{free_node_port, Cluster};

/// Requests per second on each of the three paths: 270/s in all.
const RATE: u32 = 90;

/// A Service of type NodePort on port 80 in front of the pods labelled `selector`.
fn service(name: &str, selector: &str, node_port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: NodePort
  selector: {{{selector}}}
  ports: [{{port: 80, targetPort: http, nodePort: {node_port}}}]
"
    )
}

fn deployment(name: &str, replicas: u32, labels: &str, version: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{{labels}}}}}
  template:
    metadata: {{labels: {{{labels}}}}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: skiff/demo-web:{version}
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}, periodSeconds: 1}}
"
    )
}

fn ingress(name: &str, host: &str, service: &str, annotations: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  annotations: {{{annotations}}}
spec:
  ingressClassName: nginx
  rules:
  - host: {host}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}
"
    )
}

fn only(versions: &BTreeMap<String, usize>, version: &str) -> bool {
    !versions.is_empty() && versions.keys().all(|v| v == version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_replica_rolling_update_under_200_requests_per_second_fails_no_request_on_any_path() {
    let cluster = Cluster::start(1).await;
    let plane = &cluster.plane;
    // The default strategy, 25 % / 25 %: at most 13 pods, at least 8 available.
    let manifests = [
        deployment("web", 10, "app: web", "v1"),
        service("web", "app: web", free_node_port()),
        ingress("shop", "shop.example.test", "web", ""),
    ];
    cluster.apply(&manifests.join("---\n")).await;
    cluster.rolled_out("web").await;
    let paths = cluster.paths("web", "shop.example.test").await;
    cluster.answering(&paths, "v1").await;
    let old: Vec<String> = cluster.ready_endpoints("web").await.into_iter().map(|(pod, _)| pod).collect();
    assert_eq!(old.len(), 10, "{old:?}");

    let load = Load::start(paths, RATE);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let updated = Instant::now();
    plane.ok(&["set", "image", "deployment/web", "web=skiff/demo-web:v2"]).await;
    cluster.rolled_out("web").await;
    let rolled_out = Instant::now();
    cluster
        .endpoints_until("web", "ten new pods and no old one in the endpoints", |ready| {
            ready.len() == 10 && ready.iter().all(|(pod, _)| !old.contains(pod))
        })
        .await;
    let after = cluster.proxy_caught_up().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop().await;
    eprintln!(
        "{}\n  the rollout took {:.1} s; the proxy had the last endpoints {:.1} s after kubectl saw it done",
        report.summary(),
        rolled_out.duration_since(updated).as_secs_f64(),
        after.saturating_duration_since(rolled_out).as_secs_f64(),
    );

    report.assert_none_failed();
    assert!(report.total_rate() >= 200.0, "{}", report.summary());
    for path in &report.paths {
        let before = report.versions(path, |s| s.started < updated);
        let during = report.versions(path, |s| s.started >= updated && s.started < after);
        let later = report.versions(path, |s| s.started >= after);
        assert!(only(&before, "v1"), "through the {path}, before the update: {before:?}");
        assert!(during.contains_key("v2"), "through the {path}, v2 answers during the rollout: {during:?}");
        assert!(only(&later, "v2"), "through the {path}, after the rollout: {later:?}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_a_service_from_blue_to_green_and_back_under_load_fails_no_request_and_moves_every_later_one() {
    let cluster = Cluster::start(1).await;
    let node_port = free_node_port();
    let manifests = [
        deployment("web-blue", 2, "app: web, color: blue", "v1"),
        deployment("web-green", 2, "app: web, color: green", "v2"),
        service("web", "app: web, color: blue", node_port),
        ingress("shop", "shop.example.test", "web", ""),
    ];
    cluster.apply(&manifests.join("---\n")).await;
    cluster.rolled_out("web-blue").await;
    cluster.rolled_out("web-green").await;
    let paths = cluster.paths("web", "shop.example.test").await;
    cluster.answering(&paths, "v1").await;

    let load = Load::start(paths, RATE);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut switches = Vec::new();
    for color in ["green", "blue"] {
        let applied = Instant::now();
        cluster.apply(&service("web", &format!("app: web, color: {color}"), node_port)).await;
        let prefix = format!("web-{color}-");
        cluster
            .endpoints_until("web", &format!("only {color} pods in the endpoints"), |ready| {
                ready.len() == 2 && ready.iter().all(|(pod, _)| pod.starts_with(&prefix))
            })
            .await;
        let switched = cluster.proxy_caught_up().await;
        switches.push((applied, switched));
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let report = load.stop().await;
    let [(to_green, green), (to_blue, blue)] = switches[..] else { unreachable!() };
    eprintln!(
        "{}\n  to green: applied at {:.2} s, in the proxy at {:.2} s; back to blue: applied at {:.2} s, in the proxy at {:.2} s",
        report.summary(),
        report.at(to_green),
        report.at(green),
        report.at(to_blue),
        report.at(blue),
    );

    report.assert_none_failed();
    assert!(report.total_rate() >= 200.0, "{}", report.summary());
    for path in &report.paths {
        let before = report.versions(path, |s| s.started < to_green);
        let on_green = report.versions(path, |s| s.started >= green && s.started < to_blue);
        let back = report.versions(path, |s| s.started >= blue);
        assert!(only(&before, "v1"), "through the {path}, before the switch: {before:?}");
        assert!(only(&on_green, "v2"), "through the {path}, after the switch to green: {on_green:?}");
        assert!(only(&back, "v1"), "through the {path}, after the switch back to blue: {back:?}");
    }
    cluster.stop().await;
}

/// The share of `outcomes` answered by `version`, in percent; every request must succeed.
fn share(what: &str, outcomes: &[Result<String, String>], version: &str) -> f64 {
    let failed: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{what}: {} of {} failed: {:?}",
        failed.len(),
        outcomes.len(),
        &failed[..failed.len().min(5)]
    );
    let hits = outcomes.iter().filter(|o| o.as_deref() == Ok(version)).count();
    let percent = 100.0 * hits as f64 / outcomes.len() as f64;
    eprintln!("{what}: {version} answered {hits} of {} ({percent:.1} %)", outcomes.len());
    percent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_takes_its_share_by_replicas_by_weight_and_by_header_and_deleting_it_fails_no_request() {
    let cluster = Cluster::start(1).await;
    let plane = &cluster.plane;
    let canary = "nginx.ingress.kubernetes.io/canary: \"true\", nginx.ingress.kubernetes.io/canary-weight: \"20\", \
                  nginx.ingress.kubernetes.io/canary-by-header: X-Canary";
    let manifests = [
        deployment("web-stable", 3, "app: web, track: stable", "v1"),
        deployment("web-canary", 1, "app: web, track: canary", "v2"),
        service("web", "app: web", free_node_port()),
        service("web-stable", "app: web, track: stable", free_node_port()),
        service("web-canary", "app: web, track: canary", free_node_port()),
        // The replicas' share, through the router too.
        ingress("web", "web.example.test", "web", ""),
        // The canary's share by weight and by header: the main Ingress sends only to v1.
        ingress("shop", "shop.example.test", "web-stable", ""),
        ingress("shop-canary", "shop.example.test", "web-canary", canary),
    ];
    cluster.apply(&manifests.join("---\n")).await;
    cluster.rolled_out("web-stable").await;
    cluster.rolled_out("web-canary").await;
    cluster.endpoints_until("web", "four pods behind web", |ready| ready.len() == 4).await;
    cluster.proxy_caught_up().await;
    let paths = cluster.paths("web", "web.example.test").await;
    let shop = Path::keep_alive("Ingress (shop)", cluster.router, Request::get("shop.example.test", "/version"));
    let header = |value: &str| {
        let request = Request::get("shop.example.test", "/version").header("X-Canary", value);
        Path::keep_alive(&format!("Ingress (shop, X-Canary: {value})"), cluster.router, request)
    };
    let always = header("always");
    plane
        .eventually("the canary Ingress is served", Duration::from_secs(30), || async {
            burst(&always, 20, 1).await.iter().all(|o| o.as_deref() == Ok("v2"))
        })
        .await;

    // 3 v1 pods and 1 v2 pod behind one Service: v2 answers a quarter.
    for path in &paths {
        let percent = share(&format!("web through the {}", path.name), &burst(path, 2000, 8).await, "v2");
        assert!((20.0..=30.0).contains(&percent), "through the {}: {percent:.1} % v2, not 25 ± 5", path.name);
    }
    let percent = share("shop, canary-weight 20", &burst(&shop, 2000, 8).await, "v2");
    assert!((15.0..=25.0).contains(&percent), "canary-weight 20: {percent:.1} % v2, not 20 ± 5");
    let percent = share("shop, X-Canary: always", &burst(&always, 500, 8).await, "v2");
    assert_eq!(percent, 100.0, "canary-by-header always");
    let percent = share("shop, X-Canary: never", &burst(&header("never"), 500, 8).await, "v2");
    assert_eq!(percent, 0.0, "canary-by-header never");

    // The canary goes, under load: first its Ingress, then its pods.
    let mut loaded = paths.clone();
    loaded.extend([shop, always.clone()]);
    let load = Load::start(loaded, RATE);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deleted = Instant::now();
    plane.ok(&["delete", "ingress", "shop-canary"]).await;
    plane
        .eventually("the canary Ingress is gone from the router", Duration::from_secs(30), || async {
            burst(&always, 20, 1).await.iter().all(|o| o.as_deref() == Ok("v1"))
        })
        .await;
    plane.ok(&["delete", "deployment", "web-canary"]).await;
    plane.ok(&["delete", "service", "web-canary"]).await;
    plane
        .eventually("the canary pod is gone", Duration::from_secs(60), || async {
            plane.ok(&["get", "pods", "-l", "track=canary", "-o", "name"]).await.trim().is_empty()
        })
        .await;
    let after = cluster.proxy_caught_up().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = load.stop().await;
    eprintln!(
        "{}\n  the canary deleted at {:.2} s, gone from the proxy at {:.2} s",
        report.summary(),
        report.at(deleted),
        report.at(after)
    );
    report.assert_none_failed();
    for path in &report.paths {
        let later = report.versions(path, |s| s.started >= after);
        assert!(only(&later, "v1"), "through the {path}, once the canary is gone: {later:?}");
    }
    cluster.stop().await;
}
