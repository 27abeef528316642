//! `skiff-proxy` as `make up` runs it (Services in iptables, cluster DNS, the Ingress router),
//! beside whatever proxy the host already runs: its own chain prefix, no route of its own,
//! its router and metrics on free loopback ports, its DNS on a free port of the pod bridge.
//!
//! The proxy removes its rules when it stops on SIGTERM, which is how the guard stops it. A
//! run killed harder (SIGKILL) would leave the chains: the next start and every stop remove
//! any chain of [`CHAIN_PREFIX`] that is still there, with the jumps to it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{process, NetError};
use crate::api::http::{Connection, Method};

/// The first word of the benchmark proxy's chains; not `SKIFF` (the host's proxy) nor `SK<n>`
/// (the tests' clusters).
pub const CHAIN_PREFIX: &str = "SKBNET";

/// The pod bridge's gateway, an address of this host: where the DNS listens and where
/// NodePorts are reached (a NodePort answers on the host's own addresses, not on loopback).
pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 1);

/// The `kube-dns` ClusterIP of the benchmark's cluster: inside the service range, away from
/// the host cluster's `10.96.0.10` and the tests' `10.97`–`10.110`.
pub const CLUSTER_DNS: Ipv4Addr = Ipv4Addr::new(10, 111, 0, 10);

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the proxy may take to remove its rules and withdraw its DNS endpoint.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub struct Proxy {
    /// Where the Ingress router listens.
    pub ingress: SocketAddr,
    child: Child,
    /// Holds the log; removed after the stop.
    dir: TempDir,
}

impl Proxy {
    /// Starts `binary` against the API server at `api` (gRPC) for `node`, under a new directory
    /// in `parent`; returns once it serves metrics (its rules come a moment later: the caller
    /// waits for each path to answer).
    pub async fn start(binary: &Path, parent: &Path, api: &str, node: &str) -> Result<Proxy, NetError> {
        remove_chains();
        let prepare = |source| NetError::Prepare { what: "skiff-proxy's directory", source };
        let dir = tempfile::Builder::new().prefix("skiff-bench-skiff-proxy-").tempdir_in(parent).map_err(prepare)?;
        let ingress = process::free_loopback_port().map_err(prepare)?;
        let metrics = process::free_loopback_port().map_err(prepare)?;
        let dns = TcpListener::bind((NODE_IP, 0)).and_then(|l| l.local_addr()).map_err(prepare)?;
        let log = std::fs::File::create(dir.path().join("server.log")).map_err(prepare)?;
        let log_err = log.try_clone().map_err(prepare)?;
        let child = Command::new(binary)
            .args(["--api", api, "--node-name", node, "--chain-prefix", CHAIN_PREFIX, "--no-service-route"])
            .args(["--dns-listen", &dns.to_string(), "--cluster-dns", &CLUSTER_DNS.to_string()])
            .args(["--ingress-listen", &ingress.to_string(), "--node-ip", &NODE_IP.to_string()])
            .args(["--metrics-listen", &metrics.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .env("NO_COLOR", "1")
            .spawn()
            .map_err(|source| NetError::Tool { tool: "skiff-proxy", source })?;
        let mut proxy = Proxy { ingress, child, dir };
        proxy.wait_metrics(metrics).await?;
        Ok(proxy)
    }

    async fn wait_metrics(&mut self, metrics: SocketAddr) -> Result<(), NetError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(NetError::Exited {
                    what: "skiff-proxy",
                    details: format!("{status}: {}", self.log_tail()),
                });
            }
            if let Ok(mut connection) = Connection::open(&metrics.to_string()).await {
                if connection.send(Method::Get, "/metrics", b"").await.is_ok_and(|r| r.status == 200) {
                    return Ok(());
                }
            }
            if started.elapsed() > START_TIMEOUT {
                let details = format!("did not serve metrics within 30 s: {}", self.log_tail());
                return Err(NetError::Exited { what: "skiff-proxy", details });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the proxy's log, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Copies the log to `path`.
    pub fn save_log(&self, path: &Path) -> std::io::Result<u64> {
        std::fs::copy(self.dir.path().join("server.log"), path)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        process::terminate(&mut self.child, STOP_GRACE);
        remove_chains();
    }
}

/// Removes every chain of [`CHAIN_PREFIX`] and the jumps to them, in nat and filter, with one
/// `iptables-restore --noflush` per table. Nothing to do is the usual case.
fn remove_chains() {
    for table in ["nat", "filter"] {
        let Ok(saved) = Command::new("iptables-save").args(["-t", table]).output() else { continue };
        let script = removal(table, &String::from_utf8_lossy(&saved.stdout));
        let Some(script) = script else { continue };
        let restore = Command::new("iptables-restore").arg("--noflush").stdin(Stdio::piped()).spawn();
        if let Ok(mut restore) = restore {
            if let Some(mut stdin) = restore.stdin.take() {
                let _ = std::io::Write::write_all(&mut stdin, script.as_bytes());
            }
            let _ = restore.wait();
        }
    }
}

/// The `iptables-restore` input that removes our chains from `saved` (one table's
/// `iptables-save`): the rules of other chains that jump to ours, then our chains' rules, then
/// our chains. None when there is nothing of ours.
fn removal(table: &str, saved: &str) -> Option<String> {
    let own = format!("{CHAIN_PREFIX}-");
    let chains: Vec<&str> = saved
        .lines()
        .filter_map(|l| l.strip_prefix(':')?.split_whitespace().next())
        .filter(|c| c.starts_with(&own))
        .collect();
    if chains.is_empty() {
        return None;
    }
    let jumps = saved.lines().filter(|l| {
        l.strip_prefix("-A ").and_then(|r| r.split_whitespace().next()).is_some_and(|c| !c.starts_with(&own))
            && l.contains(&format!("-j {own}"))
    });
    let mut script = format!("*{table}\n");
    for jump in jumps {
        script.push_str(&format!("-D {}\n", &jump["-A ".len()..]));
    }
    for chain in &chains {
        script.push_str(&format!("-F {chain}\n"));
    }
    for chain in &chains {
        script.push_str(&format!("-X {chain}\n"));
    }
    script.push_str("COMMIT\n");
    Some(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_deletes_the_jumps_then_empties_and_deletes_only_our_chains() {
        let saved = "*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:SKIFF-SERVICES - [0:0]
:SKBNET-SERVICES - [0:0]
:SKBNET-SVC-ABC - [0:0]
-A OUTPUT -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES
-A OUTPUT -m comment --comment \"skiff service portals\" -j SKBNET-SERVICES
-A SKBNET-SERVICES -d 10.111.0.80/32 -p tcp -m tcp --dport 80 -j SKBNET-SVC-ABC
COMMIT
";
        let script = removal("nat", saved).unwrap();
        assert_eq!(
            script,
            "*nat
-D OUTPUT -m comment --comment \"skiff service portals\" -j SKBNET-SERVICES
-F SKBNET-SERVICES
-F SKBNET-SVC-ABC
-X SKBNET-SERVICES
-X SKBNET-SVC-ABC
COMMIT
"
        );
        assert_eq!(removal("nat", "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j SKIFF-SERVICES\nCOMMIT\n"), None);
    }
}
