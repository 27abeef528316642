//! [`generate`] on the situations a pod goes through.

use serde_json::json;

use super::*;
use crate::naming::ContainerIdentity;
use crate::runtime::Container as DockerContainer;

fn pod(init: &[&str], app: &[&str]) -> Pod {
    let list =
        |names: &[&str]| names.iter().map(|n| json!({"name": n, "image": "skiff/demo-web:v1"})).collect::<Vec<_>>();
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {"initContainers": list(init), "containers": list(app)}
    }))
    .unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

/// `(name, attempt, state, exit code)`.
fn runtime(instances: &[(&str, u32, Docker, i64)]) -> PodRuntime {
    PodRuntime::from_containers(
        instances
            .iter()
            .map(|(name, attempt, state, code)| {
                let identity = ContainerIdentity {
                    pod_name: "web".into(),
                    namespace: "default".into(),
                    pod_uid: "u1".into(),
                    container: name.to_string(),
                    attempt: *attempt,
                };
                let mut labels = identity.labels(&crate::naming::Scope::new("node-1", "c1"));
                if *name == "POD" {
                    labels.insert(crate::naming::POD_IP.into(), "10.244.1.9".into());
                }
                DockerContainer {
                    id: format!("{name}{attempt}"),
                    name: identity.docker_name(),
                    labels,
                    state: *state,
                    image: "skiff/demo-web:v1".into(),
                    image_id: "sha256:aaa".into(),
                    created_at: Some(at(*attempt as i64)),
                    started_at: Some(at(10 * *attempt as i64)),
                    finished_at: (*state == Docker::Exited).then(|| at(10 * *attempt as i64 + 5)),
                    exit_code: *code,
                    oom_killed: false,
                    error: String::new(),
                    start_failed: false,
                    ip: None,
                }
            })
            .collect(),
    )
}

struct NotReady;
impl ProbeResults for NotReady {
    fn ready(&self, _: &str) -> bool {
        false
    }
    fn started(&self, _: &str) -> bool {
        true
    }
}

fn status_of(
    pod: &Pod,
    runtime: &PodRuntime,
    waiting: &HashMap<String, Waiting>,
    probes: &dyn ProbeResults,
) -> PodStatus {
    let old = PodStatus::default();
    let refs = HashMap::new();
    generate(&Inputs {
        pod,
        old: &old,
        runtime,
        waiting,
        probes,
        image_refs: &refs,
        host_ip: "10.244.0.1",
        now: at(100),
    })
}

fn state(status: &ContainerStatus) -> String {
    let s = status.state.clone().unwrap();
    if let Some(w) = s.waiting {
        return format!("waiting {} {}", w.reason.unwrap_or_default(), w.message.unwrap_or_default())
            .trim_end()
            .to_string();
    }
    if let Some(t) = s.terminated {
        return format!("terminated {} {}", t.reason.unwrap_or_default(), t.exit_code);
    }
    "running".into()
}

#[test]
fn a_new_pod_waits_in_container_creating_or_pod_initializing() {
    let none = HashMap::new();
    let status = status_of(&pod(&[], &["web"]), &runtime(&[]), &none, &AllReady);
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(state(&status.container_statuses.unwrap()[0]), "waiting ContainerCreating");
    assert_eq!(status.pod_ip, None);
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));

    let with_init = status_of(&pod(&["init"], &["web"]), &runtime(&[("POD", 0, Docker::Running, 0)]), &none, &AllReady);
    assert_eq!(state(&with_init.init_container_statuses.unwrap()[0]), "waiting PodInitializing");
    assert_eq!(state(&with_init.container_statuses.unwrap()[0]), "waiting PodInitializing");
    assert_eq!(with_init.pod_ip.as_deref(), Some("10.244.1.9"));
}

#[test]
fn a_running_pod_reports_ids_images_ips_and_readiness() {
    let none = HashMap::new();
    let running = runtime(&[("POD", 0, Docker::Running, 0), ("web", 0, Docker::Running, 0)]);
    let status = status_of(&pod(&[], &["web"]), &running, &none, &AllReady);
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let web = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(web.container_id.as_deref(), Some("docker://web0"));
    assert_eq!((web.image.as_str(), web.image_id.as_str()), ("skiff/demo-web:v1", "docker://sha256:aaa"));
    assert!(web.ready && web.started == Some(true));
    assert_eq!(status.pod_ips.unwrap()[0].ip, "10.244.1.9");
    assert_eq!(status.host_ips.unwrap()[0].ip, "10.244.0.1");
    let ready = status.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "True");

    let unready = status_of(&pod(&[], &["web"]), &running, &none, &NotReady);
    let ready = unready.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.message.as_deref(), Some("containers with unready status: [web]"));
}

