//! The pod every workload writes: a realistic one, about 1.3 KiB of JSON as sent.
//!
//! One container with an image, a command, environment, a named port, requests and limits, a
//! readiness probe and a volume mount; four labels of a Deployment's pod (`pod-template-hash`
//! included) and two annotations; a node selector and a toleration. What a small web service's
//! pod looks like once a Deployment has made it, before the API server adds its defaults and
//! `managedFields` (which roughly double it: the sizes stored and returned are printed on every
//! run).
//!
//! Bodies are made from text templates cut around the name (and for updates the
//! resourceVersion), not by serializing JSON for every request: the client shares the cores
//! with the server under test (see `http.rs`).

use serde::Deserialize;
use serde_json::json;

/// Stand in for the name, the resourceVersion and the revision annotation in the templates.
const NAME: &str = "@NAME@";
const VERSION: &str = "@VERSION@";
const REVISION: &str = "@REVISION@";

/// The pod's JSON, as text with blanks to fill.
pub struct Pod {
    /// A create's body: blank 0 is the name.
    create: Template,
    /// An update's (PUT) body, which carries the resourceVersion it replaces: blanks 0, 1, 2
    /// are the name, the resourceVersion and the revision annotation.
    update: Template,
}

impl Pod {
    pub fn new() -> Pod {
        Pod {
            create: Template::new(&template(None).to_string(), &[NAME]),
            update: Template::new(&template(Some((VERSION, REVISION))).to_string(), &[NAME, VERSION, REVISION]),
        }
    }

    /// A new pod named `name`.
    pub fn create(&self, name: &str) -> Vec<u8> {
        self.create.fill(&[name])
    }

    /// The pod `name` as its owner would PUT it: what it was, at `resource_version`, with the
    /// `bench.skiff.dev/revision` annotation set to `revision` (so every update changes it).
    pub fn update(&self, name: &str, resource_version: &str, revision: u64) -> Vec<u8> {
        self.update.fill(&[name, resource_version, &revision.to_string()])
    }

    /// How big a create's body is.
    pub fn create_bytes(&self) -> usize {
        self.create("").len()
    }
}

impl Default for Pod {
    fn default() -> Pod {
        Pod::new()
    }
}

/// Text cut at its markers: `pieces[0]`, the value of `blanks[0]`, `pieces[1]`, … `pieces[n]`.
/// JSON keys come out sorted, so the markers' order in the text is not the order they were
/// put in: each blank remembers which marker it was.
struct Template {
    pieces: Vec<String>,
    /// For each blank, the index of its marker (and so of its value in `fill`).
    blanks: Vec<usize>,
}

impl Template {
    /// Panics if a marker is missing: the templates are fixed, so that is a bug here.
    fn new(text: &str, markers: &[&str]) -> Template {
        let mut found: Vec<(usize, usize)> = markers
            .iter()
            .enumerate()
            .map(|(i, marker)| (text.find(marker).unwrap_or_else(|| panic!("{marker} is in the template")), i))
            .collect();
        found.sort_unstable();
        let (mut pieces, mut blanks, mut from) = (Vec::new(), Vec::new(), 0);
        for (at, marker) in found {
            pieces.push(text[from..at].to_string());
            blanks.push(marker);
            from = at + markers[marker].len();
        }
        pieces.push(text[from..].to_string());
        Template { pieces, blanks }
    }

    fn fill(&self, values: &[&str]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pieces.iter().map(String::len).sum::<usize>() + 64);
        for (piece, blank) in self.pieces.iter().zip(&self.blanks) {
            out.extend_from_slice(piece.as_bytes());
            out.extend_from_slice(values[*blank].as_bytes());
        }
        out.extend_from_slice(self.pieces.last().expect("a template has a last piece").as_bytes());
        out
    }
}

