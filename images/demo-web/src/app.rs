//! What every request of demo-web sees: its identity (version, hostname, pod IP), its probe
//! state, and the way to ask the process to crash.

use crate::config::Config;
use crate::health::Health;
use tokio::sync::Notify;

/// The state shared by all connections (behind an `Arc`). Nothing here needs a lock: the
/// identity never changes and the probe flags are atomics.
#[derive(Debug)]
pub struct App {
    pub version: &'static str,
    /// Read once at start: a container's hostname (the pod name) does not change while it runs,
    /// and reading a file per request would cost more than the rest of `/hostname`.
    pub hostname: String,
    /// The downward API's pod IP when given; otherwise each request shows the local address
    /// it arrived at, which is the pod IP for anything that reached the pod over the network.
    pub pod_ip: Option<String>,
    pub health: Health,
    /// Notified by `POST /crash`. The request handler only asks; `main` does the exiting, so
    /// that the response is sent first and tests of the routes do not end the test process.
    crash: Notify,
}

impl App {
    pub fn new(config: &Config, hostname: String) -> App {
        App {
            version: crate::VERSION,
            hostname,
            pod_ip: config.pod_ip.clone(),
            health: Health::new(config.ready_delay, config.fail_ready),
            crash: Notify::new(),
        }
    }

    pub fn request_crash(&self) {
        // `notify_one` keeps a permit when nobody waits yet, so the request is never lost.
        self.crash.notify_one();
    }

    /// Completes once a crash was requested.
    pub async fn crash_requested(&self) {
        self.crash.notified().await;
    }
}

/// The container's hostname, as `hostname` would print it. Read from the kernel's UTS name
/// (what Docker and the kubelet set), falling back to `$HOSTNAME` outside Linux' procfs.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim_end().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}