#[test]
fn a_crash_loop_waits_with_its_reason_and_shows_the_last_exit() {
    let crashed =
        runtime(&[("POD", 0, Docker::Running, 0), ("web", 2, Docker::Exited, 1), ("web", 1, Docker::Exited, 1)]);
    let waiting = HashMap::from([(
        "web".to_string(),
        Waiting {
            reason: "CrashLoopBackOff".into(),
            message: "back-off 20s restarting failed container=web pod=web_default(u1)".into(),
        },
    )]);
    let status = status_of(&pod(&[], &["web"]), &crashed, &waiting, &AllReady);
    let web = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(state(web), "waiting CrashLoopBackOff back-off 20s restarting failed container=web pod=web_default(u1)");
    assert_eq!(web.restart_count, 2);
    let last = web.last_state.clone().unwrap().terminated.unwrap();
    assert_eq!(
        (last.exit_code, last.reason.as_deref(), last.container_id.as_deref()),
        (1, Some("Error"), Some("docker://web2"))
    );
    assert_eq!(status.phase.as_deref(), Some("Running"), "Always restarts it: Running");

    // Between the exit and the next sync: terminated, with the earlier exit as lastState.
    let between = status_of(&pod(&[], &["web"]), &crashed, &HashMap::new(), &AllReady);
    let web = &between.container_statuses.unwrap()[0];
    assert_eq!(state(web), "terminated Error 1");
    assert_eq!(web.last_state.clone().unwrap().terminated.unwrap().container_id.as_deref(), Some("docker://web1"));
}

#[test]
fn a_config_error_before_the_first_start_waits_with_its_message() {
    let waiting = HashMap::from([(
        "web".to_string(),
        Waiting { reason: "CreateContainerConfigError".into(), message: "configmap \"cfg\" not found".into() },
    )]);
    let status = status_of(&pod(&[], &["web"]), &runtime(&[("POD", 0, Docker::Running, 0)]), &waiting, &AllReady);
    assert_eq!(
        state(&status.container_statuses.unwrap()[0]),
        "waiting CreateContainerConfigError configmap \"cfg\" not found"
    );
    assert_eq!(status.phase.as_deref(), Some("Pending"));
}

#[test]
fn a_finished_pod_completes_and_keeps_its_ip_and_phase() {
    let mut never = pod(&["init"], &["job"]);
    never.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    let done = runtime(&[("POD", 0, Docker::Exited, 0), ("init", 0, Docker::Exited, 0), ("job", 0, Docker::Exited, 0)]);
    let old = PodStatus { pod_ip: Some("10.244.1.9".into()), ..Default::default() };
    let refs = HashMap::new();
    let waiting = HashMap::new();
    let inputs = Inputs {
        pod: &never,
        old: &old,
        runtime: &done,
        waiting: &waiting,
        probes: &AllReady,
        image_refs: &refs,
        host_ip: "10.244.0.1",
        now: at(100),
    };
    let status = generate(&inputs);
    assert_eq!(status.phase.as_deref(), Some("Succeeded"));
    assert_eq!(
        status.pod_ip.as_deref(),
        Some("10.244.1.9"),
        "kept from the old status once the pause container is gone"
    );
    assert_eq!(state(&status.init_container_statuses.unwrap()[0]), "terminated Completed 0");
    let ready = status.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.reason.as_deref(), Some("PodCompleted"));

    // Terminal stays terminal, whatever the runtime shows afterwards.
    let old = PodStatus { phase: Some("Failed".into()), ..Default::default() };
    let inputs = Inputs { old: &old, runtime: &PodRuntime::default(), ..inputs };
    assert_eq!(generate(&inputs).phase.as_deref(), Some("Failed"));
}

