//! Table tests of [`build`](super::build): objects in, routes out, each case named.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, Uri};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::ingress::route::{route, Route};
use crate::ingress::ANNOTATION_PREFIX;

/// An Ingress fixture: `Ing::new("web").host("a.test").path("/", "Prefix", "web", 80)`.
struct Ing(Ingress);

fn service_backend(service: &str, port: &str) -> IngressBackend {
    let port = match port.parse::<i32>() {
        Ok(number) => ServiceBackendPort { number: Some(number), name: None },
        Err(_) => ServiceBackendPort { number: None, name: Some(port.into()) },
    };
    IngressBackend { service: Some(IngressServiceBackend { name: service.into(), port: Some(port) }), resource: None }
}

impl Ing {
    fn new(name: &str) -> Ing {
        Ing(Ingress {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), ..Default::default() },
            spec: Some(IngressSpec { ingress_class_name: Some("skiff".into()), ..Default::default() }),
            ..Default::default()
        })
    }
    fn spec(&mut self) -> &mut IngressSpec {
        self.0.spec.as_mut().unwrap()
    }
    /// Starts a rule; `""` for no host.
    fn host(mut self, host: &str) -> Ing {
        let host = (!host.is_empty()).then(|| host.to_string());
        let rule = IngressRule { host, http: Some(HTTPIngressRuleValue { paths: Vec::new() }) };
        self.spec().rules.get_or_insert_with(Vec::new).push(rule);
        self
    }
    /// A path of the last rule.
    fn path(mut self, path: &str, path_type: &str, service: &str, port: &str) -> Ing {
        let rule = self.spec().rules.as_mut().and_then(|r| r.last_mut()).expect("host() first");
        rule.http.as_mut().unwrap().paths.push(HTTPIngressPath {
            path: Some(path.into()),
            path_type: path_type.into(),
            backend: service_backend(service, port),
        });
        self
    }
    fn default_backend(mut self, service: &str, port: &str) -> Ing {
        self.spec().default_backend = Some(service_backend(service, port));
        self
    }
    fn annotate(mut self, name: &str, value: &str) -> Ing {
        let annotations = self.0.metadata.annotations.get_or_insert_with(BTreeMap::new);
        annotations.insert(format!("{ANNOTATION_PREFIX}{name}"), value.into());
        self
    }
    fn class(mut self, class: &str) -> Ing {
        self.spec().ingress_class_name = Some(class.into());
        self
    }
    /// Created `seconds` after the epoch: the order conflicts are settled in.
    fn created(mut self, seconds: i64) -> Ing {
        let time = k8s_openapi::chrono::DateTime::from_timestamp(seconds, 0).unwrap();
        self.0.metadata.creation_timestamp = Some(Time(time));
        self
    }
    fn done(self) -> Arc<Ingress> {
        Arc::new(self.0)
    }
}

fn service(name: &str, ports: &[(&str, i32)]) -> Arc<Service> {
    let ports = ports
        .iter()
        .map(|(port_name, port)| ServicePort {
            name: (!port_name.is_empty()).then(|| port_name.to_string()),
            port: *port,
            ..Default::default()
        })
        .collect();
    Arc::new(Service {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), ..Default::default() },
        spec: Some(ServiceSpec { ports: Some(ports), ..Default::default() }),
        ..Default::default()
    })
}

/// A slice of `service` with one port and endpoints `(ip, ready)`.
fn slice(
    name: &str,
    service: &str,
    port_name: &str,
    port: i32,
    endpoints: &[(&str, Option<bool>)],
) -> Arc<EndpointSlice> {
    let labels = [(SERVICE_NAME_LABEL.to_string(), service.to_string())].into();
    Arc::new(EndpointSlice {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            labels: Some(labels),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: endpoints
            .iter()
            .map(|(ip, ready)| Endpoint {
                addresses: vec![ip.to_string()],
                conditions: Some(EndpointConditions { ready: *ready, ..Default::default() }),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: (!port_name.is_empty()).then(|| port_name.to_string()),
            port: Some(port),
            ..Default::default()
        }]),
    })
}

/// The world of most tests: Services `web` (v1), `api` (v2), `canary` (v3), `fallback`,
/// each with one ready endpoint on 8080 (Service port 80, named `http`).
struct World {
    ingresses: Vec<Arc<Ingress>>,
    services: Vec<Arc<Service>>,
    slices: Vec<Arc<EndpointSlice>>,
}

