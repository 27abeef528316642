//! Defaulting: the fields the API server fills in when a client leaves them out.
//!
//! Mirrors the `SetDefaults_*` functions of kubernetes `pkg/apis/core/v1/defaults.go`,
//! `pkg/apis/apps/v1/defaults.go` and `pkg/apis/batch/v1/defaults.go`, for the fields kubectl and
//! the controllers read (`../shared/kubectl-compat.md` section 4). Objects are JSON; a default is
//! set only where the field is absent.

use serde_json::{json, Value};

use crate::registry::Resource;

/// Sets `object[path]` to `value` if it is absent (creating the objects on the way).
fn default(object: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = object;
    for key in parents {
        if !node[*key].is_object() {
            node[*key] = json!({});
        }
        node = &mut node[*key];
    }
    if node.get(*last).is_none_or(Value::is_null) {
        node[*last] = value;
    }
}

fn image_pull_policy(image: &str) -> &'static str {
    // `:latest`, or no tag at all, means the image may change: pull it every time.
    let name = image.rsplit('/').next().unwrap_or(image);
    let tag = name.split_once('@').map(|_| "digest").or_else(|| name.split_once(':').map(|(_, t)| t));
    match tag {
        None | Some("latest") => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn container(container: &mut Value) {
    let image = container["image"].as_str().unwrap_or_default().to_string();
    default(container, &["imagePullPolicy"], json!(image_pull_policy(&image)));
    default(container, &["terminationMessagePath"], json!("/dev/termination-log"));
    default(container, &["terminationMessagePolicy"], json!("File"));
    if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports {
            default(port, &["protocol"], json!("TCP"));
        }
    }
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(kind).filter(|p| p.is_object()) {
            probe_defaults(probe);
        }
    }
}

/// `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`: what `kubectl describe` prints as
/// `delay=0s timeout=1s period=10s #success=1 #failure=3`.
fn probe_defaults(probe: &mut Value) {
    default(probe, &["timeoutSeconds"], json!(1));
    default(probe, &["periodSeconds"], json!(10));
    default(probe, &["successThreshold"], json!(1));
    default(probe, &["failureThreshold"], json!(3));
    if probe.get("httpGet").is_some_and(Value::is_object) {
        default(probe, &["httpGet", "path"], json!("/"));
        default(probe, &["httpGet", "scheme"], json!("HTTP"));
    }
}

/// A Secret's `stringData` is write-only: its entries join `data`, base64-encoded, taking
/// precedence over the same keys there, and it is not stored (Kubernetes does this when it
/// converts the request to its internal form).
fn merge_string_data(secret: &mut Value) {
    let Some(Value::Object(strings)) = secret.as_object_mut().and_then(|s| s.remove("stringData")) else { return };
    if !secret["data"].is_object() {
        secret["data"] = json!({});
    }
    for (key, value) in strings {
        let text = value.as_str().unwrap_or_default().to_string();
        secret["data"][key] = json!(crate::protobuf::base64(text.as_bytes()));
    }
}

/// A pod's container with a limit but no request gets the limit as its request
/// (`SetDefaults_Pod`): what the scheduler counts, and what makes a pod Guaranteed. Only for
/// pods, not for templates, as upstream. (A limit that is not a quantity is validation's to
/// report, once.)
fn requests_from_limits(spec: &mut Value) {
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for container in containers {
            let Some(limits) = container.pointer("/resources/limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            let resources = &mut container["resources"];
            if !resources["requests"].is_object() {
                resources["requests"] = json!({});
            }
            for (name, limit) in limits {
                let parses = limit.as_str().is_some_and(|q| crate::quantity::Quantity::parse(q).is_ok());
                if parses && resources["requests"].get(&name).is_none() {
                    resources["requests"][name] = limit;
                }
            }
        }
    }
}

/// A PodSpec's defaults (a pod's `spec`, or a workload's `spec.template.spec`).
pub fn pod_spec(spec: &mut Value) {
    default(spec, &["restartPolicy"], json!("Always"));
    default(spec, &["dnsPolicy"], json!("ClusterFirst"));
    default(spec, &["terminationGracePeriodSeconds"], json!(30));
    default(spec, &["schedulerName"], json!("default-scheduler"));
    default(spec, &["securityContext"], json!({}));
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            containers.iter_mut().for_each(container);
        }
    }
}

