//! A new Job's selector and its pods' labels, made by the API server from the Job's uid.
//!
//! Mirrors `generateSelector` in `pkg/registry/batch/job/strategy.go` (its `PrepareForCreate`)
//! and `validateGeneratedSelector` in `pkg/apis/batch/validation/validation.go`. Users rarely
//! write a Job's selector: unless the Job says `manualSelector: true`, its pod template gets
//! four labels naming the Job — `batch.kubernetes.io/controller-uid` and
//! `batch.kubernetes.io/job-name`, and the older unprefixed `controller-uid` and `job-name` —
//! and its selector matches the uid, which no other Job can share, so two Jobs never fight over
//! pods. What the user wrote in the template's labels stays, beside them.
//!
//! A Job without labels of its own gets the template's (upstream's `SetDefaults_Job`, which
//! runs again on every read from etcd and so sees the generated ones too): `kubectl get jobs
//! -l job-name=hello` finds it.

use serde_json::{json, Map, Value};

use crate::validation::field::FieldError;

/// The label a generated selector matches.
pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// The same two without the prefix, still written for older clients.
pub const LEGACY_CONTROLLER_UID: &str = "controller-uid";
pub const LEGACY_JOB_NAME: &str = "job-name";

fn manual(job: &Value) -> bool {
    job["spec"]["manualSelector"].as_bool() == Some(true)
}

/// Adds the generated labels and selector to a new Job (its `metadata.uid` already set).
pub fn generate(job: &mut Value) {
    if manual(job) || !job["spec"].is_object() {
        return;
    }
    let uid = job["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let name = job["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let template = &mut job["spec"]["template"];
    if !template.is_object() {
        *template = json!({});
    }
    if !template["metadata"].is_object() {
        template["metadata"] = json!({});
    }
    let labels = &mut template["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    let labels = labels.as_object_mut().expect("made an object above");
    // A label the user already gave is left for validation to judge (upstream does the same).
    for (key, value) in
        [(CONTROLLER_UID, &uid), (JOB_NAME, &name), (LEGACY_CONTROLLER_UID, &uid), (LEGACY_JOB_NAME, &name)]
    {
        labels.entry(key).or_insert_with(|| json!(value));
    }
    let template_labels = Value::Object(labels.clone());
    if job["spec"]["selector"].is_null() {
        job["spec"]["selector"] = json!({"matchLabels": {CONTROLLER_UID: uid}});
    }
    let own = &mut job["metadata"]["labels"];
    if own.as_object().is_none_or(Map::is_empty) {
        *own = template_labels;
    }
}

/// What upstream checks of a Job whose selector the API server made: the generated labels hold
/// the Job's uid and name, and the selector is the generated one.
pub fn validate(job: &Value) -> Vec<FieldError> {
    if manual(job) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let uid = job["metadata"]["uid"].as_str().unwrap_or_default();
    let name = job["metadata"]["name"].as_str().unwrap_or_default();
    let labels = &job["spec"]["template"]["metadata"]["labels"];
    if !labels.is_object() {
        errors.push(FieldError::required("spec.template.metadata.labels", ""));
    }
    for (key, want) in [(CONTROLLER_UID, uid), (JOB_NAME, name), (LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name)]
    {
        let path = format!("spec.template.metadata.labels[{key}]");
        match labels.get(key).and_then(Value::as_str) {
            None => errors.push(FieldError::required(path, "")),
            Some(given) if given != want => errors.push(FieldError::invalid(path, given, format!("must be '{want}'"))),
            Some(_) => {}
        }
    }
    let selector = &job["spec"]["selector"];
    if selector.is_null() {
        errors.push(FieldError::required("spec.selector", ""));
    } else if selector["matchLabels"].get(CONTROLLER_UID).and_then(Value::as_str) != Some(uid) {
        let shown = crate::validation::label_selector::go_syntax(selector);
        errors.push(FieldError::invalid_go("spec.selector", shown, "`selector` not auto-generated"));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(spec: Value) -> Value {
        json!({"metadata": {"name": "hello", "uid": "u-1"}, "spec": spec})
    }

    #[test]
    fn a_new_job_gets_its_selector_and_labels() {
        let mut j = job(json!({"template": {"spec": {"restartPolicy": "Never"}}}));
        generate(&mut j);
        let labels = json!({
            "batch.kubernetes.io/controller-uid": "u-1",
            "batch.kubernetes.io/job-name": "hello",
            "controller-uid": "u-1",
            "job-name": "hello",
        });
        assert_eq!(j["spec"]["template"]["metadata"]["labels"], labels);
        assert_eq!(j["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}));
        assert_eq!(j["metadata"]["labels"], labels, "a Job without labels takes its template's");
        assert!(validate(&j).is_empty(), "{:?}", validate(&j));
    }

    #[test]
    fn what_the_user_wrote_stays() {
        let mut j = job(json!({"template": {"metadata": {"labels": {"app": "batch"}}}}));
        j["metadata"]["labels"] = json!({"team": "a"});
        generate(&mut j);
        assert_eq!(j["spec"]["template"]["metadata"]["labels"]["app"], "batch");
        assert_eq!(j["spec"]["template"]["metadata"]["labels"]["job-name"], "hello");
        assert_eq!(j["metadata"]["labels"], json!({"team": "a"}), "the Job's own labels are kept");
    }

    #[test]
    fn a_manual_selector_is_left_alone() {
        let spec = json!({"manualSelector": true, "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}}});
        let mut j = job(spec.clone());
        generate(&mut j);
        assert_eq!(j["spec"], spec);
        assert!(validate(&j).is_empty());
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                "a selector of the user's own without manualSelector",
                json!({"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}}}),
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, \
                 MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated",
            ),
            (
                "a generated label the user set otherwise",
                json!({"template": {"metadata": {"labels": {"job-name": "other"}}}}),
                "spec.template.metadata.labels[job-name]: Invalid value: \"other\": must be 'hello'",
            ),
        ];
        for (case, spec, want) in cases {
            let mut j = job(spec);
            generate(&mut j);
            let errors: Vec<String> = validate(&j).iter().map(|e| e.to_string()).collect();
            assert!(errors.iter().any(|e| e == want), "{case}: {errors:?}");
        }
    }
}