impl World {
    fn new(ingresses: Vec<Ing>) -> World {
        let names = [("web", "10.0.0.1"), ("api", "10.0.0.2"), ("canary", "10.0.0.3"), ("fallback", "10.0.0.4")];
        World {
            ingresses: ingresses.into_iter().map(Ing::done).collect(),
            services: names.iter().map(|(name, _)| service(name, &[("http", 80)])).collect(),
            slices: names.iter().map(|(name, ip)| slice(name, name, "http", 8080, &[(ip, Some(true))])).collect(),
        }
    }
    fn table(&self) -> Table {
        let objects =
            Objects { ingresses: &self.ingresses, classes: &[], services: &self.services, slices: &self.slices };
        build(&objects, &ClassFilter::default())
    }
}

/// Where `host` and `uri` go through `table`, as `service uri` (or `redirect …`, `404`).
fn goes(table: &Table, host: &str, uri: &str, headers: &HeaderMap) -> String {
    let mut rng = StdRng::seed_from_u64(3);
    match route(table, host, &uri.parse::<Uri>().unwrap(), headers, &mut rng) {
        Route::Proxy { backend, uri, .. } => format!("{} {uri}", backend.service),
        Route::Redirect(location) => format!("redirect {location}"),
        Route::NotFound => "404".into(),
    }
}

fn check(case: &str, table: &Table, expectations: &[(&str, &str, &str)]) {
    for (host, uri, expected) in expectations {
        assert_eq!(goes(table, host, uri, &HeaderMap::new()), *expected, "{case}: {host}{uri}");
    }
}

#[test]
fn the_issue_s_ingress_rewrites_to_the_web_service() {
    let world = World::new(vec![Ing::new("shop").annotate("rewrite-target", "/$2").host("shop.example.test").path(
        "/app1(/|$)(.*)",
        "ImplementationSpecific",
        "web",
        "80",
    )]);
    check(
        "rewrite",
        &world.table(),
        &[
            ("shop.example.test", "/app1/version", "web /version"),
            ("shop.example.test", "/app1", "web /"),
            ("SHOP.example.test:80", "/App1/env?x=1", "web /env?x=1"),
            ("shop.example.test", "/other", "404"),
            ("unknown.test", "/app1/version", "404"),
        ],
    );
}

#[test]
fn exact_hosts_win_over_wildcards_and_hostless_rules_take_the_rest() {
    let world = World::new(vec![
        Ing::new("wild").host("*.example.test").path("/", "Prefix", "api", "80"),
        Ing::new("exact").host("shop.example.test").path("/", "Prefix", "web", "80"),
        Ing::new("any").host("").path("/", "Prefix", "canary", "80"),
    ]);
    check(
        "hosts",
        &world.table(),
        &[
            ("shop.example.test", "/", "web /"),
            ("blog.example.test", "/x", "api /x"),
            ("a.blog.example.test", "/", "canary /"),
            ("example.test", "/", "canary /"),
            ("10.1.2.3", "/", "canary /"),
        ],
    );
}

#[test]
fn exact_paths_come_first_then_the_longest_prefix() {
    let world = World::new(vec![Ing::new("paths")
        .host("a.test")
        .path("/", "Prefix", "fallback", "80")
        .path("/api", "Prefix", "api", "80")
        .path("/api/v1", "Exact", "canary", "80")
        .path("/api/v1/users", "Prefix", "web", "80")
        .path("/static", "ImplementationSpecific", "web", "80")]);
    check(
        "precedence",
        &world.table(),
        &[
            ("a.test", "/api", "api /api"),
            ("a.test", "/api/v1", "canary /api/v1"),
            ("a.test", "/api/v1/", "api /api/v1/"),
            ("a.test", "/api/v1/users/7", "web /api/v1/users/7"),
            ("a.test", "/apis", "fallback /apis"),
            ("a.test", "/staticfiles", "web /staticfiles"),
            ("a.test", "/", "fallback /"),
        ],
    );
}

#[test]
fn regex_paths_are_tried_longest_first_as_ingress_nginx_writes_them() {
    let world = World::new(vec![Ing::new("regex")
        .annotate("use-regex", "true")
        .host("a.test")
        .path("/.*", "ImplementationSpecific", "fallback", "80")
        .path("/api/.*/items", "ImplementationSpecific", "api", "80")
        .path("/api/[0-9]+", "ImplementationSpecific", "web", "80")]);
    check(
        "regex order",
        &world.table(),
        &[
            // `/api/.*/items` is the longest, so it is tried before `/api/[0-9]+`.
            ("a.test", "/api/7/items", "api /api/7/items"),
            ("a.test", "/api/7", "web /api/7"),
            ("a.test", "/API/7", "web /API/7"),
            ("a.test", "/elsewhere", "fallback /elsewhere"),
        ],
    );
}

