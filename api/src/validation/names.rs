//! The shapes of names and small values, with Kubernetes' messages: DNS-1123 labels and
//! subdomains, DNS-1035 labels, qualified names (label and annotation keys), label values, port
//! names (IANA_SVC_NAME), environment variable names, config keys, percentages, IPs and CIDRs.
//!
//! Mirrors apimachinery's `pkg/util/validation/validation.go` (`IsDNS1123Label`,
//! `IsDNS1035Label`, `IsQualifiedName`, `IsValidLabelValue`, `IsValidPortName`, `IsEnvVarName`,
//! `IsConfigMapKey`, `IsValidPercent`, `IsValidIP`) and `pkg/api/validation/path`
//! (`IsValidPathSegmentName`). Each function returns the problems of a value as messages; callers
//! turn each into a [`FieldError`] at the field's path. The messages are part of the interface:
//! kubectl prints them as the server sends them, e.g.
//! `metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of …`.
//! Left out: the relaxed environment variable names of a feature gate that is off in 1.31.

use std::collections::BTreeMap;

use super::field::FieldError;

/// What `ValidateImmutableField` says.
pub const FIELD_IMMUTABLE: &str = "field is immutable";
/// What `ValidateNonnegativeField` says.
pub const NEGATIVE: &str = "must be greater than or equal to 0";

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
const PORT_NAME_MAX: usize = 15;

const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const WILDCARD_DNS1123_MESSAGE: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_NAME_MESSAGE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const QUALIFIED_NAME_SHAPE_MESSAGE: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const ENV_VAR_NAME_MESSAGE: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
const CONFIG_KEY_MESSAGE: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const PERCENT_MESSAGE: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";
pub(crate) const IP_MESSAGE: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
pub(crate) const CIDR_MESSAGE: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

fn too_long(max: usize) -> String {
    format!("must be no more than {max} characters")
}

/// `must be between 1 and 65535, inclusive`.
pub fn inclusive_range(low: i64, high: i64) -> String {
    format!("must be between {low} and {high}, inclusive")
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn dns1123_label_ok(value: &str) -> bool {
    !value.is_empty() && value.chars().all(is_label_char) && !value.starts_with('-') && !value.ends_with('-')
}

/// Problems of `value` as a DNS-1123 label (names of namespaces, containers, ports, volumes).
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        problems.push(too_long(DNS1123_LABEL_MAX));
    }
    if !dns1123_label_ok(value) {
        problems.push(DNS1123_LABEL_MESSAGE.to_string());
    }
    problems
}

fn dns1123_subdomain_ok(value: &str) -> bool {
    value.split('.').all(dns1123_label_ok)
}

/// Problems of `value` as a DNS-1123 subdomain (names of most objects).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        problems.push(too_long(DNS1123_SUBDOMAIN_MAX));
    }
    if !dns1123_subdomain_ok(value) {
        problems.push(DNS1123_SUBDOMAIN_MESSAGE.to_string());
    }
    problems
}

/// Problems of `value` as a DNS-1035 label (Service names: they become DNS names, which may not
/// start with a digit).
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        problems.push(too_long(DNS1123_LABEL_MAX));
    }
    if !dns1123_label_ok(value) || !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        problems.push(DNS1035_LABEL_MESSAGE.to_string());
    }
    problems
}

/// Problems of `value` as `*.` followed by a DNS-1123 subdomain (Ingress hosts).
pub fn wildcard_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        problems.push(too_long(DNS1123_SUBDOMAIN_MAX));
    }
    if !value.strip_prefix("*.").is_some_and(dns1123_subdomain_ok) {
        problems.push(WILDCARD_DNS1123_MESSAGE.to_string());
    }
    problems
}

