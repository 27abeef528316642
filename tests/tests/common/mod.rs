//! A whole cluster in the test's process, for the tests that need every daemon: skiff-store and
//! skiff-apiserver ([`ControlPlane`]), the scheduler, the controller-manager, N kubelets on
//! real Docker, and one skiff-proxy (Service rules in iptables, the cluster DNS, the Ingress
//! router) — what `make up NODES=N` starts, as one process per test. A test that kills the
//! controller-manager runs it as the real binary instead ([`Options::controller_manager_process`]).
//!
//! Tests run beside a running `make up` cluster and beside each other (nextest runs two at a
//! time, `cargo test` two threads of one process). Everything a cluster makes is named after
//! its [`Slot`](guards::Slot) numbers, held for as long as it runs:
//!
//! | what                    | `make up`              | a test in slot k (100 ≤ k < 200)          |
//! |-------------------------|------------------------|-------------------------------------------|
//! | nodes                   | `node-1` …             | `sk<k>` (one slot per node)               |
//! | pod addresses           | 10.244.1.0/24 …        | 10.244.k.0/24                             |
//! | iptables chains         | `SKIFF-*`              | `SK<k>-*` (the first node's slot)         |
//! | cluster DNS             | 10.244.0.1:53 behind 10.96.0.10 | 10.244.0.1:<free port> behind a random ClusterIP |
//! | Ingress router          | 0.0.0.0:80             | 127.0.0.1:<free port>                     |
//! | kubelet streaming ports | 10250 …                | free ports                                |
//!
//! The pod network (the `skiff` Docker bridge, 10.244.0.0/16) is shared: the first kubelet of
//! the host creates it, and no test removes it. [`Cluster::stop`] stops the proxy (which must
//! remove its own rules) and the daemons; dropping the cluster — also when a test fails —
//! removes its containers and any rule of its prefix.

#![allow(dead_code)]

pub mod controller_manager;
pub mod guards;
pub mod http;
pub mod load;
pub mod pod_watch;
pub mod upstream;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rand::Rng;
use skiff_client::{rotation, Api, Client, ListParams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use skiff_tests::control_plane::ControlPlane;

use controller_manager::ControllerManager;
use guards::{Leftovers, Slot};
use http::Request;
use load::Path;

/// What a cluster is started with beyond its nodes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where the cluster DNS forwards names outside the cluster (none: it refuses them).
    pub dns_upstreams: Vec<SocketAddr>,
    /// Run the real `skiff-controller-manager` binary as a process of its own
    /// ([`controller_manager`]), which [`Cluster::kill_controller_manager`] can `kill -9`;
    /// otherwise the controller-manager runs in this process like the other daemons.
    pub controller_manager_process: bool,
}

struct Proxy {
    stop: CancellationToken,
    task: JoinHandle<Result<(), skiff_proxy::Error>>,
}

pub struct Cluster {
    pub plane: ControlPlane,
    /// A client of the API server (the tests' own reads: slices, Leases).
    pub client: Client,
    /// The node names, in the order of their slots.
    pub nodes: Vec<String>,
    /// The nodes' pod CIDRs, in the same order.
    pub pod_cidrs: Vec<String>,
    /// The host, as pods and NodePorts see it: the pod network's gateway, every node's
    /// InternalIP. (NodePorts are not served on 127.0.0.1.)
    pub node_ip: Ipv4Addr,
    /// The Ingress router.
    pub router: SocketAddr,
    /// Where the cluster DNS listens, and the `kube-dns` ClusterIP the kubelets give pods.
    pub dns: SocketAddr,
    pub dns_ip: Ipv4Addr,
    /// The proxy's chain prefix.
    pub prefix: String,
    /// The proxy's Lease (`skiff-proxy-<node>`): the EndpointSlice revision it applied.
    lease: String,
    /// The scheduler, the controller-manager (unless it is a process) and the kubelets.
    daemons: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    proxy: Option<Proxy>,
    /// The controller-manager's process, with [`Options::controller_manager_process`] (none
    /// while it is killed), and how many were started (each logs to a file of its own).
    controller_manager: Option<ControllerManager>,
    controller_managers_started: usize,
    /// Dropped after the daemons are told to stop: containers and chains go.
    leftovers: Leftovers,
    _slots: Vec<Slot>,
}

fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

/// A port free for both UDP and TCP on `ip` (the DNS server takes both), once `ip` exists.
async fn free_dns_port(ip: Ipv4Addr) -> u16 {
    for _ in 0..100 {
        match std::net::UdpSocket::bind((ip, 0)) {
            Ok(udp) => {
                let port = udp.local_addr().unwrap().port();
                if std::net::TcpListener::bind((ip, port)).is_ok() {
                    return port;
                }
            }
            // The bridge is not there yet (the first kubelet of the host creates it).
            Err(err) if err.kind() == std::io::ErrorKind::AddrNotAvailable => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(err) => panic!("cannot bind {ip}: {err}"),
        }
    }
    panic!("no port for the cluster DNS on {ip}");
}

/// A NodePort no rule of this host uses yet (a running cluster's proxy may have some).
pub fn free_node_port() -> u16 {
    let nat = guards::output("iptables-save", &["-t", "nat"]);
    loop {
        let port: u16 = rand::rng().random_range(30000..32768);
        if !nat.contains(&format!("--dport {port} ")) {
            return port;
        }
    }
}

impl Cluster {
    pub async fn start(nodes: usize) -> Cluster {
        Cluster::start_with(nodes, Options::default()).await
    }

    pub async fn start_with(node_count: usize, options: Options) -> Cluster {
        guards::sweep();
        let slots: Vec<Slot> = (0..node_count.max(1)).map(|_| Slot::take()).collect();
        let nodes: Vec<String> = slots.iter().map(|s| format!("sk{}", s.number)).collect();
        let pod_cidrs: Vec<String> = slots.iter().map(|s| format!("10.244.{}.0/24", s.number)).collect();
        let prefix = format!("SK{}", slots[0].number);
        let leftovers = Leftovers::new(nodes.clone(), prefix.clone());
        let plane = ControlPlane::start().await;
        let api = plane.grpc_address.to_string();
        let daemons = CancellationToken::new();
        // Until the cluster owns them: a start that fails stops what it started.
        let started = daemons.clone().drop_guard();
        let mut tasks = Vec::new();

        let scheduler = skiff_scheduler::Config {
            api: api.clone(),
            scheduler_name: skiff_scheduler::DEFAULT_SCHEDULER_NAME.into(),
            metrics_listen: None,
        };
        let stop = daemons.clone();
        tasks.push(tokio::spawn(
            async move { skiff_scheduler::run(scheduler, stop).await.expect("the scheduler runs") },
        ));
        let controller_manager = if options.controller_manager_process {
            Some(ControllerManager::start(&api, plane.dir.path().join("controller-manager.1.log")).await)
        } else {
            let controllers = skiff_controller_manager::Config { api: api.clone(), workers: 2, metrics_listen: None };
            let stop = daemons.clone();
            tasks.push(tokio::spawn(async move {
                skiff_controller_manager::run(controllers, stop).await.expect("the controller-manager runs")
            }));
            None
        };

        // A ClusterIP for kube-dns of this cluster only: 10.96.0.10 is the running cluster's.
        let dns_ip = Ipv4Addr::new(
            10,
            rand::rng().random_range(97..111),
            rand::rng().random(),
            rand::rng().random_range(2..254),
        );
        for (node, cidr) in nodes.iter().zip(&pod_cidrs) {
            let mut kubelet = skiff_kubelet::Config::new(&api, node);
            kubelet.root_dir = plane.dir.path().join("kubelet").join(node);
            kubelet.pod_cidr = Some(cidr.clone());
            kubelet.cluster_dns = Some(dns_ip);
            kubelet.listen = Some(SocketAddr::from(([127, 0, 0, 1], free_port(Ipv4Addr::LOCALHOST))));
            let stop = daemons.clone();
            tasks.push(tokio::spawn(async move { skiff_kubelet::run(kubelet, stop).await.expect("the kubelet runs") }));
        }
        for node in &nodes {
            let plane = &plane;
            plane
                .eventually(&format!("node {node} is Ready"), Duration::from_secs(60), || async move {
                    let jsonpath = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
                    plane.kubectl(&["get", "node", node, "-o", jsonpath]).await.stdout == b"True"
                })
                .await;
        }

        let node_ip = skiff_kubelet::config::PodNetwork::default().gateway;
        let dns = SocketAddr::from((node_ip, free_dns_port(node_ip).await));
        let router = SocketAddr::from(([127, 0, 0, 1], free_port(Ipv4Addr::LOCALHOST)));
        let mut config = skiff_proxy::Config::new(&api, &nodes[0]);
        config.services.chain_prefix = prefix.clone();
        // The route for the service range is one per host; a running cluster may own it.
        config.services.service_route = false;
        config.dns.listen = dns;
        config.dns.service_ip = dns_ip;
        config.dns.upstreams = Some(options.dns_upstreams.clone());
        config.ingress = Some(skiff_proxy::ingress::Config::new(router, node_ip.into()));
        let stop = CancellationToken::new();
        let proxy = Proxy { stop: stop.clone(), task: tokio::spawn(skiff_proxy::run(config, stop)) };

        let client = plane.client("skiff-tests").await;
        started.disarm();
        let cluster = Cluster {
            client,
            lease: format!("skiff-proxy-{}", nodes[0]),
            plane,
            nodes,
            pod_cidrs,
            node_ip,
            router,
            dns,
            dns_ip,
            prefix,
            daemons,
            tasks,
            proxy: Some(proxy),
            controller_managers_started: controller_manager.iter().count(),
            controller_manager,
            leftovers,
            _slots: slots,
        };
        // From here on the kubelets wait for the proxy before they stop a pod.
        cluster.proxy_caught_up().await;
        cluster
    }

