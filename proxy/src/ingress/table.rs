//! The routing table: every served Ingress, its Services and their ready endpoints, as one
//! immutable value built by a pure function.
//!
//! Mirrors ingress-nginx's model (`internal/ingress/controller/controller.go`:
//! `getBackendServers`, `createUpstreams`, `createServers`, `mergeAlternativeBackends`): servers
//! by host, locations by path, each location pointing to an upstream (here a [`Backend`]: one
//! Service port and its ready endpoints), with canaries as alternative upstreams.
//!
//! [`build`], step by step:
//! 1. keep the Ingresses of our classes ([`ClassFilter`]), oldest first (creation time, then
//!    namespace/name), as ingress-nginx orders them: the older one wins every conflict;
//! 2. split them into main Ingresses and canaries;
//! 3. note the hosts whose paths are regular expressions (any main Ingress of the host with
//!    `use-regex` or `rewrite-target`);
//! 4. for every rule of every main Ingress: a server for its host (none: the catch-all), with
//!    the first `spec.defaultBackend` among that host's Ingresses as its fallback, and one
//!    location per path; a second claim on the same host and path is ignored;
//! 5. the catch-all's fallback is the `spec.defaultBackend` of the oldest main Ingress that has
//!    no rules (none: the router's 404);
//! 6. each canary joins the location of the same host, path and pathType, if that location has
//!    no canary yet; a canary with no such location is ignored, as ingress-nginx does;
//! 7. locations are put in precedence order ([`matching::order`]).
//!
//! A backend's endpoints are the ready ones (`conditions.ready` true or unset) of the Service's
//! EndpointSlices (label `kubernetes.io/service-name`), on the slice port named as the Service
//! port the Ingress picked (by number or by name). A Service or port that does not exist leaves
//! the backend without endpoints: its requests get 503, as in ingress-nginx.
//!
//! Left out: `resource` backends, ExternalName Services, TLS sections, and the Endpoints kind
//! (EndpointSlices are what ingress-nginx reads).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressClass};
use skiff_client::reflector::ObjectKey;

use crate::ingress::canary::{self, CanaryPolicy};
use crate::ingress::class::ClassFilter;
use crate::ingress::matching::{self, PathRule};
use crate::ingress::rewrite::Rewrite;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Where requests go, by host.
#[derive(Debug, Default)]
pub struct Table {
    /// Exact hosts (lower case).
    pub(crate) exact: HashMap<String, Server>,
    /// Wildcard hosts by their suffix (`*.example.test` → `.example.test`).
    pub(crate) wildcards: Vec<(String, Server)>,
    /// Rules without a host, and the default backend: nginx's catch-all server `_`.
    pub(crate) catch_all: Server,
    /// Every Ingress served (mains and canaries), for their status.
    pub served: Vec<ObjectKey>,
    /// Every backend by [`Backend::key`]: a retry looks its backend up in the newest table.
    pub(crate) backends: HashMap<BackendKey, Arc<Backend>>,
}

/// Namespace, Service, and port as the Ingress named it.
pub type BackendKey = (String, String, String);

/// One host's locations.
#[derive(Debug, Default)]
pub struct Server {
    /// In precedence order.
    pub locations: Vec<Location>,
    /// What answers when no location matches; `None`: the router's own 404.
    pub fallback: Option<Arc<Backend>>,
    /// The first `app-root` among the host's Ingresses, for `/` when no location matches it.
    pub app_root: Option<String>,
}

/// One path of one Ingress.
#[derive(Debug)]
pub struct Location {
    pub rule: PathRule,
    pub ingress: ObjectKey,
    pub backend: Arc<Backend>,
    pub rewrite_target: Option<String>,
    pub app_root: Option<String>,
    pub canary: Option<Canary>,
}

/// A canary Ingress attached to a location.
#[derive(Debug)]
pub struct Canary {
    pub ingress: ObjectKey,
    pub policy: CanaryPolicy,
    pub backend: Arc<Backend>,
}

