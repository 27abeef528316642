//! `/openapi/v3`: the documents `kubectl explain` reads, and that `kubectl apply|create|replace -f`
//! look at before they send anything (to learn that the server checks fields itself).
//!
//! Mirrors kube-apiserver's OpenAPI v3 handler (`staging/src/k8s.io/kube-openapi/pkg/handler3`):
//! an index names one document per group-version, at a `serverRelativeURL` that carries a
//! `?hash=` of the document's bytes. A request with the current hash is answered as immutable
//! (kubectl keeps it in its disk cache for good: a changed document has a new URL), one with an
//! old hash is redirected to the current URL, one without a hash is answered uncached.
//!
//! The documents (paths, operations, schemas) come from [`skiff_api::schema::document`],
//! generated from Kubernetes' types; they are serialized once, on the first request, and kept
//! as bytes for the life of the process (see [`served`] for the cost).
//!
//! Left out: protobuf documents (`application/com.github.proto-openapi.spec.v3@v1.0+protobuf`),
//! `ETag`/`If-None-Match`, `Expires`, and OpenAPI v2, which kubectl only reads as protobuf
//! (`/openapi/v2` stays a 404, which kubectl tolerates when v3 is there).

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Map};
use skiff_api::registry::group_versions;
use skiff_api::schema;

use crate::respond;

/// One group-version's document, ready to send.
pub struct Served {
    /// `api/v1`, `apis/apps/v1`: the document's name in the index.
    pub path: String,
    /// Of the bytes: a new document has a new URL, so caches never serve a stale one.
    pub hash: String,
    pub bytes: Bytes,
}

impl Served {
    fn url(&self) -> String {
        format!("/openapi/v3/{}?hash={}", self.path, self.hash)
    }
}

static SERVED: OnceLock<Vec<Served>> = OnceLock::new();

/// Every document, built on first use (the first kubectl that asks): 1.2 MB of JSON for the
/// seven group-versions (`api/v1` 0.48 MB, `apis/apps/v1` 0.33 MB), in 25 to 60 ms in a release
/// build, 3.4 MB held with the schema catalogue, 8 MB at the peak of building.
pub fn served() -> &'static [Served] {
    SERVED.get_or_init(|| {
        group_versions()
            .into_iter()
            .map(|(group, version)| {
                let document = schema::document(group, version).expect("served group-versions have documents");
                let bytes = Bytes::from(serde_json::to_vec(&document).expect("a document is JSON"));
                let path = if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
                Served { path, hash: hash(&bytes), bytes }
            })
            .collect()
    })
}

/// FNV-1a, 64 bits: short, stable across runs and builds, and enough to tell documents apart
/// (upstream uses SHA-512; nothing depends on the hash's strength).
fn hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for byte in bytes {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

/// `/openapi/v3`: one entry per group-version.
pub async fn index() -> Response {
    let paths: Map<String, serde_json::Value> =
        served().iter().map(|s| (s.path.clone(), json!({"serverRelativeURL": s.url()}))).collect();
    respond::json(StatusCode::OK, &json!({"paths": paths}))
}

pub async fn core(Path(version): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    document(&format!("api/{version}"), query.get("hash"))
}

pub async fn group(
    Path((group, version)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    document(&format!("apis/{group}/{version}"), query.get("hash"))
}

fn document(path: &str, hash: Option<&String>) -> Response {
    let Some(served) = served().iter().find(|s| s.path == path) else { return respond::not_found_path() };
    match hash {
        Some(hash) if *hash != served.hash => {
            (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, served.url())]).into_response()
        }
        Some(_) => {
            let headers = [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, immutable")];
            (StatusCode::OK, headers, served.bytes.clone()).into_response()
        }
        None => {
            let headers = [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache, private")];
            (StatusCode::OK, headers, served.bytes.clone()).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_built_once_with_a_hash_of_their_bytes() {
        let started = std::time::Instant::now();
        let documents = served();
        let total: usize = documents.iter().map(|s| s.bytes.len()).sum();
        eprintln!("{} documents, {total} bytes, built in {:?}", documents.len(), started.elapsed());
        for s in documents {
            eprintln!("  {}: {} bytes", s.path, s.bytes.len());
        }
        assert_eq!(documents.len(), group_versions().len());
        assert!(std::ptr::eq(documents, served()), "built once");
        for s in documents {
            assert_eq!(s.hash, hash(&s.bytes));
            let document: serde_json::Value = serde_json::from_slice(&s.bytes).unwrap();
            assert_eq!(document["openapi"], "3.0.0");
        }
        assert_ne!(documents[0].hash, documents[1].hash);
    }

    #[tokio::test]
    async fn a_stale_hash_is_redirected_and_the_current_one_is_immutable() {
        let apps = served().iter().find(|s| s.path == "apis/apps/v1").unwrap();
        let current = document("apis/apps/v1", Some(&apps.hash));
        assert_eq!(current.status(), StatusCode::OK);
        assert_eq!(current.headers()[header::CACHE_CONTROL], "public, immutable");
        let stale = document("apis/apps/v1", Some(&"0123".to_string()));
        assert_eq!(stale.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(stale.headers()[header::LOCATION], apps.url());
        assert_eq!(document("apis/apps/v1", None).headers()[header::CACHE_CONTROL], "no-cache, private");
        assert_eq!(document("apis/apps/v2", None).status(), StatusCode::NOT_FOUND);
    }
}