    /// `kill -9` of the controller-manager's process (started with
    /// [`Options::controller_manager_process`]), which must have been running until then.
    pub fn kill_controller_manager(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        let mut process = self.controller_manager.take().expect("a controller-manager process runs");
        let ended = process.kill();
        let signal = ended.and_then(|status| status.signal());
        assert_eq!(signal, Some(9), "the controller-manager ended by SIGKILL, not {ended:?}: {}", process.logs());
    }

    /// Starts a new controller-manager process, after [`Cluster::kill_controller_manager`];
    /// returns once its controllers run.
    pub async fn restart_controller_manager(&mut self) {
        assert!(self.controller_manager.is_none(), "the controller-manager was killed first");
        self.controller_managers_started += 1;
        let log = self.plane.dir.path().join(format!("controller-manager.{}.log", self.controller_managers_started));
        let api = self.plane.grpc_address.to_string();
        self.controller_manager = Some(ControllerManager::start(&api, log).await);
    }

    /// `kubectl apply -f -` of `manifests`.
    pub async fn apply(&self, manifests: &str) {
        self.plane.ok_with_input(&["apply", "-f", "-"], manifests).await;
    }

    /// `kubectl rollout status`, which must succeed.
    pub async fn rolled_out(&self, deployment: &str) {
        let status = self.plane.ok(&["rollout", "status", &format!("deployment/{deployment}"), "--timeout=90s"]).await;
        assert!(status.contains("successfully rolled out"), "{status}");
    }

