//! A container's environment: `envFrom`, then `env`, with `$(VAR)` references expanded, then the
//! service links.
//!
//! Mirrors `pkg/kubelet/kubelet_pods.go` (`makeEnvironmentVariables`, `podFieldSelectorRuntimeValue`)
//! and `third_party/forked/golang/expansion` (`Expand`). The order is Kubernetes':
//!
//! 1. every `envFrom` source in order (a ConfigMap or Secret, each key with the source's
//!    `prefix`; keys that are not valid variable names are skipped);
//! 2. every `env` entry in order, later ones replacing earlier ones: a `value` has its
//!    `$(NAME)` references expanded against the variables defined so far; `valueFrom` reads a
//!    ConfigMap or Secret key, a field of the pod (`fieldRef`) or a resource of the container
//!    (`resourceFieldRef`);
//! 3. the service links (`WEB_SERVICE_HOST`…, [`crate::service_links`]), each unless the
//!    container defines the name itself; `$(VAR)` in a value sees them too.
//!
//! The ConfigMaps, Secrets and Services are fetched first (see [`referenced_objects`]), so that
//! [`make_environment`] is a pure function. A missing object or key that is not `optional`
//! fails with Kubernetes' message (`configmap "x" not found`, `couldn't find key K in
//! ConfigMap default/x`), which the pod shows as `CreateContainerConfigError`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use skiff_api::quantity::Quantity as Amount;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("configmap \"{0}\" not found")]
    ConfigMapNotFound(String),
    #[error("secret \"{0}\" not found")]
    SecretNotFound(String),
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKey { key: String, namespace: String, name: String },
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKey { key: String, namespace: String, name: String },
    #[error("unsupported fieldPath: {0}")]
    FieldPath(String),
    #[error("unsupported container resource: {0}")]
    Resource(String),
}

/// What the environment is made from beyond the pod: ConfigMaps and Secrets of the pod's
/// namespace, fetched beforehand (`None`: not found), and the Services' link variables
/// ([`crate::service_links::variables`]).
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub config_maps: HashMap<String, Option<ConfigMap>>,
    pub secrets: HashMap<String, Option<Secret>>,
    pub service_links: Vec<(String, String)>,
}

/// What the pod's fields resolve to that the pod object does not hold yet.
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    pub pod_ip: String,
    pub host_ip: String,
    /// The node's allocatable CPU (cores) and memory (bytes): a limit left out means these.
    pub node_cpu_milli: i64,
    pub node_memory: i64,
}

/// The names of the ConfigMaps and Secrets a container's environment reads.
pub fn referenced_objects(container: &Container) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut maps = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    for source in container.env_from.iter().flatten() {
        if let Some(r) = &source.config_map_ref {
            maps.insert(r.name.clone());
        }
        if let Some(r) = &source.secret_ref {
            secrets.insert(r.name.clone());
        }
    }
    for var in container.env.iter().flatten() {
        let Some(from) = &var.value_from else { continue };
        if let Some(r) = &from.config_map_key_ref {
            maps.insert(r.name.clone());
        }
        if let Some(r) = &from.secret_key_ref {
            secrets.insert(r.name.clone());
        }
    }
    (maps, secrets)
}

/// Kubernetes' rule for variable names (`IsEnvVarName`): `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || "-._".contains(c));
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

/// Expands `$(NAME)` against `lookup`, as Kubernetes does: `$$` is an escaped `$`, a reference to
/// an undefined name stays as written, and a `$` before anything else is kept.
///
/// `$(A)-$(B)` with A=1 and no B → `1-$(B)`; `$$(A)` → `$(A)`; `cost $5` → `cost $5`.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 == bytes.len() {
            let ch = input[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        match bytes[i + 1] {
            b'$' => {
                out.push('$');
                i += 2;
            }
            b'(' => match input[i + 2..].find(')') {
                Some(end) => {
                    let name = &input[i + 2..i + 2 + end];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => out.push_str(&input[i..i + 3 + end]),
                    }
                    i += 3 + end;
                }
                None => {
                    out.push_str(&input[i..]);
                    i = bytes.len();
                }
            },
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

fn field_value(pod: &Pod, path: &str, facts: &PodFacts) -> Result<String, EnvError> {
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let subscript = |prefix: &str| -> Option<String> {
        path.strip_prefix(prefix)?.strip_prefix("['")?.strip_suffix("']").map(str::to_string)
    };
    if let Some(key) = subscript("metadata.labels") {
        return Ok(meta.labels.as_ref().and_then(|l| l.get(&key).cloned()).unwrap_or_default());
    }
    if let Some(key) = subscript("metadata.annotations") {
        return Ok(meta.annotations.as_ref().and_then(|a| a.get(&key).cloned()).unwrap_or_default());
    }
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.node_name.unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.unwrap_or_default(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.clone(),
        other => return Err(EnvError::FieldPath(other.to_string())),
    })
}

