//! demo-web's endpoints: a request's method and path become a [`Route`] (a pure function, table
//! tested), and [`respond`] turns a route into its response.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | a small HTML page with the version, hostname and pod IP |
//! | `GET /version` | exactly the version, e.g. `v1` |
//! | `GET /hostname` | exactly the hostname (the pod name, in a pod) |
//! | `GET /healthz` | 200 `ok`; 500 after `POST /fail/live` |
//! | `GET /ready` | 200 `ok`; 503 during `READY_DELAY_SECONDS`; 500 after `POST /fail/ready` or with `FAIL_READY=1` |
//! | `GET /env` | the environment, one sorted `KEY=value` line each |
//! | `GET /file/<path>` | the file `/<path>` (a mounted ConfigMap or Secret key); a directory lists its entries; 404 if absent |
//! | `GET /sleep/<seconds>` | `slept <seconds>s`, after that long (at most 300): an in-flight request for shutdown tests |
//! | `POST /fail/ready`, `POST /fail/live` | make that probe answer 500 from then on |
//! | `POST /crash` | answers, then the process exits with status 1 |
//!
//! `HEAD` is answered like `GET` (hyper leaves the body out). Anything else is 404, or 405 for
//! a known path with the wrong method.

use crate::app::App;
use crate::health::Probe;
use crate::page;
use bytes::Bytes;
use http::{header, Method, Response, StatusCode};
use http_body_util::Full;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The longest `/sleep/<seconds>` accepted, so that a typo cannot hold a connection for days.
pub const MAX_SLEEP: Duration = Duration::from_secs(300);

/// What a request asks for, decided from its method and path alone.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Page,
    Version,
    Hostname,
    Healthz,
    Ready,
    Env,
    File(PathBuf),
    Sleep(Duration),
    FailReady,
    FailLive,
    Crash,
    /// 400, with the reason.
    BadRequest(String),
    /// 405: the path exists, for the methods named (the `Allow` header).
    MethodNotAllowed(&'static str),
    NotFound,
}

/// Maps a request to its route.
pub fn route(method: &Method, path: &str) -> Route {
    let read = method == Method::GET || method == Method::HEAD;
    let write = method == Method::POST;
    let (wanted, route) = match path {
        "/" => (read, Route::Page),
        "/version" => (read, Route::Version),
        "/hostname" => (read, Route::Hostname),
        "/healthz" => (read, Route::Healthz),
        "/ready" => (read, Route::Ready),
        "/env" => (read, Route::Env),
        "/fail/ready" => (write, Route::FailReady),
        "/fail/live" => (write, Route::FailLive),
        "/crash" => (write, Route::Crash),
        // `/file/etc/config/key` is the file `/etc/config/key`; `/file` alone is `/`.
        _ if path == "/file" || path.starts_with("/file/") => {
            (read, Route::File(PathBuf::from(format!("/{}", path["/file".len()..].trim_start_matches('/')))))
        }
        _ if path.starts_with("/sleep/") => (read, sleep_route(&path["/sleep/".len()..])),
        _ => return Route::NotFound,
    };
    match (wanted, &route) {
        (true, _) => route,
        (false, Route::FailReady | Route::FailLive | Route::Crash) => Route::MethodNotAllowed("POST"),
        (false, _) => Route::MethodNotAllowed("GET, HEAD"),
    }
}

fn sleep_route(seconds: &str) -> Route {
    match seconds.parse::<f64>().ok().and_then(|secs| Duration::try_from_secs_f64(secs).ok()) {
        Some(duration) if duration <= MAX_SLEEP => Route::Sleep(duration),
        _ => {
            Route::BadRequest(format!("/sleep/<seconds> takes 0 to {} seconds, not {seconds:?}\n", MAX_SLEEP.as_secs()))
        }
    }
}

