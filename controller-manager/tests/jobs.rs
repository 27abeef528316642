//! The Job controller as part of the daemon, end to end: the real kubectl, the API server, the
//! scheduler and a real kubelet running the pods in Docker (`make images` made
//! `skiff/toolbox:1`). `kubectl create job` until `kubectl wait --for=condition=complete`
//! returns and `kubectl logs job/…` shows the output; completions and parallelism; a failing
//! Job that ends with `BackoffLimitExceeded`; an Indexed Job whose pods see their index; a
//! deleted Job whose pods the garbage collector deletes; a Job with `ttlSecondsAfterFinished`
//! that goes, with its pods, once that long has passed.
//!
//! Each test has its own node (`t-job-<what>-<pid>`) and pod addresses (10.244.221–226.0/24,
//! beside the kubelet's own tests' 201–250); every container its kubelet made is removed at the
//! end, also when the test fails ([`Containers`]).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use skiff_kubelet::config::Intervals;
use skiff_tests::control_plane::ControlPlane;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(90);

/// Removes every container of its node (they carry `io.skiff.node`) when dropped.
struct Containers(String);

impl Drop for Containers {
    fn drop(&mut self) {
        let filter = format!("label=io.skiff.node={}", self.0);
        let out = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output();
        let ids: Vec<String> =
            out.map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()).unwrap_or_default();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
        }
    }
}

/// A control plane with the controller-manager, the scheduler and one kubelet.
struct Cluster {
    plane: ControlPlane,
    daemons: CancellationToken,
    kubelet: Option<JoinHandle<Result<(), skiff_kubelet::Error>>>,
    // Last: the containers go once the kubelet has stopped.
    _containers: Containers,
}

impl std::ops::Deref for Cluster {
    type Target = ControlPlane;
    fn deref(&self) -> &ControlPlane {
        &self.plane
    }
}

/// Logs as `RUST_LOG` says (`RUST_LOG=skiff_controller_manager::job=debug`); nothing by default.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

impl Cluster {
    /// `octet`: this test's pod addresses, 10.244.<octet>.0/24.
    async fn start(what: &str, octet: u8) -> Cluster {
        init_logs();
        let plane = ControlPlane::start().await;
        let api = plane.grpc_address.to_string();
        let node = format!("t-job-{what}-{}", std::process::id());
        let containers = Containers(node.clone());
        let daemons = CancellationToken::new();

        let controllers = skiff_controller_manager::Config { api: api.clone(), workers: 2, metrics_listen: None };
        tokio::spawn(skiff_controller_manager::run(controllers, daemons.clone()));
        let scheduler = skiff_scheduler::Config {
            api: api.clone(),
            scheduler_name: skiff_scheduler::DEFAULT_SCHEDULER_NAME.into(),
            metrics_listen: None,
        };
        tokio::spawn(skiff_scheduler::run(scheduler, daemons.clone()));
        let mut kubelet = skiff_kubelet::Config::new(&api, &node);
        kubelet.root_dir = plane.dir.path().join("kubelet").join(&node);
        kubelet.pod_cidr = Some(format!("10.244.{octet}.0/24"));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        kubelet.listen = Some(SocketAddr::from(([127, 0, 0, 1], port)));
        kubelet.intervals = Intervals {
            node_status: Duration::from_secs(2),
            lease: Duration::from_secs(2),
            relist: Duration::from_millis(500),
            resync: Duration::from_secs(2),
            housekeeping: Duration::from_secs(1),
        };
        let kubelet = tokio::spawn(skiff_kubelet::run(kubelet, daemons.clone()));
        let cluster = Cluster { plane, daemons, kubelet: Some(kubelet), _containers: containers };
        let plane = &cluster.plane;
        plane
            .eventually(&format!("node {node} is Ready"), Duration::from_secs(60), || async {
                let jsonpath = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
                plane.kubectl(&["get", "node", &node, "-o", jsonpath]).await.stdout == b"True"
            })
            .await;
        cluster
    }

