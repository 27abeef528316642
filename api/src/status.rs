//! `Status`: the body of every API error, with the reasons, codes and messages Kubernetes uses.
//!
//! Mirrors apimachinery's `pkg/api/errors/errors.go` (`NewNotFound`, `NewAlreadyExists`,
//! `NewConflict`, `NewInvalid`, …). kubectl prints `Error from server (<reason>): <message>`,
//! and clients branch on `reason` and `code`, so both are part of the interface
//! (`../shared/kubectl-compat.md` section 1).

use serde_json::{json, Value};

use crate::registry::Resource;
use crate::validation::{ErrorType, FieldError};

/// An API error, ready to be sent as a `Status` body with its HTTP code.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details`: name, group, kind (the plural, except for `Invalid`) and causes.
    pub details: Option<Value>,
}

fn details(resource: &Resource, name: &str, kind: &str) -> Value {
    json!({"name": name, "group": resource.group, "kind": kind})
}

impl Status {
    /// 404: `pods "web" not found`.
    pub fn not_found(resource: &Resource, name: &str) -> Status {
        Status {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", resource.qualified_plural()),
            details: Some(details(resource, name, resource.plural)),
        }
    }

    /// 409: `deployments.apps "web" already exists`.
    pub fn already_exists(resource: &Resource, name: &str) -> Status {
        Status {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", resource.qualified_plural()),
            details: Some(details(resource, name, resource.plural)),
        }
    }

