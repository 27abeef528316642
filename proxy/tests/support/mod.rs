//! What the Services and DNS tests share: a Docker network of the test's own, containers,
//! a proxy in process with a chain prefix of its own, a small HTTP/1.1 client, a DNS client,
//! and writers of Services and EndpointSlices.
//!
//! Every test can run beside a running cluster and beside the others: it has its own network
//! (a random 10.250.x.0/24), its own chain prefix (`ST` and four random characters), its own
//! ClusterIPs (10.111.x.y, x random) and NodePorts (random in 30000–32767). Every guard
//! removes what it made when it is dropped — also when the test fails: containers, the network,
//! and (if the proxy could not clean up itself) the prefix's jumps and chains.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rand::Rng;
use serde_json::{json, Value};
use skiff_client::{Api, Client};
use skiff_proxy::net::Cidr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use skiff_tests::control_plane::ControlPlane;

/// Runs a command, returning (success, stdout, stderr).
pub fn sh(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} runs: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn random_word(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..len).map(|_| CHARS[rand::rng().random_range(0..CHARS.len())] as char).collect()
}

/// A Docker bridge network of the test's own, and the containers on it.
pub struct TestNet {
    pub name: String,
    pub subnet: Cidr,
    pub gateway: Ipv4Addr,
    /// Removed before the network.
    containers: Vec<String>,
    next_ip: u8,
}

impl TestNet {
    pub fn create() -> TestNet {
        for _ in 0..20 {
            let third: u8 = rand::rng().random_range(0..=255);
            let name = format!("skiff-proxy-test-{}", random_word(6).to_lowercase());
            let subnet = format!("10.250.{third}.0/24");
            let gateway = Ipv4Addr::new(10, 250, third, 1);
            let (ok, _, _) = sh(
                "docker",
                &[
                    "network",
                    "create",
                    "--driver",
                    "bridge",
                    "--subnet",
                    &subnet,
                    "--gateway",
                    &gateway.to_string(),
                    "--label",
                    "io.skiff.test=proxy",
                    &name,
                ],
            );
            if ok {
                return TestNet { name, subnet: subnet.parse().unwrap(), gateway, containers: Vec::new(), next_ip: 10 };
            }
        }
        panic!("no free 10.250.x.0/24 for a test network");
    }

    fn address(&mut self) -> Ipv4Addr {
        self.next_ip += 1;
        let base = self.subnet.base.octets();
        Ipv4Addr::new(base[0], base[1], base[2], self.next_ip)
    }

    /// Starts `image` with `args` (before the image) on the network; its address.
    pub fn run(&mut self, hostname: &str, docker_args: &[&str], image: &str, command: &[&str]) -> Ipv4Addr {
        let ip = self.address();
        let name = format!("{}-{hostname}", self.name);
        let ip_text = ip.to_string();
        let mut args =
            vec!["run", "-d", "--name", &name, "--hostname", hostname, "--network", &self.name, "--ip", &ip_text];
        args.extend_from_slice(docker_args);
        args.push(image);
        args.extend_from_slice(command);
        let (ok, _, err) = sh("docker", &args);
        assert!(ok, "docker run {image}: {err}");
        self.containers.push(name);
        ip
    }

    /// demo-web (`skiff/demo-web:v1`) answering `/hostname` with `hostname`.
    pub fn web(&mut self, hostname: &str) -> Ipv4Addr {
        self.run(hostname, &[], "skiff/demo-web:v1", &[])
    }

    /// A toolbox container idling, for `exec`; `resolv_conf` is mounted as its resolver.
    pub fn toolbox(&mut self, hostname: &str, resolv_conf: Option<&std::path::Path>) -> String {
        let mount = resolv_conf.map(|p| format!("{}:/etc/resolv.conf:ro", p.display()));
        let mut args = Vec::new();
        if let Some(mount) = &mount {
            args.extend(["-v", mount.as_str()]);
        }
        self.run(hostname, &args, "skiff/toolbox:1", &["sleep", "3600"]);
        format!("{}-{hostname}", self.name)
    }

    /// A toolbox container in the network namespace of `container` (as a pod's second
    /// container), for `exec`.
    pub fn sidecar(&mut self, of: &str, name: &str) -> String {
        let full = format!("{}-{name}", self.name);
        let network = format!("container:{}-{of}", self.name);
        let (ok, _, err) =
            sh("docker", &["run", "-d", "--name", &full, "--network", &network, "skiff/toolbox:1", "sleep", "3600"]);
        assert!(ok, "docker run sidecar: {err}");
        self.containers.push(full.clone());
        full
    }

