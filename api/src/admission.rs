//! Admission: what the API server adds to a new pod after defaulting, as two of Kubernetes'
//! default admission plugins do.
//!
//! - `ServiceAccount` (`plugin/pkg/admission/serviceaccount/admission.go`): a pod that names no
//!   service account runs as `default`. The v1 type has the name twice: `serviceAccountName`
//!   and the deprecated `serviceAccount`, which Kubernetes' conversion keeps equal (a pod that
//!   gives only the old field gets its value in the new one).
//! - `DefaultTolerationSeconds` (`plugin/pkg/admission/defaulttolerationseconds/admission.go`):
//!   a pod that does not already tolerate them tolerates the `not-ready` and `unreachable`
//!   taints for 300 seconds (what `kubectl describe pod` lists under Tolerations). The node
//!   lifecycle controller would evict the pod after that long on a node gone NotReady; Skiff
//!   has none yet, so today they are only written down.
//!
//! Both run on create only, as upstream, and leave mirror pods (a kubelet's static pods) alone.
//!
//! Left out of the ServiceAccount plugin: the refusal of a pod whose service account does not
//! exist (upstream answers 403 until the ServiceAccount controller has made `default` in a new
//! namespace, which makes a pod created right after its namespace fail; Skiff admits it), and
//! the token volume (`kube-api-access-…`): Skiff has no authentication, so there is no token
//! to mount.

use serde_json::{json, Value};

/// The service account of a pod that names none.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The taints the default tolerations are for, and how long they are tolerated.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Admits a new pod (Kubernetes JSON): its service account and default tolerations.
pub fn pod(pod: &mut Value) {
    if pod["metadata"]["annotations"].get(MIRROR_ANNOTATION).is_some() || !pod["spec"].is_object() {
        return;
    }
    let spec = &mut pod["spec"];
    service_account(spec);
    default_tolerations(spec);
}

fn text(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

fn service_account(spec: &mut Value) {
    let name = text(&spec["serviceAccountName"])
        .or_else(|| text(&spec["serviceAccount"]))
        .unwrap_or(DEFAULT_SERVICE_ACCOUNT)
        .to_string();
    spec["serviceAccountName"] = json!(name);
    spec["serviceAccount"] = json!(name);
}

/// Whether `toleration` tolerates `taint` with effect NoExecute (an empty key or effect
/// matches any).
fn tolerates(toleration: &Value, taint: &str) -> bool {
    let key = toleration["key"].as_str().unwrap_or_default();
    let effect = toleration["effect"].as_str().unwrap_or_default();
    (key.is_empty() || key == taint) && (effect.is_empty() || effect == "NoExecute")
}

fn default_tolerations(spec: &mut Value) {
    let existing = spec["tolerations"].as_array().cloned().unwrap_or_default();
    let mut tolerations = existing.clone();
    for taint in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        if !existing.iter().any(|t| tolerates(t, taint)) {
            tolerations.push(json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
    spec["tolerations"] = json!(tolerations);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(spec: Value) -> Value {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": spec});
        super::pod(&mut pod);
        pod["spec"].take()
    }

    fn toleration(taint: &str) -> Value {
        json!({"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    }

    #[test]
    fn the_service_account_is_default_unless_named_in_either_field() {
        let cases = [
            ("none named", json!({}), "default"),
            ("empty name", json!({"serviceAccountName": ""}), "default"),
            ("the current field", json!({"serviceAccountName": "builder"}), "builder"),
            ("only the deprecated field", json!({"serviceAccount": "old"}), "old"),
            ("both: the current one wins", json!({"serviceAccountName": "new", "serviceAccount": "old"}), "new"),
        ];
        for (case, spec, want) in cases {
            let spec = admitted(spec);
            assert_eq!(
                (spec["serviceAccountName"].as_str(), spec["serviceAccount"].as_str()),
                (Some(want), Some(want)),
                "{case}"
            );
        }
    }

    #[test]
    fn the_default_tolerations_are_added_unless_already_tolerated() {
        let custom = json!({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"});
        let cases = [
            ("no tolerations", json!({}), vec![toleration(NOT_READY_TAINT), toleration(UNREACHABLE_TAINT)]),
            (
                "others are kept, first",
                json!({"tolerations": [custom.clone()]}),
                vec![custom.clone(), toleration(NOT_READY_TAINT), toleration(UNREACHABLE_TAINT)],
            ),
            (
                "one already tolerated, its own seconds kept",
                json!({"tolerations": [{"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}),
                vec![
                    json!({"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}),
                    toleration(UNREACHABLE_TAINT),
                ],
            ),
            (
                "tolerate everything",
                json!({"tolerations": [{"operator": "Exists"}]}),
                vec![json!({"operator": "Exists"})],
            ),
            (
                "a NoSchedule toleration of the taint does not count",
                json!({"tolerations": [{"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}]}),
                vec![
                    json!({"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}),
                    toleration(NOT_READY_TAINT),
                    toleration(UNREACHABLE_TAINT),
                ],
            ),
        ];
        for (case, spec, want) in cases {
            assert_eq!(admitted(spec)["tolerations"], json!(want), "{case}");
        }
    }

    #[test]
    fn mirror_pods_are_left_alone() {
        let mut pod = json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}}, "spec": {}});
        super::pod(&mut pod);
        assert_eq!(pod["spec"], json!({}));
    }
}
