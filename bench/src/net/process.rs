//! What the processes `bench-net` starts itself (nginx, skiff-proxy) need: the tools must be
//! installed, a free port, their children, and a stop that lets them clean up.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::NetError;

/// Fails with how to install `package` unless `tool` (a path, or a name looked up in `PATH`)
/// exists.
pub fn require_tool(tool: &'static str, package: &'static str) -> Result<(), NetError> {
    let found = if tool.contains('/') {
        Path::new(tool).is_file()
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
    };
    if found {
        Ok(())
    } else {
        Err(NetError::Missing { tool, package })
    }
}

/// A loopback port no one listens on now (bound and released; another process could take it
/// in between, which on a benchmark machine is unlikely enough).
pub fn free_loopback_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// The pids of `pid`'s children (nginx's workers), from `/proc`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    pids
}

/// SIGTERM, so that the process cleans up after itself (nginx stops its workers, skiff-proxy
/// removes its iptables rules), then waits up to `grace`; SIGKILL after that. Blocking: it runs
/// in guards' `drop`, also after an interrupt.
pub fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // The workspace forbids unsafe code, hence kill(1) rather than libc::kill.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
