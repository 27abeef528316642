//! The narrow boundary between the data path's decisions and the kernel: a handful of
//! commands, each one call of the [`Kernel`] trait.
//!
//! Mirrors the role of `pkg/util/iptables` (`RestoreAll`, `SaveInto`) and
//! `pkg/proxy/conntrack` in Kubernetes, which run the same programs. The real implementation,
//! [`SystemKernel`], runs Debian's `iptables-restore`, `iptables-save`, `conntrack`
//! and `ip`; unit tests use a fake that records every call (`services/fake.rs`).
//!
//! Everything iptables is done by `iptables-restore --noflush` (the rules, and the jumps from
//! the built-in chains, in one transaction) and read back with `iptables-save`.
//!
//! `-w 5` waits for the xtables lock where iptables-legacy uses one (the nf_tables backend
//! needs none, and accepts the flag). A missing `conntrack` program is an error of its own,
//! [`KernelError::Missing`], so that the sync loop can warn once and carry on: the rules work
//! without it; only UDP flows to a removed endpoint then wait for their conntrack timeout.

use std::net::Ipv4Addr;
use std::process::Stdio;

use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::chains::Table;
use super::connect::{ConnectBalancer, ConnectError, ConnectTable};
use super::conntrack::StaleEntry;
use crate::net::Cidr;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{program} is not installed")]
    Missing { program: &'static str },
    #[error("cannot run {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Failed { command: String, status: String, stderr: String },
    #[error("cannot write {path}")]
    Sysctl {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("connect-time balancing")]
    Connect(#[from] ConnectError),
}

/// What the data path asks of the kernel.
#[async_trait::async_trait]
pub trait Kernel: Send + Sync + 'static {
    /// Applies `iptables-restore --noflush` text: all of it, or (on error) none of it.
    async fn restore(&self, text: &str) -> Result<(), KernelError>;
    /// `iptables-save` of one table.
    async fn save(&self, table: Table) -> Result<String, KernelError>;
    /// Deletes the conntrack entries `entry` describes; none is fine.
    async fn delete_conntrack(&self, entry: &StaleEntry) -> Result<(), KernelError>;
    /// Whether the kernel would route a packet to `ip` at all.
    async fn has_route(&self, ip: Ipv4Addr) -> Result<bool, KernelError>;
    /// The device of the route for exactly `cidr`, if there is one.
    async fn route_device(&self, cidr: Cidr) -> Result<Option<String>, KernelError>;
    /// Routes `cidr` to the port-less bridge `device`, creating it.
    async fn add_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError>;
    /// Removes the route and the bridge.
    async fn remove_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError>;
    /// Lets the kernel route packets from 127.0.0.0/8 out of the loopback device, so that a
    /// NodePort answers on 127.0.0.1 ([`super::rules`]). A setting of the whole host, as
    /// kube-proxy makes it; left on at exit, as kube-proxy leaves it.
    async fn route_localnet(&self) -> Result<(), KernelError>;
    /// Makes the host's `connect()` to each ClusterIP:port of `table` go straight to one of its
    /// endpoints ([`super::connect`]), in place of the last table. An error means the kernel
    /// balances nothing at `connect()` any more: iptables does all of it.
    async fn balance_connects(&self, table: &ConnectTable) -> Result<(), KernelError>;
    /// Stops balancing at `connect()`; the rules go on alone.
    async fn stop_balancing_connects(&self);
}

/// The real kernel, through its command-line tools, and the connect-time balancer's program.
#[derive(Default)]
pub struct SystemKernel {
    balancer: Mutex<Balancer>,
}

/// Where connect-time balancing stands.
#[derive(Default)]
enum Balancer {
    /// Turned off by configuration, failed, or stopped.
    #[default]
    Off,
    /// To be loaded at the first table.
    Wanted,
    On(ConnectBalancer),
}

impl SystemKernel {
    /// With connect-time balancing if `balance_connects`, else iptables alone.
    pub fn new(balance_connects: bool) -> SystemKernel {
        SystemKernel { balancer: Mutex::new(if balance_connects { Balancer::Wanted } else { Balancer::Off }) }
    }
}