#[test]
fn an_init_container_is_ready_once_it_has_succeeded_not_while_it_runs() {
    let none = HashMap::new();
    let running = runtime(&[("POD", 0, Docker::Running, 0), ("init", 0, Docker::Running, 0)]);
    let status = status_of(&pod(&["init"], &["web"]), &running, &none, &AllReady);
    assert!(!status.init_container_statuses.unwrap()[0].ready, "running: not ready");
    let done =
        runtime(&[("POD", 0, Docker::Running, 0), ("init", 0, Docker::Exited, 0), ("web", 0, Docker::Running, 0)]);
    let status = status_of(&pod(&["init"], &["web"]), &done, &none, &AllReady);
    assert!(status.init_container_statuses.unwrap()[0].ready, "succeeded: ready");
    let failed = runtime(&[("POD", 0, Docker::Running, 0), ("init", 0, Docker::Exited, 1)]);
    let status = status_of(&pod(&["init"], &["web"]), &failed, &none, &AllReady);
    assert!(!status.init_container_statuses.unwrap()[0].ready, "failed: not ready");
}

/// Marks every instance of `name` as one the runtime could not start.
fn start_failed(mut runtime: PodRuntime, name: &str) -> PodRuntime {
    for instance in runtime.containers.get_mut(name).into_iter().flatten() {
        let c = &mut instance.container;
        (c.start_failed, c.exit_code, c.started_at, c.finished_at) = (true, 128, None, c.created_at);
        c.error = "exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory".into();
    }
    runtime
}

fn run_container_error() -> HashMap<String, Waiting> {
    let message = "exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory";
    HashMap::from([("web".to_string(), Waiting { reason: "RunContainerError".into(), message: message.into() })])
}

#[test]
fn a_start_that_failed_is_terminated_with_start_error_and_fails_a_never_pod() {
    let mut never = pod(&[], &["web"]);
    never.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    let failed = start_failed(runtime(&[("POD", 0, Docker::Running, 0), ("web", 0, Docker::Exited, 128)]), "web");
    let status = status_of(&never, &failed, &run_container_error(), &AllReady);
    let web = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(state(web), "terminated StartError 128", "Never: no restart, so no waiting reason");
    let terminated = web.state.clone().unwrap().terminated.unwrap();
    assert_eq!(
        terminated.message.as_deref(),
        Some("exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory")
    );
    assert_eq!(terminated.started_at, Some(Time(DateTime::UNIX_EPOCH)), "upstream shows 1970-01-01T00:00:00Z");
    assert_eq!(terminated.finished_at, Some(Time(at(0))));
    assert_eq!(terminated.container_id.as_deref(), Some("docker://web0"));
    assert_eq!(web.container_id.as_deref(), Some("docker://web0"));
    assert_eq!(status.phase.as_deref(), Some("Failed"));
}

#[test]
fn a_start_that_failed_under_always_waits_to_restart_like_a_crash() {
    let always = pod(&[], &["web"]);
    let first = start_failed(runtime(&[("POD", 0, Docker::Running, 0), ("web", 0, Docker::Exited, 128)]), "web");
    let status = status_of(&always, &first, &run_container_error(), &AllReady);
    let web = &status.container_statuses.as_ref().unwrap()[0];
    assert!(state(web).starts_with("waiting RunContainerError exec:"), "right after the failure: {}", state(web));
    let last = web.last_state.clone().unwrap().terminated.unwrap();
    assert_eq!((last.reason.as_deref(), last.exit_code), (Some("StartError"), 128));
    assert_eq!(status.phase.as_deref(), Some("Running"), "being restarted");

    // The retry failed too and waits out its back-off.
    let second = start_failed(
        runtime(&[("POD", 0, Docker::Running, 0), ("web", 1, Docker::Exited, 128), ("web", 0, Docker::Exited, 128)]),
        "web",
    );
    let back_off = HashMap::from([(
        "web".to_string(),
        Waiting {
            reason: "CrashLoopBackOff".into(),
            message: "back-off 10s restarting failed container=web pod=web_default(u1)".into(),
        },
    )]);
    let status = status_of(&always, &second, &back_off, &AllReady);
    let web = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(state(web), "waiting CrashLoopBackOff back-off 10s restarting failed container=web pod=web_default(u1)");
    assert_eq!(web.restart_count, 1);
    let last = web.last_state.clone().unwrap().terminated.unwrap();
    assert_eq!(
        (last.reason.as_deref(), last.exit_code, last.container_id.as_deref()),
        (Some("StartError"), 128, Some("docker://web1"))
    );
}