/// Applies the defaults of `resource` to a new or replaced object.
pub fn apply(resource: &Resource, object: &mut Value) {
    match (resource.group, resource.plural) {
        ("", "pods") => {
            pod_spec(&mut object["spec"]);
            requests_from_limits(&mut object["spec"]);
            // A pod's own, not a template's (upstream's `SetDefaults_Pod`, not `_PodSpec`).
            default(object, &["spec", "enableServiceLinks"], json!(true));
        }
        ("", "secrets") => {
            default(object, &["type"], json!("Opaque"));
            merge_string_data(object);
        }
        ("", "namespaces") => default(object, &["status", "phase"], json!("Active")),
        ("apps", "deployments") => {
            default(object, &["spec", "replicas"], json!(1));
            default(object, &["spec", "strategy", "type"], json!("RollingUpdate"));
            if object["spec"]["strategy"]["type"] == "RollingUpdate" {
                default(object, &["spec", "strategy", "rollingUpdate", "maxSurge"], json!("25%"));
                default(object, &["spec", "strategy", "rollingUpdate", "maxUnavailable"], json!("25%"));
            }
            default(object, &["spec", "revisionHistoryLimit"], json!(10));
            default(object, &["spec", "progressDeadlineSeconds"], json!(600));
            pod_spec(&mut object["spec"]["template"]["spec"]);
        }
        ("apps", "replicasets") => {
            default(object, &["spec", "replicas"], json!(1));
            pod_spec(&mut object["spec"]["template"]["spec"]);
        }
        ("apps", "statefulsets") => {
            default(object, &["spec", "replicas"], json!(1));
            default(object, &["spec", "podManagementPolicy"], json!("OrderedReady"));
            default(object, &["spec", "updateStrategy", "type"], json!("RollingUpdate"));
            if object["spec"]["updateStrategy"]["type"] == "RollingUpdate" {
                default(object, &["spec", "updateStrategy", "rollingUpdate", "partition"], json!(0));
            }
            default(object, &["spec", "revisionHistoryLimit"], json!(10));
            default(object, &["spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"], json!("Retain"));
            default(object, &["spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"], json!("Retain"));
            pod_spec(&mut object["spec"]["template"]["spec"]);
        }
        ("apps", "daemonsets") => {
            default(object, &["spec", "updateStrategy", "type"], json!("RollingUpdate"));
            if object["spec"]["updateStrategy"]["type"] == "RollingUpdate" {
                default(object, &["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], json!(1));
                default(object, &["spec", "updateStrategy", "rollingUpdate", "maxSurge"], json!(0));
            }
            default(object, &["spec", "revisionHistoryLimit"], json!(10));
            pod_spec(&mut object["spec"]["template"]["spec"]);
        }
        ("batch", "jobs") => {
            // Both unset: a Job of one pod. Only `parallelism` set: a work queue, which finishes
            // when any pod succeeds, so `completions` stays unset (upstream's `SetDefaults_Job`).
            if object["spec"].get("completions").is_none() && object["spec"].get("parallelism").is_none() {
                default(object, &["spec", "completions"], json!(1));
            }
            default(object, &["spec", "parallelism"], json!(1));
            let per_index = object["spec"].get("backoffLimitPerIndex").is_some();
            default(object, &["spec", "backoffLimit"], json!(if per_index { i32::MAX } else { 6 }));
            default(object, &["spec", "completionMode"], json!("NonIndexed"));
            default(object, &["spec", "suspend"], json!(false));
            let replacement =
                if object["spec"].get("podFailurePolicy").is_some() { "Failed" } else { "TerminatingOrFailed" };
            default(object, &["spec", "podReplacementPolicy"], json!(replacement));
            // No `restartPolicy` default of its own: the PodSpec's `Always` is what validation
            // then refuses, as Kubernetes refuses a Job that leaves it out.
            pod_spec(&mut object["spec"]["template"]["spec"]);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_plural;

    fn defaulted(group: &str, plural: &str, mut object: Value) -> Value {
        apply(by_plural(group, "v1", plural).unwrap(), &mut object);
        object
    }

    #[test]
    fn deployments_get_kubernetes_defaults() {
        let d = defaulted(
            "apps",
            "deployments",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1", "ports": [{"containerPort": 8080}]}]}}}}),
        );
        let cases = [
            ("/spec/replicas", json!(1)),
            ("/spec/strategy/type", json!("RollingUpdate")),
            ("/spec/strategy/rollingUpdate/maxSurge", json!("25%")),
            ("/spec/strategy/rollingUpdate/maxUnavailable", json!("25%")),
            ("/spec/revisionHistoryLimit", json!(10)),
            ("/spec/progressDeadlineSeconds", json!(600)),
            ("/spec/template/spec/restartPolicy", json!("Always")),
            ("/spec/template/spec/dnsPolicy", json!("ClusterFirst")),
            ("/spec/template/spec/terminationGracePeriodSeconds", json!(30)),
            ("/spec/template/spec/containers/0/imagePullPolicy", json!("IfNotPresent")),
            ("/spec/template/spec/containers/0/ports/0/protocol", json!("TCP")),
        ];
        for (path, want) in cases {
            assert_eq!(d.pointer(path), Some(&want), "{path}");
        }
    }

    #[test]
    fn what_the_client_set_stays() {
        let d = defaulted(
            "apps",
            "deployments",
            json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}, "template": {"spec": {"restartPolicy": "OnFailure"}}}}),
        );
        assert_eq!(d["spec"]["replicas"], 0);
        assert!(d["spec"]["strategy"].get("rollingUpdate").is_none(), "Recreate has no rollingUpdate");
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        let cases = [
            ("skiff/demo-web:v1", "IfNotPresent"),
            ("skiff/demo-web", "Always"),
            ("skiff/demo-web:latest", "Always"),
            ("registry.local:5000/web", "Always"),
            ("registry.local:5000/web:1.2", "IfNotPresent"),
            ("web@sha256:abc", "IfNotPresent"),
        ];
        for (image, want) in cases {
            assert_eq!(image_pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn other_kinds() {
        assert_eq!(defaulted("", "secrets", json!({}))["type"], "Opaque");
        assert_eq!(defaulted("", "namespaces", json!({}))["status"]["phase"], "Active");
        let sts = defaulted("apps", "statefulsets", json!({"spec": {"template": {"spec": {}}}}));
        assert_eq!(
            (
                sts["spec"]["podManagementPolicy"].as_str(),
                sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"].as_i64()
            ),
            (Some("OrderedReady"), Some(0))
        );
        let job = defaulted("batch", "jobs", json!({"spec": {"template": {"spec": {}}}}));
        assert_eq!(
            (job["spec"]["backoffLimit"].as_i64(), job["spec"]["template"]["spec"]["restartPolicy"].as_str()),
            (Some(6), Some("Always")),
            "the PodSpec's default, which Job validation refuses"
        );
        assert_eq!(defaulted("", "configmaps", json!({"data": {}})), json!({"data": {}}), "no defaults for ConfigMaps");
    }

    #[test]
    fn a_secrets_string_data_joins_its_data_in_base64() {
        let secret =
            defaulted("", "secrets", json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "s3cret"}}));
        assert_eq!(secret["data"], json!({"a": "eA==", "b": "czNjcmV0"}));
        assert!(secret.get("stringData").is_none());
    }

    #[test]
    fn probes_get_kubernetes_timings() {
        let pods = crate::registry::by_plural("", "v1", "pods").unwrap();
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "x:1",
            "readinessProbe": {"httpGet": {"port": 8080}, "periodSeconds": 1}}]}});
        apply(pods, &mut pod);
        let probe = &pod["spec"]["containers"][0]["readinessProbe"];
        assert_eq!(probe["periodSeconds"], 1, "what the user set stays");
        assert_eq!(
            (&probe["timeoutSeconds"], &probe["successThreshold"], &probe["failureThreshold"]),
            (&json!(1), &json!(1), &json!(3))
        );
        assert_eq!((&probe["httpGet"]["path"], &probe["httpGet"]["scheme"]), (&json!("/"), &json!("HTTP")));
    }

    #[test]
    fn a_limit_without_a_request_becomes_the_request() {
        let pods = crate::registry::by_plural("", "v1", "pods").unwrap();
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "x:1",
            "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m"}}}]}});
        apply(pods, &mut pod);
        assert_eq!(pod["spec"]["containers"][0]["resources"]["requests"], json!({"cpu": "100m", "memory": "64Mi"}));
    }

    #[test]
    fn jobs_are_one_pod_unless_they_say_otherwise() {
        let spec = |spec: Value| defaulted("batch", "jobs", json!({"spec": spec}))["spec"].clone();
        let fields = |s: &Value| {
            let get = |k: &str| s.get(k).cloned().unwrap_or(Value::Null);
            (get("completions"), get("parallelism"), get("suspend"), get("podReplacementPolicy"))
        };
        let cases = [
            ("neither: one pod", json!({}), (json!(1), json!(1), json!(false), json!("TerminatingOrFailed"))),
            (
                "parallelism only: a work queue",
                json!({"parallelism": 3}),
                (Value::Null, json!(3), json!(false), json!("TerminatingOrFailed")),
            ),
            (
                "completions only",
                json!({"completions": 5}),
                (json!(5), json!(1), json!(false), json!("TerminatingOrFailed")),
            ),
            (
                "a pod failure policy",
                json!({"podFailurePolicy": {"rules": []}}),
                (json!(1), json!(1), json!(false), json!("Failed")),
            ),
        ];
        for (case, given, want) in cases {
            assert_eq!(fields(&spec(given)), want, "{case}");
        }
        assert_eq!(spec(json!({"backoffLimitPerIndex": 1}))["backoffLimit"], i32::MAX);
    }

    #[test]
    fn pods_link_services_unless_told_not_to_and_templates_say_nothing() {
        let pods = crate::registry::by_plural("", "v1", "pods").unwrap();
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "x:1"}]}});
        apply(pods, &mut pod);
        assert_eq!(pod["spec"]["enableServiceLinks"], true);
        let mut off = json!({"spec": {"enableServiceLinks": false, "containers": [{"name": "c", "image": "x:1"}]}});
        apply(pods, &mut off);
        assert_eq!(off["spec"]["enableServiceLinks"], false);
        let d = defaulted("apps", "deployments", json!({"spec": {"template": {"spec": {"containers": []}}}}));
        assert!(d["spec"]["template"]["spec"].get("enableServiceLinks").is_none(), "{d}");
    }

    #[test]
    fn defaulting_adds_no_nulls_for_absent_lists() {
        let pods = crate::registry::by_plural("", "v1", "pods").unwrap();
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}});
        apply(pods, &mut pod);
        assert!(pod["spec"].get("initContainers").is_none(), "{pod}");
        assert!(pod["spec"]["containers"][0].get("ports").is_none(), "{pod}");
    }
}
