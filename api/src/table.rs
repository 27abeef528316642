//! Server-side printing: the `Table` that `kubectl get` asks for, with the columns Kubernetes
//! prints for each resource.
//!
//! Mirrors kubernetes `pkg/printers/internalversion/printers.go` (`printPod`, `printDeployment`,
//! `printService`, …) and the `Table` type of `meta.k8s.io/v1`. kubectl prints the cells as
//! they come, upper-casing the column names; `-o wide` adds the priority-1 columns. What kubectl
//! needs of a Table is in `../shared/kubectl-compat.md` section 6.
//!
//! Objects arrive as JSON (`serde_json::Value`), as they are stored. Left out, for now: pods'
//! readiness gates (always `<none>`), ingress classes' parameters, and endpoint slices (Name
//! and Created At).

use serde_json::{json, Value};

use crate::age;
use crate::registry::Resource;

/// One column: its name (kubectl upper-cases it), type, and whether only `-o wide` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub wide: bool,
}

const fn col(name: &'static str) -> Column {
    Column { name, kind: "string", wide: false }
}
const fn int(name: &'static str) -> Column {
    Column { name, kind: "integer", wide: false }
}
const fn wide(name: &'static str) -> Column {
    Column { name, kind: "string", wide: true }
}

const POD: &[Column] = &[
    col("Name"),
    col("Ready"),
    col("Status"),
    col("Restarts"),
    col("Age"),
    wide("IP"),
    wide("Node"),
    wide("Nominated Node"),
    wide("Readiness Gates"),
];
const DEPLOYMENT: &[Column] = &[
    col("Name"),
    col("Ready"),
    int("Up-to-date"),
    int("Available"),
    col("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];
const REPLICA_SET: &[Column] = &[
    col("Name"),
    int("Desired"),
    int("Current"),
    int("Ready"),
    col("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];
const STATEFUL_SET: &[Column] = &[col("Name"), col("Ready"), col("Age"), wide("Containers"), wide("Images")];
const DAEMON_SET: &[Column] = &[
    col("Name"),
    int("Desired"),
    int("Current"),
    int("Ready"),
    int("Up-to-date"),
    int("Available"),
    col("Node Selector"),
    col("Age"),
];
const SERVICE: &[Column] =
    &[col("Name"), col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), col("Age"), wide("Selector")];
const ENDPOINTS: &[Column] = &[col("Name"), col("Endpoints"), col("Age")];
const ENDPOINT_SLICE: &[Column] = &[col("Name"), col("AddressType"), col("Ports"), col("Endpoints"), col("Age")];
const CONFIG_MAP: &[Column] = &[col("Name"), int("Data"), col("Age")];
const SECRET: &[Column] = &[col("Name"), col("Type"), int("Data"), col("Age")];
const NAMESPACE: &[Column] = &[col("Name"), col("Status"), col("Age")];
const SERVICE_ACCOUNT: &[Column] = &[col("Name"), int("Secrets"), col("Age")];
const NODE: &[Column] = &[
    col("Name"),
    col("Status"),
    col("Roles"),
    col("Age"),
    col("Version"),
    wide("Internal-IP"),
    wide("External-IP"),
    wide("OS-Image"),
    wide("Kernel-Version"),
    wide("Container-Runtime"),
];
const EVENT: &[Column] = &[
    col("Last Seen"),
    col("Type"),
    col("Reason"),
    col("Object"),
    wide("Subobject"),
    wide("Source"),
    col("Message"),
    wide("First Seen"),
    Column { name: "Count", kind: "integer", wide: true },
    wide("Name"),
];
const JOB: &[Column] = &[
    col("Name"),
    col("Status"),
    col("Completions"),
    col("Duration"),
    col("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];
const PERSISTENT_VOLUME: &[Column] = &[
    col("Name"),
    col("Capacity"),
    col("Access Modes"),
    col("Reclaim Policy"),
    col("Status"),
    col("Claim"),
    col("StorageClass"),
    col("VolumeAttributesClass"),
    col("Reason"),
    col("Age"),
    wide("VolumeMode"),
];
const PERSISTENT_VOLUME_CLAIM: &[Column] = &[
    col("Name"),
    col("Status"),
    col("Volume"),
    col("Capacity"),
    col("Access Modes"),
    col("StorageClass"),
    col("VolumeAttributesClass"),
    col("Age"),
    wide("VolumeMode"),
];
const INGRESS: &[Column] = &[col("Name"), col("Class"), col("Hosts"), col("Address"), col("Ports"), col("Age")];
const INGRESS_CLASS: &[Column] = &[col("Name"), col("Controller"), col("Parameters"), col("Age")];
const STORAGE_CLASS: &[Column] = &[
    col("Name"),
    col("Provisioner"),
    col("ReclaimPolicy"),
    col("VolumeBindingMode"),
    col("AllowVolumeExpansion"),
    col("Age"),
];
const LEASE: &[Column] = &[col("Name"), col("Holder"), col("Age")];
const CONTROLLER_REVISION: &[Column] = &[col("Name"), col("Controller"), int("Revision"), col("Age")];
const DEFAULT: &[Column] = &[col("Name"), Column { name: "Created At", kind: "date", wide: false }];

/// The columns of `resource`, in order. Kinds without a printer get Name and Created At.
pub fn columns(resource: &Resource) -> &'static [Column] {
    match resource.plural {
        "pods" => POD,
        "deployments" => DEPLOYMENT,
        "replicasets" => REPLICA_SET,
        "statefulsets" => STATEFUL_SET,
        "daemonsets" => DAEMON_SET,
        "services" => SERVICE,
        "endpoints" => ENDPOINTS,
        "endpointslices" => ENDPOINT_SLICE,
        "configmaps" => CONFIG_MAP,
        "secrets" => SECRET,
        "namespaces" => NAMESPACE,
        "serviceaccounts" => SERVICE_ACCOUNT,
        "nodes" => NODE,
        "events" => EVENT,
        "jobs" => JOB,
        "persistentvolumes" => PERSISTENT_VOLUME,
        "persistentvolumeclaims" => PERSISTENT_VOLUME_CLAIM,
        "ingresses" => INGRESS,
        "ingressclasses" => INGRESS_CLASS,
        "storageclasses" => STORAGE_CLASS,
        "leases" => LEASE,
        "controllerrevisions" => CONTROLLER_REVISION,
        _ => DEFAULT,
    }
}

/// `.a.b.c` of a JSON object, if present.
fn at<'v>(object: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(object, |v, key| v.get(key))
}

fn text(object: &Value, path: &[&str]) -> String {
    at(object, path).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn number(object: &Value, path: &[&str]) -> i64 {
    at(object, path).and_then(Value::as_i64).unwrap_or(0)
}

fn items<'v>(object: &'v Value, path: &[&str]) -> &'v [Value] {
    at(object, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn none_if_empty(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

fn age_of(object: &Value, now: i64) -> String {
    match age::parse_timestamp(&text(object, &["metadata", "creationTimestamp"])) {
        Some(created) => age::human(now - created),
        None => "<unknown>".into(),
    }
}

/// `app=web,tier=front` of a selector map.
/// `app=web,tier=front` of a label map (`matchLabels`, a Service's `selector`); `""` if empty.
pub fn selector_string(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    pairs.join(",")
}

/// The same, `<none>` if empty, as the SELECTOR columns show it.
fn map_selector(map: Option<&Value>) -> String {
    none_if_empty(selector_string(map))
}

fn containers_and_images(template_spec: Option<&Value>) -> (String, String) {
    let containers = template_spec.map(|s| items(s, &["containers"])).unwrap_or(&[]);
    let names: Vec<String> = containers.iter().map(|c| text(c, &["name"])).collect();
    let images: Vec<String> = containers.iter().map(|c| text(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// When a container of `statuses` last ended, if any did (`lastState.terminated.finishedAt`).
fn last_restart(statuses: &[Value]) -> Option<i64> {
    statuses
        .iter()
        .filter_map(|s| age::parse_timestamp(&text(s, &["lastState", "terminated", "finishedAt"])))
        .max()
}

/// A pod's RESTARTS: the count, and how long ago the last one was when there was one:
/// `3 (12s ago)`, as upstream's `printPod` writes it.
fn pod_restarts(pod: &Value, restarts: i64, now: i64) -> String {
    let statuses = [items(pod, &["status", "initContainerStatuses"]), items(pod, &["status", "containerStatuses"])];
    match statuses.iter().filter_map(|s| last_restart(s)).max() {
        Some(at) if restarts != 0 => format!("{restarts} ({} ago)", age::human(now - at)),
        _ => restarts.to_string(),
    }
}

/// A pod's STATUS: the phase, refined by container states, as kubectl shows it.
fn pod_status(pod: &Value) -> (String, i64, String) {
    let mut reason = text(pod, &["status", "phase"]);
    let status_reason = text(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.clone();
    }
    let mut restarts = 0;
    let mut initializing = false;
    let init_statuses = items(pod, &["status", "initContainerStatuses"]);
    let init_total = items(pod, &["spec", "initContainers"]).len();
    for (i, status) in init_statuses.iter().enumerate() {
        restarts += number(status, &["restartCount"]);
        let terminated = at(status, &["state", "terminated"]);
        let waiting_reason = text(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| number(t, &["exitCode"]) == 0) {
            continue;
        }
        initializing = true;
        reason = if let Some(t) = terminated {
            let why = text(t, &["reason"]);
            if why.is_empty() {
                format!("Init:ExitCode:{}", number(t, &["exitCode"]))
            } else {
                format!("Init:{why}")
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{init_total}")
        };
        break;
    }
    let statuses = items(pod, &["status", "containerStatuses"]);
    let mut ready = 0;
    let mut has_running = false;
    for status in statuses.iter().rev() {
        restarts += number(status, &["restartCount"]);
        if status.get("ready").and_then(Value::as_bool).unwrap_or(false) {
            ready += 1;
        }
        if initializing {
            continue;
        }
        let waiting = text(status, &["state", "waiting", "reason"]);
        if !waiting.is_empty() {
            reason = waiting;
        } else if let Some(t) = at(status, &["state", "terminated"]) {
            let why = text(t, &["reason"]);
            reason = if why.is_empty() { format!("ExitCode:{}", number(t, &["exitCode"])) } else { why };
        } else if at(status, &["state", "running"]).is_some() && status.get("ready") == Some(&Value::Bool(true)) {
            has_running = true;
        }
    }
    if !initializing && reason == "Completed" && has_running {
        reason = "Running".into();
    }
    if at(pod, &["metadata", "deletionTimestamp"]).is_some() {
        reason = if status_reason == "NodeLost" { "Unknown".into() } else { "Terminating".into() };
    }
    let total = items(pod, &["spec", "containers"]).len();
    (reason, restarts, format!("{ready}/{total}"))
}

/// `80/TCP,443:30443/TCP`
fn service_ports(service: &Value) -> String {
    let ports: Vec<String> = items(service, &["spec", "ports"])
        .iter()
        .map(|p| {
            let protocol = at(p, &["protocol"]).and_then(Value::as_str).unwrap_or("TCP");
            match at(p, &["nodePort"]).and_then(Value::as_i64) {
                Some(node_port) => format!("{}:{node_port}/{protocol}", number(p, &["port"])),
                None => format!("{}/{protocol}", number(p, &["port"])),
            }
        })
        .collect();
    none_if_empty(ports.join(","))
}

/// `10.1.0.5:80,10.1.0.6:80` (kubectl shows at most three, then `+ N more...`).
fn endpoint_addresses(endpoints: &Value) -> String {
    let mut all = Vec::new();
    for subset in items(endpoints, &["subsets"]) {
        let ports = items(subset, &["ports"]);
        for address in items(subset, &["addresses"]) {
            let ip = text(address, &["ip"]);
            if ports.is_empty() {
                all.push(ip.clone());
            }
            for port in ports {
                all.push(format!("{ip}:{}", number(port, &["port"])));
            }
        }
    }
    if all.len() > 3 {
        let more = all.len() - 3;
        all.truncate(3);
        return format!("{} + {more} more...", all.join(","));
    }
    none_if_empty(all.join(","))
}

/// The first three of `all` and how many more, or `<unset>`: an EndpointSlice's PORTS and
/// ENDPOINTS as upstream's `formatDiscoveryPorts` and `formatDiscoveryEndpoints` print them.
fn first_three_or_unset(mut all: Vec<String>) -> String {
    if all.is_empty() {
        return "<unset>".into();
    }
    if all.len() > 3 {
        let more = all.len() - 3;
        all.truncate(3);
        return format!("{} + {more} more...", all.join(","));
    }
    all.join(",")
}

fn slice_ports(slice: &Value) -> String {
    let ports = items(slice, &["ports"]).iter();
    first_three_or_unset(ports.map(|p| p.get("port").and_then(Value::as_i64).map_or("<unset>".into(), |n| n.to_string())).collect())
}

fn slice_endpoints(slice: &Value) -> String {
    let endpoints = items(slice, &["endpoints"]).iter();
    first_three_or_unset(endpoints.flat_map(|e| items(e, &["addresses"]).iter().map(|a| a.as_str().unwrap_or_default().to_string())).collect())
}

fn status_int(object: &Value, field: &str) -> i64 {
    number(object, &["status", field])
}

/// `RWO,RWX` from a list of access modes.
fn access_modes_of(modes: &Value) -> String {
    let short: Vec<&str> = modes
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect();
    short.join(",")
}

fn access_modes(object: &Value) -> String {
    access_modes_of(&object["spec"]["accessModes"])
}

/// A node's cells: Ready condition, roles from `node-role.kubernetes.io/*` labels, addresses.
fn node_cells(node: &Value, name: Value, age: Value) -> Vec<Value> {
    let ready = items(node, &["status", "conditions"]).iter().find(|c| text(c, &["type"]) == "Ready");
    let mut status = match ready.map(|c| text(c, &["status"])) {
        Some(s) if s == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node["spec"]["unschedulable"] == json!(true) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<String> = node["metadata"]["labels"]
        .as_object()
        .map(|m| m.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).map(str::to_string).collect())
        .unwrap_or_default();
    let address = |kind: &str| {
        items(node, &["status", "addresses"])
            .iter()
            .find(|a| text(a, &["type"]) == kind)
            .map_or("<none>".to_string(), |a| text(a, &["address"]))
    };
    let info = |field: &str| text(node, &["status", "nodeInfo", field]);
    vec![
        name,
        json!(status),
        json!(none_if_empty(roles.join(","))),
        age,
        json!(info("kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// The cells of one object's row.
pub fn cells(resource: &Resource, object: &Value, now: i64) -> Vec<Value> {
    let name = json!(text(object, &["metadata", "name"]));
    let age = json!(age_of(object, now));
    let status = |path: &[&str]| number(object, &[&["status"], path].concat());
    match resource.plural {
        "pods" => {
            let (reason, restarts, ready) = pod_status(object);
            vec![
                name,
                json!(ready),
                json!(reason),
                json!(pod_restarts(object, restarts, now)),
                age,
                json!(none_if_empty(text(object, &["status", "podIP"]))),
                json!(none_if_empty(text(object, &["spec", "nodeName"]))),
                json!(none_if_empty(text(object, &["status", "nominatedNodeName"]))),
                json!("<none>"),
            ]
        }
        "deployments" | "replicasets" | "statefulsets" => {
            let template = at(object, &["spec", "template", "spec"]);
            let (containers, images) = containers_and_images(template);
            let replicas = at(object, &["spec", "replicas"]).and_then(Value::as_i64).unwrap_or(1);
            let selector = map_selector(at(object, &["spec", "selector", "matchLabels"]));
            match resource.plural {
                "deployments" => vec![
                    name,
                    json!(format!("{}/{replicas}", status(&["readyReplicas"]))),
                    json!(status(&["updatedReplicas"])),
                    json!(status(&["availableReplicas"])),
                    age,
                    json!(containers),
                    json!(images),
                    json!(selector),
                ],
                "replicasets" => vec![
                    name,
                    json!(replicas),
                    json!(status(&["replicas"])),
                    json!(status(&["readyReplicas"])),
                    age,
                    json!(containers),
                    json!(images),
                    json!(selector),
                ],
                _ => vec![
                    name,
                    json!(format!("{}/{replicas}", status(&["readyReplicas"]))),
                    age,
                    json!(containers),
                    json!(images),
                ],
            }
        }
        "daemonsets" => vec![
            name,
            json!(status(&["desiredNumberScheduled"])),
            json!(status(&["currentNumberScheduled"])),
            json!(status(&["numberReady"])),
            json!(status(&["updatedNumberScheduled"])),
            json!(status(&["numberAvailable"])),
            json!(map_selector(at(object, &["spec", "template", "spec", "nodeSelector"]))),
            age,
        ],
        "services" => {
            let kind = at(object, &["spec", "type"]).and_then(Value::as_str).unwrap_or("ClusterIP");
            let external: Vec<String> = items(object, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| text(i, &["ip"]))
                .chain(
                    items(object, &["spec", "externalIPs"]).iter().map(|v| v.as_str().unwrap_or_default().to_string()),
                )
                .collect();
            let external = match (kind, external.is_empty()) {
                ("LoadBalancer", true) => "<pending>".to_string(),
                _ => none_if_empty(external.join(",")),
            };
            vec![
                name,
                json!(kind),
                json!(none_if_empty(text(object, &["spec", "clusterIP"]))),
                json!(external),
                json!(service_ports(object)),
                age,
                json!(map_selector(at(object, &["spec", "selector"]))),
            ]
        }
        "endpoints" => vec![name, json!(endpoint_addresses(object)), age],
        "endpointslices" => {
            vec![name, json!(text(object, &["addressType"])), json!(slice_ports(object)), json!(slice_endpoints(object)), age]
        }
        "configmaps" => {
            let data = ["data", "binaryData"]
                .iter()
                .map(|k| at(object, &[k]).and_then(Value::as_object).map_or(0, |m| m.len()))
                .sum::<usize>();
            vec![name, json!(data), age]
        }
        "secrets" => {
            let data = at(object, &["data"]).and_then(Value::as_object).map_or(0, |m| m.len());
            let kind = at(object, &["type"]).and_then(Value::as_str).unwrap_or("Opaque");
            vec![name, json!(kind), json!(data), age]
        }
        "namespaces" => vec![name, json!(text(object, &["status", "phase"])), age],
        "serviceaccounts" => vec![name, json!(items(object, &["secrets"]).len()), age],
        "nodes" => node_cells(object, name, age),
        "events" => {
            // As upstream's printEvent: first seen from firstTimestamp (else eventTime), last
            // seen from the series, lastTimestamp, or the first; a count of 0 is one.
            let timestamp = |paths: &[&[&str]]| paths.iter().find_map(|p| age::parse_timestamp(&text(object, p)));
            let since = |t: Option<i64>| t.map_or("<unknown>".to_string(), |t| age::human(now - t));
            let created: &[&str] = &["metadata", "creationTimestamp"];
            let first = timestamp(&[&["firstTimestamp"], &["eventTime"], created]);
            let last = timestamp(&[&["series", "lastObservedTime"], &["lastTimestamp"]]).or(first);
            let count = at(object, &["series", "count"]).and_then(Value::as_i64).unwrap_or(number(object, &["count"])).max(1);
            let involved = &object["involvedObject"];
            let kind = text(involved, &["kind"]).to_lowercase();
            let target = match text(involved, &["name"]) {
                name if name.is_empty() => kind,
                name => format!("{kind}/{name}"),
            };
            let source = match (text(object, &["source", "component"]), text(object, &["source", "host"])) {
                (component, host) if !component.is_empty() => [component, host],
                _ => [text(object, &["reportingComponent"]), text(object, &["reportingInstance"])],
            };
            let source = if source[1].is_empty() { source[0].clone() } else { source.join(", ") };
            vec![
                json!(since(last)),
                json!(text(object, &["type"])),
                json!(text(object, &["reason"])),
                json!(target),
                json!(text(involved, &["fieldPath"])),
                json!(source),
                json!(text(object, &["message"]).trim()),
                json!(since(first)),
                json!(count),
                name,
            ]
        }
        "jobs" => {
            let (containers, images) = containers_and_images(at(object, &["spec", "template", "spec"]));
            let conditions = items(object, &["status", "conditions"]);
            let holds =
                |kind: &str| conditions.iter().any(|c| text(c, &["type"]) == kind && text(c, &["status"]) == "True");
            // Upstream's order: the finished states, then a Job being deleted, then the
            // conditions the controller writes on the way to them.
            let terminating = !object["metadata"]["deletionTimestamp"].is_null();
            let status = if holds("Complete") {
                "Complete"
            } else if holds("Failed") {
                "Failed"
            } else if terminating {
                "Terminating"
            } else if holds("Suspended") {
                "Suspended"
            } else if holds("FailureTarget") {
                "FailureTarget"
            } else if holds("SuccessCriteriaMet") {
                "SuccessCriteriaMet"
            } else {
                "Running"
            };
            let succeeded = status_int(object, "succeeded");
            let parallelism = at(object, &["spec", "parallelism"]).and_then(Value::as_i64);
            // A work queue (no completions) is done at its first success: "0/1", or "0/1 of 3"
            // with several pods at once.
            let completions = match (at(object, &["spec", "completions"]).and_then(Value::as_i64), parallelism) {
                (Some(completions), _) => format!("{succeeded}/{completions}"),
                (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
                (None, _) => format!("{succeeded}/1"),
            };
            let started = age::parse_timestamp(&text(object, &["status", "startTime"]));
            let finished = age::parse_timestamp(&text(object, &["status", "completionTime"]));
            let duration = started.map_or(String::new(), |s| age::human(finished.unwrap_or(now) - s));
            vec![
                name,
                json!(status),
                json!(completions),
                json!(duration),
                age,
                json!(containers),
                json!(images),
                json!(map_selector(at(object, &["spec", "selector", "matchLabels"]))),
            ]
        }
        "persistentvolumes" => {
            let claim = &object["spec"]["claimRef"];
            let claim = if claim.is_object() {
                format!("{}/{}", text(claim, &["namespace"]), text(claim, &["name"]))
            } else {
                String::new()
            };
            vec![
                name,
                json!(text(object, &["spec", "capacity", "storage"])),
                json!(access_modes(object)),
                json!(text(object, &["spec", "persistentVolumeReclaimPolicy"])),
                json!(text(object, &["status", "phase"])),
                json!(claim),
                json!(text(object, &["spec", "storageClassName"])),
                json!(none_if_empty(text(object, &["spec", "volumeAttributesClassName"]))),
                json!(text(object, &["status", "reason"])),
                age,
                json!(at(object, &["spec", "volumeMode"]).and_then(Value::as_str).unwrap_or("Filesystem")),
            ]
        }
        "persistentvolumeclaims" => vec![
            name,
            json!(text(object, &["status", "phase"])),
            json!(text(object, &["spec", "volumeName"])),
            json!(text(object, &["status", "capacity", "storage"])),
            json!(access_modes_of(&object["status"]["accessModes"])),
            json!(text(object, &["spec", "storageClassName"])),
            json!(none_if_empty(text(object, &["spec", "volumeAttributesClassName"]))),
            age,
            json!(at(object, &["spec", "volumeMode"]).and_then(Value::as_str).unwrap_or("Filesystem")),
        ],
        "ingresses" => {
            let hosts: Vec<String> = items(object, &["spec", "rules"])
                .iter()
                .map(|r| text(r, &["host"]))
                .filter(|h| !h.is_empty())
                .collect();
            let address: Vec<String> = items(object, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| if i["ip"].is_string() { text(i, &["ip"]) } else { text(i, &["hostname"]) })
                .collect();
            let ports = if items(object, &["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
            vec![
                name,
                json!(none_if_empty(text(object, &["spec", "ingressClassName"]))),
                json!(if hosts.is_empty() { "*".to_string() } else { hosts.join(",") }),
                json!(address.join(",")),
                json!(ports),
                age,
            ]
        }
        "ingressclasses" => vec![name, json!(text(object, &["spec", "controller"])), json!("<none>"), age],
        "storageclasses" => vec![
            name,
            json!(text(object, &["provisioner"])),
            json!(at(object, &["reclaimPolicy"]).and_then(Value::as_str).unwrap_or("Delete")),
            json!(at(object, &["volumeBindingMode"]).and_then(Value::as_str).unwrap_or("Immediate")),
            json!(at(object, &["allowVolumeExpansion"]).and_then(Value::as_bool).unwrap_or(false).to_string()),
            age,
        ],
        "leases" => vec![name, json!(text(object, &["spec", "holderIdentity"])), age],
        "controllerrevisions" => {
            let owner = items(object, &["metadata", "ownerReferences"])
                .iter()
                .find(|o| o["controller"] == json!(true))
                .map_or("<none>".to_string(), |o| {
                    format!("{}/{}", text(o, &["kind"]).to_lowercase(), text(o, &["name"]))
                });
            vec![name, json!(owner), json!(number(object, &["revision"])), age]
        }
        _ => vec![name, json!(text(object, &["metadata", "creationTimestamp"]))],
    }
}

/// The `Table` of `objects` (a list, a single GET, or a watch event's one row). Each row carries
/// the object's metadata, which kubectl reads for `-A` (NAMESPACE) and `--show-labels`.
pub fn table(resource: &Resource, objects: &[Value], resource_version: &str, now: i64) -> Value {
    let definitions: Vec<Value> = columns(resource)
        .iter()
        .map(|c| {
            let format = match (c.name, c.kind) {
                ("Name", _) => "name",
                (_, "date") => "date-time",
                _ => "",
            };
            json!({"name": c.name, "type": c.kind, "format": format, "description": "", "priority": u8::from(c.wide)})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            json!({
                "cells": cells(resource, object, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_plural;

    const NOW: i64 = 1_795_435_200; // 2026-11-23T12:00:00Z

    fn row(plural: &str, object: Value) -> Vec<Value> {
        let group =
            if ["deployments", "replicasets", "statefulsets", "daemonsets"].contains(&plural) { "apps" } else { "" };
        let resource = by_plural(group, "v1", plural).unwrap();
        let cells = cells(resource, &object, NOW);
        assert_eq!(cells.len(), columns(resource).len(), "one cell per column for {plural}");
        cells
    }

    fn meta(name: &str, age_seconds: i64) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": age::format_timestamp(NOW - age_seconds)})
    }

    #[test]
    fn endpoint_slices_print_their_address_type_ports_and_endpoints() {
        let slice = |ports: Value, endpoints: Value| {
            json!({"metadata": meta("web-abc12", 60), "addressType": "IPv4", "ports": ports, "endpoints": endpoints})
        };
        let one = |ip: &str| json!({"addresses": [ip]});
        let cases = [
            ("one port, two endpoints", slice(json!([{"name": "", "port": 8080}]), json!([one("10.244.1.2"), one("10.244.1.3")])), "8080", "10.244.1.2,10.244.1.3"),
            ("nothing yet", slice(json!([]), json!([])), "<unset>", "<unset>"),
            (
                "more than three",
                slice(json!([{"port": 80}, {"port": 443}]), json!([one("10.0.0.1"), one("10.0.0.2"), one("10.0.0.3"), one("10.0.0.4")])),
                "80,443",
                "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
            ),
        ];
        for (name, object, ports, endpoints) in cases {
            let cells = row_in("discovery.k8s.io", "endpointslices", object);
            assert_eq!(cells, vec![json!("web-abc12"), json!("IPv4"), json!(ports), json!(endpoints), json!("60s")], "{name}");
        }
    }

    #[test]
    fn restarts_say_how_long_ago_the_last_one_was() {
        let finished = |seconds_ago: i64| crate::age::format_timestamp(NOW - seconds_ago);
        let pod = |statuses: Value| json!({"metadata": meta("p", 600), "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                                          "status": {"phase": "Running", "containerStatuses": statuses}});
        let cases = [
            ("never restarted", pod(json!([{"restartCount": 0}])), "0"),
            (
                "restarted, the last ended 12 seconds ago",
                pod(json!([{"restartCount": 3, "lastState": {"terminated": {"finishedAt": finished(12)}}}])),
                "3 (12s ago)",
            ),
            (
                "the most recent end of any container counts",
                pod(json!([{"restartCount": 1, "lastState": {"terminated": {"finishedAt": finished(300)}}},
                           {"restartCount": 1, "lastState": {"terminated": {"finishedAt": finished(90)}}}])),
                "2 (90s ago)",
            ),
            ("a count with no end on record", pod(json!([{"restartCount": 2}])), "2"),
        ];
        for (name, object, expected) in cases {
            assert_eq!(row("pods", object)[3], json!(expected), "{name}");
        }
    }

    #[test]
    fn pods_print_ready_status_restarts_and_age() {
        let running = json!({
            "metadata": meta("web-7cd487467c-x2x9z", 300),
            "spec": {"nodeName": "node-1", "containers": [{"name": "web"}, {"name": "side"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.8", "containerStatuses": [
                {"name": "web", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "side", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        });
        assert_eq!(
            row("pods", running),
            vec![
                json!("web-7cd487467c-x2x9z"),
                json!("1/2"),
                json!("CrashLoopBackOff"),
                json!("2"),
                json!("5m"),
                json!("10.244.0.8"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        let cases = [
            ("pending, nothing yet", json!({"phase": "Pending"}), json!({}), "Pending"),
            (
                "creating",
                json!({"phase": "Pending", "containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                json!({}),
                "ContainerCreating",
            ),
            (
                "init running",
                json!({"phase": "Pending", "initContainerStatuses": [{"state": {"running": {}}}]}),
                json!({"initContainers": [{"name": "i"}, {"name": "j"}]}),
                "Init:0/2",
            ),
            (
                "init failing",
                json!({"phase": "Pending", "initContainerStatuses": [{"state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
                json!({"initContainers": [{"name": "i"}]}),
                "Init:Error",
            ),
            (
                "completed",
                json!({"phase": "Succeeded", "containerStatuses": [{"ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                json!({}),
                "Completed",
            ),
            (
                "bad image",
                json!({"phase": "Pending", "containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
                json!({}),
                "ImagePullBackOff",
            ),
        ];
        for (name, status, spec_extra, want) in cases {
            let mut spec = json!({"containers": [{"name": "c"}]});
            crate::patch::merge_patch(&mut spec, &spec_extra);
            let pod = json!({"metadata": meta("p", 1), "spec": spec, "status": status});
            assert_eq!(row("pods", pod)[2], json!(want), "{name}");
        }
        let terminating = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-11-23T11:59:00Z"}, "spec": {"containers": []}, "status": {"phase": "Running"}});
        assert_eq!(row("pods", terminating)[2], json!("Terminating"));
    }

    #[test]
    fn workloads_print_their_replica_counts() {
        let template = json!({"spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}});
        let deployment = json!({
            "metadata": meta("web", 7200),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            row("deployments", deployment),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("120m"),
                json!("web"),
                json!("skiff/demo-web:v1"),
                json!("app=web")
            ]
        );
        let replicaset = json!({"metadata": meta("web-abc", 30), "spec": {"replicas": 3, "template": template}, "status": {"replicas": 3, "readyReplicas": 1}});
        assert_eq!(row("replicasets", replicaset)[..5], [json!("web-abc"), json!(3), json!(3), json!(1), json!("30s")]);
        let statefulset = json!({"metadata": meta("db", 60), "spec": {"replicas": 2, "template": template}, "status": {"readyReplicas": 2}});
        assert_eq!(row("statefulsets", statefulset)[1], json!("2/2"));
    }

    #[test]
    fn services_endpoints_and_config_print_like_kubectl() {
        let service = json!({
            "metadata": meta("web", 60),
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "selector": {"app": "web"},
                     "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}
        });
        assert_eq!(
            row("services", service),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.20"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP"),
                json!("60s"),
                json!("app=web")
            ]
        );
        let endpoints = json!({"metadata": meta("web", 60), "subsets": [{"addresses": [{"ip": "10.1.0.5"}, {"ip": "10.1.0.6"}], "ports": [{"port": 8080}]}]});
        assert_eq!(row("endpoints", endpoints)[1], json!("10.1.0.5:8080,10.1.0.6:8080"));
        let many = json!({"metadata": meta("big", 1), "subsets": [{"addresses": [{"ip": "a"}, {"ip": "b"}, {"ip": "c"}, {"ip": "d"}, {"ip": "e"}], "ports": [{"port": 1}]}]});
        assert_eq!(row("endpoints", many)[1], json!("a:1,b:1,c:1 + 2 more..."));
        assert_eq!(row("endpoints", json!({"metadata": meta("none", 1)}))[1], json!("<none>"));
        let configmap = json!({"metadata": meta("cfg", 1), "data": {"a": "1", "b": "2"}});
        assert_eq!(row("configmaps", configmap)[1], json!(2));
        let secret =
            json!({"metadata": meta("s", 1), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(row("secrets", secret)[1..3], [json!("kubernetes.io/tls"), json!(2)]);
    }

    fn row_in(group: &str, plural: &str, object: Value) -> Vec<Value> {
        let resource = by_plural(group, "v1", plural).unwrap();
        let cells = cells(resource, &object, NOW);
        assert_eq!(cells.len(), columns(resource).len(), "one cell per column for {plural}");
        cells
    }

    #[test]
    fn nodes_events_jobs_and_storage_print_their_columns() {
        let node = json!({"metadata": {"name": "node-1", "creationTimestamp": age::format_timestamp(NOW - 3600), "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.31.0-skiff", "osImage": "Debian", "kernelVersion": "6.1", "containerRuntimeVersion": "docker://20.10"}}});
        let cells = row_in("", "nodes", node);
        assert_eq!(
            cells[..6],
            [
                json!("node-1"),
                json!("Ready"),
                json!("control-plane"),
                json!("60m"),
                json!("v1.31.0-skiff"),
                json!("10.0.0.2")
            ]
        );
        let event = json!({"metadata": {"name": "web.1"}, "lastTimestamp": age::format_timestamp(NOW - 30), "type": "Normal", "reason": "ScalingReplicaSet",
            "firstTimestamp": age::format_timestamp(NOW - 90), "count": 3,
            "source": {"component": "deployment-controller"},
            "involvedObject": {"kind": "Deployment", "name": "web"}, "message": "Scaled up replica set web-7cd487467c from 0 to 1"});
        assert_eq!(
            row_in("", "events", event),
            vec![
                json!("30s"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/web"),
                json!(""),
                json!("deployment-controller"),
                json!("Scaled up replica set web-7cd487467c from 0 to 1"),
                json!("90s"),
                json!(3),
                json!("web.1"),
            ]
        );
        let kubelet = json!({"metadata": {"name": "p.1", "creationTimestamp": age::format_timestamp(NOW - 5)}, "type": "Normal",
            "reason": "Pulled", "source": {"component": "kubelet", "host": "node-1"},
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{web}"}, "message": "Pulled\n"});
        let cells = row_in("", "events", kubelet);
        assert_eq!(cells[..7], [json!("5s"), json!("Normal"), json!("Pulled"), json!("pod/p"), json!("spec.containers{web}"),
                                json!("kubelet, node-1"), json!("Pulled")]);
        assert_eq!((&cells[7], &cells[8]), (&json!("5s"), &json!(1)), "no first timestamp: created; no count: one");
        let job = json!({"metadata": meta("pi", 120), "spec": {"completions": 1}, "status": {"succeeded": 1, "startTime": age::format_timestamp(NOW - 100), "completionTime": age::format_timestamp(NOW - 90),
            "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(
            row_in("batch", "jobs", job)[..5],
            [json!("pi"), json!("Complete"), json!("1/1"), json!("10s"), json!("2m")]
        );
        let jobs = [
            ("a work queue of 3", json!({"parallelism": 3}), json!([]), false, "Running", "0/1 of 3"),
            ("a work queue of 1", json!({"parallelism": 1}), json!([]), false, "Running", "0/1"),
            ("suspended", json!({"completions": 2}), json!([{"type": "Suspended", "status": "True"}]), false, "Suspended", "0/2"),
            ("resumed", json!({"completions": 2}), json!([{"type": "Suspended", "status": "False"}]), false, "Running", "0/2"),
            ("on its way to failing", json!({}), json!([{"type": "FailureTarget", "status": "True"}]), false, "FailureTarget", "0/1"),
            ("done, pods still stopping", json!({}), json!([{"type": "SuccessCriteriaMet", "status": "True"}]), false, "SuccessCriteriaMet", "0/1"),
            ("being deleted", json!({}), json!([{"type": "Suspended", "status": "True"}]), true, "Terminating", "0/1"),
        ];
        for (case, spec, conditions, deleted, status, completions) in jobs {
            let mut job = json!({"metadata": meta("j", 10), "spec": spec, "status": {"conditions": conditions}});
            if deleted {
                job["metadata"]["deletionTimestamp"] = json!(age::format_timestamp(NOW - 1));
            }
            let cells = row_in("batch", "jobs", job);
            assert_eq!((&cells[1], &cells[2]), (&json!(status), &json!(completions)), "{case}");
        }
        let pv = json!({"metadata": meta("pv1", 5), "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "standard"}, "status": {"phase": "Bound"}});
        assert_eq!(
            row_in("", "persistentvolumes", pv)[..7],
            [
                json!("pv1"),
                json!("1Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("standard")
            ]
        );
        let ingress = json!({"metadata": meta("shop", 5), "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.test"}]}, "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}});
        assert_eq!(
            row_in("networking.k8s.io", "ingresses", ingress)[..5],
            [json!("shop"), json!("nginx"), json!("shop.example.test"), json!("127.0.0.1"), json!("80")]
        );
    }

    #[test]
    fn a_table_has_definitions_rows_and_metadata_for_kubectl() {
        let pods = by_plural("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "x"}, "creationTimestamp": "2026-11-23T11:59:00Z"}, "spec": {"containers": []}, "status": {"phase": "Pending"}});
        let table = table(pods, &[pod], "42", NOW);
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["metadata"]["resourceVersion"], "42");
        assert_eq!(
            table["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0})
        );
        assert_eq!(table["columnDefinitions"][5]["priority"], 1, "IP is a wide column");
        assert_eq!(table["rows"][0]["object"]["metadata"]["labels"]["app"], "x");
        assert_eq!(table["rows"][0]["cells"][4], "60s");
        let empty = super::table(pods, &[], "42", NOW);
        assert_eq!(empty["rows"], json!([]));
        // A kind without a printer: Name and Created At.
        let widgets = crate::registry::Resource {
            plural: "widgets",
            ..by_plural("discovery.k8s.io", "v1", "endpointslices").unwrap().clone()
        };
        let slice = super::table(
            &widgets,
            &[json!({"metadata": {"name": "l", "creationTimestamp": "2026-11-23T11:00:00Z"}})],
            "1",
            NOW,
        );
        assert_eq!(slice["columnDefinitions"][1]["format"], "date-time");
        assert_eq!(slice["rows"][0]["cells"], json!(["l", "2026-11-23T11:00:00Z"]));
    }
}