/// One Service port and its ready endpoints: ingress-nginx's upstream.
#[derive(Debug)]
pub struct Backend {
    pub namespace: String,
    pub service: String,
    /// The port as the Ingress named it (`8080` or `http`), for logs and metrics.
    pub port: String,
    /// Sorted, without duplicates (an endpoint may sit in two slices while they hand over).
    pub endpoints: Vec<SocketAddr>,
    /// The round-robin position. An atomic, so that the table stays shared and immutable.
    next: AtomicUsize,
}

impl Backend {
    pub fn new(namespace: &str, service: &str, port: &str, endpoints: Vec<SocketAddr>) -> Backend {
        Backend {
            namespace: namespace.into(),
            service: service.into(),
            port: port.into(),
            endpoints,
            next: AtomicUsize::new(0),
        }
    }

    /// The next endpoint in round-robin order.
    pub fn pick(&self) -> Option<SocketAddr> {
        let count = self.endpoints.len();
        (count > 0).then(|| self.endpoints[self.next.fetch_add(1, Ordering::Relaxed) % count])
    }

    pub fn key(&self) -> BackendKey {
        (self.namespace.clone(), self.service.clone(), self.port.clone())
    }

    /// An endpoint other than `tried`, for a retry: the one after it, which leaves the
    /// round-robin position alone (so that a dead endpoint costs only the requests that land on
    /// it: one in two of `[dead, live]`), or the next in turn if `tried` is no longer listed.
    pub fn pick_other(&self, tried: SocketAddr) -> Option<SocketAddr> {
        let Some(at) = self.endpoints.iter().position(|endpoint| *endpoint == tried) else { return self.pick() };
        let next = self.endpoints[(at + 1) % self.endpoints.len()];
        (next != tried).then_some(next)
    }
}

/// What the table is built from: the informers' caches.
pub struct Objects<'a> {
    pub ingresses: &'a [Arc<Ingress>],
    pub classes: &'a [Arc<IngressClass>],
    pub services: &'a [Arc<Service>],
    pub slices: &'a [Arc<EndpointSlice>],
}

impl Table {
    pub fn backend(&self, key: &BackendKey) -> Option<&Arc<Backend>> {
        self.backends.get(key)
    }

    /// Every endpoint any backend may send to.
    pub fn endpoints(&self) -> HashSet<SocketAddr> {
        self.backends.values().flat_map(|backend| backend.endpoints.iter().copied()).collect()
    }
}

fn key_of(ingress: &Ingress) -> ObjectKey {
    ObjectKey { namespace: ingress.metadata.namespace.clone(), name: ingress.metadata.name.clone().unwrap_or_default() }
}