fn qualified_part_ok(part: &str) -> bool {
    !part.is_empty()
        && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && part.starts_with(|c: char| c.is_ascii_alphanumeric())
        && part.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Problems of `value` as a qualified name (label and annotation keys): an optional DNS
/// subdomain prefix and `/`, then a name part.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (prefix, name) = match value.split_once('/') {
        None => (None, value),
        Some((_, name)) if name.contains('/') => return vec![QUALIFIED_NAME_SHAPE_MESSAGE.to_string()],
        Some((prefix, name)) => (Some(prefix), name),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            problems.push("prefix part must be non-empty".to_string());
        } else {
            problems.extend(dns1123_subdomain(prefix).into_iter().map(|p| format!("prefix part {p}")));
        }
    }
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX {
        problems.push(format!("name part {}", too_long(QUALIFIED_NAME_MAX)));
    }
    if !qualified_part_ok(name) {
        problems.push(QUALIFIED_NAME_MESSAGE.to_string());
    }
    problems
}

/// Problems of `value` as a label value.
pub fn label_value(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        problems.push(too_long(LABEL_VALUE_MAX));
    }
    if !value.is_empty() && !qualified_part_ok(value) {
        problems.push(LABEL_VALUE_MESSAGE.to_string());
    }
    problems
}

/// Every problem of a label map, at `field` (`metadata.labels`): Kubernetes reports a bad key
/// or value at the map's path, not at the key's.
pub fn labels(labels: &BTreeMap<String, String>, field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels {
        errors.extend(qualified_name(key).into_iter().map(|p| FieldError::invalid(field, key.clone(), p)));
        errors.extend(label_value(value).into_iter().map(|p| FieldError::invalid(field, value.clone(), p)));
    }
    errors
}

/// Problems of `value` as a port name (IANA_SVC_NAME: `http`, `metrics-9`).
pub fn port_name(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > PORT_NAME_MAX {
        problems.push(too_long(PORT_NAME_MAX));
    }
    if value.is_empty() || !value.chars().all(is_label_char) {
        problems.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !value.chars().any(|c| c.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)".to_string());
    }
    if value.contains("--") {
        problems.push("must not contain consecutive hyphens".to_string());
    }
    if value.starts_with('-') || value.ends_with('-') {
        problems.push("must not begin or end with a hyphen".to_string());
    }
    problems
}

/// Problems of a port number (container, service and probe ports).
pub fn port_number(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range(1, 65535)]
    }
}

/// `.`, `..` and `..x` would let a key or variable name escape a directory.
fn dot_prefix(value: &str) -> Vec<String> {
    match value {
        "." => vec!["must not be '.'".to_string()],
        ".." => vec!["must not be '..'".to_string()],
        _ if value.starts_with("..") => vec!["must not start with '..'".to_string()],
        _ => Vec::new(),
    }
}

/// Problems of `value` as an environment variable name (or an `envFrom` prefix).
pub fn env_var_name(value: &str) -> Vec<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    let mut problems = Vec::new();
    if value.is_empty() || !value.chars().all(allowed) || value.starts_with(|c: char| c.is_ascii_digit()) {
        problems.push(ENV_VAR_NAME_MESSAGE.to_string());
    }
    problems.extend(dot_prefix(value));
    problems
}

/// Problems of `value` as a ConfigMap or Secret key.
pub fn config_key(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        problems.push(too_long(DNS1123_SUBDOMAIN_MAX));
    }
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        problems.push(CONFIG_KEY_MESSAGE.to_string());
    }
    problems.extend(dot_prefix(value));
    problems
}

/// The number in a valid percentage (`25%` → 25), or the problem.
pub fn percent(value: &str) -> Result<u64, String> {
    value
        .strip_suffix('%')
        .filter(|digits| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| PERCENT_MESSAGE.to_string())
}

/// Whether `value` is an IPv4 or IPv6 address.
pub fn is_ip(value: &str) -> bool {
    value.parse::<std::net::IpAddr>().is_ok()
}

/// Whether `value` is a CIDR (`10.244.0.0/24`, `fd00::/64`).
pub fn is_cidr(value: &str) -> bool {
    let Some((ip, bits)) = value.split_once('/') else { return false };
    let Ok(bits) = bits.parse::<u8>() else { return false };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// Problems of `value` as one segment of a URL path (the names of IngressClass parameters).
pub fn path_segment_name(value: &str) -> Vec<String> {
    match value {
        "." | ".." => vec![format!("may not be '{value}'")],
        _ => {
            ["/", "%"].iter().filter(|bad| value.contains(*bad)).map(|bad| format!("may not contain '{bad}'")).collect()
        }
    }
}