    /// Stops the daemons and waits for the kubelet; its containers go when this is dropped.
    async fn stop(mut self) {
        self.daemons.cancel();
        if let Some(kubelet) = self.kubelet.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), kubelet).await;
        }
    }

    /// One field of one object, by JSONPath; empty if absent.
    async fn field(&self, kind: &str, name: &str, path: &str) -> String {
        let out = self.kubectl(&["get", kind, name, "-o", &format!("jsonpath={path}")]).await;
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The phases of the Job's pods, sorted.
    async fn pod_phases(&self, job: &str) -> Vec<String> {
        let selector = format!("batch.kubernetes.io/job-name={job}");
        let out = self.ok(&["get", "pods", "-l", &selector, "-o", "jsonpath={.items[*].status.phase}"]).await;
        let mut phases: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        phases.sort();
        phases
    }

    /// The reasons of the events about the Job.
    async fn event_reasons(&self, job: &str) -> Vec<String> {
        let selector = format!("involvedObject.kind=Job,involvedObject.name={job}");
        let out = self.ok(&["get", "events", "--field-selector", &selector, "-o", "jsonpath={.items[*].reason}"]).await;
        out.split_whitespace().map(str::to_string).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.daemons.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_create_job_runs_to_complete_and_kubectl_logs_shows_its_output() {
    let cluster = Cluster::start("hello", 221).await;
    cluster.ok(&["create", "job", "hello", "--image=skiff/toolbox:1", "--", "echo", "hello"]).await;
    cluster.ok(&["wait", "--for=condition=complete", "job/hello", "--timeout=90s"]).await;

    let table = cluster.ok(&["get", "jobs"]).await;
    let row = table.lines().find(|l| l.starts_with("hello ")).unwrap_or_else(|| panic!("no row for hello: {table}"));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&columns[..3], ["hello", "Complete", "1/1"], "{table}");
    assert_eq!(cluster.pod_phases("hello").await, vec!["Succeeded"]);
    assert_eq!(cluster.ok(&["logs", "job/hello"]).await.trim(), "hello");
    let conditions = cluster.field("job", "hello", "{.status.conditions[*].type}").await;
    assert_eq!(conditions, "SuccessCriteriaMet Complete");
    assert!(!cluster.field("job", "hello", "{.status.completionTime}").await.is_empty());
    let cluster_ref = &cluster;
    cluster
        .eventually("the SuccessfulCreate and Completed events", Duration::from_secs(10), || async move {
            let reasons = cluster_ref.event_reasons("hello").await;
            reasons.contains(&"SuccessfulCreate".to_string()) && reasons.contains(&"Completed".to_string())
        })
        .await;
    cluster.stop().await;
}

const BATCH: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: batch
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: 'skiff/toolbox:1', command: [sh, -c, 'echo done']}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_of_three_completions_two_at_a_time_completes_with_three_succeeded_pods() {
    let cluster = Cluster::start("batch", 222).await;
    cluster.ok_with_input(&["apply", "-f", "-"], BATCH).await;
    cluster.ok(&["wait", "--for=condition=complete", "job/batch", "--timeout=90s"]).await;
    assert_eq!(cluster.field("job", "batch", "{.status.succeeded}").await, "3");
    assert_eq!(cluster.field("job", "batch", "{.status.failed}").await, "", "none failed");
    assert_eq!(cluster.pod_phases("batch").await, vec!["Succeeded"; 3]);
    cluster.stop().await;
}

const FAILING: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: failing
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: 'skiff/toolbox:1', command: [sh, -c, 'exit 1']}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_job_fails_with_backoff_limit_exceeded_after_two_failed_pods() {
    let cluster = Cluster::start("failing", 223).await;
    cluster.ok_with_input(&["apply", "-f", "-"], FAILING).await;
    // The second pod comes 10 s after the first failed (the back-off).
    cluster.ok(&["wait", "--for=condition=failed", "job/failing", "--timeout=90s"]).await;
    let reason = cluster.field("job", "failing", "{.status.conditions[?(@.type==\"Failed\")].reason}").await;
    assert_eq!(reason, "BackoffLimitExceeded");
    let message = cluster.field("job", "failing", "{.status.conditions[?(@.type==\"Failed\")].message}").await;
    assert_eq!(message, "Job has reached the specified backoff limit");
    assert_eq!(cluster.field("job", "failing", "{.status.conditions[*].type}").await, "FailureTarget Failed");
    assert_eq!(cluster.field("job", "failing", "{.status.failed}").await, "2");
    assert_eq!(cluster.pod_phases("failing").await, vec!["Failed", "Failed"]);
    let table = cluster.ok(&["get", "job", "failing"]).await;
    assert!(table.lines().nth(1).is_some_and(|row| row.split_whitespace().nth(1) == Some("Failed")), "{table}");
    let cluster_ref = &cluster;
    cluster
        .eventually("the BackoffLimitExceeded event", Duration::from_secs(10), || async move {
            cluster_ref.event_reasons("failing").await.contains(&"BackoffLimitExceeded".to_string())
        })
        .await;
    cluster.stop().await;
}

