//! How a kubelet knows that no proxy will send a new connection to a pod it is about to stop.
//!
//! Kubernetes has no such handshake: the endpoints controller, every kube-proxy and every
//! ingress controller learn that a pod is going at the same time as its kubelet, which sends
//! SIGTERM at once, so a few requests still reach a pod that stopped accepting them
//! (kubernetes#86280); users add `preStop: sleep` to hide the race. Skiff closes it:
//!
//! 1. The Endpoints controller marks a terminating pod `ready: false` in its EndpointSlices,
//!    which gives that slice a new resourceVersion *R*.
//! 2. Every skiff-proxy publishes, in a Lease `kube-system/skiff-proxy-<node>`, the highest
//!    EndpointSlice resourceVersion its data paths (Service rules and Ingress routes) have
//!    *applied* ([`publish`]). Slices arrive in resourceVersion order, so a proxy at *R* or past
//!    it no longer sends new connections to the pod.
//! 3. The kubelet of a pod being deleted waits ([`wait_out_of_rotation`]) until no slice lists
//!    the pod as ready and every live proxy has reached the slices' *R*, bounded by a part of
//!    the grace period; then it runs preStop hooks and sends SIGTERM.
//!
//! A proxy whose Lease was not renewed for [`STALE_AFTER`] is not waited for (it is gone, or
//! cut off; waiting would only burn the grace period).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::json;

use crate::api::{Api, ApiError, Client, ListParams, Patch};

pub const NAMESPACE: &str = "kube-system";
/// The label every proxy's progress Lease carries.
pub const LABEL: &str = "app.kubernetes.io/name=skiff-proxy";
/// The annotation holding the applied EndpointSlice resourceVersion.
pub const REVISION: &str = "skiff.io/endpointslices-revision";
/// A proxy silent this long is not waited for.
pub const STALE_AFTER: Duration = Duration::from_secs(30);
/// How often the kubelet looks again while it waits.
const POLL: Duration = Duration::from_millis(50);

fn lease_name(node: &str) -> String {
    format!("skiff-proxy-{node}")
}

/// The wall clock, as chrono (k8s-openapi's chrono is built without its clock).
fn utc_now() -> DateTime<Utc> {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    DateTime::from_timestamp(since.as_secs() as i64, since.subsec_nanos()).unwrap_or_default()
}

fn now() -> MicroTime {
    MicroTime(utc_now())
}

/// Records that the proxy of `node` has applied every EndpointSlice change up to `revision`
/// (also its heartbeat: call it at least every few seconds).
pub async fn publish(client: &Client, node: &str, revision: i64) -> Result<(), ApiError> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let name = lease_name(node);
    let patch = json!({
        "metadata": {"annotations": {REVISION: revision.to_string()}},
        "spec": {"holderIdentity": node, "renewTime": now(), "leaseDurationSeconds": STALE_AFTER.as_secs()},
    });
    match leases.patch(&name, &Patch::Merge(patch)).await {
        Err(err) if err.is_not_found() => {
            let (key, value) = LABEL.split_once('=').expect("the label is key=value");
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": {key: value},
                             "annotations": {REVISION: revision.to_string()}},
                "spec": {"holderIdentity": node, "renewTime": now(), "leaseDurationSeconds": STALE_AFTER.as_secs()},
            }))?;
            match leases.create(&lease).await {
                Err(err) if err.is_already_exists() => Ok(()),
                other => other.map(|_| ()),
            }
        }
        other => other.map(|_| ()),
    }
}

fn revision_of(meta: &ObjectMeta) -> i64 {
    meta.resource_version.as_deref().and_then(|rv| rv.parse().ok()).unwrap_or(0)
}

/// What the slices say of a pod: whether one still lists it as ready, and the highest
/// resourceVersion among the slices that mention it.
pub fn standing(slices: &[EndpointSlice], pod_uid: &str) -> (bool, i64) {
    let mut ready = false;
    let mut revision = 0;
    for slice in slices {
        let mentioned: Vec<_> = slice
            .endpoints
            .iter()
            .filter(|e| e.target_ref.as_ref().and_then(|r| r.uid.as_deref()) == Some(pod_uid))
            .collect();
        if mentioned.is_empty() {
            continue;
        }
        revision = revision.max(revision_of(&slice.metadata));
        ready |= mentioned.iter().any(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true));
    }
    (ready, revision)
}

