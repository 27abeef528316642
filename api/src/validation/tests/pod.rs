use serde_json::json;

use super::{check_create, check_update, container, create, pod, LABEL};

const ENV_NAME: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

#[test]
fn a_pod_needs_named_containers_with_images() {
    check_create(
        "pods",
        pod,
        cases![
            ("no containers", |o| o["spec"]["containers"] = json!([]), ["spec.containers: Required value"]),
            ("a container without a name", |o| o["spec"]["containers"][0]["name"] = json!(""), ["spec.containers[0].name: Required value"]),
            ("a container name in capitals", |o| o["spec"]["containers"][0]["name"] = json!("Web"), [format!("spec.containers[0].name: Invalid value: \"Web\": {LABEL}")]),
            ("two containers of one name", |o| super::push(&mut o["spec"]["containers"], container()), ["spec.containers[1].name: Duplicate value: \"web\""]),
            ("an init container named like an app container", |o| o["spec"]["initContainers"] = json!([container()]), ["spec.initContainers[0].name: Duplicate value: \"web\""]),
            ("no image", |o| o["spec"]["containers"][0]["image"] = json!(""), ["spec.containers[0].image: Required value"]),
            ("an image with a trailing space", |o| o["spec"]["containers"][0]["image"] = json!("nginx "), ["spec.containers[0].image: Invalid value: \"nginx \": must not have leading or trailing whitespace"]),
            ("an unknown pull policy", |o| o["spec"]["containers"][0]["imagePullPolicy"] = json!("Sometimes"), ["spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""]),
            ("a restart policy on an app container", |o| o["spec"]["containers"][0]["restartPolicy"] = json!("Always"), ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]),
            ("a probe on a plain init container", |o| o["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox", "livenessProbe": {"exec": {"command": ["true"]}}}]), ["spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"]),
            ("a sidecar init container with a probe", |o| o["spec"]["initContainers"] = json!([{"name": "proxy", "image": "envoy", "restartPolicy": "Always", "readinessProbe": {"tcpSocket": {"port": 9901}}}]), []),
        ],
    );
}

