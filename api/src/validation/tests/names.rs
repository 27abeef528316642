use std::collections::BTreeMap;

use crate::validation::names::*;

#[test]
fn names_follow_rfc_1123_and_service_names_rfc_1035() {
    // (name, DNS-1123 label, DNS-1123 subdomain, DNS-1035 label)
    let cases = [
        ("web", true, true, true),
        ("web-0", true, true, true),
        ("0web", true, true, false),
        ("my.app", false, true, false),
        ("Web", false, false, false),
        ("-web", false, false, false),
        ("web-", false, false, false),
        ("web_1", false, false, false),
        ("", false, false, false),
        ("a..b", false, false, false),
    ];
    for (name, label, subdomain, service) in cases {
        assert_eq!(dns1123_label(name).is_empty(), label, "{name:?} as a label");
        assert_eq!(dns1123_subdomain(name).is_empty(), subdomain, "{name:?} as a subdomain");
        assert_eq!(dns1035_label(name).is_empty(), service, "{name:?} as a DNS-1035 label");
    }
    assert_eq!(dns1123_label(&"a".repeat(64))[0], "must be no more than 63 characters");
    assert!(dns1123_subdomain(&"a".repeat(253)).is_empty());
    assert_eq!(
        dns1035_label("1web"),
        vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
    );
}

#[test]
fn label_keys_and_values_follow_kubernetes() {
    let keys = [
        ("app", true),
        ("app.kubernetes.io/name", true),
        ("App_Name.v2", true),
        ("example.com/", false),
        ("/name", false),
        ("a/b/c", false),
        ("invalid label", false),
        ("Example.com/name", false),
    ];
    for (key, ok) in keys {
        assert_eq!(qualified_name(key).is_empty(), ok, "{key:?}: {:?}", qualified_name(key));
    }
    let values = [("", true), ("web", true), ("My_Value.1", true), ("-x", false), ("a b", false)];
    for (value, ok) in values {
        assert_eq!(label_value(value).is_empty(), ok, "{value:?}");
    }
    // An empty name part is both empty and not matching the pattern, as Kubernetes says twice.
    let problems = qualified_name("example.com/");
    assert_eq!(problems[0], "name part must be non-empty");
    assert!(problems[1].starts_with("name part must consist of alphanumeric characters"));
}

#[test]
fn a_label_map_reports_each_bad_key_and_value_at_the_map() {
    let map: BTreeMap<String, String> = [("invalid label", "ok"), ("app", "spaces are not allowed")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let errors = labels(&map, "metadata.labels");
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|e| e.field == "metadata.labels"));
    assert!(errors[0]
        .to_string()
        .starts_with("metadata.labels: Invalid value: \"spaces are not allowed\": a valid label"));
    assert!(errors[1].to_string().contains("name part must consist of alphanumeric characters"), "{}", errors[1]);
}

#[test]
fn port_names_are_iana_service_names() {
    let cases: [(&str, &[&str]); 6] = [
        ("http", &[]),
        ("metrics-9", &[]),
        (
            "HTTP",
            &[
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
        ),
        ("8080", &["must contain at least one letter (a-z)"]),
        ("a--b", &["must not contain consecutive hyphens"]),
        ("very-long-port-name", &["must be no more than 15 characters"]),
    ];
    for (name, expected) in cases {
        assert_eq!(port_name(name), expected, "{name:?}");
    }
    assert_eq!(port_number(0), vec!["must be between 1 and 65535, inclusive"]);
    assert!(port_number(65535).is_empty());
}

#[test]
fn environment_variable_names_and_config_keys_have_their_own_alphabets() {
    for (name, ok) in [("MY_VAR", true), ("my.env-name", true), ("1VAR", false), ("A B", false), ("..x", false)] {
        assert_eq!(env_var_name(name).is_empty(), ok, "{name:?}");
    }
    assert!(env_var_name("1VAR")[0].starts_with(
        "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"
    ));
    for (key, ok) in [
        ("app.properties", true),
        ("KEY_NAME", true),
        ("key-name", true),
        ("a/b", false),
        (".", false),
        ("..data", false),
    ] {
        assert_eq!(config_key(key).is_empty(), ok, "{key:?}");
    }
    assert_eq!(config_key(".."), vec!["must not be '..'"]);
    assert_eq!(
        config_key("a b"),
        vec!["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
    );
}

#[test]
fn percentages_ips_cidrs_and_wildcard_hosts_parse_like_kubernetes() {
    assert_eq!(percent("25%"), Ok(25));
    assert!(percent("25").is_err() && percent("%").is_err() && percent("2.5%").is_err());
    assert!(is_ip("10.0.0.1") && is_ip("fd00::1") && !is_ip("10.0.0.256") && !is_ip("example.com"));
    assert!(is_cidr("10.244.0.0/24") && is_cidr("fd00::/64") && !is_cidr("10.244.0.0/33") && !is_cidr("10.244.0.0"));
    assert!(wildcard_dns1123_subdomain("*.example.com").is_empty());
    assert!(!wildcard_dns1123_subdomain("*example.com").is_empty());
    assert_eq!(path_segment_name(".."), vec!["may not be '..'"]);
    assert_eq!(path_segment_name("a/b%"), vec!["may not contain '/'", "may not contain '%'"]);
}
