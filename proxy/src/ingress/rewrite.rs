//! The rewrite annotations: `rewrite-target`, `use-regex` and `app-root`.
//!
//! Mirrors ingress-nginx's `internal/ingress/annotations/rewrite` and what its template makes of
//! them (`docs/examples/rewrite`, `docs/user-guide/nginx-configuration/annotations.md`):
//!
//! - `rewrite-target: /$2` becomes nginx's `rewrite "(?i)<path>" /$2 break;` in the location:
//!   when the location's regex matches, the *whole* URI is replaced by the target, with `$1…$9`
//!   expanded to the path's capture groups. Since ingress-nginx 0.22 the parts to keep must be
//!   captured: with path `/something(/|$)(.*)` and target `/$2`, `/something` → `/`,
//!   `/something/` → `/`, `/something/new` → `/new`.
//!   The query string is kept: appended with `?`, or with `&` when the target has its own.
//! - `use-regex: "true"` (or any `rewrite-target`) makes every path of the host a regular
//!   expression ([`crate::ingress::matching`]).
//! - `app-root: /app1` answers a request for exactly `/` with `302 Found` to
//!   `http://<Host>/app1`, the application's real start page.
//!
//! Left out: nginx variables in the target other than captures (`$host`, `$request_uri`),
//! `x-forwarded-prefix`, and `ssl-redirect` (the router speaks no TLS, so there is nothing to
//! redirect to).

use std::collections::BTreeMap;

use crate::ingress::annotation;
use crate::ingress::matching::Captures;

/// An Ingress's rewrite annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub target: Option<String>,
    pub use_regex: bool,
    /// Only a path (`/app1`): ingress-nginx refuses anything else.
    pub app_root: Option<String>,
}

impl Rewrite {
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Rewrite {
        let text = |name| annotation(annotations, name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        Rewrite {
            target: text("rewrite-target"),
            use_regex: text("use-regex").is_some_and(|v| v == "true"),
            app_root: text("app-root").filter(|root| root.starts_with('/') && !root.contains("://")),
        }
    }

    /// Whether this Ingress turns its host's paths into regular expressions.
    pub fn makes_regex_paths(&self) -> bool {
        self.use_regex || self.target.is_some()
    }
}

/// The URI (path and query) the backend sees: `target` with the captures expanded, the
/// request's `query` kept.
pub fn rewrite_uri(target: &str, captures: &Captures, query: Option<&str>) -> String {
    let mut uri = expand(target, captures);
    if !uri.starts_with('/') {
        uri.insert(0, '/');
    }
    match query.filter(|q| !q.is_empty()) {
        Some(query) if uri.contains('?') => format!("{uri}&{query}"),
        Some(query) => format!("{uri}?{query}"),
        None => uri,
    }
}

/// `$0`…`$9` replaced by the captures (empty if there is no such group); any other `$` stays.
fn expand(target: &str, captures: &Captures) -> String {
    let mut out = String::with_capacity(target.len() + 16);
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(group)) => {
                chars.next();
                out.push_str(captures.get(group as usize).map_or("", String::as_str));
            }
            _ => out.push(c),
        }
    }
    out
}

/// The `Location` of app-root's redirect, if this request is for `/`.
pub fn app_root_redirect(app_root: &str, host_header: &str, path: &str) -> Option<String> {
    (path == "/").then(|| format!("http://{host_header}{app_root}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::matching::PathRule;
    use crate::ingress::ANNOTATION_PREFIX as PREFIX;

    /// The rewritten URI of `request` through `path` and `target`.
    fn rewritten(path: &str, target: &str, request: &str) -> String {
        let (path_only, query) = match request.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (request, None),
        };
        let rule = PathRule::new(path, "ImplementationSpecific", true).unwrap();
        let captures = rule.matches(path_only).unwrap_or_else(|| panic!("{path} does not match {request}"));
        rewrite_uri(target, &captures, query)
    }

    #[test]
    fn rewrite_target_expands_capture_groups() {
        // (path, target, request, rewritten)
        let cases = [
            // semantics.md's and the example.
            ("/something(/|$)(.*)", "/$2", "/something", "/"),
            ("/something(/|$)(.*)", "/$2", "/something/", "/"),
            ("/something(/|$)(.*)", "/$2", "/something/new", "/new"),
            // ingress-nginx's rewrite example.
            ("/something/?(.*)", "/$1", "/something", "/"),
            ("/something/?(.*)", "/$1", "/something/", "/"),
            ("/something/?(.*)", "/$1", "/something/new", "/new"),
            ("/app1(/|$)(.*)", "/$2", "/app1/version", "/version"),
            ("/app1(/|$)(.*)", "/$2", "/APP1/version", "/version"),
            // The whole URI is replaced, not only what matched.
            ("/old", "/new", "/old/deeper", "/new"),
            ("/a(.*)", "/b/$1/$1", "/ax", "/b/x/x"),
            ("/a", "$1", "/a", "/"),
            ("/x(/|$)(.*)", "/$2", "/x/version?verbose=1", "/version?verbose=1"),
            ("/x(/|$)(.*)", "/$2?from=x", "/x/version?verbose=1", "/version?from=x&verbose=1"),
            ("/x", "/cost$", "/x", "/cost$"),
        ];
        for (path, target, request, expected) in cases {
            assert_eq!(rewritten(path, target, request), expected, "{path} → {target} for {request}");
        }
    }

    #[test]
    fn annotations_are_read_with_ingress_nginx_prefix() {
        let annotations: BTreeMap<String, String> = [
            (format!("{PREFIX}rewrite-target"), "/$2".to_string()),
            (format!("{PREFIX}app-root"), "/app1".to_string()),
        ]
        .into();
        let rewrite = Rewrite::from_annotations(Some(&annotations));
        assert_eq!(rewrite.target.as_deref(), Some("/$2"));
        assert_eq!(rewrite.app_root.as_deref(), Some("/app1"));
        assert!(rewrite.makes_regex_paths());
        let regex_only: BTreeMap<String, String> = [(format!("{PREFIX}use-regex"), "true".to_string())].into();
        assert!(Rewrite::from_annotations(Some(&regex_only)).makes_regex_paths());
        assert!(!Rewrite::from_annotations(None).makes_regex_paths());
        let bad_root: BTreeMap<String, String> = [(format!("{PREFIX}app-root"), "http://x/y".to_string())].into();
        assert_eq!(Rewrite::from_annotations(Some(&bad_root)).app_root, None);
    }

    #[test]
    fn app_root_redirects_only_the_root() {
        assert_eq!(app_root_redirect("/app1", "shop.test:8080", "/"), Some("http://shop.test:8080/app1".into()));
        assert_eq!(app_root_redirect("/app1", "shop.test", "/app1"), None);
        assert_eq!(app_root_redirect("/app1", "shop.test", "/other"), None);
    }
}
