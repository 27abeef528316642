//! Which rule answers a request: the host first, then the path, with ingress-nginx's
//! precedence.
//!
//! Mirrors the Ingress API's matching rules (networking.k8s.io/v1 `IngressRule.host`,
//! `HTTPIngressPath.pathType`) as ingress-nginx turns them into nginx `server` and `location`
//! blocks (`internal/ingress/controller/controller.go` `createServers`, the template's
//! `buildLocation`, `docs/user-guide/ingress-path-matching.md`).
//!
//! Hosts, as Kubernetes defines them:
//! - an exact host (`shop.example.test`) matches that name, compared without case and port;
//! - a wildcard (`*.example.test`) matches exactly one more label: `a.example.test`, but
//!   neither `example.test` nor `a.b.example.test`;
//! - an exact host wins over a wildcard, and a request no host matches goes to the rules
//!   without a host (nginx's catch-all server `_`).
//!
//! Paths, per pathType:
//! - `Exact`: the path as written, case-sensitive (`location = /foo`);
//! - `Prefix`: element-wise: `/foo` (or `/foo/`) matches `/foo` and `/foo/bar`, not `/foobar`;
//! - `ImplementationSpecific`: nginx's plain prefix location, so `/foo` *does* match `/foobar`;
//! - on a host where any Ingress sets `use-regex: "true"` or `rewrite-target`, every path that
//!   is not `Exact` becomes a regular expression anchored at the start and case-insensitive
//!   (`location ~* "^/foo(/|$)(.*)"`), on every Ingress of that host, as ingress-nginx does.
//!
//! Precedence: `Exact` paths first (nginx's `=` locations are looked at before any other);
//! then the others by descending path length, first match wins. For prefixes that is the
//! longest match; for regular expressions it is ingress-nginx's trick of writing locations
//! longest first because nginx takes the first regex that matches. Equal lengths keep the
//! order of the Ingresses (oldest first), which the table builder gives.
//!
//! Left out: nginx's URI normalisation (percent-decoding, merging `//`, resolving `..`): paths
//! are matched as the client sent them.

use regex::{Regex, RegexBuilder};

use crate::ingress::table::{Location, Server, Table};

/// How one Ingress path matches request paths.
#[derive(Debug, Clone)]
pub enum PathRule {
    Exact(String),
    /// Kubernetes' element-wise prefix; the path is kept without its trailing `/`.
    Prefix(String),
    /// nginx's plain string prefix (`ImplementationSpecific` on a host without regex paths).
    StringPrefix(String),
    /// `~* "^<path>"`: anchored at the start, case-insensitive, with capture groups for
    /// `rewrite-target`.
    Regex {
        path: String,
        regex: Regex,
    },
}

/// The capture groups of a match: `[0]` is what matched, `[n]` is `$n`; a group that took part
/// in no match is empty, as nginx expands it.
pub type Captures = Vec<String>;

impl PathRule {
    /// The rule for `path` of `path_type`, on a host whose paths are regular expressions or not.
    /// Fails only for a regular expression that does not compile.
    pub fn new(path: &str, path_type: &str, regex_host: bool) -> Result<PathRule, regex::Error> {
        let path = if path.is_empty() { "/" } else { path };
        if path_type == "Exact" {
            return Ok(PathRule::Exact(path.to_string()));
        }
        if regex_host {
            let regex = RegexBuilder::new(&format!("^(?:{path})")).case_insensitive(true).build()?;
            return Ok(PathRule::Regex { path: path.to_string(), regex });
        }
        Ok(match path_type {
            "Prefix" => PathRule::Prefix(path.trim_end_matches('/').to_string()),
            _ => PathRule::StringPrefix(path.to_string()),
        })
    }

    /// The path as the Ingress wrote it (for precedence and for logs).
    pub fn path(&self) -> &str {
        match self {
            PathRule::Exact(path) | PathRule::StringPrefix(path) | PathRule::Regex { path, .. } => path,
            PathRule::Prefix(path) if path.is_empty() => "/",
            PathRule::Prefix(path) => path,
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self, PathRule::Exact(_))
    }

    /// Whether two rules are the same nginx location (same path, same kind): the second of two
    /// Ingresses claiming it is ignored, and a canary joins the location it names.
    pub fn same_location(&self, other: &PathRule) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.path() == other.path()
    }

    /// The captures if `request_path` matches.
    pub fn matches(&self, request_path: &str) -> Option<Captures> {
        let whole = |matched: bool| matched.then(|| vec![request_path.to_string()]);
        match self {
            PathRule::Exact(path) => whole(request_path == path),
            // `/foo` matches `/foo`, `/foo/` and `/foo/…`; the empty prefix (`/`) matches all.
            PathRule::Prefix(path) => whole(
                request_path == path
                    || request_path.strip_prefix(path.as_str()).is_some_and(|rest| rest.starts_with('/')),
            ),
            PathRule::StringPrefix(path) => whole(request_path.starts_with(path.as_str())),
            PathRule::Regex { regex, .. } => regex
                .captures(request_path)
                .map(|captures| captures.iter().map(|group| group.map_or("", |g| g.as_str()).to_string()).collect()),
        }
    }
}

