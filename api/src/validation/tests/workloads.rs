use serde_json::{json, Value};

use super::{check_create, check_update, create, deployment, job, update, with, workload};

const MISMATCH: &str = "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`";

fn replica_set() -> Value {
    workload("ReplicaSet")
}

fn daemon_set() -> Value {
    workload("DaemonSet")
}

fn stateful_set() -> Value {
    with(workload("StatefulSet"), |o| o["spec"]["serviceName"] = json!("web"))
}

#[test]
fn a_deployment_whose_selector_misses_the_template_labels_is_invalid() {
    check_create(
        "deployments",
        deployment,
        cases![
            ("a selector for other labels", |o| o["spec"]["selector"]["matchLabels"] = json!({"app": "nginx"}), [MISMATCH]),
            ("no selector at all", |o| o["spec"].as_object_mut().unwrap().remove("selector"), ["spec.selector: Required value", MISMATCH]),
            ("an empty selector", |o| o["spec"]["selector"] = json!({}), ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]),
            ("a template without labels", |o| o["spec"]["template"]["metadata"] = json!({}), ["spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`"]),
            ("a matching set-based selector", |o| o["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}), []),
            ("an In expression without values", |o| o["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In"}]}), [
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"In\", Values:[]string(nil)}}}: invalid label selector",
            ]),
        ],
    );
}