    /// Lets a container reach itself through a Service: the bridge sends a frame back out of
    /// the port it came in by. The kubelet's job for pods (its `hairpin-veth` mode); done here
    /// for every port of the test's bridge.
    pub fn hairpin(&self) {
        let (ok, id, _) = sh("docker", &["network", "inspect", "-f", "{{.Id}}", &self.name]);
        assert!(ok);
        let bridge = format!("br-{}", &id.trim()[..12]);
        for port in std::fs::read_dir(format!("/sys/class/net/{bridge}/brif")).unwrap() {
            std::fs::write(port.unwrap().path().join("hairpin_mode"), "1").unwrap();
        }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for container in self.containers.drain(..).rev() {
            sh("docker", &["rm", "-f", "-v", &container]);
        }
        sh("docker", &["network", "rm", &self.name]);
    }
}

/// `docker exec container sh -c script`: (success, stdout + stderr).
pub async fn exec(container: &str, script: &str) -> (bool, String) {
    let out =
        tokio::process::Command::new("docker").args(["exec", container, "sh", "-c", script]).output().await.unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// ClusterIPs and NodePorts no one else uses.
pub struct Addresses {
    third: u8,
    next: u8,
    pub node_port_base: u16,
}

impl Addresses {
    pub fn pick() -> Addresses {
        Addresses {
            third: rand::rng().random_range(0..=255),
            next: 20,
            node_port_base: rand::rng().random_range(30000..32700),
        }
    }
    pub fn cluster_ip(&mut self) -> Ipv4Addr {
        self.next += 1;
        Ipv4Addr::new(10, 111, self.third, self.next)
    }
}

/// The proxy's chains, by prefix, as `iptables-save` prints them.
pub fn saved_rules(prefix: &str) -> String {
    let needle = format!("{prefix}-");
    let mut text = String::new();
    for table in ["nat", "filter"] {
        let (_, out, _) = sh("iptables-save", &["-t", table]);
        for line in out.lines().filter(|l| l.contains(&needle)) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// Removes the prefix's jumps and chains (a proxy that could not clean up itself).
pub fn force_cleanup(prefix: &str) {
    let needle = format!("-j {prefix}-");
    let mut restore = String::new();
    for table in ["filter", "nat"] {
        let (_, out, _) = sh("iptables-save", &["-t", table]);
        restore.push_str(&format!("*{table}\n"));
        let chains: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split(' ').next())
            .filter(|c| c.starts_with(&format!("{prefix}-")))
            .collect();
        for line in out.lines().filter(|l| l.starts_with("-A ") && l.contains(&needle)) {
            let chain = line.split(' ').nth(1).unwrap_or_default();
            if !chain.starts_with(&format!("{prefix}-")) {
                restore.push_str(&format!("-D{}\n", &line[2..]));
            }
        }
        for chain in &chains {
            restore.push_str(&format!(":{chain} - [0:0]\n"));
        }
        for chain in &chains {
            restore.push_str(&format!("-X {chain}\n"));
        }
        restore.push_str("COMMIT\n");
    }
    let mut child = Command::new("iptables-restore")
        .args(["-w", "5", "--noflush"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(restore.as_bytes()).unwrap();
    let _ = child.wait();
}

/// skiff-proxy in this process, with a prefix of its own; removes its rules when dropped.
pub struct Proxy {
    pub prefix: String,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), skiff_proxy::Error>>>,
}

/// The proxy's configuration for a test network.
pub fn proxy_config(plane: &ControlPlane, net: &TestNet, prefix: &str, dns_ip: Ipv4Addr) -> skiff_proxy::Config {
    let mut config = skiff_proxy::Config::new(&plane.grpc_address.to_string(), "node-test");
    config.services.chain_prefix = prefix.to_string();
    config.services.cluster_cidr = Some(net.subnet);
    // One route per host: tests beside each other (and a running cluster) would fight over it.
    config.services.service_route = false;
    config.dns.listen = SocketAddr::from((net.gateway, 53));
    config.dns.service_ip = dns_ip;
    config.dns.upstreams = Some(Vec::new());
    config
}

pub fn new_prefix() -> String {
    format!("ST{}", random_word(4))
}

impl Proxy {
    pub fn start(config: skiff_proxy::Config) -> Proxy {
        let prefix = config.services.chain_prefix.clone();
        let stop = CancellationToken::new();
        let task = tokio::spawn(skiff_proxy::run(config, stop.clone()));
        Proxy { prefix, stop, task: Some(task) }
    }

    /// Stops the proxy; it must have removed every rule of its prefix.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task.take().unwrap()).await;
        result.expect("the proxy stops").unwrap().expect("the proxy ran without error");
        assert_eq!(saved_rules(&self.prefix), "", "every rule of the proxy is gone");
    }

    /// Waits until `iptables-save` shows `needle` in the proxy's rules; how long it took.
    pub async fn wait_for_rule(&self, needle: &str) -> Duration {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if saved_rules(&self.prefix).contains(needle) {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no rule with {needle:?}:\n{}", saved_rules(&self.prefix));
    }

    pub async fn wait_for_no_rule(&self, needle: &str) -> Duration {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if !saved_rules(&self.prefix).contains(needle) {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the rule with {needle:?} stays:\n{}", saved_rules(&self.prefix));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
        if self.task.is_some() {
            force_cleanup(&self.prefix);
        }
    }
}

/// Creates a Service from its `spec`.
pub async fn create_service(client: &Client, namespace: &str, name: &str, spec: Value) -> Service {
    let service: Service =
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec})).unwrap();
    Api::<Service>::namespaced(client.clone(), namespace).create(&service).await.unwrap()
}

/// An endpoint of a slice: `(ip, ready, serving, terminating, hostname)`.
pub fn endpoint(ip: Ipv4Addr, ready: bool, terminating: bool, hostname: Option<&str>) -> Value {
    let mut endpoint = json!({
        "addresses": [ip.to_string()],
        "conditions": {"ready": ready, "serving": ready || terminating, "terminating": terminating},
        "nodeName": "node-test",
    });
    if let Some(hostname) = hostname {
        endpoint["hostname"] = json!(hostname);
    }
    endpoint
}

/// Creates or replaces the EndpointSlice `<service>-test` of a Service.
pub async fn write_slice(client: &Client, namespace: &str, service: &str, ports: Value, endpoints: Vec<Value>) {
    let api = Api::<EndpointSlice>::namespaced(client.clone(), namespace);
    let name = format!("{service}-test");
    let mut slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4", "ports": ports, "endpoints": endpoints,
    }))
    .unwrap();
    match api.get_opt(&name).await.unwrap() {
        None => {
            api.create(&slice).await.unwrap();
        }
        Some(existing) => {
            slice.metadata.resource_version = existing.metadata.resource_version;
            api.replace(&name, &slice).await.unwrap();
        }
    }
}