/// `limits.cpu` and friends, divided by the divisor and rounded up, as the downward API does.
pub fn resource_value(
    container: &Container,
    resource: &str,
    divisor: Option<&str>,
    facts: &PodFacts,
) -> Result<String, EnvError> {
    let resources = container.resources.clone().unwrap_or_default();
    let get = |map: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>, key: &str| {
        map.as_ref().and_then(|m| m.get(key)).and_then(|q| Amount::parse(&q.0).ok())
    };
    let divisor = divisor.and_then(|d| Amount::parse(d).ok());
    match resource {
        "limits.cpu" | "requests.cpu" => {
            let milli = if resource == "limits.cpu" {
                get(&resources.limits, "cpu").map(|q| q.milli_value()).unwrap_or(facts.node_cpu_milli)
            } else {
                get(&resources.requests, "cpu").map(|q| q.milli_value()).unwrap_or(0)
            };
            let divisor = divisor.map(|d| d.milli_value()).filter(|d| *d > 0).unwrap_or(1000);
            Ok(((milli + divisor - 1) / divisor).to_string())
        }
        "limits.memory" | "requests.memory" | "limits.ephemeral-storage" | "requests.ephemeral-storage" => {
            let (map, key) = resource.split_once('.').expect("has a dot");
            let map = if map == "limits" { &resources.limits } else { &resources.requests };
            let bytes = match (get(map, key), key, map == &resources.limits) {
                (Some(q), _, _) => q.value(),
                (None, "memory", true) => facts.node_memory,
                _ => 0,
            };
            let divisor = divisor.map(|d| d.value()).filter(|d| *d > 0).unwrap_or(1);
            Ok(((bytes + divisor - 1) / divisor).to_string())
        }
        other => Err(EnvError::Resource(other.to_string())),
    }
}

fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    if let Some(value) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return Some(String::from_utf8_lossy(&value.0).into_owned());
    }
    secret.string_data.as_ref().and_then(|d| d.get(key).cloned())
}

