//! The Docker runtime against the real Docker Engine: the calls the kubelet makes, in the order
//! it makes them for a pod (network, pause container with an address, a container joined to it,
//! exec, logs, stop with a grace period, removal).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::docker::{node_name, Guard};
use futures::StreamExt;
use skiff_kubelet::runtime::docker::DockerRuntime;
use skiff_kubelet::runtime::{run_to_end, ContainerConfig, ContainerRuntime, ContainerState, LogOptions, NetworkMode};

#[tokio::test]
async fn docker_runs_a_pause_container_and_a_container_joined_to_it() {
    let node = node_name("runtime");
    let guard = Guard::new(&node);
    let docker = DockerRuntime::connect().await.expect("Docker answers with a negotiated version");
    assert!(docker.version().await.unwrap().starts_with("docker://"));
    let network = docker.ensure_network("skiff", "10.244.0.0/16", "10.244.0.1".parse().unwrap()).await.unwrap();
    assert_eq!(network.subnet, "10.244.0.0/16");
    let again = docker.ensure_network("skiff", "10.244.0.0/16", "10.244.0.1".parse().unwrap()).await.unwrap();
    assert_eq!(network.id, again.id, "a second call finds the same network");

    let labels = BTreeMap::from([("io.skiff.node".to_string(), node.clone())]);
    let pause = ContainerConfig {
        name: format!("{node}-pause"),
        image: "skiff/pause:1".into(),
        labels: labels.clone(),
        hostname: Some("web".into()),
        network: Some(NetworkMode::Bridge { network: "skiff".into(), address: None }),
        ..Default::default()
    };
    let pause_id = docker.create_container(&pause).await.unwrap();
    docker.start_container(&pause_id).await.unwrap();
    let inspected = docker.inspect_container(&pause_id).await.unwrap();
    assert_eq!(inspected.state, ContainerState::Running);
    let ip = inspected.ip.expect("the pause container has an address");
    assert!(ip.octets()[0] == 10 && ip.octets()[1] == 244, "{ip}");

    let app = ContainerConfig {
        name: format!("{node}-app"),
        image: "skiff/toolbox:1".into(),
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: Some(vec!["echo started; exec sleep 60".into()]),
        env: vec!["GREETING=hello".into()],
        labels: labels.clone(),
        network: Some(NetworkMode::Container(pause_id.clone())),
        memory_limit: Some(64 << 20),
        nano_cpus: Some(500_000_000),
        ..Default::default()
    };
    let app_id = docker.create_container(&app).await.unwrap();
    docker.start_container(&app_id).await.unwrap();

    let said = run_to_end(
        &docker,
        &app_id,
        &["sh".into(), "-c".into(), "echo $GREETING $(hostname)".into()],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!((said.exit_code, said.output.as_str()), (0, "hello web\n"), "env, and the pause container's hostname");
    let failed = run_to_end(&docker, &app_id, &["sh".into(), "-c".into(), "exit 3".into()], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(failed.exit_code, 3);

    let listed = docker.list_containers(&[("io.skiff.node", &node)]).await.unwrap();
    assert_eq!(listed.len(), 2);
    let mut logs = docker.logs(&app_id, &LogOptions::default());
    let first = logs.next().await.unwrap().unwrap();
    assert_eq!(first.bytes().as_ref(), b"started\n");

    // `sleep` ignores SIGTERM: stopping waits the grace period, then kills.
    let started = Instant::now();
    docker.stop_container(&app_id, Duration::from_secs(1)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    let stopped = docker.inspect_container(&app_id).await.unwrap();
    assert_eq!((stopped.state, stopped.exit_code), (ContainerState::Exited, 137));
    assert!(stopped.finished_at.is_some());

    assert!(docker.inspect_image("skiff/pause:1").await.unwrap().unwrap().id.starts_with("sha256:"));
    assert_eq!(docker.inspect_image("skiff/absent:0").await.unwrap(), None);
    let pull = docker.pull_image("skiff/absent:0").await.unwrap_err();
    assert!(!pull.to_string().is_empty());

    docker.remove_container(&app_id).await.unwrap();
    docker.remove_container(&pause_id).await.unwrap();
    assert!(docker.inspect_container(&app_id).await.unwrap_err().is_not_found());
    assert!(guard.containers().is_empty());
}
