//! The pod-template hash: the `pod-template-hash` label and the `-7cd487467c` suffix of a
//! Deployment's ReplicaSet names.
//!
//! Mirrors `ComputeHash` in `pkg/controller/controller_utils.go`: FNV-1a (32 bits) over the pod
//! template, then over `collisionCount` (4 bytes little-endian and 4 zero bytes, as upstream's
//! 8-byte buffer) if the Deployment has one, then the decimal digits of the sum mapped onto
//! Kubernetes' vowel-less alphabet (`rand.SafeEncodeString`), so no word is spelt by chance.
//!
//! **The names differ from a real cluster's.** Kubernetes hashes a Go-specific dump of the
//! template (`hashutil.DeepHashObject`, a go-spew print of the Go struct), which no other
//! program reproduces byte for byte. Skiff hashes its own canonical form instead, which is
//! stable: the same template always gives the same name, on any machine and across restarts.
//! What must not change a hash is taken out first ([`normalize`]):
//!
//! - `null`s (`creationTimestamp: null` in every `kubectl get -o yaml` of a template),
//! - empty objects and lists (`resources: {}`, `args: []`), which mean the same as absent ones,
//!   except the source of a volume (`emptyDir: {}` *is* the volume's type),
//! - the API server's defaults (`restartPolicy: Always`, `imagePullPolicy`, `protocol: TCP`, …):
//!   the template is defaulted once more before hashing (defaulting only fills absent fields),
//!   so a template the API server has defaulted and the same one written by hand hash alike,
//! - key order: objects are written with their keys sorted, whatever the JSON library keeps.
//!
//! A collision (two templates, one hash) is caught at creation as upstream catches it: the name
//! is taken by a ReplicaSet with another template, so the controller bumps `collisionCount`.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// The alphabet of `SafeEncodeString`: digits and consonants that spell no word.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 32 bits: for each byte, xor it in, then multiply by the FNV prime.
struct Fnv32a(u32);

impl Fnv32a {
    const OFFSET_BASIS: u32 = 2_166_136_261;
    const PRIME: u32 = 16_777_619;

    fn new() -> Self {
        Fnv32a(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u32::from(*byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

/// `rand.SafeEncodeString`: each byte to a character of [`ALPHANUMS`].
fn safe_encode_string(s: &str) -> String {
    s.bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// The `pod-template-hash` of `template`, with the Deployment's `collisionCount`.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hasher = Fnv32a::new();
    hasher.write(canonical(&normalize(template)).as_bytes());
    if let Some(count) = collision_count {
        hasher.write(&(count as u32).to_le_bytes());
        hasher.write(&[0; 4]);
    }
    safe_encode_string(&hasher.0.to_string())
}

/// The template as JSON, defaulted, without nulls and empty values (see the module doc). Two
/// templates are semantically equal when their normal forms are equal (`equal_ignore_hash`).
pub fn normalize(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or(Value::Null);
    if value.get("spec").is_some() {
        skiff_api::defaults::pod_spec(&mut value["spec"]);
    }
    prune(&mut value, false);
    value
}

/// Removes nulls, empty objects and empty lists, depth first (so `{"a": {"b": null}}` goes
/// whole). The members of a volume (`spec.volumes[i]`) keep their empty objects.
fn prune(value: &mut Value, keep_empty_members: bool) {
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if key == "volumes" {
                    if let Value::Array(volumes) = member {
                        volumes.iter_mut().for_each(|volume| prune(volume, true));
                        continue;
                    }
                }
                prune(member, false);
            }
            map.retain(|_, member| !is_empty(member) || (keep_empty_members && member.is_object()));
        }
        Value::Array(items) => items.iter_mut().for_each(|item| prune(item, false)),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Compact JSON with object keys sorted, independent of serde_json's map order.
fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(value: Value) -> PodTemplateSpec {
        serde_json::from_value(value).unwrap()
    }

    fn web(image: &str) -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}]}
        })
    }

    #[test]
    fn fnv32a_and_the_safe_alphabet_are_upstreams() {
        // The FNV-1a test vectors, and the digit-to-letter map of SafeEncodeString.
        let sum = |s: &str| {
            let mut h = Fnv32a::new();
            h.write(s.as_bytes());
            h.0
        };
        assert_eq!(sum(""), 0x811c9dc5);
        assert_eq!(sum("a"), 0xe40c292c);
        assert_eq!(sum("foobar"), 0xbf9cf968);
        assert_eq!(safe_encode_string("0123456789"), "456789bcdf");
    }

    #[test]
    fn hashes_are_ten_safe_characters_at_most_and_stable() {
        let hash = compute_hash(&template(web("skiff/demo-web:v1")), None);
        assert!(hash.len() <= 10 && hash.bytes().all(|b| ALPHANUMS.contains(&b)), "{hash}");
        assert_eq!(hash, compute_hash(&template(web("skiff/demo-web:v1")), None));
        assert_ne!(hash, compute_hash(&template(web("skiff/demo-web:v2")), None), "a new image, a new hash");
    }

    #[test]
    fn what_does_not_matter_does_not_change_the_hash() {
        let plain = compute_hash(&template(web("skiff/demo-web:v1")), None);
        let as_kubectl_prints_it = json!({
            "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
            "spec": {
                "containers": [{
                    "name": "web", "image": "skiff/demo-web:v1", "resources": {},
                    "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}]
                }],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                "terminationGracePeriodSeconds": 30, "securityContext": {}
            }
        });
        assert_eq!(compute_hash(&template(as_kubectl_prints_it), None), plain);
    }

    #[test]
    fn what_matters_changes_the_hash() {
        let plain = compute_hash(&template(web("skiff/demo-web:v1")), None);
        let mut always = web("skiff/demo-web:v1");
        always["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        assert_ne!(compute_hash(&template(always), None), plain, "not the default for a :v1 tag");
        assert_ne!(compute_hash(&template(web("skiff/demo-web:v1")), Some(1)), plain, "a collision count");
        assert_ne!(
            compute_hash(&template(web("skiff/demo-web:v1")), Some(1)),
            compute_hash(&template(web("skiff/demo-web:v1")), Some(2))
        );
    }

    #[test]
    fn an_empty_volume_source_is_kept() {
        let mut empty_dir = web("skiff/demo-web:v1");
        empty_dir["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        let mut downward = web("skiff/demo-web:v1");
        downward["spec"]["volumes"] = json!([{"name": "data", "downwardAPI": {}}]);
        let normal = normalize(&template(empty_dir.clone()));
        assert_eq!(normal["spec"]["volumes"], json!([{"name": "data", "emptyDir": {}}]));
        assert_ne!(compute_hash(&template(empty_dir), None), compute_hash(&template(downward), None));
    }
}
