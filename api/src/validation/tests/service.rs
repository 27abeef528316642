use serde_json::{json, Value};

use super::{check_create, check_update, create, service, update, with, SUBDOMAIN};

fn slice() -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc12", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": true}, "nodeName": "node-1"}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    })
}

fn endpoints() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 8080, "protocol": "TCP"}]}]
    })
}

#[test]
fn a_service_has_ports_unless_it_is_headless_or_an_external_name() {
    check_create(
        "services",
        service,
        cases![
            ("no ports", |o| o["spec"]["ports"] = json!([]), ["spec.ports: Required value"]),
            (
                "headless without ports",
                |o| {
                    o["spec"]["ports"] = json!([]);
                    o["spec"]["clusterIP"] = json!("None");
                },
                []
            ),
            (
                "an external name",
                |o| o["spec"] = json!({"type": "ExternalName", "externalName": "db.example.com."}),
                []
            ),
            (
                "an external name without a name",
                |o| o["spec"] = json!({"type": "ExternalName"}),
                ["spec.externalName: Required value"]
            ),
            (
                "an external name that is no host name",
                |o| o["spec"] = json!({"type": "ExternalName", "externalName": "DB Server"}),
                [format!("spec.externalName: Invalid value: \"DB Server\": {SUBDOMAIN}")]
            ),
            (
                "an external name with a ClusterIP",
                |o| o["spec"] =
                    json!({"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.96.0.9"}),
                ["spec.clusterIPs: Forbidden: may not be set for ExternalName services"]
            ),
            (
                "a headless NodePort",
                |o| {
                    o["spec"]["type"] = json!("NodePort");
                    o["spec"]["clusterIP"] = json!("None");
                },
                ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]
            ),
        ],
    );
}

