//! Shared by the store's integration tests: start the real `skiff-store` binary on a free port,
//! run the real `etcdctl` against it.

#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `skiff-store` process, killed when dropped.
pub struct StoreProcess {
    child: Child,
    pub endpoint: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl StoreProcess {
    /// Starts the store on a free port with `data_dir`, and waits until it accepts connections.
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> StoreProcess {
        for _ in 0..5 {
            let port = free_port();
            let endpoint = format!("127.0.0.1:{port}");
            let log = data_dir.with_extension(format!("{port}.log"));
            let log_file = std::fs::File::create(&log).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_skiff-store"))
                .args(["--listen", &endpoint, "--data-dir"])
                .arg(data_dir)
                .args(extra_args)
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file)
                .spawn()
                .expect("skiff-store starts");
            let mut process = StoreProcess { child, endpoint, data_dir: data_dir.to_path_buf(), log };
            if process.wait_ready(Duration::from_secs(20)) {
                return process;
            }
            // Someone took the port between our check and the bind: try another.
            process.kill9();
        }
        panic!("skiff-store did not start");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            // A connection alone is not enough: when two tests draw the same free port, the
            // loser's connect reaches the winner's store. Ours says it is serving only after it
            // has bound the port (the "skiff-store serving" line of `skiff_store::run`).
            if TcpStream::connect(&self.endpoint).is_ok() && self.logs().contains("skiff-store serving") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `kill -9`: no shutdown, no flush.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.endpoint)
    }
}

impl Drop for StoreProcess {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Runs `etcdctl` (v3 API) against `endpoint`, with `stdin` as its input.
pub fn etcdctl_with_input(endpoint: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(endpoint)
        .arg("--command-timeout=10s")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcdctl is installed (Debian's etcd-client; .ci/run installs it)");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn etcdctl(endpoint: &str, args: &[&str]) -> Output {
    etcdctl_with_input(endpoint, args, "")
}

/// `etcdctl` that must succeed; returns its standard output.
pub fn ok(endpoint: &str, args: &[&str]) -> String {
    let out = etcdctl(endpoint, args);
    assert!(
        out.status.success(),
        "etcdctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `etcdctl` that must fail; returns its standard error.
pub fn fails(endpoint: &str, args: &[&str]) -> String {
    let out = etcdctl(endpoint, args);
    assert!(!out.status.success(), "etcdctl {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

/// A `-w json` output, parsed.
pub fn json(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.extend(["-w", "json"]);
    serde_json::from_str(&ok(endpoint, &args)).unwrap()
}

#[allow(unused_imports)]
pub use skiff_tests::etcd::EtcdProcess;