/// The routing table of `objects`; see the module doc for the steps.
pub fn build(objects: &Objects<'_>, filter: &ClassFilter) -> Table {
    // 1. Ours, oldest first.
    let mut served: Vec<&Ingress> =
        objects.ingresses.iter().map(|i| i.as_ref()).filter(|i| filter.serves(i, objects.classes)).collect();
    served.sort_by(|a, b| {
        let created = |i: &Ingress| i.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a).cmp(&created(b)).then_with(|| key_of(a).cmp(&key_of(b)))
    });
    // 2. Mains and canaries.
    let (canaries, mains): (Vec<&Ingress>, Vec<&Ingress>) =
        served.iter().partition(|i| canary::is_canary(i.metadata.annotations.as_ref()));
    let mut backends = Backends::new(objects.services, objects.slices);
    // 3. Hosts with regular-expression paths.
    let regex_hosts: HashSet<String> = mains
        .iter()
        .filter(|i| Rewrite::from_annotations(i.metadata.annotations.as_ref()).makes_regex_paths())
        .flat_map(|i| rules(i).map(|rule| host_of(rule.host.as_deref())))
        .collect();
    // 4. Servers and locations.
    let mut servers: HashMap<String, Server> = HashMap::new();
    for ingress in &mains {
        let namespace = ingress.metadata.namespace.as_deref().unwrap_or("default");
        let rewrite = Rewrite::from_annotations(ingress.metadata.annotations.as_ref());
        let default_backend = ingress.spec.as_ref().and_then(|s| s.default_backend.as_ref());
        for rule in rules(ingress) {
            let host = host_of(rule.host.as_deref());
            let server = servers.entry(host.clone()).or_default();
            if server.fallback.is_none() {
                server.fallback = default_backend.and_then(|b| backends.resolve(namespace, b));
            }
            server.app_root = server.app_root.take().or(rewrite.app_root.clone());
            for path in rule.http.iter().flat_map(|http| &http.paths) {
                let spelled = path.path.as_deref().unwrap_or("/");
                let rule = match PathRule::new(spelled, &path.path_type, regex_hosts.contains(&host)) {
                    Ok(rule) => rule,
                    Err(err) => {
                        tracing::warn!(ingress = %key_of(ingress), path = spelled, cause = %err, "path ignored: not a regular expression");
                        continue;
                    }
                };
                if let Some(taken) = server.locations.iter().find(|l| l.rule.same_location(&rule)) {
                    tracing::warn!(ingress = %key_of(ingress), host, path = spelled, taken_by = %taken.ingress, "path ignored: an older Ingress has it");
                    continue;
                }
                let Some(backend) = backends.resolve(namespace, &path.backend) else { continue };
                server.locations.push(Location {
                    rule,
                    ingress: key_of(ingress),
                    backend,
                    rewrite_target: rewrite.target.clone(),
                    app_root: rewrite.app_root.clone(),
                    canary: None,
                });
            }
        }
    }
    // 5. The catch-all and the default backend: only an Ingress with a default backend and no
    //    rules sets it (one with rules lends its default backend to its own hosts, step 4).
    let mut catch_all = servers.remove("").unwrap_or_default();
    catch_all.fallback = mains.iter().filter(|i| rules(i).next().is_none()).find_map(|i| {
        let backend = i.spec.as_ref()?.default_backend.as_ref()?;
        backends.resolve(i.metadata.namespace.as_deref().unwrap_or("default"), backend)
    });
    // 6. Canaries.
    for ingress in &canaries {
        attach_canary(ingress, &mut servers, &mut catch_all, &regex_hosts, &mut backends);
    }
    // 7. Precedence, and hosts split into exact and wildcard.
    let mut table = Table { served: served.iter().map(|i| key_of(i)).collect(), ..Table::default() };
    matching::order(&mut catch_all.locations);
    table.catch_all = catch_all;
    for (host, mut server) in servers {
        matching::order(&mut server.locations);
        match matching::wildcard_suffix(&host) {
            Some(suffix) => table.wildcards.push((suffix.to_string(), server)),
            None => {
                table.exact.insert(host, server);
            }
        }
    }
    table.wildcards.sort_by(|a, b| a.0.cmp(&b.0));
    table.backends = backends.resolved;
    table
}

fn rules(ingress: &Ingress) -> impl Iterator<Item = &k8s_openapi::api::networking::v1::IngressRule> {
    ingress.spec.iter().flat_map(|spec| spec.rules.iter().flatten())
}

fn host_of(host: Option<&str>) -> String {
    host.unwrap_or_default().to_ascii_lowercase()
}

/// Step 6 for one canary Ingress.
fn attach_canary(
    ingress: &Ingress,
    servers: &mut HashMap<String, Server>,
    catch_all: &mut Server,
    regex_hosts: &HashSet<String>,
    backends: &mut Backends<'_>,
) {
    let Some(policy) = CanaryPolicy::from_annotations(ingress.metadata.annotations.as_ref()) else { return };
    let namespace = ingress.metadata.namespace.as_deref().unwrap_or("default");
    for rule in rules(ingress) {
        let host = host_of(rule.host.as_deref());
        let mut server = if host.is_empty() { Some(&mut *catch_all) } else { servers.get_mut(&host) };
        for path in rule.http.iter().flat_map(|http| &http.paths) {
            let spelled = path.path.as_deref().unwrap_or("/");
            let Ok(wanted) = PathRule::new(spelled, &path.path_type, regex_hosts.contains(&host)) else { continue };
            let location = match server.as_deref_mut() {
                Some(server) => server.locations.iter_mut().find(|l| l.rule.same_location(&wanted)),
                None => None,
            };
            let Some(location) = location else {
                tracing::warn!(canary = %key_of(ingress), host, path = spelled, "canary ignored: no main Ingress has this host and path");
                continue;
            };
            if let Some(taken) = &location.canary {
                tracing::warn!(canary = %key_of(ingress), host, path = spelled, taken_by = %taken.ingress, "canary ignored: the path has a canary already");
                continue;
            }
            if let Some(backend) = backends.resolve(namespace, &path.backend) {
                location.canary = Some(Canary { ingress: key_of(ingress), policy: policy.clone(), backend });
            }
        }
    }
}

