//! Endpoints and EndpointSlices: the addresses a Service's traffic goes to.
//!
//! Mirrors `ValidateEndpoints`, `validateEndpointSubsets`, `validateEndpointAddress`,
//! `validateEndpointPort` and `ValidateNonSpecialIP` in kubernetes
//! `pkg/apis/core/validation/validation.go`, and `ValidateEndpointSlice(Create|Update)` in
//! `pkg/apis/discovery/validation/validation.go`. An endpoint may not be `0.0.0.0`, loopback or
//! link-local: traffic sent there would never reach a pod. A port's absent protocol is TCP (the
//! default Skiff does not fill in). Left out: EndpointSlice hints, `nodeName` transitions, the
//! 1000-endpoint and 100-port limits.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::Value;

use super::field::{FieldError, Path};
use super::json::{int, list, opt_text, text};
use super::names::{dns1123_label, dns1123_subdomain, port_number, qualified_name, IP_MESSAGE};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];

/// An IP no traffic should be sent to on a pod's behalf.
pub fn non_special_ip(ip: &str, path: &Path) -> Vec<FieldError> {
    let Ok(parsed) = ip.parse::<IpAddr>() else {
        return vec![FieldError::invalid(path, ip, "must be a valid IP address")];
    };
    let (unspecified, loopback) = (parsed.is_unspecified(), parsed.is_loopback());
    let (link_local, link_local_multicast) = match parsed {
        IpAddr::V4(v4) => (v4.is_link_local(), v4.octets()[..3] == [224, 0, 0]),
        IpAddr::V6(v6) => ((v6.segments()[0] & 0xffc0) == 0xfe80, (v6.segments()[0] & 0xff0f) == 0xff02),
    };
    let mut errors = Vec::new();
    if unspecified {
        errors.push(FieldError::invalid(path, ip, format!("may not be unspecified ({ip})")));
    }
    if loopback {
        errors.push(FieldError::invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"));
    }
    if link_local {
        errors.push(FieldError::invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"));
    }
    if link_local_multicast {
        errors.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errors
}

fn protocol(port: &Value, path: &Path) -> Vec<FieldError> {
    match port.get("protocol").and_then(Value::as_str) {
        Some("") => vec![FieldError::required(path.child("protocol"), "")],
        Some(p) if !PROTOCOLS.contains(&p) => vec![FieldError::not_supported(path.child("protocol"), p, PROTOCOLS)],
        _ => Vec::new(),
    }
}

fn app_protocol(port: &Value, path: &Path) -> Vec<FieldError> {
    let Some(protocol) = opt_text(port, "appProtocol") else { return Vec::new() };
    let at = path.child("appProtocol");
    qualified_name(protocol).into_iter().map(|p| FieldError::invalid(&at, protocol, p)).collect()
}

/// An Endpoints object's `subsets`.
pub fn endpoints(object: &Value) -> Vec<FieldError> {
    let path = Path::new("subsets");
    let mut errors = Vec::new();
    for (i, subset) in list(object, "subsets").iter().enumerate() {
        let at = path.index(i);
        let (ready, not_ready) = (list(subset, "addresses"), list(subset, "notReadyAddresses"));
        if ready.is_empty() && not_ready.is_empty() {
            errors.push(FieldError::required(&at, "must specify `addresses` or `notReadyAddresses`"));
        }
        for (field, addresses) in [("addresses", ready), ("notReadyAddresses", not_ready)] {
            for (j, address) in addresses.iter().enumerate() {
                errors.extend(endpoint_address(address, &at.child(field).index(j)));
            }
        }
        let ports = list(subset, "ports");
        for (j, port) in ports.iter().enumerate() {
            let port_path = at.child("ports").index(j);
            let name = text(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errors.push(FieldError::required(port_path.child("name"), ""));
            } else if !name.is_empty() {
                errors.extend(
                    dns1123_label(name).into_iter().map(|p| FieldError::invalid(port_path.child("name"), name, p)),
                );
            }
            let number = int(port, "port").unwrap_or(0);
            errors.extend(
                port_number(number).into_iter().map(|p| FieldError::invalid(port_path.child("port"), number, p)),
            );
            errors.extend(protocol(port, &port_path));
            errors.extend(app_protocol(port, &port_path));
        }
    }
    errors
}

fn endpoint_address(address: &Value, path: &Path) -> Vec<FieldError> {
    let ip = text(address, "ip");
    let mut errors = Vec::new();
    if ip.parse::<IpAddr>().is_err() {
        errors.push(FieldError::invalid(path.child("ip"), ip, IP_MESSAGE));
    }
    let hostname = text(address, "hostname");
    if !hostname.is_empty() {
        errors.extend(
            dns1123_label(hostname).into_iter().map(|p| FieldError::invalid(path.child("hostname"), hostname, p)),
        );
    }
    if let Some(node) = opt_text(address, "nodeName") {
        errors
            .extend(dns1123_subdomain(node).into_iter().map(|p| FieldError::invalid(path.child("nodeName"), node, p)));
    }
    errors.extend(non_special_ip(ip, &path.child("ip")));
    errors
}

/// An EndpointSlice's endpoints and ports (the address type is checked on create).
pub fn endpoint_slice(slice: &Value) -> Vec<FieldError> {
    let kind = text(slice, "addressType");
    let mut errors = Vec::new();
    for (i, endpoint) in list(slice, "endpoints").iter().enumerate() {
        let at = Path::new("endpoints").index(i);
        let addresses = list(endpoint, "addresses");
        if addresses.is_empty() {
            errors.push(FieldError::required(at.child("addresses"), "must contain at least 1 address"));
        }
        for (j, address) in addresses.iter().map(|a| a.as_str().unwrap_or_default()).enumerate() {
            let address_path = at.child("addresses").index(j);
            let parsed = address.parse::<IpAddr>();
            match kind {
                "IPv4" if !matches!(parsed, Ok(IpAddr::V4(_))) => {
                    errors.push(FieldError::invalid(address_path, address, "must be a valid IPv4 address"))
                }
                "IPv6" if !matches!(parsed, Ok(IpAddr::V6(_))) => {
                    errors.push(FieldError::invalid(address_path, address, "must be a valid IPv6 address"))
                }
                "IPv4" | "IPv6" => errors.extend(non_special_ip(address, &address_path)),
                "FQDN" => errors.extend(
                    dns1123_subdomain(address).into_iter().map(|p| FieldError::invalid(&address_path, address, p)),
                ),
                _ => {}
            }
        }
        if let Some(node) = opt_text(endpoint, "nodeName") {
            errors.extend(
                dns1123_subdomain(node).into_iter().map(|p| FieldError::invalid(at.child("nodeName"), node, p)),
            );
        }
        if let Some(hostname) = opt_text(endpoint, "hostname") {
            errors.extend(
                dns1123_label(hostname).into_iter().map(|p| FieldError::invalid(at.child("hostname"), hostname, p)),
            );
        }
    }
    let mut names = BTreeSet::new();
    for (i, port) in list(slice, "ports").iter().enumerate() {
        let at = Path::new("ports").index(i);
        let name = text(port, "name");
        if !name.is_empty() {
            errors.extend(dns1123_label(name).into_iter().map(|p| FieldError::invalid(at.child("name"), name, p)));
        }
        if !names.insert(name) {
            errors.push(FieldError::duplicate(at.child("name"), name));
        }
        if let Some(number) = int(port, "port") {
            errors.extend(port_number(number).into_iter().map(|p| FieldError::invalid(at.child("port"), number, p)));
        }
        errors.extend(protocol(port, &at));
        errors.extend(app_protocol(port, &at));
    }
    errors
}

/// Only on create: the address type is required and known.
pub fn endpoint_slice_create(slice: &Value) -> Vec<FieldError> {
    let mut errors = endpoint_slice(slice);
    match text(slice, "addressType") {
        "" => errors.push(FieldError::required("addressType", "")),
        kind if !ADDRESS_TYPES.contains(&kind) => {
            errors.push(FieldError::not_supported("addressType", kind, ADDRESS_TYPES))
        }
        _ => {}
    }
    errors
}

/// The address type of a slice never changes.
pub fn endpoint_slice_update(new: &Value, old: &Value) -> Vec<FieldError> {
    if text(new, "addressType") == text(old, "addressType") {
        return Vec::new();
    }
    vec![FieldError::immutable("addressType", text(new, "addressType"))]
}
