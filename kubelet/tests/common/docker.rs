//! Docker clean-up for tests: everything a test's kubelet made carries the label
//! `io.skiff.node=<the test's node name>`, and [`Guard`] removes it all when dropped, even when
//! the test failed (a panic drops it too).

use std::process::Command;

/// A unique node name for one test: `t-<what>-<pid>-<n>`. Unique across processes (pid) and
/// within one (a counter), so tests can run beside each other and beside a running cluster.
pub fn node_name(what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("t-{what}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Removes every container labelled with its node when dropped.
pub struct Guard {
    pub node: String,
}

impl Guard {
    pub fn new(node: &str) -> Guard {
        Guard { node: node.to_string() }
    }

    /// The ids of the node's containers (running or not).
    pub fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--no-trunc", "--filter", &format!("label=io.skiff.node={}", self.node)])
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let ids = self.containers();
        if !ids.is_empty() {
            let _ = Command::new("docker").arg("rm").arg("-f").arg("-v").args(&ids).output();
        }
    }
}