/// Services and slices, indexed, and the backends resolved so far (locations that share a
/// Service port share its backend, so round-robin spreads across all of them).
struct Backends<'a> {
    services: HashMap<(&'a str, &'a str), &'a Service>,
    slices: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    resolved: HashMap<BackendKey, Arc<Backend>>,
}

impl<'a> Backends<'a> {
    fn new(services: &'a [Arc<Service>], slices: &'a [Arc<EndpointSlice>]) -> Backends<'a> {
        let namespace = |meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            meta.namespace.as_deref().unwrap_or("default")
        };
        let services =
            services.iter().map(|s| ((namespace(&s.metadata), s.metadata.name.as_deref().unwrap_or_default()), &**s));
        let mut by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
        for slice in slices {
            if let Some(service) = slice.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                by_service.entry((namespace(&slice.metadata), service.as_str())).or_default().push(slice);
            }
        }
        Backends { services: services.collect(), slices: by_service, resolved: HashMap::new() }
    }

    /// The backend of an Ingress backend in `namespace`; `None` for a `resource` backend.
    fn resolve(&mut self, namespace: &str, backend: &IngressBackend) -> Option<Arc<Backend>> {
        let service = backend.service.as_ref()?;
        let port = service.port.as_ref();
        let (number, name) = (port.and_then(|p| p.number), port.and_then(|p| p.name.clone()));
        let port_text = number.map(|n| n.to_string()).or(name.clone()).unwrap_or_default();
        let key = (namespace.to_string(), service.name.clone(), port_text.clone());
        if let Some(resolved) = self.resolved.get(&key) {
            return Some(resolved.clone());
        }
        let endpoints = self.endpoints(namespace, &service.name, number, name.as_deref());
        let resolved = Arc::new(Backend::new(namespace, &service.name, &port_text, endpoints));
        self.resolved.insert(key, resolved.clone());
        Some(resolved)
    }

    /// The ready endpoints of the Service port picked by `number` or `name`.
    fn endpoints(&self, namespace: &str, service: &str, number: Option<i32>, name: Option<&str>) -> Vec<SocketAddr> {
        let Some(found) = self.services.get(&(namespace, service)) else { return Vec::new() };
        let ports = found.spec.iter().flat_map(|spec| spec.ports.iter().flatten());
        let Some(port) = ports.into_iter().find(|p| match number {
            Some(number) => p.port == number,
            None => p.name.as_deref() == name,
        }) else {
            return Vec::new();
        };
        let port_name = port.name.as_deref().unwrap_or_default();
        let mut ready = BTreeSet::new();
        for slice in self.slices.get(&(namespace, service)).into_iter().flatten() {
            if slice.address_type != "IPv4" && slice.address_type != "IPv6" {
                continue;
            }
            let slice_ports = slice.ports.iter().flatten();
            let Some(number) = slice_ports
                .into_iter()
                .find(|p| p.name.as_deref().unwrap_or_default() == port_name)
                .and_then(|p| p.port)
            else {
                continue;
            };
            for endpoint in &slice.endpoints {
                // Unset means ready; consumers use an endpoint's first address.
                let is_ready = endpoint.conditions.as_ref().and_then(|c| c.ready) != Some(false);
                let address = endpoint.addresses.first().and_then(|a| a.parse::<IpAddr>().ok());
                if let (true, Some(ip), Ok(port)) = (is_ready, address, u16::try_from(number)) {
                    ready.insert(SocketAddr::new(ip, port));
                }
            }
        }
        ready.into_iter().collect()
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