/// Answers one route. `local` is the address the request arrived at, shown as the pod IP
/// when the downward API did not give one.
pub async fn respond(app: &App, route: Route, local: Option<IpAddr>) -> Response<Full<Bytes>> {
    match route {
        Route::Page => {
            let pod_ip = app.pod_ip.clone().or_else(|| local.map(|ip| ip.to_string())).unwrap_or_default();
            html(page::render(app.version, &app.hostname, &pod_ip))
        }
        Route::Version => text(StatusCode::OK, app.version),
        Route::Hostname => text(StatusCode::OK, app.hostname.clone()),
        Route::Healthz => probe(app.health.liveness()),
        Route::Ready => probe(app.health.readiness()),
        Route::Env => text(StatusCode::OK, environment()),
        Route::File(path) => file(path).await,
        Route::Sleep(duration) => {
            tokio::time::sleep(duration).await;
            text(StatusCode::OK, format!("slept {}s\n", duration.as_secs_f64()))
        }
        Route::FailReady => {
            eprintln!("demo-web: POST /fail/ready: /ready answers 500 from now on");
            app.health.fail_readiness();
            text(StatusCode::OK, "/ready fails from now on\n")
        }
        Route::FailLive => {
            eprintln!("demo-web: POST /fail/live: /healthz answers 500 from now on");
            app.health.fail_liveness();
            text(StatusCode::OK, "/healthz fails from now on\n")
        }
        Route::Crash => {
            app.request_crash();
            text(StatusCode::OK, "crashing\n")
        }
        Route::BadRequest(reason) => text(StatusCode::BAD_REQUEST, reason),
        Route::MethodNotAllowed(allow) => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
            response
        }
        Route::NotFound => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn probe(probe: Probe) -> Response<Full<Bytes>> {
    match probe {
        Probe::Ok => text(StatusCode::OK, "ok"),
        Probe::Starting => text(StatusCode::SERVICE_UNAVAILABLE, "starting"),
        Probe::Failed => text(StatusCode::INTERNAL_SERVER_ERROR, "failed"),
    }
}

/// The environment as `KEY=value` lines, sorted so that two pods can be compared with `diff`.
fn environment() -> String {
    let mut vars: Vec<String> = std::env::vars_os()
        .map(|(key, value)| format!("{}={}\n", key.to_string_lossy(), value.to_string_lossy()))
        .collect();
    vars.sort();
    vars.concat()
}

/// A file's contents, or a directory's entries one a line (a `/` after directories), so that
/// `/file/etc/config/` shows which keys a ConfigMap volume holds.
async fn file(path: PathBuf) -> Response<Full<Bytes>> {
    // A file here is a mounted ConfigMap or Secret key: a few KiB in the page cache, read in a
    // few microseconds. `tokio::fs` would hand each call to the blocking pool, a thread
    // hand-off per call that costs more than the read and, under load, puts every request
    // behind the pool's own queue (bench-net measured the 16 KiB body's p99 at 20-150 ms that
    // way, for every path in front of this server); so the file is read in place.
    let result = match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => list_directory(&path).await.map(Bytes::from),
        Ok(_) => std::fs::read(&path).map(Bytes::from),
        Err(err) => Err(err),
    };
    match result {
        Ok(contents) => text(StatusCode::OK, contents),
        Err(err) => {
            let status = match err.kind() {
                std::io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                std::io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            text(status, format!("{}: {err}\n", path.display()))
        }
    }
}

async fn list_directory(path: &PathBuf) -> std::io::Result<String> {
    let mut entries = tokio::fs::read_dir(path).await?;
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let slash = if entry.file_type().await?.is_dir() { "/" } else { "" };
        names.push(format!("{}{slash}\n", entry.file_name().to_string_lossy()));
    }
    names.sort();
    Ok(names.concat())
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    with_type(status, "text/plain; charset=utf-8", body.into())
}

fn html(body: String) -> Response<Full<Bytes>> {
    with_type(StatusCode::OK, "text/html; charset=utf-8", body.into())
}

fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use http_body_util::BodyExt;

    #[test]
    fn requests_map_to_their_routes() {
        let cases = [
            ("GET", "/", Route::Page),
            ("HEAD", "/", Route::Page),
            ("GET", "/version", Route::Version),
            ("GET", "/hostname", Route::Hostname),
            ("GET", "/healthz", Route::Healthz),
            ("GET", "/ready", Route::Ready),
            ("GET", "/env", Route::Env),
            ("GET", "/file/etc/config/color", Route::File("/etc/config/color".into())),
            ("GET", "/file//etc/hosts", Route::File("/etc/hosts".into())),
            ("GET", "/file/", Route::File("/".into())),
            ("GET", "/file", Route::File("/".into())),
            ("GET", "/sleep/1.5", Route::Sleep(Duration::from_millis(1500))),
            ("POST", "/fail/ready", Route::FailReady),
            ("POST", "/fail/live", Route::FailLive),
            ("POST", "/crash", Route::Crash),
            ("GET", "/fail/ready", Route::MethodNotAllowed("POST")),
            ("POST", "/version", Route::MethodNotAllowed("GET, HEAD")),
            ("DELETE", "/file/etc/hosts", Route::MethodNotAllowed("GET, HEAD")),
            ("GET", "/versions", Route::NotFound),
            ("GET", "/files/etc/hosts", Route::NotFound),
            ("POST", "/nowhere", Route::NotFound),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(&method.parse().unwrap(), path), expected, "{method} {path}");
        }
    }

    #[test]
    fn sleeps_that_are_not_a_sane_number_of_seconds_are_bad_requests() {
        for seconds in ["", "soon", "-1", "301", "NaN"] {
            let route = route(&Method::GET, &format!("/sleep/{seconds}"));
            assert!(matches!(route, Route::BadRequest(_)), "/sleep/{seconds} gave {route:?}");
        }
    }

    async fn answer(app: &App, method: &str, path: &str) -> (StatusCode, String) {
        let response = respond(app, route(&method.parse().unwrap(), path), "10.0.0.9".parse().ok()).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn app() -> App {
        App::new(&Config::default(), "web-7d4b9-x2x5q".into())
    }

    #[tokio::test]
    async fn identity_endpoints_answer_exactly_their_value() {
        let app = app();
        assert_eq!(answer(&app, "GET", "/version").await, (StatusCode::OK, crate::VERSION.to_string()));
        assert_eq!(answer(&app, "GET", "/hostname").await, (StatusCode::OK, "web-7d4b9-x2x5q".to_string()));
        let (status, page) = answer(&app, "GET", "/").await;
        assert_eq!(status, StatusCode::OK);
        for shown in [crate::VERSION, "web-7d4b9-x2x5q", "10.0.0.9"] {
            assert!(page.contains(shown), "the page lacks {shown}: {page}");
        }
    }

    #[tokio::test]
    async fn the_page_prefers_the_downward_api_pod_ip() {
        let config = Config { pod_ip: Some("10.244.3.4".into()), ..Config::default() };
        let app = App::new(&config, "web-0".into());
        let (_, page) = answer(&app, "GET", "/").await;
        assert!(page.contains("10.244.3.4") && !page.contains("10.0.0.9"), "{page}");
    }

    #[tokio::test]
    async fn failing_the_probes_turns_them_to_500_for_good() {
        let app = app();
        assert_eq!(answer(&app, "GET", "/ready").await, (StatusCode::OK, "ok".into()));
        assert_eq!(answer(&app, "GET", "/healthz").await, (StatusCode::OK, "ok".into()));

        assert_eq!(answer(&app, "POST", "/fail/ready").await.0, StatusCode::OK);
        assert_eq!(answer(&app, "GET", "/ready").await.0, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answer(&app, "GET", "/healthz").await.0, StatusCode::OK);

        assert_eq!(answer(&app, "POST", "/fail/live").await.0, StatusCode::OK);
        assert_eq!(answer(&app, "GET", "/healthz").await.0, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test(start_paused = true)]
    async fn ready_answers_503_during_the_ready_delay() {
        let config = Config { ready_delay: Duration::from_secs(3), ..Config::default() };
        let app = App::new(&config, "web".into());
        assert_eq!(answer(&app, "GET", "/ready").await, (StatusCode::SERVICE_UNAVAILABLE, "starting".into()));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(answer(&app, "GET", "/ready").await, (StatusCode::OK, "ok".into()));
    }

    #[tokio::test]
    async fn crash_is_only_requested_so_main_can_answer_first() {
        let app = app();
        assert_eq!(answer(&app, "POST", "/crash").await, (StatusCode::OK, "crashing\n".into()));
        // The permit was stored: `main` sees the request even though it was not waiting yet.
        tokio::time::timeout(Duration::from_secs(1), app.crash_requested()).await.unwrap();
    }

    #[tokio::test]
    async fn files_and_directories_are_served_and_absent_ones_are_404() {
        let dir = std::env::temp_dir().join(format!("demo-web-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("color"), "blue").unwrap();
        let app = app();
        let base = format!("/file{}", dir.display());

        assert_eq!(answer(&app, "GET", &format!("{base}/color")).await, (StatusCode::OK, "blue".into()));
        assert_eq!(answer(&app, "GET", &base).await, (StatusCode::OK, "color\nsub/\n".into()));
        assert_eq!(answer(&app, "GET", &format!("{base}/missing")).await.0, StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn env_lists_the_environment_as_sorted_lines() {
        let (status, body) = answer(&app(), "GET", "/env").await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<&str> = body.lines().collect();
        assert!(lines.windows(2).all(|pair| pair[0] <= pair[1]), "not sorted: {body}");
        if let Ok(path) = std::env::var("PATH") {
            assert!(lines.contains(&format!("PATH={path}").as_str()), "{body}");
        }
    }
}