/// The container's environment, in order, as `(name, value)`.
pub fn make_environment(
    pod: &Pod,
    container: &Container,
    objects: &Objects,
    facts: &PodFacts,
) -> Result<Vec<(String, String)>, EnvError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let mut env: Vec<(String, String)> = Vec::new();
    let set =
        |env: &mut Vec<(String, String)>, name: String, value: String| match env.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) => existing.1 = value,
            None => env.push((name, value)),
        };

    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(r) = &source.config_map_ref {
            match objects.config_maps.get(&r.name).cloned().flatten() {
                Some(map) => {
                    for (key, value) in map.data.unwrap_or_default() {
                        let name = format!("{prefix}{key}");
                        if is_env_var_name(&name) {
                            set(&mut env, name, value);
                        }
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(EnvError::ConfigMapNotFound(r.name.clone())),
            }
        }
        if let Some(r) = &source.secret_ref {
            match objects.secrets.get(&r.name).cloned().flatten() {
                Some(secret) => {
                    let keys: BTreeSet<String> = secret.data.iter().flatten().map(|(k, _)| k.clone()).collect();
                    for key in keys {
                        let name = format!("{prefix}{key}");
                        if is_env_var_name(&name) {
                            set(&mut env, name, secret_value(&secret, &key).unwrap_or_default());
                        }
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(EnvError::SecretNotFound(r.name.clone())),
            }
        }
    }

    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => {
                // A reference sees the variables defined so far (each name once: `set` replaces),
                // then the service links.
                let lookup = |name: &str| {
                    let defined = env.iter().chain(&objects.service_links).find(|(n, _)| n == name);
                    defined.map(|(_, v)| v.clone())
                };
                expand(var.value.as_deref().unwrap_or_default(), &lookup)
            }
            Some(from) => {
                if let Some(r) = &from.config_map_key_ref {
                    let optional = r.optional == Some(true);
                    match objects.config_maps.get(&r.name).cloned().flatten() {
                        None if optional => continue,
                        None => return Err(EnvError::ConfigMapNotFound(r.name.clone())),
                        Some(map) => match map.data.as_ref().and_then(|d| d.get(&r.key)) {
                            Some(value) => value.clone(),
                            None if optional => continue,
                            None => {
                                return Err(EnvError::ConfigMapKey {
                                    key: r.key.clone(),
                                    namespace: namespace.clone(),
                                    name: r.name.clone(),
                                })
                            }
                        },
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    let optional = r.optional == Some(true);
                    match objects.secrets.get(&r.name).cloned().flatten() {
                        None if optional => continue,
                        None => return Err(EnvError::SecretNotFound(r.name.clone())),
                        Some(secret) => match secret_value(&secret, &r.key) {
                            Some(value) => value,
                            None if optional => continue,
                            None => {
                                return Err(EnvError::SecretKey {
                                    key: r.key.clone(),
                                    namespace: namespace.clone(),
                                    name: r.name.clone(),
                                })
                            }
                        },
                    }
                } else if let Some(field) = &from.field_ref {
                    field_value(pod, &field.field_path, facts)?
                } else if let Some(resource) = &from.resource_field_ref {
                    resource_value(
                        container,
                        &resource.resource,
                        resource.divisor.as_ref().map(|d| d.0.as_str()),
                        facts,
                    )?
                } else {
                    String::new()
                }
            }
        };
        set(&mut env, var.name.clone(), value);
    }
    // The service links last, each unless the container defines that name itself.
    for (name, value) in &objects.service_links {
        if !env.iter().any(|(n, _)| n == name) {
            env.push((name.clone(), value.clone()));
        }
    }
    Ok(env)
}

/// `command` and `args` with `$(NAME)` expanded against the container's environment.
pub fn expand_command(words: &[String], env: &[(String, String)]) -> Vec<String> {
    let defined: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    words.iter().map(|w| expand(w, &|name| defined.get(name).map(|v| v.to_string()))).collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use serde_json::json;

    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "A" => Some("1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expansion_follows_kubernetes_rules() {
        let cases = [
            ("a reference", "x$(A)y", "x1y"),
            ("an undefined reference stays", "$(A)-$(B)", "1-$(B)"),
            ("an escaped dollar", "$$(A)", "$(A)"),
            ("a double dollar alone", "cost $$5", "cost $5"),
            ("a dollar before anything else", "cost $5", "cost $5"),
            ("a trailing dollar", "end$", "end$"),
            ("an unclosed reference", "$(A", "$(A"),
            ("an empty value", "[$(EMPTY)]", "[]"),
            ("no references", "plain", "plain"),
            ("unicode around", "é$(A)ü", "é1ü"),
        ];
        for (name, input, want) in cases {
            assert_eq!(expand(input, &lookup), want, "{name}");
        }
    }

    fn pod(container: serde_json::Value) -> (Pod, Container) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "serviceAccountName": "default", "containers": [container]}
        }))
        .unwrap();
        let container = pod.spec.as_ref().unwrap().containers[0].clone();
        (pod, container)
    }

    fn objects() -> Objects {
        let map: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "cfg"}, "data": {"color": "blue", "bad-name!": "x", "MODE": "fast"}}),
        )
        .unwrap();
        let secret = Secret {
            data: Some(BTreeMap::from([("password".to_string(), ByteString(b"s3cret".to_vec()))])),
            ..Default::default()
        };
        Objects {
            config_maps: HashMap::from([("cfg".to_string(), Some(map)), ("gone".to_string(), None)]),
            secrets: HashMap::from([("db".to_string(), Some(secret))]),
            service_links: Vec::new(),
        }
    }

    fn facts() -> PodFacts {
        PodFacts {
            pod_ip: "10.244.1.5".into(),
            host_ip: "10.244.0.1".into(),
            node_cpu_milli: 2000,
            node_memory: 1 << 30,
        }
    }

    #[test]
    fn env_from_then_env_in_order_with_expansion_and_every_source() {
        let (pod, container) = pod(json!({
            "name": "web",
            "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}},
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "db"}}],
            "env": [
                {"name": "GREETING", "value": "hello $(CFG_color) $(MISSING)"},
                {"name": "CFG_MODE", "value": "slow"},
                {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": true}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
                {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            ]
        }));
        let env = make_environment(&pod, &container, &objects(), &facts()).unwrap();
        let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            shown,
            vec![
                "CFG_MODE=slow",
                "CFG_color=blue",
                "password=s3cret",
                "GREETING=hello blue $(MISSING)",
                "COLOR=blue",
                "PASS=s3cret",
                "POD=web",
                "NS=default",
                "UID=u-1",
                "APP=web",
                "POD_IP=10.244.1.5",
                "HOST_IP=10.244.0.1",
                "NODE=node-1",
                "SA=default",
                "CPU=1",
                "CPU_M=250",
                "MEM_MI=64",
            ],
            "invalid names skipped, later entries replace earlier ones in place, cpu rounds up"
        );
    }

    #[test]
    fn missing_objects_and_keys_fail_with_kubernetes_messages() {
        let cases = [
            (
                json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}]),
                "configmap \"gone\" not found",
            ),
            (
                json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]),
                "couldn't find key k in ConfigMap default/cfg",
            ),
            (
                json!([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]),
                "secret \"nope\" not found",
            ),
            (
                json!([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}}]),
                "couldn't find key k in Secret default/db",
            ),
        ];
        for (env, want) in cases {
            let (p, container) = pod(json!({"name": "web", "env": env}));
            let err = make_environment(&p, &container, &objects(), &facts()).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let (p, container) = pod(json!({"name": "web", "envFrom": [{"configMapRef": {"name": "gone"}}]}));
        assert_eq!(
            make_environment(&p, &container, &objects(), &facts()).unwrap_err().to_string(),
            "configmap \"gone\" not found"
        );
        let (p, container) =
            pod(json!({"name": "web", "envFrom": [{"configMapRef": {"name": "gone", "optional": true}}]}));
        assert!(make_environment(&p, &container, &objects(), &facts()).unwrap().is_empty());
        let (_, container) = pod(
            json!({"name": "web", "envFrom": [{"configMapRef": {"name": "gone"}}, {"secretRef": {"name": "db"}}],
                                        "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}),
        );
        let (maps, secrets) = referenced_objects(&container);
        assert_eq!(
            (maps.into_iter().collect::<Vec<_>>(), secrets.into_iter().collect::<Vec<_>>()),
            (vec!["cfg".to_string(), "gone".to_string()], vec!["db".to_string()])
        );
    }

    #[test]
    fn command_and_args_expand_against_the_environment() {
        let env = vec![("NAME".to_string(), "skiff".to_string())];
        let words = vec!["echo".to_string(), "hi $(NAME)".to_string(), "$$(NAME)".to_string()];
        assert_eq!(expand_command(&words, &env), vec!["echo", "hi skiff", "$(NAME)"]);
    }

    #[test]
    fn service_links_come_last_lose_to_the_containers_own_and_expand() {
        let (pod, container) = pod(json!({
            "name": "web",
            "env": [
                {"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
                {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"},
                {"name": "LATER", "value": "$(KUBERNETES_SERVICE_PORT)"},
            ]
        }));
        let objects = Objects {
            service_links: vec![
                ("KUBERNETES_SERVICE_HOST".into(), "10.96.0.1".into()),
                ("KUBERNETES_SERVICE_PORT".into(), "443".into()),
            ],
            ..Objects::default()
        };
        let env = make_environment(&pod, &container, &objects, &facts()).unwrap();
        let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            shown,
            [
                "API=https://10.96.0.1:443",
                "KUBERNETES_SERVICE_PORT=6443",
                "LATER=6443",
                "KUBERNETES_SERVICE_HOST=10.96.0.1",
            ],
            "a reference before the container's own definition sees the link; after it, the container's value"
        );
    }
}