/// The outcome of one command.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn run(program: &'static str, args: &[String], input: Option<&str>) -> Result<Ran, KernelError> {
    let command = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => KernelError::Missing { program },
            _ => KernelError::Spawn { command: command.clone(), source },
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|source| KernelError::Spawn { command: command.clone(), source })?;
    }
    let out = child.wait_with_output().await.map_err(|source| KernelError::Spawn { command, source })?;
    Ok(Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Runs a command that must succeed; its standard output.
async fn must(program: &'static str, args: &[String], input: Option<&str>) -> Result<String, KernelError> {
    let ran = run(program, args, input).await?;
    match ran.code {
        Some(0) => Ok(ran.stdout),
        code => Err(KernelError::Failed {
            command: format!("{program} {}", args.join(" ")),
            status: code.map_or("killed".into(), |c| format!("exit {c}")),
            stderr: ran.stderr,
        }),
    }
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|a| a.to_string()).collect()
}

#[async_trait::async_trait]
impl Kernel for SystemKernel {
    async fn restore(&self, text: &str) -> Result<(), KernelError> {
        must("iptables-restore", &args(&["-w", "5", "--noflush"]), Some(text)).await.map(drop)
    }

    async fn save(&self, table: Table) -> Result<String, KernelError> {
        must("iptables-save", &args(&["-t", table.name()]), None).await
    }

    async fn delete_conntrack(&self, entry: &StaleEntry) -> Result<(), KernelError> {
        let ran = run("conntrack", &entry.conntrack_args(), None).await?;
        // conntrack exits 1 when nothing matched ("0 flow entries have been deleted").
        if ran.code == Some(0) || ran.stderr.contains("0 flow entries") {
            return Ok(());
        }
        Err(KernelError::Failed {
            command: format!("conntrack {}", entry.conntrack_args().join(" ")),
            status: format!("{:?}", ran.code),
            stderr: ran.stderr,
        })
    }

    async fn has_route(&self, ip: Ipv4Addr) -> Result<bool, KernelError> {
        Ok(run("ip", &args(&["-4", "route", "get", &ip.to_string()]), None).await?.code == Some(0))
    }

    async fn route_device(&self, cidr: Cidr) -> Result<Option<String>, KernelError> {
        let shown = must("ip", &args(&["-4", "route", "show", "exact", &cidr.to_string()]), None).await?;
        Ok(shown.split_whitespace().skip_while(|w| *w != "dev").nth(1).map(String::from))
    }

    async fn add_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError> {
        if run("ip", &args(&["link", "show", device]), None).await?.code != Some(0) {
            must("ip", &args(&["link", "add", device, "type", "bridge"]), None).await?;
        }
        must("ip", &args(&["link", "set", device, "up"]), None).await?;
        must("ip", &args(&["route", "replace", &cidr.to_string(), "dev", device]), None).await.map(drop)
    }

    async fn remove_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError> {
        run("ip", &args(&["route", "del", &cidr.to_string(), "dev", device]), None).await?;
        run("ip", &args(&["link", "del", device]), None).await?;
        Ok(())
    }

    async fn route_localnet(&self) -> Result<(), KernelError> {
        const PATH: &str = "/proc/sys/net/ipv4/conf/all/route_localnet";
        match tokio::fs::read_to_string(PATH).await {
            Ok(value) if value.trim() == "1" => Ok(()),
            _ => tokio::fs::write(PATH, "1\n").await.map_err(|source| KernelError::Sysctl { path: PATH, source }),
        }
    }

    /// The `bpf()` calls take microseconds each, so they run here, not on a blocking thread.
    async fn balance_connects(&self, table: &ConnectTable) -> Result<(), KernelError> {
        let mut balancer = self.balancer.lock();
        if matches!(*balancer, Balancer::Wanted) {
            match ConnectBalancer::open() {
                Ok(opened) => {
                    tracing::info!("balancing the host's TCP connections to ClusterIPs at connect()");
                    *balancer = Balancer::On(opened);
                }
                Err(err) => {
                    *balancer = Balancer::Off;
                    return Err(err.into());
                }
            }
        }
        let Balancer::On(on) = &mut *balancer else { return Ok(()) };
        if let Err(err) = on.apply(table) {
            // Part way through: detach rather than leave a table nobody keeps.
            *balancer = Balancer::Off;
            return Err(err.into());
        }
        Ok(())
    }

    async fn stop_balancing_connects(&self) {
        *self.balancer.lock() = Balancer::Off;
    }
}
