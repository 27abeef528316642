//! The REST router called in memory (`oneshot`, no socket), over a real skiff-store: what every
//! malformed or misdirected request gets — a Kubernetes `Status` with a 4xx code, never a 5xx.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use skiff_apiserver::verbs::Verbs;
use skiff_apiserver::watch_cache::WatchCaches;
use skiff_apiserver::{app, AppState};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

async fn router() -> (axum::Router, CancellationToken, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = skiff_store::Config {
        listen: address,
        data_dir: dir.path().join("store"),
        metrics_listen: None,
        name: "test".into(),
        retention: skiff_store::Retention::Off,
        progress_interval: std::time::Duration::from_secs(600),
        cache_bytes: 8 << 20,
    };
    let stop = CancellationToken::new();
    tokio::spawn(skiff_store::serve(config, listener, None, stop.clone()));
    let client = skiff_store::client::StoreClient::connect(&[address.to_string()]).await.unwrap();
    let verbs = Verbs::new(client.clone(), WatchCaches::start(client, stop.clone()));
    let state = AppState {
        verbs: std::sync::Arc::new(verbs),
        address: "127.0.0.1:6443".into(),
        streams: std::sync::Arc::new(skiff_apiserver::streaming::Unreachable),
    };
    (app(state), stop, dir)
}

async fn call(router: &axum::Router, method: Method, uri: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder().method(method).uri(uri).header("content-type", content_type).body(Body::from(body)).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let code = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_kubernetes_status_bodies_with_4xx_codes() {
    let (router, stop, _dir) = router().await;
    let json = "application/json";
    let cases: Vec<(&str, Method, &str, &str, Vec<u8>, u16, &str)> = vec![
        ("an unknown path", Method::GET, "/apis/widgets.example.com/v1/widgets", json, vec![], 404, "NotFound"),
        ("malformed JSON", Method::POST, "/api/v1/namespaces/default/configmaps", json, b"{\"metadata\":".to_vec(), 400, "BadRequest"),
        ("a body that is not an object", Method::POST, "/api/v1/namespaces/default/configmaps", json, b"[1,2]".to_vec(), 400, "BadRequest"),
        ("the wrong kind for the path", Method::POST, "/api/v1/namespaces/default/configmaps", json,
         br#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"}}"#.to_vec(), 400, "BadRequest"),
        ("a body over 3 MiB", Method::POST, "/api/v1/namespaces/default/configmaps", json, vec![b' '; 3 * 1024 * 1024 + 1], 413, "RequestEntityTooLarge"),
        ("a patch of an unknown type", Method::PATCH, "/api/v1/namespaces/default/configmaps/x", "text/plain", b"{}".to_vec(), 415, "UnsupportedMediaType"),
        ("a verb the path does not take", Method::PUT, "/api/v1/namespaces/default/configmaps", json, b"{}".to_vec(), 405, "MethodNotAllowed"),
        ("a name nobody has", Method::GET, "/api/v1/namespaces/default/configmaps/nothing", json, vec![], 404, "NotFound"),
        ("an invalid name", Method::POST, "/api/v1/namespaces/default/configmaps", json,
         br#"{"metadata":{"name":"Not_Valid"}}"#.to_vec(), 422, "Invalid"),
        ("an unknown field selector", Method::GET, "/api/v1/pods?fieldSelector=spec.image%3Dx", json, vec![], 400, "BadRequest"),
        ("a bad label selector", Method::GET, "/api/v1/pods?labelSelector=a%20in%20b", json, vec![], 400, "BadRequest"),
        ("a bad fieldValidation", Method::POST, "/api/v1/namespaces/default/configmaps?fieldValidation=Loose", json,
         br#"{"metadata":{"name":"x"}}"#.to_vec(), 422, "Invalid"),
    ];
    for (what, method, uri, content_type, body, code, reason) in cases {
        let (got, status) = call(&router, method, uri, content_type, body).await;
        assert_eq!(got.as_u16(), code, "{what}: {status}");
        assert_eq!(status["kind"], "Status", "{what}: {status}");
        assert_eq!(status["reason"], reason, "{what}: {status}");
        assert_eq!(status["code"], code, "{what}: {status}");
    }
    let (code, version) = call(&router, Method::GET, "/version", json, vec![]).await;
    assert_eq!((code, version["minor"].as_str()), (StatusCode::OK, Some("31")));
    let (code, _) = call(&router, Method::GET, "/openapi/v2", json, vec![]).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "kubectl must not find a v2 document");
    stop.cancel();
}
