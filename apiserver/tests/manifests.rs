//! A tutorial-sized multi-document manifest (Deployment, Services ClusterIP and headless,
//! Ingress with annotations, ConfigMap, Secret, StatefulSet with volumeClaimTemplates,
//! PersistentVolume, DaemonSet) through the real kubectl: apply, get with Kubernetes' columns,
//! edit, annotate, label, replace, delete -f — on skiff-store and on a real etcd.

mod common;

use common::Cluster;

const MANIFEST: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "skiff/demo-web:v1", ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432, name: pg}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /$2}
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.test
    http:
      paths:
      - path: /app1(/|$)(.*)
        pathType: ImplementationSpecific
        backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {password: s3cret}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "skiff/toolbox:1", command: [sleep, "3600"]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-1}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /tmp/skiff-pv-1}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "skiff/toolbox:1", command: [sleep, "3600"]}]
"#;

fn header(table: &str) -> Vec<&str> {
    table.lines().next().unwrap_or_default().split_whitespace().collect()
}

async fn tutorial(cluster: Cluster) {
    let applied = cluster.ok_with_input(&["apply", "-f", "-"], MANIFEST).await;
    for created in [
        "deployment.apps/web created",
        "service/web created",
        "service/db created",
        "ingress.networking.k8s.io/shop created",
        "configmap/app-config created",
        "secret/app-secret created",
        "statefulset.apps/db created",
        "persistentvolume/pv-1 created",
        "daemonset.apps/agent created",
    ] {
        assert!(applied.contains(created), "{created}:\n{applied}");
    }
    let again = cluster.ok_with_input(&["apply", "-f", "-"], MANIFEST).await;
    // The Secret's stringData is never stored, so kubectl's three-way diff sends it again each
    // time: "configured", exactly as on a real cluster.
    assert_eq!(again.matches("unchanged").count(), 8, "{again}");
    assert!(again.contains("secret/app-secret configured"), "{again}");

    let cases: [(&[&str], &[&str]); 8] = [
        (&["get", "deploy", "-o", "wide"], &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]),
        (&["get", "svc", "-o", "wide"], &["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]),
        (&["get", "ingress"], &["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]),
        (&["get", "sts"], &["NAME", "READY", "AGE"]),
        (&["get", "pv"], &["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"]),
        (&["get", "cm", "app-config"], &["NAME", "DATA", "AGE"]),
        (&["get", "secret", "app-secret"], &["NAME", "TYPE", "DATA", "AGE"]),
        (&["get", "ds"], &["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"]),
    ];
    for (args, columns) in cases {
        let table = cluster.ok(args).await;
        assert_eq!(header(&table), columns, "{args:?}:\n{table}");
    }
    let services = cluster.ok(&["get", "svc"]).await;
    assert!(services.lines().any(|l| l.starts_with("db ") && l.contains("None") && l.contains("5432/TCP")), "{services}");
    assert!(services.lines().any(|l| l.starts_with("web ") && l.contains("10.") && l.contains("80/TCP")), "{services}");
    let ingress = cluster.ok(&["get", "ingress", "shop"]).await;
    assert!(ingress.contains("nginx") && ingress.contains("shop.example.test"), "{ingress}");
    // An Ingress without a class gets the default IngressClass (the DefaultIngressClass plugin).
    let default_class = "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: skiff
  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}
spec: {controller: skiff.dev/ingress}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: classless}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
";
    cluster.ok_with_input(&["apply", "-f", "-"], default_class).await;
    assert_eq!(cluster.ok(&["get", "ingress", "classless", "-o", "jsonpath={.spec.ingressClassName}"]).await, "skiff");
    cluster.ok(&["delete", "ingress", "classless"]).await;
    cluster.ok(&["delete", "ingressclass", "skiff"]).await;
    assert_eq!(cluster.ok(&["get", "secret", "app-secret", "-o", "jsonpath={.data.password} {.type}"]).await, "czNjcmV0 Opaque");

    // edit (kubectl runs $EDITOR on a temporary file), annotate, label.
    let edited = cluster
        .kubectl_env(&["edit", "cm", "app-config"], &[("EDITOR", "sed -i s/greeting:\\ hello/greeting:\\ bonjour/")])
        .await;
    assert!(edited.status.success(), "{edited:?}");
    assert_eq!(cluster.ok(&["get", "cm", "app-config", "-o", "jsonpath={.data.greeting}"]).await, "bonjour");
    assert_eq!(cluster.ok(&["annotate", "deploy", "web", "owner=team-a"]).await.trim(), "deployment.apps/web annotated");
    assert_eq!(cluster.ok(&["label", "svc", "web", "tier=front"]).await.trim(), "service/web labeled");
    assert!(cluster.ok(&["get", "svc", "-l", "tier=front"]).await.contains("web"));

    // replace -f writes what the file says; create -f refuses what exists.
    let replaced = cluster.ok_with_input(&["replace", "-f", "-"], MANIFEST).await;
    assert!(replaced.contains("configmap/app-config replaced"), "{replaced}");
    assert_eq!(cluster.ok(&["get", "cm", "app-config", "-o", "jsonpath={.data.greeting}"]).await, "hello");
    let exists = cluster.fails_with_input(&["create", "-f", "-"], MANIFEST).await;
    assert!(exists.contains("Error from server (AlreadyExists)") && exists.contains("deployments.apps \"web\" already exists"), "{exists}");

    let deleted = cluster.ok_with_input(&["delete", "-f", "-"], MANIFEST).await;
    assert!(deleted.contains("deployment.apps \"web\" deleted") && deleted.contains("persistentvolume \"pv-1\" deleted"), "{deleted}");
    let left = cluster.ok(&["get", "deploy,svc,ing,cm,secret,sts,ds", "-o", "name"]).await;
    assert!(!left.contains("web") && !left.contains("app-config") && !left.contains("agent"), "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tutorial_manifest_goes_through_apply_get_edit_replace_and_delete() {
    tutorial(Cluster::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_manifest_works_on_a_real_etcd_too() {
    tutorial(Cluster::start_on_etcd().await).await;
}