#[test]
fn service_ports_are_numbered_named_when_several_and_unique() {
    check_create(
        "services",
        service,
        cases![
            ("port 0", |o| o["spec"]["ports"][0]["port"] = json!(0), ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
            ("two ports without names", |o| super::push(&mut o["spec"]["ports"], json!({"port": 443})), ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
            ("two ports of one name", |o| { o["spec"]["ports"] = json!([{"name": "http", "port": 80}, {"name": "http", "port": 8080}]); }, ["spec.ports[1].name: Duplicate value: \"http\""]),
            ("two ports of one number", |o| { o["spec"]["ports"] = json!([{"name": "a", "port": 80}, {"name": "b", "port": 80}]); }, ["spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"]),
            ("one number for TCP and UDP", |o| { o["spec"]["ports"] = json!([{"name": "dns", "port": 53}, {"name": "dns-udp", "port": 53, "protocol": "UDP"}]); }, []),
            ("a target port name", |o| o["spec"]["ports"][0]["targetPort"] = json!("http"), []),
            ("a target port name of 15 characters", |o| o["spec"]["ports"][0]["targetPort"] = json!("web-server-http"), []),
            ("a target port name with capitals", |o| o["spec"]["ports"][0]["targetPort"] = json!("HTTP"), ["spec.ports[0].targetPort: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)", "spec.ports[0].targetPort: Invalid value: \"HTTP\": must contain at least one letter (a-z)"]),
            ("a target port above 65535", |o| o["spec"]["ports"][0]["targetPort"] = json!(70000), ["spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
            ("an unknown protocol", |o| o["spec"]["ports"][0]["protocol"] = json!("ICMP"), ["spec.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""]),
            ("a node port above 65535", |o| { o["spec"]["type"] = json!("NodePort"); o["spec"]["ports"][0]["nodePort"] = json!(70000); }, ["spec.ports[0].nodePort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
            ("a node port on a ClusterIP Service", |o| o["spec"]["ports"][0]["nodePort"] = json!(30080), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
            ("one node port twice", |o| { o["spec"]["type"] = json!("NodePort"); o["spec"]["ports"] = json!([{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080}]); }, ["spec.ports[1].nodePort: Duplicate value: 30080"]),
        ],
    );
}

#[test]
fn a_service_has_a_known_type_affinity_and_valid_addresses() {
    check_create(
        "services",
        service,
        cases![
            ("an unknown type", |o| o["spec"]["type"] = json!("Balanced"), ["spec.type: Unsupported value: \"Balanced\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""]),
            ("an unknown affinity", |o| o["spec"]["sessionAffinity"] = json!("Cookie"), ["spec.sessionAffinity: Unsupported value: \"Cookie\": supported values: \"ClientIP\", \"None\""]),
            ("client IP affinity for too long", |o| { o["spec"]["sessionAffinity"] = json!("ClientIP"); o["spec"]["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 100000}}); }, ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 100000: must be greater than 0 and less than 86400"]),
            ("an affinity config without affinity", |o| o["spec"]["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 60}}), ["spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"]),
            ("a ClusterIP that is no IP", |o| o["spec"]["clusterIP"] = json!("10.96.0.300"), ["spec.clusterIPs[0]: Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
            ("clusterIPs that disagree with clusterIP", |o| { o["spec"]["clusterIP"] = json!("10.96.0.10"); o["spec"]["clusterIPs"] = json!(["10.96.0.11"]); }, ["spec.clusterIPs: Invalid value: []string{\"10.96.0.11\"}: first value must match `clusterIP`"]),
            ("a loopback external IP", |o| o["spec"]["externalIPs"] = json!(["127.0.0.1"]), ["spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
            ("a selector with a bad key", |o| o["spec"]["selector"] = json!({"app name": "web"}), ["spec.selector: Invalid value: \"app name\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
            ("source ranges on a ClusterIP Service", |o| o["spec"]["loadBalancerSourceRanges"] = json!(["10.0.0.0/8"]), ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
            ("a traffic policy on an internal Service", |o| o["spec"]["externalTrafficPolicy"] = json!("Local"), ["spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"]),
        ],
    );
}

#[test]
fn a_service_keeps_its_cluster_ip() {
    let allocated = || {
        with(service(), |o| {
            o["spec"]["clusterIP"] = json!("10.96.0.20");
            o["spec"]["clusterIPs"] = json!(["10.96.0.20"]);
        })
    };
    check_update(
        "services",
        allocated,
        cases![
            ("a new port", |o| o["spec"]["ports"][0]["port"] = json!(8080), []),
            (
                "another ClusterIP",
                |o| {
                    o["spec"]["clusterIP"] = json!("10.96.0.21");
                    o["spec"]["clusterIPs"] = json!(["10.96.0.21"]);
                },
                ["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.21\"}: may not change once set"]
            ),
            (
                "only clusterIP changed",
                |o| {
                    o["spec"].as_object_mut().unwrap().remove("clusterIPs");
                    o["spec"]["clusterIP"] = json!("10.96.0.22");
                },
                ["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.22\"}: may not change once set"]
            ),
            ("to ExternalName", |o| o["spec"] = json!({"type": "ExternalName", "externalName": "db.example.com"}), []),
        ],
    );
    assert!(update("services", service(), service()).is_empty(), "no ClusterIP yet, none now");
}

#[test]
fn endpoints_and_slices_point_at_real_pod_addresses() {
    assert!(create("endpoints", endpoints()).is_empty());
    let bad = [
        (with(endpoints(), |o| o["subsets"][0]["addresses"][0]["ip"] = json!("10.244.1")), vec![
            "subsets[0].addresses[0].ip: Invalid value: \"10.244.1\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "subsets[0].addresses[0].ip: Invalid value: \"10.244.1\": must be a valid IP address",
        ]),
        (with(endpoints(), |o| o["subsets"][0]["addresses"][0]["ip"] = json!("169.254.169.254")), vec![
            "subsets[0].addresses[0].ip: Invalid value: \"169.254.169.254\": may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ]),
        (with(endpoints(), |o| o["subsets"][0] = json!({"ports": [{"port": 80}]})), vec![
            "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
        ]),
    ];
    for (object, expected) in bad {
        assert_eq!(create("endpoints", object), expected);
    }
    check_create(
        "endpointslices",
        slice,
        cases![
            (
                "an IPv6 address in an IPv4 slice",
                |o| o["endpoints"][0]["addresses"][0] = json!("fd00::5"),
                ["endpoints[0].addresses[0]: Invalid value: \"fd00::5\": must be a valid IPv4 address"]
            ),
            (
                "an endpoint without addresses",
                |o| o["endpoints"][0]["addresses"] = json!([]),
                ["endpoints[0].addresses: Required value: must contain at least 1 address"]
            ),
            ("no address type", |o| o.as_object_mut().unwrap().remove("addressType"), ["addressType: Required value"]),
            (
                "an unknown address type",
                |o| o["addressType"] = json!("MAC"),
                ["addressType: Unsupported value: \"MAC\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""]
            ),
            (
                "two ports of one name",
                |o| super::push(&mut o["ports"], json!({"name": "http", "port": 8081, "protocol": "TCP"})),
                ["ports[1].name: Duplicate value: \"http\""]
            ),
        ],
    );
    let changed = with(slice(), |o| {
        o["addressType"] = json!("IPv6");
        o["endpoints"][0]["addresses"][0] = json!("fd00::5");
    });
    assert_eq!(
        update("endpointslices", changed, slice()),
        vec!["addressType: Invalid value: \"IPv6\": field is immutable"]
    );
}
