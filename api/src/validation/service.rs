//! Services: ports, types, ClusterIPs, selectors and session affinity.
//!
//! Mirrors `ValidateService`, `validateServicePort`, `ValidateServiceClusterIPsRelatedFields`,
//! `validateServiceExternalTrafficPolicy` and `validateUpgradeDowngradeClusterIPs` in
//! kubernetes `pkg/apis/core/validation/validation.go`.
//!
//! Skiff fills a Service's defaults when it allocates its ClusterIP and NodePorts
//! (`apiserver/src/services.rs`), so these rules read an absent field as its default: `type`
//! ClusterIP, `sessionAffinity` None, a port's `protocol` TCP and `targetPort` its `port`; they
//! may run before the allocation. `clusterIPs` is derived from `clusterIP` when absent, as
//! Kubernetes' strategy does. On update, the primary ClusterIP `may not change once set`. Left
//! out: the rules on changing what Skiff defaults by type (`internalTrafficPolicy`,
//! `externalTrafficPolicy`, `allocateLoadBalancerNodePorts`, `ipFamilies`),
//! load balancer classes and status, `healthCheckNodePort`, topology annotations. The NodePort
//! range (30000–32767) is the allocator's concern; a NodePort outside 1–65535 is refused here.

use std::collections::BTreeSet;

use serde_json::Value;

use super::field::{quote, FieldError, Path};
use super::json::{has, int, list, obj, text};
use super::meta;
use super::names::{
    dns1123_label, dns1123_subdomain, is_cidr, is_ip, port_number, qualified_name, CIDR_MESSAGE, IP_MESSAGE,
};
use super::probe::port_num_or_name;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
/// `MaxClientIPServiceAffinitySeconds`: one day.
const MAX_AFFINITY_SECONDS: i64 = 86400;

fn service_type(spec: &Value) -> &str {
    spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP")
}

/// `spec.clusterIPs`, or `[clusterIP]` when only that is set.
fn cluster_ips(spec: &Value) -> Vec<String> {
    let ips: Vec<String> = list(spec, "clusterIPs").iter().filter_map(Value::as_str).map(str::to_string).collect();
    match text(spec, "clusterIP") {
        "" => ips,
        ip if ips.is_empty() => vec![ip.to_string()],
        _ => ips,
    }
}

fn headless(spec: &Value) -> bool {
    cluster_ips(spec) == ["None"]
}