/// Sorts a server's locations into the order [`select`] tries them: exact paths first, then
/// longest path first. The sort is stable, so equal lengths keep their Ingresses' order.
pub fn order(locations: &mut [Location]) {
    locations.sort_by_key(|location| (!location.rule.is_exact(), std::cmp::Reverse(location.rule.path().len())));
}

/// The first location of `server` (already in [`order`]) that matches `path`.
pub fn select<'s>(server: &'s Server, path: &str) -> Option<(&'s Location, Captures)> {
    server.locations.iter().find_map(|location| location.rule.matches(path).map(|captures| (location, captures)))
}

/// A request's host as rules compare it: without port or trailing dot, lower case.
pub fn normalize_host(host: &str) -> String {
    let without_port = match host.rsplit_once(':') {
        // `[::1]:80` and `host:80`; a bare IPv6 address has more than one colon and no brackets.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

/// The suffix a wildcard host matches by (`*.example.test` → `.example.test`), or `None` for
/// an exact host.
pub fn wildcard_suffix(host: &str) -> Option<&str> {
    host.strip_prefix('*').filter(|suffix| suffix.starts_with('.'))
}

/// Whether `host` (normalized) matches the wildcard `suffix`: exactly one label before it.
pub fn matches_wildcard(suffix: &str, host: &str) -> bool {
    host.strip_suffix(suffix).is_some_and(|label| !label.is_empty() && !label.contains('.'))
}

impl Table {
    /// The server that answers `host` (normalized): the exact host, else the wildcard, else the
    /// catch-all.
    pub fn server_for(&self, host: &str) -> &Server {
        if let Some(server) = self.exact.get(host) {
            return server;
        }
        self.wildcards
            .iter()
            .find(|(suffix, _)| matches_wildcard(suffix, host))
            .map_or(&self.catch_all, |(_, server)| server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex(path: &str) -> PathRule {
        PathRule::new(path, "ImplementationSpecific", true).unwrap()
    }

    #[test]
    fn path_rules_match_as_kubernetes_and_nginx_define_them() {
        // (path, pathType, regex host, request, matches)
        let cases = [
            ("/foo", "Exact", false, "/foo", true),
            ("/foo", "Exact", false, "/foo/", false),
            ("/foo", "Exact", false, "/FOO", false),
            ("/foo", "Exact", true, "/foo/bar", false),
            ("/foo", "Prefix", false, "/foo", true),
            ("/foo", "Prefix", false, "/foo/", true),
            ("/foo", "Prefix", false, "/foo/bar", true),
            ("/foo", "Prefix", false, "/foobar", false),
            ("/foo/", "Prefix", false, "/foo", true),
            ("/foo/", "Prefix", false, "/foo/bar", true),
            ("/aaa/bb", "Prefix", false, "/aaa/bbb", false),
            ("/aaa/bbb", "Prefix", false, "/aaa/bbb/ccc", true),
            ("/", "Prefix", false, "/anything", true),
            ("", "Prefix", false, "/", true),
            ("/foo", "ImplementationSpecific", false, "/foobar", true),
            ("/foo", "ImplementationSpecific", false, "/fo", false),
            ("/foo", "Prefix", true, "/foobar", true),
            ("/foo", "Prefix", true, "/FOO/x", true),
            ("/foo", "Prefix", true, "/x/foo", false),
        ];
        for (path, path_type, regex_host, request, expected) in cases {
            let rule = PathRule::new(path, path_type, regex_host).unwrap();
            assert_eq!(
                rule.matches(request).is_some(),
                expected,
                "{path_type} {path:?} (regex host: {regex_host}) against {request:?}"
            );
        }
    }

    #[test]
    fn regex_paths_are_anchored_case_insensitive_and_capture_groups() {
        let rule = regex("/app1(/|$)(.*)");
        assert_eq!(rule.matches("/app1/a/b").unwrap(), ["/app1/a/b", "/", "a/b"]);
        assert_eq!(rule.matches("/APP1").unwrap(), ["/APP1", "", ""]);
        assert_eq!(rule.matches("/app1x"), None);
        assert_eq!(rule.matches("/x/app1/"), None);
        // A group that takes no part in the match expands to nothing.
        assert_eq!(regex("/a(b)?").matches("/a").unwrap(), ["/a", ""]);
        assert!(PathRule::new("/(unclosed", "ImplementationSpecific", true).is_err());
    }

    #[test]
    fn hosts_are_compared_without_port_case_or_trailing_dot() {
        assert_eq!(normalize_host("Shop.Example.Test:8080"), "shop.example.test");
        assert_eq!(normalize_host("shop.example.test."), "shop.example.test");
        assert_eq!(normalize_host("[::1]:80"), "[::1]");
        assert_eq!(normalize_host("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn a_wildcard_host_matches_exactly_one_label() {
        let suffix = wildcard_suffix("*.example.test").unwrap();
        assert!(matches_wildcard(suffix, "a.example.test"));
        assert!(!matches_wildcard(suffix, "example.test"));
        assert!(!matches_wildcard(suffix, ".example.test"));
        assert!(!matches_wildcard(suffix, "a.b.example.test"));
        assert!(!matches_wildcard(suffix, "aexample.test"));
        assert_eq!(wildcard_suffix("example.test"), None);
    }
}