/// The pod; with `(resourceVersion, revision)` for an update.
fn template(update: Option<(&str, &str)>) -> serde_json::Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": NAME,
            "labels": {
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/part-of": "shop",
                "tier": "frontend",
                "pod-template-hash": "5d8f7c9b64",
            },
            "annotations": {
                "bench.skiff.dev/revision": "0",
                "prometheus.io/scrape": "true",
            },
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.local/skiff/demo-web:v1",
                "imagePullPolicy": "IfNotPresent",
                "command": ["/demo-web"],
                "args": ["--listen=:8080", "--log-format=json"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "SHOP_BACKEND", "value": "http://backend.shop.svc:9090"},
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                },
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http"},
                    "periodSeconds": 5,
                    "failureThreshold": 3,
                },
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": true}],
            }],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }],
        },
    });
    if let Some((version, revision)) = update {
        pod["metadata"]["resourceVersion"] = json!(version);
        pod["metadata"]["annotations"]["bench.skiff.dev/revision"] = json!(revision);
        // What admission gave the pod on create (its service account, the second default
        // toleration) is part of what it was: a PUT without them changes the spec, which a
        // pod update may not (422, on Kubernetes as here).
        pod["spec"]["serviceAccountName"] = json!("default");
        pod["spec"]["serviceAccount"] = json!("default");
        pod["spec"]["tolerations"].as_array_mut().expect("the template has tolerations").push(json!({
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        }));
    }
    pod
}

/// The `metadata.resourceVersion` of an object's JSON, read without building the object: serde
/// skips every other field as it goes, storing nothing.
pub fn resource_version(json: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Object {
        metadata: Metadata,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Metadata {
        resource_version: String,
    }
    serde_json::from_slice::<Object>(json).ok().map(|o| o.metadata.resource_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_template_with_the_blanks_filled() {
        let pod = Pod::new();
        let created: serde_json::Value = serde_json::from_slice(&pod.create("web-1")).unwrap();
        assert_eq!(created, {
            let mut want = template(None);
            want["metadata"]["name"] = json!("web-1");
            want
        });
        let updated: serde_json::Value = serde_json::from_slice(&pod.update("web-1", "42", 7)).unwrap();
        assert_eq!(updated["metadata"]["resourceVersion"], "42");
        assert_eq!(updated["metadata"]["annotations"]["bench.skiff.dev/revision"], "7");
    }

    #[test]
    fn the_update_is_one_the_api_server_takes() {
        // The stored pod: the create's body, defaulted and admitted as the API server does.
        let pods = skiff_api::registry::by_plural("", "v1", "pods").unwrap();
        let pod = Pod::new();
        let mut stored: serde_json::Value = serde_json::from_slice(&pod.create("web-1")).unwrap();
        skiff_api::defaults::apply(pods, &mut stored);
        skiff_api::admission::pod(&mut stored);
        let mut updated: serde_json::Value = serde_json::from_slice(&pod.update("web-1", "42", 7)).unwrap();
        skiff_api::defaults::apply(pods, &mut updated);
        assert_eq!(updated["spec"], stored["spec"], "an update changes the annotation only");
        // (The namespace comes from the URL.)
        stored["metadata"]["namespace"] = json!("bench-update");
        updated["metadata"]["namespace"] = json!("bench-update");
        let errors = skiff_api::validation::validate_update(pods, &updated, &stored);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn the_body_is_a_realistic_size() {
        let bytes = Pod::new().create_bytes();
        assert!((1024..=2048).contains(&bytes), "{bytes} bytes");
    }

    #[test]
    fn the_resource_version_is_the_metadata_one() {
        let cases: [(&str, &str, Option<&str>); 3] = [
            (
                "among other fields, after managedFields",
                r#"{"kind":"Pod","metadata":{"managedFields":[{"manager":"x"}],"name":"a","resourceVersion":"17"},"spec":{}}"#,
                Some("17"),
            ),
            ("a status has none", r#"{"kind":"Status","metadata":{},"code":409}"#, None),
            ("not JSON", "oops", None),
        ];
        for (name, json, want) in cases {
            assert_eq!(resource_version(json.as_bytes()).as_deref(), want, "{name}");
        }
    }
}
