//! The decision for one request, before any I/O: redirect, proxy to which backend with which
//! URI, or 404. A pure function of the table and the request's head.
//!
//! What ingress-nginx's generated `server` and `location` blocks decide for a request, in their
//! order: pick the server by host, the location by path ([`crate::ingress::matching`]); on the
//! location, `app-root`'s redirect of `/`, the canary choice ([`crate::ingress::canary`]), then
//! the `rewrite-target`. A request no location takes goes to the host's default backend, or the
//! router's own 404.
//!
//! Whether the chosen backend has a ready endpoint (else 503) is the proxy's question, so that
//! a 503 and a 502 are counted by the same code.

use std::sync::Arc;

use http::{HeaderMap, Uri};
use rand::Rng;
use skiff_client::reflector::ObjectKey;

use crate::ingress::canary::Decision;
use crate::ingress::matching::{normalize_host, select};
use crate::ingress::rewrite::{app_root_redirect, rewrite_uri};
use crate::ingress::table::{Backend, Table};

/// What to do with one request.
#[derive(Debug)]
pub enum Route<'t> {
    /// `302 Found` to this location (`app-root`).
    Redirect(String),
    /// Proxy to `backend`, asking for `uri` (path and query).
    Proxy {
        /// The Ingress whose rule or default backend matched (for metrics and logs).
        ingress: Option<&'t ObjectKey>,
        backend: &'t Arc<Backend>,
        uri: String,
        /// Whether the canary took it.
        canary: bool,
    },
    /// No rule and no default backend: the router's 404.
    NotFound,
}

/// The route of a request for `uri` with `Host: host_header` and `headers`; `rng` draws for a
/// canary's weight.
pub fn route<'t>(table: &'t Table, host_header: &str, uri: &Uri, headers: &HeaderMap, rng: &mut impl Rng) -> Route<'t> {
    let server = table.server_for(&normalize_host(host_header));
    let path = uri.path();
    let original = uri.path_and_query().map_or("/", |pq| pq.as_str()).to_string();
    let Some((location, captures)) = select(server, path) else {
        if let Some(redirect) = server.app_root.as_deref().and_then(|root| app_root_redirect(root, host_header, path)) {
            return Route::Redirect(redirect);
        }
        return match &server.fallback {
            Some(backend) => Route::Proxy { ingress: None, backend, uri: original, canary: false },
            None => Route::NotFound,
        };
    };
    if let Some(redirect) = location.app_root.as_deref().and_then(|root| app_root_redirect(root, host_header, path)) {
        return Route::Redirect(redirect);
    }
    let canary = location
        .canary
        .as_ref()
        // A canary without endpoints has no balancer in ingress-nginx: the main Service answers.
        .filter(|canary| !canary.backend.endpoints.is_empty())
        .filter(|canary| canary.policy.decide(headers, rng) == Decision::Canary);
    let uri = match &location.rewrite_target {
        Some(target) => rewrite_uri(target, &captures, uri.query()),
        None => original,
    };
    match canary {
        Some(canary) => Route::Proxy { ingress: Some(&canary.ingress), backend: &canary.backend, uri, canary: true },
        None => Route::Proxy { ingress: Some(&location.ingress), backend: &location.backend, uri, canary: false },
    }
}
