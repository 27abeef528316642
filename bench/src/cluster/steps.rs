//! Steps every cluster workload takes: create a pod and wait for it, delete pods and wait until
//! they are gone, read back the node's containers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use skiff_client::Client;

use super::breakdown::{self, Clock, Timeline};
use super::docker::Docker;
use super::objects::{self, app_of};
use super::watch::{Marks, Watch};
use super::{Cluster, NAMESPACE};
use crate::error::BenchError;

/// One pod created by this benchmark and seen Ready.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// Just before the create request was sent.
    pub sent: Instant,
    /// Its answer arrived.
    pub answered: Instant,
    pub marks: Marks,
}

impl Started {
    /// Create sent → `Ready` seen on the watch.
    pub fn to_ready(&self) -> Duration {
        self.marks.ready.map(|r| r - self.sent).unwrap_or_default()
    }

    /// Create sent → `Running` seen on the watch.
    pub fn to_running(&self) -> Duration {
        self.marks.running.map(|r| r - self.sent).unwrap_or_default()
    }
}

/// Creates `pod` and waits, at most `timeout`, until the watch sees it Ready.
pub async fn create_until_ready(
    client: &Client,
    watch: &Watch,
    pod: &Value,
    timeout: Duration,
) -> Result<Started, BenchError> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let sent = Instant::now();
    client.create(&objects::pods(), Some(NAMESPACE), pod).await?;
    let answered = Instant::now();
    let marks = watch
        .wait_for(&format!("pod {name} Ready"), timeout, |pods| {
            let marks = pods.get(&name)?.marks;
            marks.ready.map(|_| marks)
        })
        .await?;
    Ok(Started { sent, answered, marks })
}

/// Deletes the pods named (gracefully, with their own grace period) and waits until the watch
/// has seen each go; when the last went.
pub async fn delete_until_gone(
    client: &Client,
    watch: &Watch,
    names: &[String],
    timeout: Duration,
) -> Result<Option<Instant>, BenchError> {
    for name in names {
        match client.delete(&objects::pods(), Some(NAMESPACE), name, &Value::Null).await {
            Err(err) if err.is_not_found() => {}
            other => {
                other?;
            }
        }
    }
    wait_gone(watch, names, timeout).await
}

/// Waits until every pod named is gone; when the last went.
pub async fn wait_gone(watch: &Watch, names: &[String], timeout: Duration) -> Result<Option<Instant>, BenchError> {
    let what = format!("{} pods gone", names.len());
    watch
        .wait_for(&what, timeout, |pods| {
            let gone: Option<Vec<Instant>> = names.iter().map(|n| pods.get(n).and_then(|w| w.marks.gone)).collect();
            gone.map(|g| g.into_iter().max())
        })
        .await
}

/// Names of the pods labelled `app` that are not gone.
pub fn live_pods(watch: &Watch, app: &str) -> Vec<String> {
    watch.snapshot(|pods| {
        pods.iter()
            .filter(|(_, w)| app_of(&w.object) == app && w.marks.gone.is_none())
            .map(|(n, _)| n.clone())
            .collect()
    })
}

/// Deletes a controller (a ReplicaSet or a Deployment; its pods carry `app: <name>`) and waits
/// until the garbage collector has deleted its pods and they are gone.
pub async fn delete_controller(
    client: &Client,
    watch: &Watch,
    kind: &skiff_client::api::Kind,
    name: &str,
    timeout: Duration,
) -> Result<(), BenchError> {
    client.delete(kind, Some(NAMESPACE), name, &json!({"propagationPolicy": "Background"})).await?;
    let what = format!("the pods of {name} gone");
    watch
        .wait_for(&what, timeout, |objects| {
            let left = objects.values().any(|w| app_of(&w.object) == name && w.marks.gone.is_none());
            (!left).then_some(())
        })
        .await
}

/// The timelines of the pods `pick` keeps, with Docker's instants of the node's containers and
/// what the scheduler's and the kubelet's logs say. Read before the pods are deleted.
pub async fn skiff_timelines(
    cluster: &Cluster,
    docker: &Docker,
    watch: &Watch,
    pick: impl Fn(&str, &super::watch::Watched) -> bool,
    sent: &HashMap<String, (Instant, Instant)>,
    clock: &Clock,
) -> Result<Vec<Timeline>, BenchError> {
    let containers = docker.timestamps(&cluster.node_label()).await?;
    let read = |server: &crate::server::Server| std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let logged = breakdown::Logged::read(&read(&cluster.scheduler), &read(&cluster.kubelet), NAMESPACE);
    Ok(watch.snapshot(|objects| breakdown::skiff_timelines(objects, pick, sent, &containers, &logged, clock)))
}
