//! Manifests as tutorials write them (most from the Kubernetes documentation) are valid, on
//! create and when re-applied unchanged.

use serde_json::Value;

use super::{create, update};

const MANIFESTS: &[(&str, &str, &str)] = &[
    (
        "deployments",
        "the nginx Deployment of the Deployment concept page",
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  namespace: default
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            memory: 256Mi
        readinessProbe:
          httpGet:
            path: /
            port: 80
          initialDelaySeconds: 5
"#,
    ),
    (
        "statefulsets",
        "the web StatefulSet with volumeClaimTemplates",
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels:
      app: nginx
  serviceName: nginx
  replicas: 3
  minReadySeconds: 10
  template:
    metadata:
      labels:
        app: nginx
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
        ports:
        - containerPort: 80
          name: web
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: ["ReadWriteOnce"]
      storageClassName: my-storage-class
      resources:
        requests:
          storage: 1Gi
"#,
    ),
    (
        "services",
        "the headless Service of that StatefulSet",
        r#"
apiVersion: v1
kind: Service
metadata:
  name: nginx
  namespace: default
  labels:
    app: nginx
spec:
  ports:
  - port: 80
    name: web
  clusterIP: None
  selector:
    app: nginx
"#,
    ),
    (
        "services",
        "a NodePort Service with two named ports",
        r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
    nodePort: 30080
  - name: metrics
    port: 9090
    targetPort: 9090
"#,
    ),
    (
        "ingresses",
        "an ingress-nginx Ingress with a rewrite-target annotation",
        r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rewrite
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/rewrite-target: /$2
spec:
  ingressClassName: nginx
  tls:
  - hosts:
    - rewrite.bar.com
    secretName: rewrite-tls
  rules:
  - host: rewrite.bar.com
    http:
      paths:
      - path: /something(/|$)(.*)
        pathType: ImplementationSpecific
        backend:
          service:
            name: http-svc
            port:
              number: 80
      - path: /
        pathType: Prefix
        backend:
          service:
            name: http-svc
            port:
              name: http
"#,
    ),
    (
        "jobs",
        "the pi Job",
        r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
  namespace: default
spec:
  backoffLimit: 4
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl",  "-Mbignum=bpi", "-wle", "print bpi(2000)"]
      restartPolicy: Never
"#,
    ),
    (
        "jobs",
        "an Indexed Job",
        r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: indexed-job
  namespace: default
spec:
  completions: 5
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: worker
        image: docker.io/library/busybox
        command: ["sh", "-c", "echo $JOB_COMPLETION_INDEX"]
"#,
    ),
    (
        "daemonsets",
        "the fluentd-elasticsearch DaemonSet",
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
      containers:
      - name: fluentd-elasticsearch
        image: quay.io/fluentd_elasticsearch/fluentd:v2.5.2
        resources:
          limits:
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
        volumeMounts:
        - name: varlog
          mountPath: /var/log
      terminationGracePeriodSeconds: 30
      volumes:
      - name: varlog
        hostPath:
          path: /var/log
"#,
    ),
    (
        "pods",
        "the liveness-exec Pod",
        r#"
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-exec
  namespace: default
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/busybox
    args:
    - /bin/sh
    - -c
    - touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
    livenessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"#,
    ),
    (
        "pods",
        "a Pod reading a ConfigMap, a Secret and the downward API",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: configmap-demo-pod
  namespace: default
spec:
  initContainers:
  - name: wait
    image: busybox:1.36
    command: ["sh", "-c", "sleep 1"]
  containers:
    - name: demo
      image: alpine
      command: ["sleep", "3600"]
      env:
        - name: PLAYER_INITIAL_LIVES
          valueFrom:
            configMapKeyRef:
              name: game-demo
              key: player_initial_lives
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: db
              key: password
        - name: MY_POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        - name: MY_CPU_LIMIT
          valueFrom:
            resourceFieldRef:
              containerName: demo
              resource: limits.cpu
      envFrom:
        - prefix: GAME_
          configMapRef:
            name: game-demo
      volumeMounts:
      - name: config
        mountPath: "/config"
        readOnly: true
      - name: podinfo
        mountPath: /etc/podinfo
  volumes:
  - name: config
    configMap:
      name: game-demo
      items:
      - key: "game.properties"
        path: "game.properties"
  - name: podinfo
    downwardAPI:
      items:
        - path: "labels"
          fieldRef:
            fieldPath: metadata.labels
"#,
    ),
    (
        "configmaps",
        "the game-demo ConfigMap",
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: game-demo
  namespace: default
data:
  player_initial_lives: "3"
  ui_properties_file_name: "user-interface.properties"
  game.properties: |
    enemy.types=aliens,monsters
    player.maximum-lives=5
"#,
    ),
    (
        "secrets",
        "a Secret with data and stringData",
        r#"
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: default
type: Opaque
data:
  username: YWRtaW4=
  password: MWYyZDFlMmU2N2Rm
stringData:
  config.yaml: |
    apiUrl: "https://my.api.com/api/v1"
"#,
    ),
    (
        "persistentvolumes",
        "the task-pv-volume PersistentVolume",
        r#"
apiVersion: v1
kind: PersistentVolume
metadata:
  name: task-pv-volume
  labels:
    type: local
spec:
  storageClassName: manual
  capacity:
    storage: 10Gi
  accessModes:
    - ReadWriteOnce
  hostPath:
    path: "/mnt/data"
"#,
    ),
    (
        "persistentvolumeclaims",
        "the task-pv-claim PersistentVolumeClaim",
        r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: task-pv-claim
  namespace: default
spec:
  storageClassName: manual
  accessModes:
    - ReadWriteOnce
  resources:
    requests:
      storage: 3Gi
"#,
    ),
    (
        "namespaces",
        "a Namespace",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: development\n  labels:\n    name: development\n",
    ),
    (
        "storageclasses",
        "the local-path StorageClass",
        r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
"#,
    ),
    (
        "ingressclasses",
        "the nginx IngressClass",
        r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
spec:
  controller: k8s.io/ingress-nginx
"#,
    ),
];

fn parse(yaml: &str) -> Value {
    serde_yaml_ng::from_str(yaml).expect("the manifest is YAML")
}

#[test]
fn tutorial_manifests_are_valid_after_defaulting() {
    for (plural, name, yaml) in MANIFESTS {
        assert_eq!(create(plural, parse(yaml)), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn tutorial_manifests_re_applied_unchanged_are_valid_updates() {
    for (plural, name, yaml) in MANIFESTS {
        let object = parse(yaml);
        assert_eq!(update(plural, object.clone(), object), Vec::<String>::new(), "{name}");
    }
}