/// A Service's `spec`.
pub fn validate(service: &Value) -> Vec<FieldError> {
    let (spec, path) = (&service["spec"], Path::new("spec"));
    let kind = service_type(spec);
    let ports = list(spec, "ports");
    let mut errors = Vec::new();
    if ports.is_empty() && !headless(spec) && kind != "ExternalName" {
        errors.push(FieldError::required(path.child("ports"), ""));
    }
    match kind {
        "LoadBalancer" | "NodePort" if headless(spec) => errors.push(FieldError::invalid(
            path.child("clusterIPs").index(0),
            "None",
            format!("may not be set to 'None' for {kind} services"),
        )),
        "ExternalName" => errors.extend(external_name(spec, &path)),
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        errors.extend(service_port(port, ports.len() > 1, &mut names, &path.child("ports").index(i)));
    }
    errors.extend(meta::validate_labels(obj(spec, "selector"), &path.child("selector")));
    errors.extend(session_affinity(spec, &path));
    if kind != "ExternalName" {
        errors.extend(cluster_ip_fields(spec, &path));
    }
    for (i, ip) in list(spec, "externalIPs").iter().map(|v| v.as_str().unwrap_or_default()).enumerate() {
        let at = path.child("externalIPs").index(i);
        if is_ip(ip) {
            errors.extend(super::endpoints::non_special_ip(ip, &at));
        } else {
            errors.push(FieldError::invalid(at, ip, IP_MESSAGE));
        }
    }
    match spec.get("type").and_then(Value::as_str) {
        Some("") => errors.push(FieldError::required(path.child("type"), "")),
        Some(other) if !TYPES.contains(&other) => {
            errors.push(FieldError::not_supported(path.child("type"), other, TYPES))
        }
        _ => {}
    }
    errors.extend(port_collisions(ports, kind, &path.child("ports")));
    let ranges = list(spec, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let at = path.child("LoadBalancerSourceRanges");
        if kind != "LoadBalancer" {
            errors.push(FieldError::forbidden(&at, "may only be used when `type` is 'LoadBalancer'"));
        }
        for (i, range) in ranges.iter().map(|v| v.as_str().unwrap_or_default().trim()).enumerate() {
            if !is_cidr(range) {
                errors.push(FieldError::invalid(at.index(i), range, CIDR_MESSAGE));
            }
        }
    }
    if has(spec, "allocateLoadBalancerNodePorts") && kind != "LoadBalancer" {
        errors.push(FieldError::forbidden(
            path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    errors.extend(traffic_policies(spec, kind, &path));
    errors
}

fn external_name(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !cluster_ips(spec).is_empty() {
        errors.push(FieldError::forbidden(path.child("clusterIPs"), "may not be set for ExternalName services"));
    }
    if !list(spec, "ipFamilies").is_empty() {
        errors.push(FieldError::forbidden(path.child("ipFamilies"), "may not be set for ExternalName services"));
    }
    if has(spec, "ipFamilyPolicy") {
        errors.push(FieldError::forbidden(path.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
    }
    // A CNAME may end with a dot to say it is fully qualified.
    let name = text(spec, "externalName");
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        errors.push(FieldError::required(path.child("externalName"), ""));
    } else {
        errors.extend(
            dns1123_subdomain(name).into_iter().map(|p| FieldError::invalid(path.child("externalName"), name, p)),
        );
    }
    errors
}

/// One port: named when there are several, 1–65535, a known protocol, a target port number or
/// name.
fn service_port<'a>(port: &'a Value, several: bool, names: &mut BTreeSet<&'a str>, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = text(port, "name");
    if several && name.is_empty() {
        errors.push(FieldError::required(path.child("name"), ""));
    } else if !name.is_empty() {
        errors.extend(dns1123_label(name).into_iter().map(|p| FieldError::invalid(path.child("name"), name, p)));
        if !names.insert(name) {
            errors.push(FieldError::duplicate(path.child("name"), name));
        }
    }
    let number = int(port, "port").unwrap_or(0);
    errors.extend(port_number(number).into_iter().map(|p| FieldError::invalid(path.child("port"), number, p)));
    // Kubernetes leaves a NodePort's range to its allocator; Skiff's reads a port as 16 bits, so
    // the numbers that do not fit are refused here.
    if let Some(node_port) = int(port, "nodePort").filter(|p| *p != 0) {
        errors.extend(
            port_number(node_port).into_iter().map(|p| FieldError::invalid(path.child("nodePort"), node_port, p)),
        );
    }
    match port.get("protocol").and_then(Value::as_str) {
        Some("") => errors.push(FieldError::required(path.child("protocol"), "")),
        Some(protocol) if !PROTOCOLS.contains(&protocol) => {
            errors.push(FieldError::not_supported(path.child("protocol"), protocol, PROTOCOLS))
        }
        _ => {}
    }
    // An unset (or zero) target port is the port itself.
    if let Some(target) = port.get("targetPort").filter(|t| !t.is_null() && t.as_i64() != Some(0)) {
        errors.extend(port_num_or_name(target, &path.child("targetPort")));
    }
    if let Some(protocol) = port.get("appProtocol").and_then(Value::as_str) {
        let at = path.child("appProtocol");
        errors.extend(qualified_name(protocol).into_iter().map(|p| FieldError::invalid(&at, protocol, p)));
    }
    errors
}

fn session_affinity(spec: &Value, path: &Path) -> Vec<FieldError> {
    let config = spec.get("sessionAffinityConfig").filter(|v| !v.is_null());
    match spec.get("sessionAffinity").and_then(Value::as_str).unwrap_or("None") {
        "" => vec![FieldError::required(path.child("sessionAffinity"), "")],
        "None" if config.is_some() => vec![FieldError::forbidden(
            path.child("sessionAffinityConfig"),
            "must not be set when session affinity is None",
        )],
        "None" => Vec::new(),
        "ClientIP" => {
            // Kubernetes defaults the timeout to 3 hours.
            let timeout = config.and_then(|c| c["clientIP"]["timeoutSeconds"].as_i64()).unwrap_or(10800);
            if timeout <= 0 || timeout > MAX_AFFINITY_SECONDS {
                vec![FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    timeout,
                    format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}"),
                )]
            } else {
                Vec::new()
            }
        }
        other => vec![FieldError::not_supported(path.child("sessionAffinity"), other, &["ClientIP", "None"])],
    }
}

fn cluster_ip_fields(spec: &Value, path: &Path) -> Vec<FieldError> {
    let (at, ips) = (path.child("clusterIPs"), cluster_ips(spec));
    let shown = || Value::from(ips.clone());
    let mut errors = Vec::new();
    match text(spec, "clusterIP") {
        "" if !ips.is_empty() => {
            errors.push(FieldError::invalid(&at, shown(), "must be empty when `clusterIP` is not specified"))
        }
        "" => {}
        primary if ips[0] != primary => {
            errors.push(FieldError::invalid(&at, shown(), "first value must match `clusterIP`"))
        }
        _ => {}
    }
    let mut families = BTreeSet::new();
    for (i, family) in list(spec, "ipFamilies").iter().map(|v| v.as_str().unwrap_or_default()).enumerate() {
        if family != "IPv4" && family != "IPv6" {
            errors.push(FieldError::not_supported(path.child("ipFamilies").index(i), family, &["IPv4", "IPv6"]));
        }
        if !families.insert(family) {
            errors.push(FieldError::duplicate(path.child("ipFamilies").index(i), family));
        }
    }
    if let Some(policy) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        let supported = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !supported.contains(&policy) {
            errors.push(FieldError::not_supported(path.child("ipFamilyPolicy"), policy, &supported));
        }
    }
    let mut bad = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                bad = true;
                errors.push(FieldError::invalid(&at, shown(), "'None' must be the first and only value"));
            }
        } else if !is_ip(ip) {
            bad = true;
            errors.push(FieldError::invalid(at.index(i), ip.as_str(), IP_MESSAGE));
        }
    }
    if ips.len() > 2 {
        errors.push(FieldError::invalid(&at, shown(), "may only hold up to 2 values"));
    }
    if !bad && ips.len() == 2 && ips[0].contains(':') == ips[1].contains(':') {
        errors.push(FieldError::invalid(&at, shown(), "may specify no more than one IP for each IP family"));
    }
    errors
}

