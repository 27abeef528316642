//! What is measured: one demo-web pod, and the four ways to it that a Skiff cluster offers,
//! plus nginx's.
//!
//! The objects, as kubectl would send them: a ConfigMap holding the large body, the pod (with
//! the ConfigMap mounted at `/etc/bench`), a `NodePort` Service in front of it with a fixed
//! ClusterIP, and an Ingress of class `skiff` that sends every host and path to the Service.
//! Every path leads to the same container; [`Target::wait_serving`] returns once each answers
//! both bodies, so that no run starts before the proxy's rules or the router's table are in.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use skiff_client::api::Kind;
use skiff_client::Client;

use super::plan::{Body, LARGE_BYTES};
use super::proxy::NODE_IP;
use super::report;
use super::NetError;
use crate::api::http::{Connection, Method};
use crate::cluster::objects::{self, Readiness, WEB_V1};
use crate::cluster::watch::condition_true;
use crate::cluster::NAMESPACE;

/// The Service's ClusterIP, asked for rather than allocated: a running `make up` cluster
/// allocates from the start of the same range, and the host's connections to one ClusterIP
/// would meet two clusters' rules.
pub const CLUSTER_IP: Ipv4Addr = Ipv4Addr::new(10, 111, 0, 80);

const NAME: &str = "web";

/// How long the pod may take to be Ready, and each path to answer.
const TIMEOUT: Duration = Duration::from_secs(60);

/// One way to the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    pub name: &'static str,
    pub address: SocketAddr,
}

impl Path {
    pub fn url(&self, body: &Body) -> String {
        format!("http://{}{}", self.address, body.path)
    }
}

/// The pod and the Service's addresses.
pub struct Target {
    pub pod: SocketAddr,
    pub cluster_ip: SocketAddr,
    pub node_port: SocketAddr,
}

fn config_maps() -> Kind {
    Kind::new("", "v1", "configmaps")
}

fn ingresses() -> Kind {
    Kind::new("networking.k8s.io", "v1", "ingresses")
}

/// The pod: demo-web:v1 as the cluster benchmarks run it, with the body's ConfigMap mounted.
fn pod() -> Value {
    let mut pod = objects::pod(NAME, NAME, WEB_V1, Readiness::Running);
    pod["spec"]["volumes"] = json!([{"name": "body", "configMap": {"name": "bench-body"}}]);
    pod["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "body", "mountPath": "/etc/bench"}]);
    pod
}

fn service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME},
        "spec": {
            "type": "NodePort",
            "clusterIP": CLUSTER_IP.to_string(),
            "selector": {"app": NAME},
            "ports": [{"port": 80, "targetPort": "http"}],
        },
    })
}

/// Every host, every path, to the Service: ingress-nginx's catch-all server.
fn ingress() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": NAME},
        "spec": {
            "ingressClassName": "skiff",
            "rules": [{"http": {"paths": [{
                "path": "/",
                "pathType": "Prefix",
                "backend": {"service": {"name": NAME, "port": {"number": 80}}},
            }]}}],
        },
    })
}

impl Target {
    /// Creates the objects and waits for the pod to be Ready.
    pub async fn create(client: &Client) -> Result<Target, NetError> {
        let body = "b".repeat(LARGE_BYTES - 1) + "\n";
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench-body"}, "data": {"body": body}});
        client.create(&config_maps(), Some(NAMESPACE), &config_map).await?;
        client.create(&objects::pods(), Some(NAMESPACE), &pod()).await?;
        let service = client.create(&objects::services(), Some(NAMESPACE), &service()).await?;
        client.create(&ingresses(), Some(NAMESPACE), &ingress()).await?;
        let node_port = service["spec"]["ports"][0]["nodePort"].as_u64().unwrap_or_default() as u16;

        let deadline = Instant::now() + TIMEOUT;
        let pod_ip = loop {
            let pod = client.get(&objects::pods(), Some(NAMESPACE), NAME, None).await?;
            let ip = pod["status"]["podIP"].as_str().and_then(|ip| ip.parse::<Ipv4Addr>().ok());
            if let (true, Some(ip)) = (condition_true(&pod, "Ready"), ip) {
                break ip;
            }
            if Instant::now() > deadline {
                return Err(NetError::NotServing { path: "the pod", details: "not Ready within 60 s".into() });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Ok(Target {
            pod: SocketAddr::from((pod_ip, 8080)),
            cluster_ip: SocketAddr::from((CLUSTER_IP, 80)),
            node_port: SocketAddr::from((NODE_IP, node_port)),
        })
    }

    /// The cluster's paths, in the order every round runs them; the router's address is
    /// `ingress`.
    pub fn paths(&self, ingress: SocketAddr) -> Vec<Path> {
        vec![
            Path { name: report::DIRECT, address: self.pod },
            Path { name: report::CLUSTER_IP, address: self.cluster_ip },
            Path { name: report::NODE_PORT, address: self.node_port },
            Path { name: report::INGRESS, address: ingress },
        ]
    }
}

/// Waits until `path` answers 200 to every body, the large one with all its bytes.
pub async fn wait_serving(path: &Path, bodies: &[Body]) -> Result<(), NetError> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let Err(why) = answers(path.address, bodies).await else { return Ok(()) };
        if Instant::now() > deadline {
            return Err(NetError::NotServing { path: path.name, details: why });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn answers(address: SocketAddr, bodies: &[Body]) -> Result<(), String> {
    let mut connection = Connection::open(&address.to_string()).await.map_err(|e| e.to_string())?;
    for body in bodies {
        let response = connection.send(Method::Get, body.path, b"").await.map_err(|e| e.to_string())?;
        let want = if body.path.starts_with("/file/") { LARGE_BYTES } else { response.body.len() };
        if response.status != 200 || response.body.len() != want {
            return Err(format!("GET {} answered {} with {} bytes", body.path, response.status, response.body.len()));
        }
    }
    Ok(())
}
