use serde_json::json;

use crate::status::Status;
use crate::validation::field::{BadValue, ErrorType, FieldError, Path};

#[test]
fn errors_print_their_bad_values_as_go_prints_them() {
    let cases = [
        (
            FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0"),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        ),
        (FieldError::invalid("metadata.name", "Web", "bad"), "metadata.name: Invalid value: \"Web\": bad"),
        (FieldError::invalid("spec.paused", true, "x"), "spec.paused: Invalid value: true: x"),
        (FieldError::invalid("spec.x", json!(null), "x"), "spec.x: Invalid value: null: x"),
        (
            FieldError::invalid("spec.template.metadata.labels", json!({"tier": "b", "app": "a"}), "x"),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"a\", \"tier\":\"b\"}: x",
        ),
        (
            FieldError::invalid("spec.clusterIPs[0]", json!(["10.96.0.5"]), "may not change once set"),
            "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.5\"}: may not change once set",
        ),
        (
            FieldError::invalid_go("spec.selector", "v1.LabelSelector{}", "field is immutable"),
            "spec.selector: Invalid value: v1.LabelSelector{}: field is immutable",
        ),
        (FieldError::required("spec.containers", ""), "spec.containers: Required value"),
        (FieldError::required("spec.x", "must be set"), "spec.x: Required value: must be set"),
        (
            FieldError::forbidden("spec", "pod updates may not change fields"),
            "spec: Forbidden: pod updates may not change fields",
        ),
        (FieldError::duplicate("spec.ports[1].name", "http"), "spec.ports[1].name: Duplicate value: \"http\""),
        (FieldError::duplicate("spec.ports[1].nodePort", 30080), "spec.ports[1].nodePort: Duplicate value: 30080"),
        (
            FieldError::not_found("spec.containers[0].volumeMounts[0].name", "data"),
            "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
        ),
        (
            FieldError::too_long("metadata.annotations", 262144),
            "metadata.annotations: Too long: must have at most 262144 bytes",
        ),
        (FieldError::too_many("spec.rules", 21, 20), "spec.rules: Too many: 21: must have at most 20 items"),
        (
            FieldError::not_supported("spec.type", "Balanced", &["ClusterIP", "NodePort"]),
            "spec.type: Unsupported value: \"Balanced\": supported values: \"ClusterIP\", \"NodePort\"",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn every_error_type_has_the_cause_reason_kubernetes_sends() {
    let cases = [
        (ErrorType::Required, "FieldValueRequired"),
        (ErrorType::Invalid(BadValue::from("x")), "FieldValueInvalid"),
        (ErrorType::Forbidden, "FieldValueForbidden"),
        (ErrorType::Duplicate(BadValue::from("x")), "FieldValueDuplicate"),
        (ErrorType::NotSupported { value: BadValue::from("x"), supported: vec![] }, "FieldValueNotSupported"),
        (ErrorType::NotFound(BadValue::from("x")), "FieldValueNotFound"),
        (ErrorType::TooLong, "FieldValueTooLong"),
        (ErrorType::TooMany(3), "FieldValueTooMany"),
    ];
    for (kind, reason) in cases {
        assert_eq!(FieldError { field: "f".into(), kind, detail: String::new() }.reason(), reason);
    }
}

#[test]
fn paths_print_as_kubernetes_field_paths() {
    let path = Path::new("spec").child("template").child("spec").child("containers").index(0).child("ports").index(1);
    assert_eq!(path.to_string(), "spec.template.spec.containers[0].ports[1]");
    assert_eq!(Path::new("data").key("my key").to_string(), "data[my key]", "keys are not quoted");
    assert_eq!(Path::new("").child("data").to_string(), "data");
}

#[test]
fn the_invalid_status_lists_errors_like_kubernetes_aggregates_them() {
    let deployments = super::resource("deployments");
    let errors = vec![
        FieldError::required("spec.template.spec.containers[0].name", ""),
        FieldError::invalid_go(
            "spec.template.metadata.labels",
            "map[string]string{\"app\":\"nginx\"}",
            "`selector` does not match template `labels`",
        ),
        // The same message twice is listed once, as Kubernetes' ToAggregate does.
        FieldError::required("spec.template.spec.containers[0].name", ""),
    ];
    let status = Status::invalid(deployments, "web", &errors);
    assert_eq!(
        status.message,
        "Deployment.apps \"web\" is invalid: [spec.template.spec.containers[0].name: Required value, spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"nginx\"}: `selector` does not match template `labels`]"
    );
    let body = status.to_json();
    assert_eq!(body["details"]["causes"].as_array().map(Vec::len), Some(3), "every cause is kept");
    assert_eq!(
        body["details"]["causes"][1],
        json!({
            "reason": "FieldValueInvalid",
            "message": "Invalid value: map[string]string{\"app\":\"nginx\"}: `selector` does not match template `labels`",
            "field": "spec.template.metadata.labels"
        })
    );
    let pods = super::resource("pods");
    let one = Status::invalid(
        pods,
        "web",
        &[FieldError::forbidden("spec", "pod updates may not change fields other than …")],
    );
    assert_eq!(one.message, "Pod \"web\" is invalid: spec: Forbidden: pod updates may not change fields other than …");
    assert_eq!(Status::invalid(pods, "web", &[]).message, "Pod \"web\" is invalid", "no colon without errors");
    let configmaps = super::resource("configmaps");
    let big = Status::invalid(configmaps, "big", &[FieldError::too_long("[]", 1048576)]);
    assert_eq!(big.message, "ConfigMap \"big\" is invalid: []: Too long: must have at most 1048576 bytes");
}