/// NodePorts only for NodePort and LoadBalancer Services; no two ports (or NodePorts) alike.
fn port_collisions(ports: &[Value], kind: &str, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let protocol = |p: &Value| p.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_string();
    let (mut node_ports, mut numbers) = (BTreeSet::new(), BTreeSet::new());
    for (i, port) in ports.iter().enumerate() {
        let node_port = int(port, "nodePort").unwrap_or(0);
        if kind == "ClusterIP" && node_port != 0 {
            errors.push(FieldError::forbidden(
                path.index(i).child("nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
        if node_port != 0 && !node_ports.insert((protocol(port), node_port)) {
            errors.push(FieldError::duplicate(path.index(i).child("nodePort"), node_port));
        }
    }
    for (i, port) in ports.iter().enumerate() {
        let key = (protocol(port), int(port, "port").unwrap_or(0));
        if !numbers.insert(key.clone()) {
            let shown = format!(
                "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                quote(&key.0),
                key.1
            );
            errors.push(FieldError::duplicate_go(path.index(i), shown, ""));
        }
    }
    errors
}

fn traffic_policies(spec: &Value, kind: &str, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let accessible =
        kind == "LoadBalancer" || kind == "NodePort" || (kind == "ClusterIP" && !list(spec, "externalIPs").is_empty());
    let external = text(spec, "externalTrafficPolicy");
    if !accessible && !external.is_empty() {
        errors.push(FieldError::invalid(
            path.child("externalTrafficPolicy"),
            external,
            "may only be set for externally-accessible services",
        ));
    } else if accessible && !external.is_empty() && external != "Cluster" && external != "Local" {
        errors.push(FieldError::not_supported(path.child("externalTrafficPolicy"), external, &["Cluster", "Local"]));
    }
    if let Some(internal) = spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        if internal != "Cluster" && internal != "Local" {
            errors.push(FieldError::not_supported(
                path.child("internalTrafficPolicy"),
                internal,
                &["Cluster", "Local"],
            ));
        }
    }
    errors
}

/// The primary ClusterIP may not change once set (to and from ExternalName excepted). The API
/// server keeps the old one when an update leaves it out (`services::keep_cluster_ip`).
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let (now, before) = (&new["spec"], &old["spec"]);
    if service_type(now) == "ExternalName"
        || service_type(before) == "ExternalName"
        || (headless(now) && headless(before))
    {
        return Vec::new();
    }
    let (ips, old_ips) = (cluster_ips(now), cluster_ips(before));
    let shown = || Value::from(ips.clone());
    let mut errors = Vec::new();
    if ips.is_empty() && !old_ips.is_empty() {
        errors.push(FieldError::invalid("spec.clusterIPs[0]", shown(), "primary clusterIP can not be unset"));
    } else if ips.len() == old_ips.len() {
        for (i, (a, b)) in ips.iter().zip(&old_ips).enumerate() {
            if a != b {
                errors.push(FieldError::invalid(format!("spec.clusterIPs[{i}]"), shown(), "may not change once set"));
            }
        }
    } else if !old_ips.is_empty() && ips[0] != old_ips[0] {
        errors.push(FieldError::invalid("spec.clusterIPs[0]", shown(), "may not change once set"));
    }
    errors
}
