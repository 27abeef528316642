//! A real etcd for tests: started on free loopback ports with its own data directory, killed
//! when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether etcd answers a read at `endpoint` (it accepts connections before it has elected
/// itself, so a connection is not enough).
fn answers(endpoint: &str) -> bool {
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", endpoint, "--command-timeout=2s", "get", "probe"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A real etcd (Debian's `etcd-server`) on free ports with its own data directory, killed when
/// dropped: the reference Skiff's store is compared with.
pub struct EtcdProcess {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl EtcdProcess {
    pub fn start() -> EtcdProcess {
        let dir = tempfile::tempdir().unwrap();
        for attempt in 0..5 {
            let (client, peer) = (free_port(), free_port());
            let endpoint = format!("127.0.0.1:{client}");
            let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
            let mut child = Command::new("etcd")
                .args(["--name", "reference", "--data-dir"])
                .arg(dir.path().join(format!("data{attempt}")))
                .arg(format!("--listen-client-urls=http://{endpoint}"))
                .arg(format!("--advertise-client-urls=http://{endpoint}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
                .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"))
                .arg(format!("--initial-cluster=reference=http://127.0.0.1:{peer}"))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("etcd is installed (Debian's etcd-server; .ci/run installs it)");
            // etcd accepts connections before it has elected itself: wait for a real answer.
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if answers(&endpoint) {
                    return EtcdProcess { child, endpoint, _dir: dir };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("etcd did not start");
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.endpoint)
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
