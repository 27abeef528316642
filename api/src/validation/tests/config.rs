use serde_json::{json, Value};

use super::{check_create, check_update, create, update, with};
use crate::validation::config::base64_len;

const KEY: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

fn config_map() -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"},
        "data": {"app.properties": "color=blue\n", "LOG_LEVEL": "info"}
    })
}

fn secret() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
        "data": {"username": "YWRtaW4=", "password": "czNjcjN0"}
    })
}

#[test]
fn base64_is_decoded_as_go_decodes_it() {
    let cases = [
        ("", Ok(0)),
        ("YWRtaW4=", Ok(5)),
        ("czNjcjN0", Ok(6)),
        ("YQ==", Ok(1)),
        ("YWJj\nZGVm", Ok(6)),
        ("admin", Err(4)),
        ("YWRt aW4=", Err(4)),
        ("YQ=", Err(3)),
        ("YQ==YQ==", Err(4)),
        ("Y===", Err(1)),
    ];
    for (text, expected) in cases {
        assert_eq!(base64_len(text), expected, "{text:?}");
    }
}

#[test]
fn a_config_map_has_file_name_keys_and_at_most_a_mebibyte() {
    let big = "x".repeat(1024 * 1024 + 1);
    check_create(
        "configmaps",
        config_map,
        cases![
            (
                "a key with a slash",
                |o| o["data"]["conf/app"] = json!("x"),
                [format!("data[conf/app]: Invalid value: \"conf/app\": {KEY}")]
            ),
            (
                "a key of two dots",
                |o| o["data"][".."] = json!("x"),
                ["data[..]: Invalid value: \"..\": must not be '..'"]
            ),
            (
                "a key in data and binaryData",
                |o| o["binaryData"] = json!({"LOG_LEVEL": "aW5mbw=="}),
                ["data[LOG_LEVEL]: Invalid value: \"LOG_LEVEL\": duplicate of key present in binaryData"]
            ),
            (
                "binary data that is not base64",
                |o| o["binaryData"] = json!({"logo.png": "not base64!"}),
                ["binaryData[logo.png]: Invalid value: \"not base64!\": illegal base64 data at input byte 3"]
            ),
            (
                "more than a mebibyte",
                |o| o["data"]["big"] = json!(big),
                ["[]: Too long: must have at most 1048576 bytes"]
            ),
        ],
    );
}

#[test]
fn an_immutable_config_map_keeps_its_data() {
    let frozen = || with(config_map(), |o| o["immutable"] = json!(true));
    check_update(
        "configmaps",
        frozen,
        cases![
            ("new labels", |o| o["metadata"]["labels"] = json!({"team": "a"}), []),
            (
                "new data",
                |o| o["data"]["LOG_LEVEL"] = json!("debug"),
                ["data: Forbidden: field is immutable when `immutable` is set"]
            ),
            (
                "no longer immutable",
                |o| o["immutable"] = json!(false),
                ["immutable: Forbidden: field is immutable when `immutable` is set"]
            ),
        ],
    );
    let changed = with(config_map(), |o| o["data"]["LOG_LEVEL"] = json!("debug"));
    assert!(update("configmaps", changed, config_map()).is_empty(), "a mutable ConfigMap may change");
}

#[test]
fn a_secret_holds_base64_and_the_keys_its_type_needs() {
    check_create(
        "secrets",
        secret,
        cases![
            ("a value that is not base64", |o| o["data"]["password"] = json!("s3cr3t!"), ["data[password]: Invalid value: \"<secret contents redacted>\": illegal base64 data at input byte 6"]),
            ("string data", |o| o["stringData"] = json!({"token": "plain text"}), []),
            ("a bad string data key", |o| o["stringData"] = json!({"my token": "x"}), [format!("data[my token]: Invalid value: \"my token\": {KEY}")]),
            ("a TLS secret without its key", |o| { o["type"] = json!("kubernetes.io/tls"); o["data"] = json!({"tls.crt": "Y2VydA=="}); }, ["data[tls.key]: Required value"]),
            ("basic auth with neither part", |o| { o["type"] = json!("kubernetes.io/basic-auth"); o["data"] = json!({}); }, ["data[username]: Required value", "data[password]: Required value"]),
            ("a docker config that is not JSON", |o| { o["type"] = json!("kubernetes.io/dockerconfigjson"); o["data"] = json!({".dockerconfigjson": "bm90IGpzb24="}); }, ["data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": expected ident at line 1 column 2"]),
            ("a docker config that is JSON", |o| { o["type"] = json!("kubernetes.io/dockerconfigjson"); o["data"] = json!({".dockerconfigjson": "eyJhdXRocyI6e319"}); }, []),
            ("a service account token without its account", |o| o["type"] = json!("kubernetes.io/service-account-token"), ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
        ],
    );
    let retyped = with(secret(), |o| o["type"] = json!("kubernetes.io/basic-auth"));
    assert_eq!(
        update("secrets", retyped, secret()),
        vec!["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
    );
    let frozen = with(secret(), |o| o["immutable"] = json!(true));
    let changed = with(frozen.clone(), |o| o["data"]["password"] = json!("bmV3"));
    assert_eq!(update("secrets", changed, frozen), vec!["data: Forbidden: field is immutable when `immutable` is set"]);
    assert!(create("secrets", secret()).is_empty());
}
