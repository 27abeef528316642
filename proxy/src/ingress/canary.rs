//! Canary Ingresses: which requests of a location go to the canary's Service instead of the
//! main one.
//!
//! Mirrors ingress-nginx's canary annotations (`internal/ingress/annotations/canary`) and the
//! per-request choice its Lua balancer makes (`rootfs/etc/nginx/lua/balancer.lua`,
//! `route_to_alternative_balancer`). A canary is a second Ingress with
//! `nginx.ingress.kubernetes.io/canary: "true"` for the same host and path as a main Ingress;
//! the table builder attaches it to the main Ingress's location (at most one per location,
//! the oldest), and its other annotations are ignored: the main Ingress's rewrite applies.
//!
//! The choice, in ingress-nginx's precedence (header → cookie → weight):
//!
//! 1. `canary-by-header: NAME` and the request has that header:
//!    - with `canary-by-header-value`: that exact value → canary; another value falls through;
//!    - else with `canary-by-header-pattern`: the value matches the (unanchored) regex →
//!      canary; no match falls through; a pattern that does not compile → main (the balancer
//!      logs the error and stops there);
//!    - else `always` → canary, `never` → main, anything else falls through.
//! 2. `canary-by-cookie: NAME` and the request has that cookie: `always` → canary, `never` →
//!    main, anything else falls through.
//! 3. `canary-weight: W` out of `canary-weight-total` (100 by default; like the balancer, a
//!    total below 100 counts as 100): a uniform draw `1..=total` ≤ W → canary. W = 30 sends
//!    30 % of the remaining requests to the canary; W = 0 none, W = total all.
//!
//! A canary whose Service has no ready endpoint is skipped (the balancer has no balancer for an
//! upstream without endpoints), so its requests go to the main Service: the router checks that.
//!
//! Left out: `canary-by-cookie-value`-style extensions of newer releases, session affinity and
//! `affinity-canary-behavior` (Skiff has no sticky sessions), and canary default backends.

use std::collections::BTreeMap;

use http::HeaderMap;
use rand::Rng;
use regex::Regex;

use crate::ingress::annotation;

/// Whether the annotations mark a canary Ingress.
pub fn is_canary(annotations: Option<&BTreeMap<String, String>>) -> bool {
    annotation(annotations, "canary").is_some_and(|value| value.trim() == "true")
}

/// How one canary takes requests.
#[derive(Debug, Clone)]
pub struct CanaryPolicy {
    pub header: Option<String>,
    pub header_value: Option<String>,
    /// `Err` keeps a pattern that does not compile: it routes to the main Service.
    pub header_pattern: Option<Result<Regex, String>>,
    pub cookie: Option<String>,
    pub weight: u32,
    pub weight_total: u32,
}

/// Where one request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Main,
    Canary,
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

impl CanaryPolicy {
    /// The policy of a canary Ingress's annotations; `None` if it is not a canary. Numbers that
    /// do not parse count as 0 (ingress-nginx ignores an invalid annotation).
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Option<CanaryPolicy> {
        if !is_canary(annotations) {
            return None;
        }
        let number = |name| annotation(annotations, name).and_then(|v| v.trim().parse::<u32>().ok());
        Some(CanaryPolicy {
            header: non_empty(annotation(annotations, "canary-by-header")),
            header_value: non_empty(annotation(annotations, "canary-by-header-value")),
            header_pattern: non_empty(annotation(annotations, "canary-by-header-pattern"))
                .map(|pattern| Regex::new(&pattern).map_err(|err| err.to_string())),
            cookie: non_empty(annotation(annotations, "canary-by-cookie")),
            weight: number("canary-weight").unwrap_or(0),
            weight_total: number("canary-weight-total").unwrap_or(100).max(100),
        })
    }

    /// Where a request with `headers` goes; `rng` draws for the weight.
    pub fn decide(&self, headers: &HeaderMap, rng: &mut impl Rng) -> Decision {
        if let Some(value) = self.header.as_deref().and_then(|name| headers.get(name)) {
            let value = value.to_str().unwrap_or_default();
            if let Some(wanted) = &self.header_value {
                if value == wanted {
                    return Decision::Canary;
                }
            } else if let Some(pattern) = &self.header_pattern {
                match pattern {
                    Ok(regex) if regex.is_match(value) => return Decision::Canary,
                    Ok(_) => {}
                    Err(_) => return Decision::Main,
                }
            } else if let Some(decision) = always_or_never(value) {
                return decision;
            }
        }
        if let Some(value) = self.cookie.as_deref().and_then(|name| cookie(headers, name)) {
            if let Some(decision) = always_or_never(value) {
                return decision;
            }
        }
        if rng.random_range(1..=self.weight_total) <= self.weight {
            Decision::Canary
        } else {
            Decision::Main
        }
    }
}

fn always_or_never(value: &str) -> Option<Decision> {
    match value {
        "always" => Some(Decision::Canary),
        "never" => Some(Decision::Main),
        _ => None,
    }
}