/// `GET path` on a new connection; the body.
pub async fn get(address: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut connection = Connection::open(address).await?;
    connection.get(path).await
}

/// One keep-alive HTTP/1.1 connection.
pub struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    pub async fn open(address: SocketAddr) -> std::io::Result<Connection> {
        let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(address))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
        Ok(Connection { stream: BufReader::new(stream) })
    }

    pub async fn get(&mut self, path: &str) -> std::io::Result<String> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        tokio::time::timeout(Duration::from_secs(5), async {
            self.stream.get_mut().write_all(request.as_bytes()).await?;
            let mut length = 0;
            let mut status = String::new();
            loop {
                let mut line = String::new();
                if self.stream.read_line(&mut line).await? == 0 {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
                }
                if status.is_empty() {
                    status = line.trim().to_string();
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            self.stream.read_exact(&mut body).await?;
            if !status.contains(" 200 ") {
                return Err(std::io::Error::other(status));
            }
            Ok(String::from_utf8_lossy(&body).into_owned())
        })
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request timed out"))?
    }
}

/// One DNS question over UDP (or TCP); the answer.
pub async fn dns_query(server: SocketAddr, name: &str, asked: RecordType, tcp: bool) -> Message {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.queries.push(Query::query(Name::from_ascii(name).unwrap(), asked));
    let bytes = query.to_vec().unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        if tcp {
            let mut stream = TcpStream::connect(server).await.unwrap();
            stream.write_all(&(bytes.len() as u16).to_be_bytes()).await.unwrap();
            stream.write_all(&bytes).await.unwrap();
            let length = stream.read_u16().await.unwrap();
            let mut buffer = vec![0; length as usize];
            stream.read_exact(&mut buffer).await.unwrap();
            buffer
        } else {
            let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            socket.send_to(&bytes, server).await.unwrap();
            let mut buffer = vec![0; 4096];
            let n = socket.recv(&mut buffer).await.unwrap();
            buffer.truncate(n);
            buffer
        }
    })
    .await
    .expect("the DNS server answers");
    Message::from_vec(&answer).unwrap()
}

/// The host's own address (of the interface of its default route), or `fallback`.
pub fn host_address(fallback: Ipv4Addr) -> Ipv4Addr {
    let (_, route, _) = sh("ip", &["-4", "route", "show", "default"]);
    let device = route.split_whitespace().skip_while(|w| *w != "dev").nth(1).map(str::to_string);
    let Some(device) = device else { return fallback };
    let (_, addresses, _) = sh("ip", &["-4", "-o", "addr", "show", "dev", &device]);
    addresses
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or(fallback)
}