#[test]
fn a_deployment_scales_and_rolls_out_within_kubernetes_limits() {
    check_create(
        "deployments",
        deployment,
        cases![
            ("negative replicas", |o| o["spec"]["replicas"] = json!(-1), ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
            ("zero replicas", |o| o["spec"]["replicas"] = json!(0), []),
            ("no surge and no unavailability", |o| o["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}), ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]),
            ("0% and 0%", |o| o["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}), ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"]),
            ("more than all unavailable", |o| o["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 1, "maxUnavailable": "120%"}), ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"120%\": must not be greater than 100%"]),
            ("a surge that is not a percentage", |o| o["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": "25 percent", "maxUnavailable": 1}), ["spec.strategy.rollingUpdate.maxSurge: Invalid value: \"25 percent\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]),
            ("a rolling update for Recreate", |o| o["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}), ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
            ("an unknown strategy", |o| o["spec"]["strategy"] = json!({"type": "BlueGreen"}), ["spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\""]),
            ("a deadline within minReadySeconds", |o| { o["spec"]["minReadySeconds"] = json!(30); o["spec"]["progressDeadlineSeconds"] = json!(30); }, ["spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds"]),
            ("a negative history", |o| o["spec"]["revisionHistoryLimit"] = json!(-1), ["spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"]),
            ("pods that do not restart", |o| o["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure"), ["spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""]),
            ("pods with a deadline", |o| o["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(60), ["spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"]),
            ("a template container without a name", |o| o["spec"]["template"]["spec"]["containers"][0]["name"] = json!(""), ["spec.template.spec.containers[0].name: Required value"]),
        ],
    );
}

#[test]
fn a_deployment_may_change_its_template_and_scale_but_not_its_selector() {
    check_update(
        "deployments",
        deployment,
        cases![
            ("a new image and size", |o| { o["spec"]["replicas"] = json!(5); o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28"); }, []),
            ("a new selector", |o| { o["spec"]["selector"]["matchLabels"]["tier"] = json!("front"); o["spec"]["template"]["metadata"]["labels"]["tier"] = json!("front"); }, ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"front\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]),
        ],
    );
}

#[test]
fn replica_sets_and_daemon_sets_select_their_template_too() {
    check_create(
        "replicasets",
        replica_set,
        cases![
            ("negative replicas", |o| o["spec"]["replicas"] = json!(-2), ["spec.replicas: Invalid value: -2: must be greater than or equal to 0"]),
            ("an empty selector, called a deployment's as in Kubernetes", |o| o["spec"]["selector"] = json!({"matchLabels": {}}), ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]),
        ],
    );
    check_create(
        "daemonsets",
        daemon_set,
        cases![
            ("no selector: no Required, only the mismatch", |o| o["spec"].as_object_mut().unwrap().remove("selector"), [MISMATCH]),
            ("a surge and unavailability at once", |o| o["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}), ["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"]),
            ("neither a surge nor unavailability", |o| o["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}), ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]),
            ("a surge instead of unavailability", |o| o["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}}), []),
            ("on delete", |o| o["spec"]["updateStrategy"] = json!({"type": "OnDelete"}), []),
            ("an unknown strategy", |o| o["spec"]["updateStrategy"] = json!({"type": "Canary"}), ["spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Canary\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\""]),
        ],
    );
    let moved = with(daemon_set(), |o| {
        o["spec"]["selector"]["matchLabels"]["app"] = json!("agent");
        o["spec"]["template"]["metadata"]["labels"]["app"] = json!("agent");
    });
    assert_eq!(
        update("daemonsets", moved, daemon_set()),
        vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"agent\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
    );
}

#[test]
fn a_stateful_set_checks_its_policies_but_leaves_its_pod_spec_to_the_pods() {
    check_create(
        "statefulsets",
        stateful_set,
        cases![
            ("an unknown pod management policy", |o| o["spec"]["podManagementPolicy"] = json!("AllAtOnce"), ["spec.podManagementPolicy: Invalid value: \"AllAtOnce\": must be 'OrderedReady' or 'Parallel'"]),
            ("a negative partition", |o| o["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = json!(-1), ["spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"]),
            ("a rolling update for OnDelete", |o| o["spec"]["updateStrategy"] = json!({"type": "OnDelete", "rollingUpdate": {"partition": 1}}), ["spec.updateStrategy.rollingUpdate: Invalid value: {\"partition\":1}: only allowed for updateStrategy 'RollingUpdate'"]),
            ("an unknown strategy", |o| o["spec"]["updateStrategy"] = json!({"type": "Blue"}), ["spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Blue\", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or 'OnDelete'"]),
            ("zero unavailable", |o| o["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = json!(0), ["spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"]),
            ("an unknown retention policy", |o| o["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] = json!("Keep"), ["spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\""]),
            ("no selector", |o| o["spec"].as_object_mut().unwrap().remove("selector"), ["spec.selector: Required value", MISMATCH]),
            ("an empty selector", |o| o["spec"]["selector"] = json!({}), ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset"]),
            ("a container without an image is left to the pods", |o| o["spec"]["template"]["spec"]["containers"][0]["image"] = json!(""), []),
            ("pods that never restart", |o| o["spec"]["template"]["spec"]["restartPolicy"] = json!("Never"), ["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""]),
            ("a service name with a dot", |o| o["spec"]["serviceName"] = json!("web.svc"), [format!("spec.serviceName: Invalid value: \"web.svc\": {}", super::LABEL)]),
        ],
    );
}

#[test]
fn a_stateful_set_may_change_only_what_its_controller_rolls_out() {
    let forbidden = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    check_update(
        "statefulsets",
        stateful_set,
        cases![
            (
                "more replicas and a new image",
                |o| {
                    o["spec"]["replicas"] = json!(5);
                    o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
                },
                []
            ),
            ("a partitioned rollout", |o| o["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = json!(2), []),
            (
                "a bigger claim template",
                |o| o["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}]),
                [forbidden]
            ),
            ("another service", |o| o["spec"]["serviceName"] = json!("web-headless"), [forbidden]),
            ("parallel pods", |o| o["spec"]["podManagementPolicy"] = json!("Parallel"), [forbidden]),
        ],
    );
}

#[test]
fn a_job_runs_pods_that_do_not_restart_forever() {
    check_create(
        "jobs",
        job,
        cases![
            ("restart Always", |o| o["spec"]["template"]["spec"]["restartPolicy"] = json!("Always"), ["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]),
            ("no restart policy: the PodSpec's Always, refused", |o| o["spec"]["template"]["spec"].as_object_mut().unwrap().remove("restartPolicy"), ["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]),
            ("restart on failure", |o| o["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure"), []),
            ("negative parallelism", |o| o["spec"]["parallelism"] = json!(-1), ["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]),
            ("a negative backoff limit", |o| o["spec"]["backoffLimit"] = json!(-1), ["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]),
            ("an unknown completion mode", |o| o["spec"]["completionMode"] = json!("Ordered"), ["spec.completionMode: Unsupported value: \"Ordered\": supported values: \"NonIndexed\", \"Indexed\""]),
            ("a per-index backoff without indexes", |o| o["spec"]["backoffLimitPerIndex"] = json!(1), ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"]),
            ("a manual selector that misses the template", |o| { o["spec"]["manualSelector"] = json!(true); o["spec"]["selector"] = json!({"matchLabels": {"job": "pi"}}); }, ["spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`"]),
        ],
    );
}

#[test]
fn a_job_may_not_change_its_template_or_completions() {
    check_update(
        "jobs",
        job,
        cases![
            ("a new deadline", |o| o["spec"]["activeDeadlineSeconds"] = json!(100), []),
            (
                "more completions",
                |o| o["spec"]["completions"] = json!(3),
                ["spec.completions: Invalid value: 3: field is immutable"]
            ),
        ],
    );
    let changed = with(job(), |o| o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5.36"));
    let errors = update("jobs", changed, job());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("spec.template: Invalid value: {") && errors[0].ends_with("}: field is immutable"),
        "{errors:?}"
    );
}

#[test]
fn a_controller_revision_keeps_its_data() {
    let revision =
        json!({"metadata": {"name": "web-7d4b9", "namespace": "default"}, "data": {"spec": {}}, "revision": 1});
    assert!(create("controllerrevisions", revision.clone()).is_empty());
    let without = with(revision.clone(), |o| o.as_object_mut().unwrap().remove("data").map(|_| ()).unwrap());
    assert_eq!(create("controllerrevisions", without), vec!["data: Required value: data is mandatory"]);
    let negative = with(revision.clone(), |o| o["revision"] = json!(-1));
    assert_eq!(
        create("controllerrevisions", negative),
        vec!["revision: Invalid value: -1: must be greater than or equal to 0"]
    );
    let rewritten = with(revision.clone(), |o| o["data"] = json!({"spec": {"replicas": 2}}));
    assert_eq!(
        update("controllerrevisions", rewritten, revision),
        vec!["data: Invalid value: {\"spec\":{\"replicas\":2}}: field is immutable"]
    );
}
