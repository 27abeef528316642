//! `/healthz`, `/livez` and `/readyz`: `ok`, or each check and the verdict.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/server/healthz/healthz.go`: a request answers
//! `200 ok` when every check passes and `500` when one fails; `?verbose` lists the checks as
//! `[+]name ok` / `[-]name failed: reason withheld` with `<endpoint> check passed` (or `failed`)
//! at the end; `?exclude=name` leaves a check out; `/livez/<name>` runs one. The checks are
//! `ping` (the server answers), `log` (always ok here: logs go to stderr) and, for readiness and
//! health, `etcd`: a read of the store with a short timeout, so that `/readyz` says so when the
//! store is gone. Left out: upstream's post-start hooks and informer-sync checks, which Skiff
//! has no equivalent of (its watch caches serve from the first event).

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// How long the store has to answer the `etcd` check.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The checks each endpoint runs, in the order they are printed.
fn checks(endpoint: &str) -> &'static [&'static str] {
    match endpoint {
        "livez" => &["ping", "log"],
        _ => &["ping", "log", "etcd"],
    }
}

/// What a request's query asks: verbose or not, and which checks to leave out.
#[derive(Debug, PartialEq)]
struct Asked {
    verbose: bool,
    excluded: Vec<String>,
}

fn asked(query: Option<&str>) -> Asked {
    let mut asked = Asked { verbose: false, excluded: Vec::new() };
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "verbose" => asked.verbose = value != "false" && value != "0",
            "exclude" => asked.excluded.push(value.to_string()),
            _ => {}
        }
    }
    asked
}

/// The answer, from each check's result: `(status, body)`.
fn report(endpoint: &str, results: &[(&str, bool)], asked: &Asked) -> (StatusCode, String) {
    let passed = results.iter().all(|(_, ok)| *ok);
    let code = if passed { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR };
    if passed && !asked.verbose {
        return (code, "ok".into());
    }
    let mut body = String::new();
    for (name, ok) in results {
        if *ok {
            body.push_str(&format!("[+]{name} ok\n"));
        } else {
            body.push_str(&format!("[-]{name} failed: reason withheld\n"));
        }
    }
    for name in &asked.excluded {
        body.push_str(&format!("[+]{name} excluded: ok\n"));
    }
    body.push_str(&format!("{endpoint} check {}\n", if passed { "passed" } else { "failed" }));
    (code, body)
}

async fn run(state: &AppState, check: &str) -> bool {
    match check {
        "etcd" => {
            let mut client = state.verbs.client.clone();
            matches!(tokio::time::timeout(STORE_TIMEOUT, client.get("/registry/health")).await, Ok(Ok(_)))
        }
        _ => true,
    }
}

async fn answer(state: &AppState, endpoint: &str, only: Option<&str>, query: Option<&str>) -> Response {
    let asked = asked(query);
    let names: Vec<&str> = match only {
        Some(name) if checks(endpoint).contains(&name) => vec![name],
        Some(_) => return (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
        None => checks(endpoint).iter().copied().filter(|n| !asked.excluded.iter().any(|e| e == n)).collect(),
    };
    let mut results = Vec::with_capacity(names.len());
    for name in names {
        results.push((name, run(state, name).await));
    }
    report(endpoint, &results, &asked).into_response()
}

pub async fn healthz(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    answer(&state, "healthz", None, query.as_deref()).await
}

pub async fn livez(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    answer(&state, "livez", None, query.as_deref()).await
}

pub async fn readyz(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    answer(&state, "readyz", None, query.as_deref()).await
}

/// `/livez/ping`, `/readyz/etcd`: one check.
pub async fn healthz_one(state: State<AppState>, check: Path<String>, query: RawQuery) -> Response {
    one(state, "healthz", check, query).await
}

pub async fn livez_one(state: State<AppState>, check: Path<String>, query: RawQuery) -> Response {
    one(state, "livez", check, query).await
}

pub async fn readyz_one(state: State<AppState>, check: Path<String>, query: RawQuery) -> Response {
    one(state, "readyz", check, query).await
}

async fn one(
    State(state): State<AppState>,
    endpoint: &str,
    Path(check): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    answer(&state, endpoint, Some(&check), query.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_lists_the_checks_when_asked() {
        let quiet = asked(None);
        let verbose = asked(Some("verbose"));
        let cases: &[(&str, &[(&str, bool)], &Asked, StatusCode, &str)] = &[
            ("all pass, quietly", &[("ping", true), ("etcd", true)], &quiet, StatusCode::OK, "ok"),
            (
                "all pass, verbosely",
                &[("ping", true), ("log", true)],
                &verbose,
                StatusCode::OK,
                "[+]ping ok\n[+]log ok\nlivez check passed\n",
            ),
            (
                "a failure is a 500 that names it, even unasked",
                &[("ping", true), ("etcd", false)],
                &quiet,
                StatusCode::INTERNAL_SERVER_ERROR,
                "[+]ping ok\n[-]etcd failed: reason withheld\nlivez check failed\n",
            ),
        ];
        for (name, results, asked, code, body) in cases {
            assert_eq!(report("livez", results, asked), (*code, body.to_string()), "{name}");
        }
    }

    #[test]
    fn excluded_checks_are_said_to_be() {
        let asked = asked(Some("verbose&exclude=etcd"));
        assert_eq!(asked.excluded, ["etcd"]);
        let (_, body) = report("readyz", &[("ping", true), ("log", true)], &asked);
        assert_eq!(body, "[+]ping ok\n[+]log ok\n[+]etcd excluded: ok\nreadyz check passed\n");
    }
}
