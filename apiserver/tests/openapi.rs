//! The real `kubectl` reads Skiff's OpenAPI v3 documents: `kubectl explain` prints Kubernetes'
//! documentation of kinds and fields (kubectl 1.29 to 1.33; 1.27 and 1.28 explain from
//! OpenAPI v2 only), and `apply|create|replace -f` still pass kubectl's validation check.

mod common;

use common::Cluster;

/// The lines of `text`, with runs of whitespace made one space, to compare kubectl's
/// tab-separated columns.
fn squeezed(text: &str) -> Vec<String> {
    text.lines().map(|line| line.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

fn assert_has_lines(output: &str, expected: &[&str]) {
    let lines = squeezed(output);
    for line in expected {
        assert!(lines.iter().any(|l| l == line), "no line {line:?} in:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_deploy_spec_prints_the_kind_the_field_and_its_documented_fields() {
    let cluster = Cluster::start().await;
    let out = cluster.ok(&["explain", "deploy.spec"]).await;
    assert!(out.starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n"), "{out}");
    assert_has_lines(
        &out,
        &[
            "FIELD: spec <DeploymentSpec>",
            "DESCRIPTION:",
            "Specification of the desired behavior of the Deployment.",
            "FIELDS:",
            "minReadySeconds <integer>",
            "replicas <integer>",
            "selector <LabelSelector> -required-",
            "strategy <DeploymentStrategy>",
            "template <PodTemplateSpec> -required-",
            "Number of desired pods. This is a pointer to distinguish between explicit",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_reaches_containers_services_ingress_rules_and_claim_templates() {
    let cluster = Cluster::start().await;
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "pod.spec.containers",
            "KIND:       Pod\nVERSION:    v1\n",
            &[
                "FIELD: containers <[]Container>",
                "image <string>",
                "name <string> -required-",
                "resources <ResourceRequirements>",
            ],
        ),
        ("svc", "KIND:       Service\nVERSION:    v1\n", &["spec <ServiceSpec>", "status <ServiceStatus>"]),
        (
            "ingress.spec.rules",
            "GROUP:      networking.k8s.io\nKIND:       Ingress\n",
            &["FIELD: rules <[]IngressRule>", "host <string>", "http <HTTPIngressRuleValue>"],
        ),
        (
            "sts.spec.volumeClaimTemplates",
            "GROUP:      apps\nKIND:       StatefulSet\n",
            &["FIELD: volumeClaimTemplates <[]PersistentVolumeClaim>", "spec <PersistentVolumeClaimSpec>"],
        ),
        ("deploy.spec.strategy.rollingUpdate.maxSurge", "GROUP:      apps\n", &["FIELD: maxSurge <IntOrString>"]),
        ("pod.spec.containers.resources.limits", "KIND:       Pod\n", &["FIELD: limits <map[string]Quantity>"]),
        ("cm.metadata.creationTimestamp", "KIND:       ConfigMap\n", &["FIELD: creationTimestamp <string>"]),
        ("pv.spec.capacity", "KIND:       PersistentVolume\n", &["FIELD: capacity <map[string]Quantity>"]),
    ];
    for (path, head, lines) in cases {
        let out = cluster.ok(&["explain", path]).await;
        assert!(out.starts_with(head), "{path}:\n{out}");
        assert_has_lines(&out, lines);
    }
    let missing = cluster.fails(&["explain", "deploy.spec.replicass"]).await;
    assert!(missing.contains("field \"replicass\" does not exist"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_recursive_prints_the_whole_tree_without_descriptions() {
    let cluster = Cluster::start().await;
    let out = cluster.ok(&["explain", "deploy", "--recursive"]).await;
    for nested in [
        "\n  spec\t<DeploymentSpec>\n",
        "\n      rollingUpdate\t<RollingUpdateDeployment>\n        maxSurge\t<IntOrString>\n",
        "\n      spec\t<PodSpec>\n",
        "\n        containers\t<[]Container> -required-\n",
    ] {
        assert!(out.contains(nested), "no {nested:?} in:\n{out}");
    }
    assert!(!out.contains("Number of desired pods"), "no descriptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_works_with_kubectl_1_29_to_1_33() {
    let cluster = Cluster::start().await;
    let binaries: Vec<_> = common::versioned_kubectls()
        .into_iter()
        .filter(|b| !b.to_string_lossy().ends_with(".1.27") && !b.to_string_lossy().ends_with(".1.28"))
        .collect();
    assert!(binaries.len() >= 5, "kubectl.1.29 … kubectl.1.33 beside kubectl: {binaries:?}");
    for binary in binaries {
        let out = cluster.kubectl_version(&binary, &["explain", "deploy.spec.template.spec.containers"]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{binary:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_has_lines(&stdout, &["KIND: Deployment", "FIELD: containers <[]Container>", "name <string> -required-"]);
    }
}

const WEB: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: skiff/demo-web:v1
        ports:
        - containerPort: 80
        resources:
          limits: {cpu: 500m, memory: 128Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_create_and_replace_still_pass_validation() {
    let cluster = Cluster::start().await;
    let file = cluster.dir.path().join("web.yaml");
    std::fs::write(&file, WEB).unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(
        squeezed(&cluster.ok(&["create", "-f", file]).await),
        ["deployment.apps/web created", "service/web created"]
    );
    assert_eq!(
        squeezed(&cluster.ok(&["replace", "-f", file]).await),
        ["deployment.apps/web replaced", "service/web replaced"]
    );
    cluster.ok(&["delete", "-f", file]).await;

    let created = cluster.ok(&["apply", "-f", file]).await;
    assert_eq!(squeezed(&created), ["deployment.apps/web created", "service/web created"]);
    let unchanged = cluster.ok(&["apply", "-f", file]).await;
    assert_eq!(squeezed(&unchanged), ["deployment.apps/web unchanged", "service/web unchanged"]);
    std::fs::write(file, WEB.replace("skiff/demo-web:v1", "skiff/demo-web:v2")).unwrap();
    let configured = cluster.ok(&["apply", "-f", file]).await;
    assert_eq!(squeezed(&configured), ["deployment.apps/web configured", "service/web unchanged"]);
    let image = cluster.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}"]).await;
    assert_eq!(image, "skiff/demo-web:v2", "the containers were merged by name, not doubled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_names_each_document_by_the_hash_of_its_bytes() {
    let cluster = Cluster::start().await;
    let index: serde_json::Value = serde_json::from_str(&cluster.ok(&["get", "--raw", "/openapi/v3"]).await).unwrap();
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    let document: serde_json::Value = serde_json::from_str(&cluster.ok(&["get", "--raw", &url]).await).unwrap();
    assert!(document["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"].is_object());
    // An old hash (a stale cache index) is sent on to the current document.
    let stale: serde_json::Value =
        serde_json::from_str(&cluster.ok(&["get", "--raw", "/openapi/v3/apis/apps/v1?hash=0"]).await).unwrap();
    assert_eq!(stale, document);
    assert!(cluster.fails(&["get", "--raw", "/openapi/v3/apis/apps/v2"]).await.contains("NotFound"));
}
