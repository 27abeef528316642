//! The protobuf bodies real kubectl 1.32 and 1.33 generators sent, read back: each must give the
//! JSON kubectl 1.31 sends for the same command. And bodies that are cut short or garbled must end
//! in a 400 or a 415, never in a panic.
//!
//! The fixtures in `fixtures/protobuf/` are kubectl's own output for Skiff's commands, captured
//! behind a logging proxy (the commands are in the README there): `NAME.pb.hex` is the body of
//! kubectl 1.32.5 and 1.33.1 (byte for byte the same), `NAME.json` the body of kubectl 1.31.9.

use serde_json::{json, Value};
use skiff_api::protobuf::{decode, ProtobufError};
use skiff_api::status::Status;

/// Every generator kubectl 1.32+ sends as protobuf to a URL Skiff serves.
const GENERATORS: &[&str] = &[
    "configmap",
    "deployment",
    "deployment-command",
    "deployment-images",
    "ingress",
    "job",
    "namespace",
    "secret-docker-registry",
    "secret-generic",
    "secret-tls",
    "service-clusterip",
    "service-externalname",
    "service-headless",
    "service-loadbalancer",
    "service-nodeport",
    "serviceaccount",
];

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/protobuf/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn protobuf_body(case: &str) -> Vec<u8> {
    let digits: Vec<u8> = fixture(&format!("{case}.pb.hex")).bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

/// kubectl 1.31's JSON without its `null`s (`creationTimestamp: null`): protobuf has no null, a
/// zero time is simply not there.
fn json_body(case: &str) -> Value {
    fn without_nulls(value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
            other => other,
        }
    }
    without_nulls(serde_json::from_str(&fixture(&format!("{case}.json"))).unwrap())
}

#[test]
fn every_generator_body_reads_as_the_json_kubectl_1_31_sends() {
    for case in GENERATORS {
        let decoded = decode(&protobuf_body(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(decoded, json_body(case), "{case}");
    }
}

#[test]
fn the_fields_each_generator_sets_are_there() {
    let deployment = decode(&protobuf_body("deployment")).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["selector"], json!({"matchLabels": {"app": "web"}}));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"], json!([{"containerPort": 80}]));

    let images = decode(&protobuf_body("deployment-images")).unwrap();
    let names: Vec<_> = images["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("nginx"), json!("busybox")]);

    let service = decode(&protobuf_body("service-nodeport")).unwrap();
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["ports"][0]["nodePort"], 30080);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);

    let ingress = decode(&protobuf_body("ingress")).unwrap();
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["rules"][0]["http"]["paths"][0]["pathType"], "Prefix");
    assert_eq!(ingress["spec"]["defaultBackend"]["service"]["port"]["name"], "http");

    let job = decode(&protobuf_body("job")).unwrap();
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["command"], json!(["echo", "hi"]));

    let secret = decode(&protobuf_body("secret-generic")).unwrap();
    assert_eq!(secret["data"]["K"], "dg==");
}

/// A `runtime.Unknown` envelope around `raw`, encoded by hand.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        assert!(bytes.len() < 128, "one-byte lengths only");
        [&[number << 3 | 2, bytes.len() as u8][..], bytes].concat()
    }
    let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
    [b"k8s\0".to_vec(), field(1, &type_meta), field(2, raw)].concat()
}

#[test]
fn kinds_without_a_schema_are_415_with_kubernetes_message() {
    // What `kubectl autoscale` 1.33 sends, were the URL served.
    let body = envelope("autoscaling/v2", "HorizontalPodAutoscaler", &[0x0a, 0x02, 0x0a, 0x00]);
    let error = decode(&body).unwrap_err();
    assert!(matches!(&error, ProtobufError::UnsupportedKind { kind, .. } if kind == "HorizontalPodAutoscaler"));
    let status = Status::from(error);
    assert_eq!((status.code, status.reason), (415, "UnsupportedMediaType"));
    assert_eq!(
        status.message,
        "the body of the request was in an unknown format - accepted media types include: application/json"
    );
}

#[test]
fn bodies_that_are_not_what_they_claim_are_400() {
    let cases: [(&[u8], &str); 3] = [
        (b"{\"kind\": \"ConfigMap\"}", "does not start with k8s\\0"),
        (b"k8s\0\x0a\x05\x01", "envelope (runtime.Unknown) is malformed"),
        (b"k8s\0", "names no apiVersion and kind"),
    ];
    for (body, message) in cases {
        let status = Status::from(decode(body).unwrap_err());
        assert_eq!(status.code, 400, "{body:?}");
        assert!(status.message.contains(message), "{body:?}: {}", status.message);
    }
    // A container image that is not UTF-8: the path says where.
    let mut body = protobuf_body("deployment");
    let at = body.windows(10).position(|w| w == b"nginx:1.27").unwrap();
    body[at] = 0xff;
    let status = Status::from(decode(&body).unwrap_err());
    assert_eq!(status.code, 400);
    assert_eq!(
        status.message,
        "Deployment in version \"v1\" cannot be handled as a Deployment: \
         spec.template.spec.containers.image: a string is not UTF-8"
    );
}

/// Every outcome of a damaged body: an object, or a 400 / 415. Never a panic.
fn survives(body: &[u8]) {
    match decode(body) {
        Ok(object) => assert!(object.is_object()),
        Err(error) => assert!(matches!(Status::from(error).code, 400 | 415)),
    }
}

#[test]
fn truncated_bodies_are_errors_never_panics() {
    for case in GENERATORS {
        let body = protobuf_body(case);
        for len in 0..body.len() {
            survives(&body[..len]);
        }
        // Cut inside the object: the envelope's `raw` field then claims more bytes than are left.
        let cut = &body[..body.len() - 12];
        assert!(decode(cut).is_err(), "{case}");
    }
}

#[test]
fn garbled_bodies_are_errors_never_panics() {
    // xorshift64: the same "random" bytes every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in GENERATORS {
        let body = protobuf_body(case);
        for _ in 0..500 {
            let mut garbled = body.clone();
            for _ in 0..1 + next() % 4 {
                let at = 4 + (next() as usize) % (garbled.len() - 4);
                garbled[at] = next() as u8;
            }
            survives(&garbled);
        }
    }
    for _ in 0..2000 {
        let noise: Vec<u8> = b"k8s\0".iter().copied().chain((0..next() % 64).map(|_| next() as u8)).collect();
        survives(&noise);
    }
}