    /// 409: an update carried a stale `resourceVersion`.
    pub fn conflict(resource: &Resource, name: &str) -> Status {
        Status {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                resource.qualified_plural()
            ),
            details: Some(details(resource, name, resource.plural)),
        }
    }

    /// 403: `namespaces "default" is forbidden: this namespace may not be deleted` (a name may
    /// be empty: `pods is forbidden: …`).
    pub fn forbidden(resource: &Resource, name: &str, why: &str) -> Status {
        let subject = match name {
            "" => resource.qualified_plural(),
            name => format!("{} \"{name}\"", resource.qualified_plural()),
        };
        Status {
            code: 403,
            reason: "Forbidden",
            message: format!("{subject} is forbidden: {why}"),
            details: Some(details(resource, name, resource.plural)),
        }
    }

    /// 409 from a server-side apply: `Apply failed with 1 conflict: conflict with "kubectl" using
    /// apps/v1: .spec.replicas`, with one `FieldManagerConflict` cause per field, as
    /// `(message, field)`. Unlike the other errors it names no object in `details`: upstream's
    /// `NewApplyConflict` leaves that out too.
    pub fn apply_conflict(message: impl Into<String>, causes: &[(String, String)]) -> Status {
        let causes: Vec<Value> = causes
            .iter()
            .map(|(message, field)| json!({"reason": "FieldManagerConflict", "message": message, "field": field}))
            .collect();
        Status { code: 409, reason: "Conflict", message: message.into(), details: Some(json!({"causes": causes})) }
    }

    /// 422: `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: …`, with one
    /// cause per field error.
    pub fn invalid(resource: &Resource, name: &str, errors: &[FieldError]) -> Status {
        let qualified_kind = if resource.group.is_empty() {
            resource.kind.to_string()
        } else {
            format!("{}.{}", resource.kind, resource.group)
        };
        // The message lists each distinct error once (Kubernetes' `ToAggregate`); the causes
        // keep them all.
        let mut listed: Vec<String> = Vec::new();
        for error in errors.iter().map(FieldError::to_string) {
            if !listed.contains(&error) {
                listed.push(error);
            }
        }
        let summary = match listed.as_slice() {
            [] => String::new(),
            [one] => format!(": {one}"),
            many => format!(": [{}]", many.join(", ")),
        };
        // A cause's message is the error without its field, which travels apart.
        let causes: Vec<Value> =
            errors.iter().map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.field})).collect();
        let mut details = details(resource, name, resource.kind);
        details["causes"] = Value::Array(causes);
        Status {
            code: 422,
            reason: "Invalid",
            message: format!("{qualified_kind} \"{name}\" is invalid{summary}"),
            details: Some(details),
        }
    }

    /// 410: a watch or list asked for history that is gone.
    pub fn expired(requested: i64, oldest: i64) -> Status {
        Status {
            code: 410,
            reason: "Expired",
            message: format!("too old resource version: {requested} ({oldest})"),
            details: None,
        }
    }

    /// 400, with the caller's explanation.
    pub fn bad_request(message: impl Into<String>) -> Status {
        Status { code: 400, reason: "BadRequest", message: message.into(), details: None }
    }

    /// 500: something failed inside the server (the store is unreachable, …).
    pub fn internal(message: impl Into<String>) -> Status {
        Status { code: 500, reason: "InternalError", message: message.into(), details: None }
    }

    /// 405.
    pub fn method_not_allowed() -> Status {
        Status {
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".into(),
            details: None,
        }
    }

    /// 415: a body in a format the endpoint does not take.
    pub fn unsupported_media_type(accepted: &[&str]) -> Status {
        Status {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
            details: None,
        }
    }

    /// 400: `fieldValidation=Strict` and the body of a create or update has unknown or
    /// duplicate fields (`crate::schema::strict_errors`). Kubernetes words it as its decoder
    /// fails: `Deployment in version "v1" cannot be handled as a Deployment: strict decoding
    /// error: unknown field "spec.replicass", unknown field "…"`.
    pub fn strict_decoding(resource: &Resource, errors: &[String]) -> Status {
        Status::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            errors.join(", "),
            kind = resource.kind,
            version = resource.version,
        ))
    }

    /// 400: the body of a create or update holds a value its field's type cannot hold
    /// (`crate::schema::types`): `Deployment in version "v1" cannot be handled as a Deployment:
    /// json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type
    /// int32`.
    pub fn cannot_decode(resource: &Resource, error: &str) -> Status {
        Status::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {error}",
            kind = resource.kind,
            version = resource.version,
        ))
    }

    /// 422: the same for a patch's result, an invalid `patch` field as for the strict errors
    /// below, with the decoder's error alone.
    pub fn cannot_decode_patch(patched: &str, error: &str) -> Status {
        let cause = format!("Invalid value: {patched:?}: {error}");
        Status {
            code: 422,
            reason: "Invalid",
            message: format!(" \"\" is invalid: patch: {cause}"),
            details: Some(json!({"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]})),
        }
    }

    /// 422: the same for a patch, which Kubernetes reports as an invalid `patch` field with no
    /// kind and no name: ` "" is invalid: patch: Invalid value: "<value>": strict decoding
    /// error: …` (kubectl prints `The request is invalid: patch: …`). Upstream's value is the
    /// patched object's JSON for JSON and merge patches, and the patch itself, in Go's map
    /// notation, for strategic merge patches; pass the patched object's JSON for all three.
    pub fn strict_decoding_patch(patched: &str, errors: &[String]) -> Status {
        Status::cannot_decode_patch(patched, &format!("strict decoding error: {}", errors.join(", ")))
    }

    /// 422: a `fieldValidation` other than `Ignore`, `Warn` or `Strict`, reported against the
    /// request's options (`CreateOptions`, `UpdateOptions`, `PatchOptions`).
    pub fn unsupported_field_validation(options: &str, value: &str) -> Status {
        let cause = format!("Unsupported value: {value:?}: supported values: \"Ignore\", \"Strict\", \"Warn\"");
        Status {
            code: 422,
            reason: "Invalid",
            message: format!("{options}.meta.k8s.io \"\" is invalid: fieldValidation: {cause}"),
            details: Some(json!({"group": "meta.k8s.io", "kind": options,
                                 "causes": [{"reason": "FieldValueNotSupported", "message": cause, "field": "fieldValidation"}]})),
        }
    }

    /// 413: a request body over the server's limit (Kubernetes' 3 MiB).
    pub fn too_large(limit: usize) -> Status {
        Status {
            code: 413,
            reason: "RequestEntityTooLarge",
            message: format!("Request entity too large: limit is {limit}"),
            details: None,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            body["details"] = details.clone();
        }
        body
    }
}

/// A `Required` field error, the most common one, at `field`.
pub fn required(field: &str) -> FieldError {
    FieldError { field: field.to_string(), kind: ErrorType::Required, detail: String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_plural;

    #[test]
    fn not_found_reads_as_kubectl_expects() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let body = Status::not_found(deployments, "web").to_json();
        assert_eq!(
            body,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"deployments.apps \"web\" not found","reason":"NotFound",
                   "details":{"name":"web","group":"apps","kind":"deployments"},"code":404})
        );
        let pods = by_plural("", "v1", "pods").unwrap();
        assert_eq!(Status::not_found(pods, "p").message, "pods \"p\" not found", "no group for core");
    }

    #[test]
    fn conflicts_and_duplicates() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let conflict = Status::conflict(deployments, "web");
        assert_eq!((conflict.code, conflict.reason), (409, "Conflict"));
        assert_eq!(
            conflict.message,
            "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(Status::already_exists(deployments, "web").message, "deployments.apps \"web\" already exists");
    }

    #[test]
    fn invalid_lists_every_field_and_carries_causes() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let errors = vec![
            FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0"),
            required("spec.template.spec.containers[0].name"),
        ];
        let status = Status::invalid(deployments, "web", &errors);
        assert_eq!(status.code, 422);
        assert_eq!(
            status.message,
            "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.spec.containers[0].name: Required value]"
        );
        let body = status.to_json();
        assert_eq!(body["details"]["kind"], "Deployment");
        assert_eq!(
            body["details"]["causes"][1],
            json!({"reason":"FieldValueRequired","message":"Required value","field":"spec.template.spec.containers[0].name"})
        );
        let one = Status::invalid(deployments, "web", &errors[..1]);
        assert!(one
            .message
            .ends_with("is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"));
    }

    #[test]
    fn strict_decoding_errors_read_as_kube_apiserver_writes_them() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let errors = ["unknown field \"spec.replicass\"".to_string(), "unknown field \"spec.x\"".to_string()];
        let create = Status::strict_decoding(deployments, &errors);
        assert_eq!((create.code, create.reason), (400, "BadRequest"));
        assert_eq!(
            create.message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replicass\", unknown field \"spec.x\""
        );
        let patch = Status::strict_decoding_patch(r#"{"spec":{"replicass":1}}"#, &errors[..1]);
        assert_eq!((patch.code, patch.reason), (422, "Invalid"));
        assert_eq!(
            patch.message,
            r#" "" is invalid: patch: Invalid value: "{\"spec\":{\"replicass\":1}}": strict decoding error: unknown field "spec.replicass""#
        );
        assert_eq!(patch.to_json()["details"]["causes"][0]["field"], "patch");
        let option = Status::unsupported_field_validation("CreateOptions", "strict");
        assert_eq!(
            option.message,
            r#"CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "Ignore", "Strict", "Warn""#
        );
    }

    #[test]
    fn the_other_codes() {
        assert_eq!(Status::expired(5, 10).to_json()["message"], "too old resource version: 5 (10)");
        assert_eq!(Status::method_not_allowed().code, 405);
        assert_eq!((Status::internal("x").code, Status::internal("x").reason), (500, "InternalError"));
        let unsupported = Status::unsupported_media_type(&["application/json", "application/yaml"]);
        assert_eq!(unsupported.code, 415);
        assert_eq!(
            unsupported.message,
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
        );
        assert!(Status::bad_request("bad").to_json().get("details").is_none());
    }
}