#[test]
fn a_rewrite_on_one_ingress_makes_every_path_of_its_host_a_regex() {
    let world = World::new(vec![
        Ing::new("plain").created(1).host("a.test").path("/web", "Prefix", "web", "80"),
        Ing::new("rewrite").created(2).annotate("rewrite-target", "/$1").host("a.test").path(
            "/api/(.*)",
            "ImplementationSpecific",
            "api",
            "80",
        ),
        Ing::new("other-host").created(3).host("b.test").path("/web", "Prefix", "web", "80"),
    ]);
    check(
        "enforced regex",
        &world.table(),
        &[
            // On a.test, Prefix `/web` became `^/web`: `/webby` matches, and without rewrite.
            ("a.test", "/webby", "web /webby"),
            ("a.test", "/api/version", "api /version"),
            // b.test keeps Kubernetes' element-wise prefix.
            ("b.test", "/webby", "404"),
            ("b.test", "/web/x", "web /web/x"),
        ],
    );
}

#[test]
fn the_older_ingress_keeps_a_contested_path_and_other_classes_are_ignored() {
    let world = World::new(vec![
        Ing::new("newer").created(20).host("a.test").path("/", "Prefix", "api", "80"),
        Ing::new("older").created(10).host("a.test").path("/", "Prefix", "web", "80"),
        Ing::new("traefik").class("traefik").host("b.test").path("/", "Prefix", "web", "80"),
        Ing::new("nginx").class("nginx").host("c.test").path("/", "Prefix", "web", "80"),
    ]);
    let table = world.table();
    check("conflicts", &table, &[("a.test", "/", "web /"), ("b.test", "/", "404"), ("c.test", "/", "web /")]);
    let served: Vec<String> = table.served.iter().map(|k| k.to_string()).collect();
    assert_eq!(served, ["default/nginx", "default/older", "default/newer"]);
}

#[test]
fn default_backends_answer_what_no_path_matches() {
    let world = World::new(vec![
        Ing::new("shop").created(1).host("shop.test").path("/app", "Prefix", "web", "80"),
        Ing::new("own-default")
            .created(2)
            .default_backend("api", "80")
            .host("api.test")
            .path("/v1", "Prefix", "web", "80"),
        Ing::new("cluster-default").created(3).default_backend("fallback", "http"),
    ]);
    check(
        "default backends",
        &world.table(),
        &[
            ("shop.test", "/app/x", "web /app/x"),
            ("api.test", "/other", "api /other"),
            // shop.test's Ingress has no default backend: the host falls to the router's 404.
            ("shop.test", "/other", "404"),
            ("unknown.test", "/x", "fallback /x"),
        ],
    );
}

#[test]
fn app_root_redirects_the_root_only() {
    let world = World::new(vec![
        Ing::new("root").annotate("app-root", "/app1").host("a.test").path("/", "Prefix", "web", "80"),
        Ing::new("no-root-path").annotate("app-root", "/start").host("b.test").path("/start", "Prefix", "web", "80"),
    ]);
    check(
        "app-root",
        &world.table(),
        &[
            ("a.test:8080", "/", "redirect http://a.test:8080/app1"),
            ("a.test", "/app1", "web /app1"),
            ("b.test", "/", "redirect http://b.test/start"),
            ("b.test", "/start", "web /start"),
        ],
    );
}