const SLEEPER: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: sleeper
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: work, image: 'skiff/toolbox:1', command: [sleep, '300']}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_job_deletes_its_pods_and_a_delete_naming_no_policy_orphans_them() {
    let cluster = Cluster::start("delete", 224).await;
    cluster.ok_with_input(&["apply", "-f", "-"], SLEEPER).await;
    let cluster_ref = &cluster;
    cluster
        .eventually("both pods running", LIMIT, || async move {
            cluster_ref.pod_phases("sleeper").await == vec!["Running", "Running"]
        })
        .await;
    assert_eq!(cluster.field("job", "sleeper", "{.status.active}").await, "2");
    cluster.ok(&["delete", "job", "sleeper"]).await;
    cluster
        .eventually("the pods gone with their Job", LIMIT, || async move {
            cluster_ref.pod_phases("sleeper").await.is_empty()
        })
        .await;

    // A delete that names no propagation policy (curl's, or a client library's default)
    // orphans a batch/v1 Job's pods, as Kubernetes keeps it for compatibility: the Job goes,
    // its pods stay, without their owner reference.
    cluster.ok_with_input(&["apply", "-f", "-"], SLEEPER).await;
    cluster
        .eventually("both new pods running", LIMIT, || async move {
            cluster_ref.pod_phases("sleeper").await == vec!["Running", "Running"]
        })
        .await;
    cluster.ok(&["delete", "--raw", "/apis/batch/v1/namespaces/default/jobs/sleeper"]).await;
    cluster
        .eventually("the Job gone", LIMIT, || async move {
            !cluster_ref.kubectl(&["get", "job", "sleeper"]).await.status.success()
        })
        .await;
    let owners = cluster
        .ok(&[
            "get",
            "pods",
            "-l",
            "batch.kubernetes.io/job-name=sleeper",
            "-o",
            "jsonpath={.items[*].metadata.ownerReferences}",
        ])
        .await;
    assert_eq!(owners.trim(), "", "orphaned: no owner left");
    assert_eq!(cluster.pod_phases("sleeper").await, vec!["Running", "Running"], "and still running");
    cluster.ok(&["delete", "pods", "-l", "batch.kubernetes.io/job-name=sleeper", "--grace-period=1"]).await;
    cluster.stop().await;
}

const INDEXED: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: sample
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: 'skiff/toolbox:1', command: [sh, -c, 'echo index $JOB_COMPLETION_INDEX']}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_indexed_job_gives_each_pod_its_index_and_records_the_indexes_done() {
    let cluster = Cluster::start("indexed", 225).await;
    cluster.ok_with_input(&["apply", "-f", "-"], INDEXED).await;
    cluster.ok(&["wait", "--for=condition=complete", "job/sample", "--timeout=90s"]).await;
    assert_eq!(cluster.field("job", "sample", "{.status.completedIndexes}").await, "0-2");
    assert_eq!(cluster.field("job", "sample", "{.status.succeeded}").await, "3");
    for index in 0..3 {
        let selector = format!("batch.kubernetes.io/job-completion-index={index}");
        let name = cluster.ok(&["get", "pods", "-l", &selector, "-o", "jsonpath={.items[*].metadata.name}"]).await;
        assert!(name.starts_with(&format!("sample-{index}-")), "{name}");
        assert_eq!(cluster.field("pod", &name, "{.spec.hostname}").await, format!("sample-{index}"));
        assert_eq!(cluster.ok(&["logs", &name]).await.trim(), format!("index {index}"));
    }
    cluster.stop().await;
}

const SHORT_LIVED: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: short
spec:
  ttlSecondsAfterFinished: 3
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: 'skiff/toolbox:1', command: [echo, done]}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_job_goes_with_its_pods_once_its_ttl_has_passed() {
    let cluster = Cluster::start("ttl", 226).await;
    cluster.ok_with_input(&["apply", "-f", "-"], SHORT_LIVED).await;
    cluster.ok(&["wait", "--for=condition=complete", "job/short", "--timeout=90s"]).await;
    let finished = std::time::Instant::now();
    assert_eq!(cluster.pod_phases("short").await, vec!["Succeeded"], "kept while the TTL runs");
    let cluster_ref = &cluster;
    cluster
        .eventually("the Job and its pod gone", LIMIT, || async move {
            !cluster_ref.kubectl(&["get", "job", "short"]).await.status.success()
                && cluster_ref.pod_phases("short").await.is_empty()
        })
        .await;
    let waited = finished.elapsed();
    // 3 s from a finish time the condition gives to the second: at least 2 s after the real
    // finish, and kubectl noticed the finish a little after it.
    assert!(waited >= Duration::from_secs(1), "not before its TTL: gone after {waited:?}");
    cluster.stop().await;
}