/// The proxies still to catch up with `revision`, by node: those renewed within
/// [`STALE_AFTER`] of `now` whose applied revision is below it.
pub fn behind(leases: &[Lease], revision: i64, now: DateTime<Utc>) -> Vec<String> {
    leases
        .iter()
        .filter(|lease| {
            let renewed = lease.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| t.0);
            renewed.is_some_and(|t| now.signed_duration_since(t).to_std().unwrap_or_default() < STALE_AFTER)
        })
        .filter(|lease| {
            let applied = lease.metadata.annotations.as_ref().and_then(|a| a.get(REVISION));
            applied.and_then(|r| r.parse::<i64>().ok()).unwrap_or(0) < revision
        })
        .filter_map(|lease| lease.spec.as_ref().and_then(|s| s.holder_identity.clone()))
        .collect()
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// No slice lists the pod as ready and every live proxy has applied that.
    Out,
    /// The pod was never behind a Service: nothing to wait for.
    NeverIn,
    /// The limit came first; these proxies (or the endpoints controller, if none) lagged.
    TimedOut { waiting_for: Vec<String> },
}

/// Waits, at most `limit`, until no proxy sends new connections to `pod` (see the module doc).
pub async fn wait_out_of_rotation(client: &Client, pod: &Pod, limit: Duration) -> Rotation {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &namespace);
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let deadline = tokio::time::Instant::now() + limit;
    let mut waiting_for = Vec::new();
    let mut seen_in = false;
    loop {
        let listed = slices.list(&ListParams::default()).await.map(|(s, _)| s);
        let (ready, revision) = listed.as_deref().map(|s| standing(s, &uid)).unwrap_or((true, 0));
        seen_in |= revision > 0;
        if !seen_in && listed.is_ok() {
            return Rotation::NeverIn;
        }
        if !ready {
            match leases.list(&ListParams::labels(LABEL)).await {
                Ok((leases, _)) => {
                    waiting_for = behind(&leases, revision, utc_now());
                    if waiting_for.is_empty() {
                        return Rotation::Out;
                    }
                }
                Err(err) => waiting_for = vec![format!("(proxies unknown: {err})")],
            }
        }
        if tokio::time::Instant::now() + POLL > deadline {
            return Rotation::TimedOut { waiting_for };
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(revision: &str, endpoints: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(json!({"metadata": {"resourceVersion": revision}, "addressType": "IPv4", "endpoints": endpoints}))
            .unwrap()
    }

    fn endpoint(uid: &str, ready: bool) -> serde_json::Value {
        json!({"addresses": ["10.244.1.2"], "conditions": {"ready": ready}, "targetRef": {"kind": "Pod", "uid": uid}})
    }

    #[test]
    fn a_pod_is_in_rotation_while_one_slice_lists_it_ready() {
        let slices = [slice("7", json!([endpoint("a", true), endpoint("b", true)])), slice("9", json!([endpoint("a", false)]))];
        assert_eq!(standing(&slices, "a"), (true, 9));
        assert_eq!(standing(&slices, "b"), (true, 7));
        assert_eq!(standing(&slices, "c"), (false, 0), "never behind a Service");
        let gone = [slice("12", json!([endpoint("a", false)]))];
        assert_eq!(standing(&gone, "a"), (false, 12));
    }

    fn lease(node: &str, revision: &str, renewed: DateTime<Utc>) -> Lease {
        serde_json::from_value(json!({"metadata": {"annotations": {REVISION: revision}},
                                      "spec": {"holderIdentity": node, "renewTime": MicroTime(renewed)}}))
        .unwrap()
    }

    #[test]
    fn proxies_behind_the_revision_are_waited_for_unless_they_went_silent() {
        let now = utc_now();
        let leases = [
            lease("node-1", "12", now),
            lease("node-2", "11", now),
            lease("node-3", "5", now - chrono_seconds(60)),
        ];
        assert_eq!(behind(&leases, 12, now), ["node-2"]);
        assert!(behind(&leases, 11, now).is_empty());
    }

    fn chrono_seconds(seconds: i64) -> k8s_openapi::chrono::TimeDelta {
        k8s_openapi::chrono::TimeDelta::seconds(seconds)
    }
}