    pub async fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        let jsonpath = format!("jsonpath={path}");
        args.extend(["-o", &jsonpath]);
        self.plane.ok(&args).await
    }

    pub async fn cluster_ip(&self, service: &str) -> Ipv4Addr {
        self.jsonpath(&["svc", service], "{.spec.clusterIP}").await.parse().unwrap()
    }

    pub async fn node_port(&self, service: &str) -> u16 {
        self.jsonpath(&["svc", service], "{.spec.ports[0].nodePort}").await.parse().unwrap()
    }

    pub async fn pod_ip(&self, pod: &str) -> Ipv4Addr {
        self.jsonpath(&["pod", pod], "{.status.podIP}").await.parse().unwrap()
    }

    /// The three ways into `service` (port 80, type NodePort): its ClusterIP and its NodePort
    /// with a new connection per request, and the Ingress router (an Ingress for
    /// `ingress_host` in front of it) on kept-alive connections.
    pub async fn paths(&self, service: &str, ingress_host: &str) -> Vec<Path> {
        let cluster_ip = SocketAddr::from((self.cluster_ip(service).await, 80));
        let node_port = SocketAddr::from((self.node_ip, self.node_port(service).await));
        vec![
            Path::connections("ClusterIP", cluster_ip, Request::get(service, "/version")),
            Path::connections("NodePort", node_port, Request::get(service, "/version")),
            Path::keep_alive("Ingress", self.router, Request::get(ingress_host, "/version")),
        ]
    }

    /// Waits until every path answers `version`.
    pub async fn answering(&self, paths: &[Path], version: &str) {
        for path in paths {
            self.plane
                .eventually(&format!("{} answers {version}", path.name), Duration::from_secs(30), || async move {
                    http::ok(http::fetch(path.address, &path.request).await).is_ok_and(|v| v == version)
                })
                .await;
        }
    }

    /// The ready endpoints of `service`: (pod name, address), sorted.
    pub async fn ready_endpoints(&self, service: &str) -> Vec<(String, String)> {
        let slices = Api::<EndpointSlice>::namespaced(self.client.clone(), "default");
        let selector = format!("kubernetes.io/service-name={service}");
        let (slices, _) = slices.list(&ListParams::labels(&selector)).await.expect("slices are listed");
        let mut ready: Vec<(String, String)> = slices
            .iter()
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
            .map(|e| {
                let pod = e.target_ref.as_ref().and_then(|r| r.name.clone()).unwrap_or_default();
                (pod, e.addresses.first().cloned().unwrap_or_default())
            })
            .collect();
        ready.sort();
        ready
    }

    /// Waits until the ready endpoints of `service` pass `check`.
    pub async fn endpoints_until(&self, service: &str, what: &str, check: impl Fn(&[(String, String)]) -> bool) {
        let check = &check;
        self.plane
            .eventually(what, Duration::from_secs(60), || async move { check(&self.ready_endpoints(service).await) })
            .await;
    }

    /// Waits until the proxy has applied every EndpointSlice as it is now — its Service rules
    /// and its Ingress routes: its Lease shows a revision at least the slices' highest
    /// (`client/src/rotation.rs`). The instant it saw that: a connection started later goes
    /// by the slices as they were when this was called.
    pub async fn proxy_caught_up(&self) -> Instant {
        let slices = Api::<EndpointSlice>::all(self.client.clone());
        let (slices, _) = slices.list(&ListParams::default()).await.expect("slices are listed");
        let revision = slices
            .iter()
            .filter_map(|s| s.metadata.resource_version.as_deref()?.parse::<i64>().ok())
            .max()
            .unwrap_or(0);
        let leases = Api::<Lease>::namespaced(self.client.clone(), rotation::NAMESPACE);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lease = leases.get_opt(&self.lease).await.ok().flatten();
            let applied = lease
                .as_ref()
                .and_then(|l| l.metadata.annotations.as_ref()?.get(rotation::REVISION)?.parse::<i64>().ok());
            if applied.is_some_and(|applied| applied >= revision) {
                return Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not apply slice revision {revision} (it shows {applied:?})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the proxy, which must remove every rule it made, then the other daemons. The
    /// containers go when the cluster is dropped.
    pub async fn stop(mut self) {
        let proxy = self.proxy.take().expect("stopped once");
        proxy.stop.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(15), proxy.task).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "the proxy stops cleanly: {stopped:?}");
        assert_eq!(guards::rules_of(&self.prefix), "", "the proxy removed its rules");
        self.daemons.cancel();
        self.controller_manager = None;
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(proxy) = &self.proxy {
            proxy.stop.cancel();
        }
        self.daemons.cancel();
        if !self.tasks.is_empty() {
            // A failed test: give the kubelets a moment to notice before their containers go,
            // so that none starts another one after the clean-up.
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