/// The first cookie called `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::ingress::ANNOTATION_PREFIX as PREFIX;

    fn policy(annotations: &[(&str, &str)]) -> CanaryPolicy {
        let mut all: BTreeMap<String, String> = [(format!("{PREFIX}canary"), "true".to_string())].into();
        all.extend(annotations.iter().map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string())));
        CanaryPolicy::from_annotations(Some(&all)).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), http::HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn only_ingresses_marked_canary_have_a_policy() {
        let marked: BTreeMap<String, String> = [(format!("{PREFIX}canary"), "false".to_string())].into();
        assert!(CanaryPolicy::from_annotations(Some(&marked)).is_none());
        assert!(CanaryPolicy::from_annotations(None).is_none());
    }

    #[test]
    fn header_then_cookie_then_weight() {
        let all = policy(&[("canary-by-header", "x-canary"), ("canary-by-cookie", "canary"), ("canary-weight", "100")]);
        let none = policy(&[("canary-by-header", "x-canary"), ("canary-by-cookie", "canary"), ("canary-weight", "0")]);
        let header_value = policy(&[("canary-by-header", "x-canary"), ("canary-by-header-value", "blue")]);
        let pattern = policy(&[("canary-by-header", "x-canary"), ("canary-by-header-pattern", "^(blue|green)$")]);
        let bad_pattern = policy(&[("canary-by-header", "x-canary"), ("canary-by-header-pattern", "(")]);
        let both = policy(&[
            ("canary-by-header", "x-canary"),
            ("canary-by-header-value", "blue"),
            ("canary-by-header-pattern", "^green$"),
            ("canary-weight", "0"),
        ]);
        let upper = policy(&[("canary-by-header", "X-Canary")]);
        let mut rng = StdRng::seed_from_u64(7);
        use Decision::*;
        // (case, policy, request headers, decision)
        let cases: [(&str, &CanaryPolicy, HeaderMap, Decision); 16] = [
            ("header always", &none, headers(&[("x-canary", "always")]), Canary),
            (
                "header never beats cookie always",
                &all,
                headers(&[("x-canary", "never"), ("cookie", "canary=always")]),
                Main,
            ),
            (
                "other header value falls through to the cookie",
                &none,
                headers(&[("x-canary", "yes"), ("cookie", "canary=always")]),
                Canary,
            ),
            ("cookie never beats the weight", &all, headers(&[("cookie", "a=b; canary=never")]), Main),
            ("other cookie value falls through to the weight", &all, headers(&[("cookie", "canary=maybe")]), Canary),
            ("nothing set: the weight", &all, headers(&[]), Canary),
            ("weight 0: never", &none, headers(&[]), Main),
            ("header value equal", &header_value, headers(&[("x-canary", "blue")]), Canary),
            ("header value different falls through", &header_value, headers(&[("x-canary", "always")]), Main),
            ("pattern matches", &pattern, headers(&[("x-canary", "green")]), Canary),
            ("pattern does not match", &pattern, headers(&[("x-canary", "red")]), Main),
            ("a bad pattern routes to main", &bad_pattern, headers(&[("x-canary", "anything")]), Main),
            ("the value wins over the pattern", &both, headers(&[("x-canary", "blue")]), Canary),
            ("the pattern is ignored when a value is set", &both, headers(&[("x-canary", "green")]), Main),
            ("header names are case-insensitive", &upper, headers(&[("x-canary", "always")]), Canary),
            ("a cookie without its header rule", &none, headers(&[("cookie", "canary=always")]), Canary),
        ];
        for (case, policy, request, expected) in cases {
            assert_eq!(policy.decide(&request, &mut rng), expected, "{case}");
        }
    }

    #[test]
    fn weight_30_sends_about_30_percent_with_a_seeded_rng() {
        let thirty = policy(&[("canary-weight", "30")]);
        let mut rng = StdRng::seed_from_u64(42);
        let canary = (0..10_000).filter(|_| thirty.decide(&HeaderMap::new(), &mut rng) == Decision::Canary).count();
        assert!((2_800..=3_200).contains(&canary), "{canary} of 10000");
    }

    #[test]
    fn weight_total_scales_the_weight_and_never_goes_below_100() {
        let per_mille = policy(&[("canary-weight", "5"), ("canary-weight-total", "1000")]);
        let mut rng = StdRng::seed_from_u64(1);
        let canary = (0..100_000).filter(|_| per_mille.decide(&HeaderMap::new(), &mut rng) == Decision::Canary).count();
        assert!((400..=600).contains(&canary), "{canary} of 100000");
        assert_eq!(policy(&[("canary-weight-total", "10")]).weight_total, 100);
        let all = policy(&[("canary-weight", "1000"), ("canary-weight-total", "1000")]);
        assert!((0..1000).all(|_| all.decide(&HeaderMap::new(), &mut rng) == Decision::Canary));
    }
}