#[test]
fn a_canary_joins_its_main_location_and_only_one_per_path() {
    let world = World::new(vec![
        Ing::new("main").created(1).annotate("rewrite-target", "/$2").host("a.test").path(
            "/app(/|$)(.*)",
            "ImplementationSpecific",
            "web",
            "80",
        ),
        Ing::new("canary")
            .created(2)
            .annotate("canary", "true")
            .annotate("canary-by-header", "x-canary")
            // A canary's own rewrite is ignored: the main one applies.
            .annotate("rewrite-target", "/ignored")
            .host("a.test")
            .path("/app(/|$)(.*)", "ImplementationSpecific", "canary", "80"),
        Ing::new("second-canary")
            .created(3)
            .annotate("canary", "true")
            .annotate("canary-weight", "100")
            .host("a.test")
            .path("/app(/|$)(.*)", "ImplementationSpecific", "api", "80"),
        Ing::new("orphan-canary")
            .created(4)
            .annotate("canary", "true")
            .annotate("canary-weight", "100")
            .host("nomain.test")
            .path("/", "Prefix", "api", "80"),
    ]);
    let table = world.table();
    let mut always = HeaderMap::new();
    always.insert("x-canary", "always".parse().unwrap());
    assert_eq!(goes(&table, "a.test", "/app/version", &always), "canary /version");
    assert_eq!(goes(&table, "a.test", "/app/version", &HeaderMap::new()), "web /version");
    assert_eq!(goes(&table, "nomain.test", "/", &HeaderMap::new()), "404");
    let location = &table.server_for("a.test").locations[0];
    assert_eq!(location.canary.as_ref().unwrap().ingress.name, "canary");
    assert_eq!(table.served.len(), 4, "canaries are served (their status is set) even when ignored");
}

#[test]
fn a_canary_without_ready_endpoints_leaves_its_requests_to_the_main_service() {
    let mut world = World::new(vec![
        Ing::new("main").created(1).host("a.test").path("/", "Prefix", "web", "80"),
        Ing::new("canary")
            .created(2)
            .annotate("canary", "true")
            .annotate("canary-weight", "100")
            .host("a.test")
            .path("/", "Prefix", "canary", "80"),
    ]);
    assert_eq!(goes(&world.table(), "a.test", "/", &HeaderMap::new()), "canary /");
    world.slices.retain(|s| s.metadata.name.as_deref() != Some("canary"));
    assert_eq!(goes(&world.table(), "a.test", "/", &HeaderMap::new()), "web /");
}

fn endpoints_of(table: &Table, host: &str) -> Vec<String> {
    let backend = &table.server_for(host).locations[0].backend;
    backend.endpoints.iter().map(SocketAddr::to_string).collect()
}

#[test]
fn endpoints_are_the_ready_ones_of_every_slice_on_the_named_port() {
    let mut world = World::new(vec![
        Ing::new("by-number").host("a.test").path("/", "Prefix", "multi", "80"),
        Ing::new("by-name").host("b.test").path("/", "Prefix", "multi", "metrics"),
        Ing::new("missing-service").host("c.test").path("/", "Prefix", "nothere", "80"),
        Ing::new("missing-port").host("d.test").path("/", "Prefix", "multi", "81"),
    ]);
    world.services.push(service("multi", &[("http", 80), ("metrics", 9090)]));
    world.slices.push(slice(
        "multi-a",
        "multi",
        "http",
        8080,
        &[("10.1.0.2", Some(true)), ("10.1.0.1", None), ("10.1.0.9", Some(false))],
    ));
    // The same endpoint in a second slice (a hand-over) counts once.
    world.slices.push(slice("multi-b", "multi", "http", 8080, &[("10.1.0.2", Some(true)), ("10.1.0.3", Some(true))]));
    world.slices.push(slice("multi-c", "multi", "metrics", 9100, &[("10.1.0.1", Some(true))]));
    let table = world.table();
    assert_eq!(endpoints_of(&table, "a.test"), ["10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080"]);
    assert_eq!(endpoints_of(&table, "b.test"), ["10.1.0.1:9100"]);
    assert!(endpoints_of(&table, "c.test").is_empty());
    assert!(endpoints_of(&table, "d.test").is_empty());
    assert_eq!(table.endpoints().len(), 4, "only the endpoints of backends some location uses");
}

#[test]
fn backends_spread_requests_round_robin_and_retry_elsewhere() {
    let addresses: Vec<SocketAddr> = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"].map(|a| a.parse().unwrap()).into();
    let backend = Backend::new("default", "web", "80", addresses.clone());
    let picked: Vec<SocketAddr> = (0..6).map(|_| backend.pick().unwrap()).collect();
    assert_eq!(picked, [&addresses[..], &addresses[..]].concat());
    assert_eq!(backend.pick_other(addresses[0]), Some(addresses[1]));
    assert_eq!(backend.pick_other(addresses[2]), Some(addresses[0]));
    assert_eq!(backend.pick().unwrap(), addresses[0], "a retry does not move the round-robin position");
    let alone = Backend::new("default", "web", "80", vec![addresses[0]]);
    assert_eq!(alone.pick_other(addresses[0]), None);
    assert_eq!(Backend::new("default", "web", "80", Vec::new()).pick(), None);
}