#[test]
fn container_ports_are_numbered_named_and_of_a_known_protocol() {
    check_create(
        "pods",
        pod,
        cases![
            ("no container port", |o| o["spec"]["containers"][0]["ports"] = json!([{"name": "http"}]), ["spec.containers[0].ports[0].containerPort: Required value"]),
            ("a port above 65535", |o| o["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(70000), ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
            ("a host port of 0 is no host port", |o| o["spec"]["containers"][0]["ports"][0]["hostPort"] = json!(0), []),
            ("an HTTP protocol", |o| o["spec"]["containers"][0]["ports"][0]["protocol"] = json!("HTTP"), ["spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""]),
            ("a port name with capitals", |o| o["spec"]["containers"][0]["ports"][0]["name"] = json!("Web"), ["spec.containers[0].ports[0].name: Invalid value: \"Web\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]),
            ("two ports of one name", |o| o["spec"]["containers"][0]["ports"] = json!([{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]), ["spec.containers[0].ports[1].name: Duplicate value: \"http\""]),
            ("two containers on one host port", |o| {
                o["spec"]["containers"][0]["ports"][0]["hostPort"] = json!(8080);
                super::push(&mut o["spec"]["containers"], json!({"name": "b", "image": "b", "ports": [{"containerPort": 81, "hostPort": 8080}]}));
            }, ["spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\""]),
        ],
    );
}

#[test]
fn environment_variables_have_valid_names_and_one_source_each() {
    check_create(
        "pods",
        pod,
        cases![
            ("a name starting with a digit", |o| o["spec"]["containers"][0]["env"] = json!([{"name": "1VAR", "value": "x"}]), [format!("spec.containers[0].env[0].name: Invalid value: \"1VAR\": {ENV_NAME}")]),
            ("no name", |o| o["spec"]["containers"][0]["env"] = json!([{"value": "x"}]), ["spec.containers[0].env[0].name: Required value"]),
            ("a valueFrom without a source", |o| o["spec"]["containers"][0]["env"] = json!([{"name": "A", "valueFrom": {}}]), ["spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"]),
            ("a value and a valueFrom", |o| o["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]), ["spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"]),
            ("two sources", |o| o["spec"]["containers"][0]["env"] = json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}, "secretKeyRef": {"name": "s", "key": "k"}}}]), ["spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time"]),
            ("an unknown field path", |o| o["spec"]["containers"][0]["env"] = json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}}]), ["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.hostname\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\""]),
            ("a label by subscript", |o| o["spec"]["containers"][0]["env"] = json!([{"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}]), []),
            ("a secret key without a key", |o| o["spec"]["containers"][0]["env"] = json!([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "db"}}}]), ["spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value"]),
            ("an envFrom without a source", |o| o["spec"]["containers"][0]["envFrom"] = json!([{"prefix": "APP_"}]), ["spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"]),
            ("an envFrom of a config map", |o| o["spec"]["containers"][0]["envFrom"] = json!([{"configMapRef": {"name": "settings"}}]), []),
        ],
    );
}

#[test]
fn volumes_have_unique_names_one_source_each_and_mounts_refer_to_them() {
    check_create(
        "pods",
        pod,
        cases![
            ("a mount of a missing volume", |o| o["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]), ["spec.containers[0].volumeMounts[0].name: Not found: \"data\""]),
            ("two mounts at one path", |o| {
                o["spec"]["volumes"] = json!([{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]);
                o["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "a", "mountPath": "/data"}, {"name": "b", "mountPath": "/data"}]);
            }, ["spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique"]),
            ("a subPath climbing out", |o| {
                o["spec"]["volumes"] = json!([{"name": "a", "emptyDir": {}}]);
                o["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "a", "mountPath": "/data", "subPath": "../etc"}]);
            }, ["spec.containers[0].volumeMounts.subPath: Invalid value: \"../etc\": must not contain '..'"]),
            ("two volumes of one name", |o| o["spec"]["volumes"] = json!([{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]), ["spec.volumes[1].name: Duplicate value: \"a\""]),
            ("a volume without a source", |o| o["spec"]["volumes"] = json!([{"name": "a"}]), ["spec.volumes[0]: Required value: must specify a volume type"]),
            ("a volume with two sources", |o| o["spec"]["volumes"] = json!([{"name": "a", "emptyDir": {}, "configMap": {"name": "c"}}]), ["spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"]),
            ("a config map volume without a name", |o| o["spec"]["volumes"] = json!([{"name": "a", "configMap": {}}]), ["spec.volumes[0].configMap.name: Required value"]),
            ("a secret volume mode above 0777", |o| o["spec"]["volumes"] = json!([{"name": "a", "secret": {"secretName": "s", "defaultMode": 512}}]), ["spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive"]),
            ("an item at an absolute path", |o| o["spec"]["volumes"] = json!([{"name": "a", "configMap": {"name": "c", "items": [{"key": "k", "path": "/etc/k"}]}}]), ["spec.volumes[0].configMap.items[0].path: Invalid value: \"/etc/k\": must be a relative path"]),
            ("a host path without a path", |o| o["spec"]["volumes"] = json!([{"name": "a", "hostPath": {}}]), ["spec.volumes[0].hostPath.path: Required value"]),
            ("a claim without a name", |o| o["spec"]["volumes"] = json!([{"name": "a", "persistentVolumeClaim": {}}]), ["spec.volumes[0].persistentVolumeClaim.claimName: Required value"]),
            ("a volume name with a dot", |o| o["spec"]["volumes"] = json!([{"name": "my.vol", "emptyDir": {}}]), [format!("spec.volumes[0].name: Invalid value: \"my.vol\": {LABEL}")]),
        ],
    );
}

#[test]
fn resources_parse_and_requests_stay_within_limits() {
    let quantity = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    check_create(
        "pods",
        pod,
        cases![
            ("a request above its limit", |o| o["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}), ["spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"]),
            ("a quantity that does not parse", |o| o["spec"]["containers"][0]["resources"] = json!({"limits": {"memory": "lots"}}), [format!("spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": {quantity}")]),
            ("a negative request", |o| o["spec"]["containers"][0]["resources"] = json!({"requests": {"memory": "-1Mi"}}), ["spec.containers[0].resources.requests[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0"]),
            // The request is defaulted from the limit (SetDefaults_Pod), so both are reported.
            ("an unknown resource", |o| o["spec"]["containers"][0]["resources"] = json!({"limits": {"gpu": "1"}}), ["spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified", "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers", "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified", "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers"]),
            ("an extended resource requested but not limited", |o| o["spec"]["containers"][0]["resources"] = json!({"requests": {"example.com/gpu": "1"}}), ["spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"]),
            ("typical requests and limits", |o| o["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}), []),
        ],
    );
}

#[test]
fn probes_have_exactly_one_handler_and_sane_timings() {
    check_create(
        "pods",
        pod,
        cases![
            ("a probe without a handler", |o| o["spec"]["containers"][0]["livenessProbe"] = json!({"periodSeconds": 5}), ["spec.containers[0].livenessProbe: Required value: must specify a handler type"]),
            ("two handlers", |o| o["spec"]["containers"][0]["livenessProbe"] = json!({"httpGet": {"port": 80}, "tcpSocket": {"port": 80}}), ["spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
            ("port 0", |o| o["spec"]["containers"][0]["readinessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 0}}), ["spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
            ("a named port", |o| o["spec"]["containers"][0]["readinessProbe"] = json!({"httpGet": {"path": "/healthz", "port": "http"}}), []),
            ("a negative period", |o| o["spec"]["containers"][0]["livenessProbe"] = json!({"exec": {"command": ["true"]}, "periodSeconds": -1}), ["spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"]),
            ("a liveness probe that must succeed twice", |o| o["spec"]["containers"][0]["livenessProbe"] = json!({"exec": {"command": ["true"]}, "successThreshold": 2}), ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
            ("an exec without a command", |o| o["spec"]["containers"][0]["startupProbe"] = json!({"exec": {}}), ["spec.containers[0].startupProbe.exec.command: Required value"]),
            ("a grace period on a readiness probe", |o| o["spec"]["containers"][0]["readinessProbe"] = json!({"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 5}), ["spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes"]),
            ("a preStop sleep longer than the grace period", |o| o["spec"]["containers"][0]["lifecycle"] = json!({"preStop": {"sleep": {"seconds": 60}}}), ["spec.containers[0].lifecycle.preStop.sleep: Invalid value: 60: must be greater than 0 and less than terminationGracePeriodSeconds (30)"]),
        ],
    );
}

#[test]
fn the_pod_spec_takes_known_policies_and_valid_scheduling_hints() {
    check_create(
        "pods",
        pod,
        cases![
            ("an unknown restart policy", |o| o["spec"]["restartPolicy"] = json!("Sometimes"), ["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""]),
            ("an unknown DNS policy", |o| o["spec"]["dnsPolicy"] = json!("Google"), ["spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""]),
            ("DNS policy None without a config", |o| o["spec"]["dnsPolicy"] = json!("None"), ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
            ("a hostname with a dot", |o| o["spec"]["hostname"] = json!("web.local"), [format!("spec.hostname: Invalid value: \"web.local\": {LABEL}")]),
            ("a zero deadline", |o| o["spec"]["activeDeadlineSeconds"] = json!(0), ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
            ("a node selector value with a space", |o| o["spec"]["nodeSelector"] = json!({"disk": "fast ssd"}), ["spec.nodeSelector: Invalid value: \"fast ssd\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
            ("an unknown toleration operator", |o| o["spec"]["tolerations"] = json!([{"key": "k", "operator": "Maybe"}]), ["spec.tolerations[0].operator: Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\""]),
            ("an Exists toleration with a value", |o| o["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists", "value": "v"}]), ["spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'"]),
            ("a toleration without a key that is not Exists", |o| o["spec"]["tolerations"] = json!([{"operator": "Equal", "value": "v"}]), ["spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""]),
            ("an unknown taint effect", |o| o["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists", "effect": "NoRun"}]), ["spec.tolerations[0].effect: Unsupported value: \"NoRun\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""]),
            ("node affinity without terms", |o| o["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}), ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"]),
            ("an anti-affinity term without a topology key", |o| o["spec"]["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}}}]}}), ["spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty", "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must be non-empty", "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
            ("ephemeral containers on create", |o| o["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]), ["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
        ],
    );
}

#[test]
fn a_pod_without_defaults_is_told_what_defaulting_would_have_filled_in() {
    let raw = pod();
    let errors = crate::validation::validate_create(super::resource("pods"), &raw);
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        vec![
            "spec.terminationGracePeriodSeconds: Required value",
            "spec.containers[0].terminationMessagePolicy: Required value",
            "spec.containers[0].ports[0].protocol: Required value",
            "spec.containers[0].imagePullPolicy: Required value",
            "spec.restartPolicy: Required value",
            "spec.dnsPolicy: Required value",
        ]
    );
    assert!(create("pods", pod()).is_empty(), "after defaulting, the same pod is valid");
}

const UPDATABLE: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn running_pod() -> serde_json::Value {
    super::with(pod(), |o| {
        o["spec"]["nodeName"] = json!("node-1");
        o["spec"]["activeDeadlineSeconds"] = json!(600);
        o["spec"]["tolerations"] = json!([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]);
    })
}

#[test]
fn a_pod_update_may_change_only_images_deadlines_and_added_tolerations() {
    check_update(
        "pods",
        running_pod,
        cases![
            ("a new image", |o| o["spec"]["containers"][0]["image"] = json!("nginx:1.28"), []),
            ("new labels", |o| o["metadata"]["labels"]["tier"] = json!("front"), []),
            ("a shorter deadline", |o| o["spec"]["activeDeadlineSeconds"] = json!(300), []),
            (
                "a longer deadline",
                |o| o["spec"]["activeDeadlineSeconds"] = json!(900),
                ["spec.activeDeadlineSeconds: Invalid value: 900: must be less than or equal to previous value"]
            ),
            (
                "an added toleration",
                |o| super::push(&mut o["spec"]["tolerations"], json!({"key": "ssd", "operator": "Exists"})),
                []
            ),
            (
                "a changed toleration",
                |o| o["spec"]["tolerations"][0]["effect"] = json!("NoExecute"),
                ["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]
            ),
            (
                "a new port",
                |o| o["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(8080),
                [format!("spec: Forbidden: {UPDATABLE}\nchanged: spec.containers[0].ports[0].containerPort")]
            ),
            (
                "another node",
                |o| o["spec"]["nodeName"] = json!("node-2"),
                [format!("spec: Forbidden: {UPDATABLE}\nchanged: spec.nodeName")]
            ),
            (
                "one more container",
                |o| super::push(
                    &mut o["spec"]["containers"],
                    json!({"name": "sidecar", "image": "envoy", "ports": [{"containerPort": 9901}]})
                ),
                ["spec.containers: Forbidden: pod updates may not add or remove containers"]
            ),
        ],
    );
    let negative = super::with(running_pod(), |o| o["spec"]["terminationGracePeriodSeconds"] = json!(-1));
    let to_one = super::with(negative.clone(), |o| o["spec"]["terminationGracePeriodSeconds"] = json!(1));
    assert!(super::update("pods", to_one, negative).is_empty(), "a negative grace period may become 1");
}
