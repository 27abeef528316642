//! The Ingress router end to end: the real API server (skiff-store behind it) in this process,
//! the router in process on a free port, and real `skiff/demo-web` containers started with
//! Docker on a network of the test's own. The test writes the Services, EndpointSlices and
//! Ingresses through the API, as the endpoints controller and a user would, and talks HTTP to
//! the router as a client on the host would.
//!
//! What it shows: host and path routing with `rewrite-target`, app-root, 404 for an unknown
//! host, 503 without ready endpoints, 502 and 504 on backend failures, the forwarded headers,
//! canaries by header, cookie and weight, the Ingress status, WebSocket pass-through, and no
//! failed request under load while backends are replaced (rolling, blue/green, scale-down,
//! canary weights).
//!
//! Every container and network is named for this run and removed on drop, even on failure.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};
use skiff_client::{Api, Client, Patch};
use skiff_proxy::ingress::{self, Caches, Config};
use skiff_tests::control_plane::ControlPlane;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------------
// Docker: containers and a network of this test, removed on drop.

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("the docker CLI runs")
}

fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(output.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

struct Docker {
    network: String,
    /// The host's address on the network: where a backend served by the test itself listens.
    gateway: IpAddr,
    containers: Mutex<Vec<String>>,
}

impl Docker {
    fn new(test: &str) -> Docker {
        let network = format!("skiff-test-ingress-{}-{test}", std::process::id());
        docker(&["network", "rm", &network]);
        docker_ok(&["network", "create", "--label", "skiff.test=ingress", &network]);
        let gateway = docker_ok(&["network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", &network]);
        Docker { gateway: gateway.parse().expect("a gateway IP"), network, containers: Mutex::new(Vec::new()) }
    }

    /// Starts `skiff/demo-web:<version>`; returns its name and IP once it answers.
    async fn web(&self, version: &str) -> (String, String) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("{}-{version}-{}", self.network, NEXT.fetch_add(1, Ordering::Relaxed));
        self.containers.lock().unwrap().push(name.clone());
        let image = format!("skiff/demo-web:{version}");
        docker_ok(&["run", "-d", "--name", &name, "--label", "skiff.test=ingress", "--network", &self.network, &image]);
        let ip = docker_ok(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &name]);
        let http = http_client();
        let url = format!("http://{ip}:8080/version");
        for _ in 0..100 {
            if let Ok(response) = http.get(url.parse().unwrap()).await {
                if response.status() == StatusCode::OK {
                    return (name, ip);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{name} did not answer at {url}");
    }

    /// SIGTERM, as the kubelet stops a container (demo-web closes its listener at once).
    fn terminate(&self, name: &str) {
        docker_ok(&["kill", "--signal", "TERM", name]);
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut *self.containers.lock().unwrap());
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(containers.iter().map(String::as_str));
            docker(&args);
        }
        docker(&["network", "rm", &self.network]);
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster side: the control plane, the router, and the objects the tests write.

struct Cluster {
    plane: ControlPlane,
    client: Client,
    router: SocketAddr,
    stop: CancellationToken,
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::with_settings(ingress::Settings::default()).await
    }

    async fn with_settings(settings: ingress::Settings) -> Cluster {
        let plane = ControlPlane::start().await;
        let client = plane.client("skiff-proxy").await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let router = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let caches = Caches {
            services: ingress::sync::informer(&client, &stop),
            slices: ingress::sync::informer(&client, &stop),
            progress: None,
        };
        let mut config = Config::new(router, "127.0.0.1".parse().unwrap());
        config.settings = settings;
        tokio::spawn(ingress::serve(config, listener, client.clone(), caches, stop.clone()));
        Cluster { plane, client, router, stop }
    }

    async fn create<K: skiff_client::api::ApiObject>(&self, object: Value) -> K {
        let object: K = serde_json::from_value(object).expect("a valid object");
        Api::<K>::namespaced(self.client.clone(), "default").create(&object).await.expect("created")
    }

    /// A Service `name` with port 80 (`http`) → 8080.
    async fn service(&self, name: &str) {
        let service = json!({
            "metadata": {"name": name},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        });
        self.create::<Service>(service).await;
    }

    /// Sets the EndpointSlice `name` of `service` to `endpoints` (`ip`, ready) on `port`,
    /// creating it the first time.
    async fn endpoints(&self, name: &str, service: &str, port: u16, endpoints: &[(&str, bool)]) {
        let endpoints: Vec<Value> = endpoints
            .iter()
            .map(|(ip, ready)| json!({"addresses": [ip], "conditions": {"ready": ready, "terminating": !ready}}))
            .collect();
        let api = Api::<EndpointSlice>::namespaced(self.client.clone(), "default");
        if api.get_opt(name).await.unwrap().is_some() {
            api.patch(name, &Patch::Merge(json!({ "endpoints": endpoints }))).await.expect("slice patched");
            return;
        }
        let slice = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": endpoints,
        });
        self.create::<EndpointSlice>(slice).await;
    }

    /// An Ingress of class `nginx` (as tutorials write it) with one rule.
    async fn ingress(&self, name: &str, annotations: &[(&str, &str)], host: &str, paths: &[(&str, &str, &str)]) {
        let annotations: BTreeMap<String, String> =
            annotations.iter().map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), v.to_string())).collect();
        let paths: Vec<Value> = paths
            .iter()
            .map(|(path, path_type, service)| {
                json!({"path": path, "pathType": path_type,
                       "backend": {"service": {"name": service, "port": {"number": 80}}}})
            })
            .collect();
        let ingress = json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": paths}}]},
        });
        self.create::<Ingress>(ingress).await;
    }

    async fn annotate(&self, ingress: &str, name: &str, value: &str) {
        let patch = json!({"metadata": {"annotations": {format!("nginx.ingress.kubernetes.io/{name}"): value}}});
        Api::<Ingress>::namespaced(self.client.clone(), "default").patch(ingress, &Patch::Merge(patch)).await.unwrap();
    }

    /// Waits until `host` `path` answers `body` through the router.
    async fn until_body(&self, host: &str, path: &str, body: &str) {
        let http = http_client();
        let what = format!("{host}{path} to answer {body:?}");
        self.plane
            .eventually(&what, Duration::from_secs(10), || async {
                get(&http, self.router, host, path, &[]).await.is_ok_and(|r| r.body == body)
            })
            .await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

// ---------------------------------------------------------------------------------------------
// A client on the host.

type Http = HttpClient<HttpConnector, Empty<Bytes>>;

/// A keep-alive client: one pooled connection per address.
fn http_client() -> Http {
    HttpClient::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build_http()
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn get(
    http: &Http,
    router: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let mut request = Request::get(format!("http://{router}{path}")).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = http.request(request.body(Empty::new()).unwrap()).await.map_err(|e| format!("{e:?}"))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| format!("{e:?}"))?.to_bytes();
    Ok(Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// Counts the bodies of `n` requests.
async fn versions(
    http: &Http,
    router: SocketAddr,
    host: &str,
    headers: &[(&str, &str)],
    n: usize,
) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let answer = get(http, router, host, "/version", headers).await.expect("an answer");
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        *seen.entry(answer.body).or_default() += 1;
    }
    seen
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_and_path_rules_with_rewrite_reach_the_right_backend() {
    let docker = Docker::new("rules");
    let cluster = Cluster::start().await;
    let ((_, v1), (_, v2)) = tokio::join!(docker.web("v1"), docker.web("v2"));
    for (service, ip) in [("web", &v1), ("api", &v2)] {
        cluster.service(service).await;
        cluster.endpoints(service, service, 8080, &[(ip, true)]).await;
    }
    cluster
        .ingress(
            "shop",
            &[("rewrite-target", "/$2")],
            "shop.example.test",
            &[("/app1(/|$)(.*)", "ImplementationSpecific", "web")],
        )
        .await;
    cluster
        .ingress(
            "shop-api",
            &[("rewrite-target", "/$2")],
            "shop.example.test",
            &[("/api(/|$)(.*)", "ImplementationSpecific", "api")],
        )
        .await;
    cluster.ingress("plain", &[], "plain.example.test", &[("/version", "Exact", "api")]).await;
    cluster.ingress("root", &[("app-root", "/app1")], "root.example.test", &[("/", "Prefix", "web")]).await;
    cluster.until_body("plain.example.test", "/version", "v2").await;
    cluster.until_body("shop.example.test", "/api/version", "v2").await;

    let http = http_client();
    let at = |host: &'static str, path: &'static str| {
        let http = http.clone();
        let router = cluster.router;
        async move { get(&http, router, host, path, &[]).await.unwrap() }
    };
    assert_eq!(at("shop.example.test", "/app1/version").await.body, "v1");
    assert_eq!(at("SHOP.example.test:80", "/APP1/version").await.body, "v1", "hosts and regex paths ignore case");
    assert_eq!(at("shop.example.test", "/api/version").await.body, "v2");
    let page = at("shop.example.test", "/app1").await;
    assert!(page.status == StatusCode::OK && page.body.contains("v1"), "/app1 → / of v1: {page:?}");
    assert_eq!(at("plain.example.test", "/version/").await.status, StatusCode::NOT_FOUND, "Exact is exact");
    let redirect = at("root.example.test", "/").await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    assert_eq!(redirect.headers["location"], "http://root.example.test/app1");
    let unknown = at("nowhere.example.test", "/app1/version").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("404 Not Found"), "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ready_endpoint_is_503_a_dead_one_502_a_slow_one_504_and_status_is_set() {
    let docker = Docker::new("failures");
    let settings = ingress::Settings { response_timeout: Duration::from_secs(1), ..Default::default() };
    let cluster = Cluster::with_settings(settings).await;
    let (_, v1) = docker.web("v1").await;
    cluster.service("web").await;
    cluster.endpoints("web", "web", 8080, &[(&v1, false)]).await;
    cluster.service("dead").await;
    // The test host on its Docker network, on a port nothing listens on: connection refused.
    let gateway = docker.gateway.to_string();
    let closed = TcpListener::bind((docker.gateway, 0)).await.unwrap().local_addr().unwrap().port();
    cluster.endpoints("dead", "dead", closed, &[(&gateway, true)]).await;
    // A stopped pod still listed next to a live one: refused connections are retried on it.
    cluster.service("mixed").await;
    cluster.endpoints("mixed-stopped", "mixed", closed, &[(&gateway, true)]).await;
    cluster.endpoints("mixed-live", "mixed", 8080, &[(&v1, true)]).await;
    // `web` last: once the router serves it, it serves the two before it too.
    cluster.ingress("dead", &[], "dead.test", &[("/", "Prefix", "dead")]).await;
    cluster.ingress("mixed", &[], "mixed.test", &[("/", "Prefix", "mixed")]).await;
    cluster.ingress("web", &[], "web.test", &[("/", "Prefix", "web")]).await;

    let http = http_client();
    let status = |host: &'static str, path: &'static str| {
        let (http, router) = (http.clone(), cluster.router);
        async move { get(&http, router, host, path, &[]).await.unwrap().status }
    };
    let api = Api::<Ingress>::namespaced(cluster.client.clone(), "default");
    cluster
        .plane
        .eventually("the router serves web.test", Duration::from_secs(10), || async {
            status("web.test", "/version").await == StatusCode::SERVICE_UNAVAILABLE
        })
        .await;
    assert_eq!(status("dead.test", "/").await, StatusCode::BAD_GATEWAY);
    let seen = versions(&http, cluster.router, "mixed.test", &[], 20).await;
    assert_eq!(seen, [("v1".to_string(), 20)].into(), "every request reached the live endpoint");
    // Round-robin over [stopped, live] sends every other request to the stopped endpoint first,
    // and each of those is retried on the live one: 10 of 20. A table rebuilt meanwhile (the
    // Ingresses' status is written while the requests run) starts its round-robin over at the
    // stopped endpoint, which can add one retry per rebuild, never take one away.
    let metrics = skiff_client::metrics::render();
    let retried = r#"skiff_ingress_upstream_retries_total{namespace="default",service="mixed"} "#;
    let retries: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix(retried))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0);
    assert!((10..=14).contains(&retries), "{retries} of 20 requests retried, expected every other one:\n{metrics}");
    assert!(metrics.contains(r#"service="dead",status="502"} 1"#), "the 502 is counted");
    cluster.endpoints("web", "web", 8080, &[(&v1, true)]).await;
    cluster.until_body("web.test", "/version", "v1").await;
    assert_eq!(status("web.test", "/sleep/3").await, StatusCode::GATEWAY_TIMEOUT);

    // The node's address in the status, as kubectl shows it.
    cluster
        .plane
        .eventually("status.loadBalancer.ingress is set", Duration::from_secs(10), || async {
            let ingress = api.get("web").await.unwrap();
            let lb = ingress.status.and_then(|s| s.load_balancer).and_then(|lb| lb.ingress).unwrap_or_default();
            lb.len() == 1 && lb[0].ip.as_deref() == Some("127.0.0.1")
        })
        .await;
    let shown = cluster.plane.ok(&["get", "ingress", "web"]).await;
    assert!(shown.contains("127.0.0.1"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_by_header_cookie_and_weight_30() {
    let docker = Docker::new("canary");
    let cluster = Cluster::start().await;
    let ((_, v1), (_, v2)) = tokio::join!(docker.web("v1"), docker.web("v2"));
    for (service, ip) in [("main", &v1), ("canary", &v2)] {
        cluster.service(service).await;
        cluster.endpoints(service, service, 8080, &[(ip, true)]).await;
    }
    cluster.ingress("main", &[], "canary.test", &[("/", "Prefix", "main")]).await;
    let policy =
        [("canary", "true"), ("canary-by-header", "x-canary"), ("canary-by-cookie", "canary"), ("canary-weight", "30")];
    cluster.ingress("canary", &policy, "canary.test", &[("/", "Prefix", "canary")]).await;
    let http = http_client();
    cluster
        .plane
        .eventually("the canary takes requests", Duration::from_secs(10), || async {
            get(&http, cluster.router, "canary.test", "/version", &[("x-canary", "always")])
                .await
                .is_ok_and(|a| a.body == "v2")
        })
        .await;
    let router = cluster.router;
    let only = |seen: BTreeMap<String, usize>, version: &str| seen.len() == 1 && seen.contains_key(version);
    assert!(only(versions(&http, router, "canary.test", &[("x-canary", "always")], 50).await, "v2"));
    assert!(only(
        versions(&http, router, "canary.test", &[("x-canary", "never"), ("cookie", "canary=always")], 50).await,
        "v1"
    ));
    assert!(only(versions(&http, router, "canary.test", &[("cookie", "a=1; canary=always")], 50).await, "v2"));
    assert!(only(
        versions(&http, router, "canary.test", &[("x-canary", "other"), ("cookie", "canary=never")], 50).await,
        "v1"
    ));
    let weighted = versions(&http, router, "canary.test", &[], 1000).await;
    let canary = weighted.get("v2").copied().unwrap_or(0);
    // Binomial(1000, 0.3): mean 300, standard deviation 14.5; ±70 is nearly 5 of them.
    assert!((230..=370).contains(&canary), "the canary took {canary} of 1000: {weighted:?}");
}

/// A tiny backend the test serves itself: it answers each request with its URI and headers.
async fn header_echo(address: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind((address, 0)).await.unwrap();
    let bound = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(|request: Request<hyper::body::Incoming>| async move {
                let mut text = format!("{}\n", request.uri());
                for (name, value) in request.headers() {
                    text.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or_default()));
                }
                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(text))))
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    bound
}

/// A WebSocket server the test serves itself: it sends every message back.
async fn websocket_echo(address: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind((address, 0)).await.unwrap();
    let bound = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() || message.is_binary() {
                        let _ = socket.send(message).await;
                    }
                }
            });
        }
    });
    bound
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_see_the_host_and_forwarded_headers_and_websockets_pass_through() {
    let docker = Docker::new("headers");
    let cluster = Cluster::start().await;
    let gateway = docker.gateway.to_string();
    let echo = header_echo(docker.gateway).await;
    let ws = websocket_echo(docker.gateway).await;
    for (service, port) in [("echo", echo.port()), ("ws", ws.port())] {
        cluster.service(service).await;
        cluster.endpoints(service, service, port, &[(&gateway, true)]).await;
    }
    cluster
        .ingress(
            "echo",
            &[("rewrite-target", "/seen/$1")],
            "echo.test",
            &[("/e/(.*)", "ImplementationSpecific", "echo")],
        )
        .await;
    cluster.ingress("ws", &[], "ws.test", &[("/", "Prefix", "ws")]).await;
    let http = http_client();
    cluster
        .plane
        .eventually("echo.test answers", Duration::from_secs(10), || async {
            get(&http, cluster.router, "echo.test", "/e/x", &[]).await.is_ok_and(|a| a.status == StatusCode::OK)
        })
        .await;
    let seen = get(&http, cluster.router, "echo.test", "/e/a/b?q=1", &[("x-request-id", "r-1")]).await.unwrap().body;
    let port = cluster.router.port();
    for line in [
        "/seen/a/b?q=1".to_string(),
        "host: echo.test".into(),
        "x-forwarded-host: echo.test".into(),
        "x-forwarded-for: 127.0.0.1".into(),
        "x-real-ip: 127.0.0.1".into(),
        format!("x-forwarded-port: {port}"),
        "x-forwarded-proto: http".into(),
        "x-request-id: r-1".into(),
    ] {
        assert!(seen.lines().any(|l| l == line), "{line:?} missing in:\n{seen}");
    }

    // A plain GET reaches the WebSocket server too (which refuses it): the rule is in.
    cluster
        .plane
        .eventually("ws.test is routed", Duration::from_secs(10), || async {
            get(&http, cluster.router, "ws.test", "/", &[]).await.is_ok_and(|a| a.status != StatusCode::NOT_FOUND)
        })
        .await;
    let stream = tokio::net::TcpStream::connect(cluster.router).await.unwrap();
    let (mut socket, response) = tokio_tungstenite::client_async("ws://ws.test/chat", stream).await.expect("upgraded");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    for text in ["hello", "through the router"] {
        socket.send(tokio_tungstenite::tungstenite::Message::text(text)).await.unwrap();
        let echoed = socket.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
    socket.close(None).await.unwrap();
}

/// What the load clients saw.
#[derive(Default)]
struct Tally {
    by_version: Mutex<BTreeMap<String, usize>>,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn total(&self) -> usize {
        self.by_version.lock().unwrap().values().sum::<usize>() + self.failures.lock().unwrap().len()
    }
}

/// One keep-alive client asking `/version` until `done` (and at most for 90 s).
async fn load(http: Http, router: SocketAddr, tally: Arc<Tally>, done: Arc<AtomicBool>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
        match get(&http, router, "swap.test", "/version", &[]).await {
            Ok(answer) if answer.status == StatusCode::OK => {
                *tally.by_version.lock().unwrap().entry(answer.body).or_default() += 1;
            }
            Ok(answer) => tally.failures.lock().unwrap().push(format!("{}: {}", answer.status, answer.body)),
            Err(err) => tally.failures.lock().unwrap().push(err),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_while_backends_are_replaced() {
    let docker = Docker::new("swap");
    let cluster = Cluster::start().await;
    let (a, b, c) = tokio::join!(docker.web("v1"), docker.web("v1"), docker.web("v2"));
    let (d, e, f) = tokio::join!(docker.web("v2"), docker.web("v3"), docker.web("v3"));
    let canary_web = docker.web("v1").await;
    let (v1, v2, v3) = ([a, b], [c, d], [e, f]);
    cluster.service("web").await;
    cluster.endpoints("web", "web", 8080, &[(&v1[0].1, true), (&v1[1].1, true)]).await;
    cluster.service("web-canary").await;
    cluster.endpoints("web-canary", "web-canary", 8080, &[(&canary_web.1, true)]).await;
    cluster.ingress("swap", &[], "swap.test", &[("/", "Prefix", "web")]).await;
    cluster.until_body("swap.test", "/version", "v1").await;

    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> =
        (0..4).map(|_| tokio::spawn(load(http_client(), cluster.router, tally.clone(), done.clone()))).collect();
    // How long the test waits between taking an endpoint out and stopping its container: the
    // router applies a change in milliseconds; a kubelet's preStop hook plays this part.
    let grace = Duration::from_millis(700);
    let settle = Duration::from_millis(400);
    tokio::time::sleep(settle).await;

    // 1. A rolling update, one pod at a time: v2 joins ready, v1 turns not ready (terminating),
    //    is stopped after the grace, then leaves the slice.
    let mut current: Vec<(String, bool)> = v1.iter().map(|(_, ip)| (ip.clone(), true)).collect();
    for i in 0..2 {
        current.push((v2[i].1.clone(), true));
        set(&cluster, "web", &current).await;
        tokio::time::sleep(settle).await;
        current.iter_mut().filter(|(ip, _)| *ip == v1[i].1).for_each(|e| e.1 = false);
        set(&cluster, "web", &current).await;
        tokio::time::sleep(grace).await;
        docker.terminate(&v1[i].0);
        current.retain(|(ip, _)| *ip != v1[i].1);
        set(&cluster, "web", &current).await;
        tokio::time::sleep(settle).await;
    }
    // 2. Blue/green: the Service's selector switches to v3, so every endpoint changes at once.
    set(&cluster, "web", &[(v3[0].1.clone(), true), (v3[1].1.clone(), true)]).await;
    tokio::time::sleep(grace).await;
    v2.iter().for_each(|(name, _)| docker.terminate(name));
    tokio::time::sleep(settle).await;
    // 3. Canary weights 0 → 50 → 100 → 0, then the canary goes away.
    let canary = [("canary", "true"), ("canary-weight", "0")];
    cluster.ingress("swap-canary", &canary, "swap.test", &[("/", "Prefix", "web-canary")]).await;
    for weight in ["50", "100", "0"] {
        tokio::time::sleep(settle).await;
        cluster.annotate("swap-canary", "canary-weight", weight).await;
    }
    tokio::time::sleep(settle).await;
    Api::<Ingress>::namespaced(cluster.client.clone(), "default").delete("swap-canary", &Value::Null).await.unwrap();
    // 4. Scale-down to one pod.
    set(&cluster, "web", &[(v3[0].1.clone(), true), (v3[1].1.clone(), false)]).await;
    tokio::time::sleep(grace).await;
    docker.terminate(&v3[1].0);
    set(&cluster, "web", &[(v3[0].1.clone(), true)]).await;
    // Keep the load on until a few thousand requests have been made.
    let until = Instant::now() + Duration::from_secs(30);
    while tally.total() < 3000 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let by_version = tally.by_version.lock().unwrap().clone();
    let failures = tally.failures.lock().unwrap().clone();
    println!("{} requests, by version {by_version:?}, {} failed", tally.total(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        tally.total(),
        &failures[..failures.len().min(10)]
    );
    assert!(tally.total() >= 2000, "only {} requests", tally.total());
    for version in ["v1", "v2", "v3"] {
        assert!(by_version.get(version).copied().unwrap_or(0) > 0, "no request reached {version}: {by_version:?}");
    }
}

/// The slice `name` (of Service `name`) set to `endpoints`.
async fn set(cluster: &Cluster, name: &str, endpoints: &[(String, bool)]) {
    let endpoints: Vec<(&str, bool)> = endpoints.iter().map(|(ip, ready)| (ip.as_str(), *ready)).collect();
    cluster.endpoints(name, name, 8080, &endpoints).await;
}

/// The worst order a kubelet could choose: each old pod is stopped *before* it leaves the
/// endpoints. New connections to it are refused and idle ones are closed by demo-web at once,
/// so the router's retry before send is all that keeps these GETs from failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_get_fails_even_when_pods_stop_before_they_leave_the_endpoints() {
    let docker = Docker::new("early-stop");
    let cluster = Cluster::start().await;
    let (a, b, c, d) = tokio::join!(docker.web("v1"), docker.web("v1"), docker.web("v2"), docker.web("v2"));
    let (v1, v2) = ([a, b], [c, d]);
    cluster.service("web").await;
    cluster.endpoints("web", "web", 8080, &[(&v1[0].1, true), (&v1[1].1, true)]).await;
    cluster.ingress("swap", &[], "swap.test", &[("/", "Prefix", "web")]).await;
    cluster.until_body("swap.test", "/version", "v1").await;

    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> =
        (0..4).map(|_| tokio::spawn(load(http_client(), cluster.router, tally.clone(), done.clone()))).collect();
    let settle = Duration::from_millis(400);
    tokio::time::sleep(settle).await;
    let mut current: Vec<(String, bool)> = v1.iter().map(|(_, ip)| (ip.clone(), true)).collect();
    for i in 0..2 {
        current.push((v2[i].1.clone(), true));
        set(&cluster, "web", &current).await;
        tokio::time::sleep(settle).await;
        docker.terminate(&v1[i].0);
        // The endpoints controller is slower than the kubelet here.
        tokio::time::sleep(settle).await;
        current.retain(|(ip, _)| *ip != v1[i].1);
        set(&cluster, "web", &current).await;
        tokio::time::sleep(settle).await;
    }
    done.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let failures = tally.failures.lock().unwrap().clone();
    let by_version = tally.by_version.lock().unwrap().clone();
    println!("{} requests with early stops, by version {by_version:?}, {} failed", tally.total(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} failed: {:?}",
        failures.len(),
        tally.total(),
        &failures[..failures.len().min(10)]
    );
    assert!(by_version.contains_key("v1") && by_version.contains_key("v2"), "{by_version:?}");
}

/// A backend the test writes byte by byte, to give the router every framing a response can
/// have: `/length`, `/chunked` (with a trailer), `/close` (a body that ends with the
/// connection), `/hint` (a `103 Early Hints` first), `/once` (answers, then closes a connection
/// it did not say it would close, as a backend's idle timeout does), and `POST /echo`, which
/// sends the request's body back. Returns its address and how many connections it accepted.
async fn framing_backend(address: IpAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind((address, 0)).await.unwrap();
    let bound = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    while buf.len() < end + 4 + length {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf[end + 4..end + 4 + length].to_vec();
                    buf.drain(..end + 4 + length);
                    let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                    let answer: Vec<u8> = match path.as_str() {
                        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n".to_vec(),
                        "/close" => b"HTTP/1.1 200 OK\r\n\r\nuntil close".to_vec(),
                        "/hint" => b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhinted".to_vec(),
                        "/once" => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce".to_vec(),
                        "/echo" => [format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes(), body].concat(),
                        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nKeep-Alive: timeout=5\r\n\r\nlength".to_vec(),
                    };
                    if stream.write_all(&answer).await.is_err() || matches!(path.as_str(), "/close" | "/once") {
                        return;
                    }
                }
            });
        }
    });
    (bound, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_framing_passes_through_and_other_requests_go_on_with_hyper() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let docker = Docker::new("framing");
    let cluster = Cluster::start().await;
    let (backend, accepted) = framing_backend(docker.gateway).await;
    cluster.service("framed").await;
    cluster.endpoints("framed", "framed", backend.port(), &[(&docker.gateway.to_string(), true)]).await;
    cluster.ingress("framed", &[], "framed.test", &[("/", "Prefix", "framed")]).await;
    cluster.until_body("framed.test", "/length", "length").await;

    // One client connection, many requests: each response must end exactly where its framing
    // says, or the next one on the same connection would be garbled.
    let stream = tokio::net::TcpStream::connect(cluster.router).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut ask = async |method: &str, path: &str, body: &'static str| {
        let request = Request::builder().method(method).uri(path).header("host", "framed.test");
        sender.ready().await.expect("the connection is still open");
        let response = sender.send_request(request.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
        let status = response.status();
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        (status, String::from_utf8_lossy(&collected.to_bytes()).into_owned(), trailers)
    };
    // The first request may open a connection (each router worker keeps its own); the next
    // ones on this client connection reuse it.
    assert_eq!(ask("GET", "/length", "").await.1, "length");
    let before = accepted.load(Ordering::Relaxed);
    for _ in 0..5 {
        assert_eq!(ask("GET", "/length", "").await.1, "length");
    }
    assert_eq!(accepted.load(Ordering::Relaxed), before, "the router kept its connection to the backend");
    let (_, body, trailers) = ask("GET", "/chunked", "").await;
    assert_eq!(body, "hello world");
    assert_eq!(trailers.unwrap()["x-trailer"], "t", "the chunks, trailer included, as the backend sent them");
    assert_eq!(ask("HEAD", "/length", "").await.1, "", "no body after a HEAD");
    assert_eq!(ask("GET", "/hint", "").await.1, "hinted", "a 103 first, then the answer");
    // The backend closes the connection after /once without saying so: the router's next
    // request on that kept connection finds it closed, and sends it again on a new one.
    assert_eq!(ask("GET", "/once", "").await.1, "once");
    assert_eq!(ask("GET", "/length", "").await, (StatusCode::OK, "length".into(), None));
    // A body: hyper takes the connection over, with what the router had read of it.
    assert_eq!(ask("POST", "/echo", "a body of eighteen").await.1, "a body of eighteen");
    assert_eq!(ask("GET", "/length", "").await.1, "length", "hyper serves the rest of the connection");
    assert_eq!(ask("GET", "/chunked", "").await.1, "hello world");

    // Two requests in one write (pipelined), the second asking to close, then a body that
    // runs until the backend closes: the router closes the client's connection after it.
    let mut raw = tokio::net::TcpStream::connect(cluster.router).await.unwrap();
    raw.write_all(b"GET /length HTTP/1.1\r\nHost: framed.test\r\n\r\nGET /length HTTP/1.1\r\nHost: framed.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut all = String::new();
    raw.read_to_string(&mut all).await.unwrap();
    assert_eq!(all.matches("HTTP/1.1 200 OK").count(), 2, "{all}");
    assert!(all.ends_with("\r\n\r\nlength") && !all.contains("keep-alive"), "hop-by-hop headers dropped: {all}");
    let mut raw = tokio::net::TcpStream::connect(cluster.router).await.unwrap();
    raw.write_all(b"GET /close HTTP/1.1\r\nHost: framed.test\r\n\r\n").await.unwrap();
    let mut all = String::new();
    tokio::time::timeout(Duration::from_secs(10), raw.read_to_string(&mut all)).await.expect("closed").unwrap();
    assert!(all.contains("connection: close") && all.ends_with("until close"), "{all}");
}
