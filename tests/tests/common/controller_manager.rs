//! The real `skiff-controller-manager` binary as a process of its own, for the tests that
//! `kill -9` it in the middle of a rollout: one running in the test's process could not be
//! killed without the test.
//!
//! The binary is the one cargo builds into the same target directory as this test
//! (`target/debug/skiff-controller-manager`, found beside the test's executable as
//! `bench/src/locate.rs` finds the servers). `make test` builds it (nextest builds every
//! binary of the workspace), but `cargo test -p skiff-tests` builds only the controller-manager's
//! library, and a binary left from an earlier checkout would test old code. So the binary is
//! used only if it is newer than every source file it was built from (cargo lists them in
//! `skiff-controller-manager.d` beside it) and than `Cargo.lock`; otherwise the first start in
//! a test process runs `cargo build -p skiff-controller-manager` (cargo released the target
//! directory's lock before it ran the tests). That build resolves features for the one package,
//! unlike the test's, so its dependencies are compiled apart from the test's: on 2 cores the
//! first time takes minutes, and after an edit of `controller-manager/`, `client/` or `api/`
//! those crates are compiled twice (a minute or two more, once). `make test` pays nothing here.
//!
//! A started process is killed with SIGKILL when dropped, also when the test fails. It is in the
//! test's process group, so a Ctrl-C of `cargo test` or nextest's timeout ends it too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What the binary logs once its informers have their first lists (`daemon.rs`).
const STARTED: &str = "caches synced; controllers starting";

pub struct ControllerManager {
    child: Child,
    /// Its standard error and output.
    pub log: PathBuf,
}

impl ControllerManager {
    /// Starts the binary against the API server's gRPC address `api`, logging to `log`; returns
    /// once its controllers run.
    pub async fn start(api: &str, log: PathBuf) -> ControllerManager {
        let binary = tokio::task::spawn_blocking(binary).await.unwrap();
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .args(["--api", api, "--workers", "2"])
            .env("RUST_LOG", "skiff_controller_manager=info,skiff_client=info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("skiff-controller-manager starts");
        let mut process = ControllerManager { child, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !process.logs().contains(STARTED) {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("skiff-controller-manager exited ({status}): {}", process.logs());
            }
            assert!(Instant::now() < deadline, "skiff-controller-manager did not start in 30 s: {}", process.logs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: SIGKILL, which it cannot handle, then waits until it is gone. How it ended
    /// (a process that had already exited ends otherwise).
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ControllerManager {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The binary, built once per test process if it is missing or older than its sources.
fn binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(find_or_build).clone()
}

fn find_or_build() -> PathBuf {
    // <target>/<profile>/deps/rollouts-<hash>
    let exe = std::env::current_exe().expect("the test knows its path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("the test runs from <target>/<profile>/deps");
    let binary = profile_dir.join("skiff-controller-manager");
    if !up_to_date(&binary) {
        build(profile_dir);
    }
    binary
}

/// Whether `binary` exists and is newer than `Cargo.lock` and every file its `.d` names.
fn up_to_date(binary: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let (Some(built), Ok(deps)) = (modified(binary), std::fs::read_to_string(binary.with_extension("d"))) else {
        return false;
    };
    // `<binary>: <source> <source> …`, spaces in paths escaped as `\ `.
    let sources = deps.split_once(": ").map(|(_, sources)| sources.replace("\\ ", "\0")).unwrap_or_default();
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let mut inputs = sources.split_whitespace().map(|s| PathBuf::from(s.replace('\0', " "))).collect::<Vec<_>>();
    inputs.push(lock);
    inputs.iter().all(|input| modified(input).is_some_and(|changed| changed <= built))
}

/// `cargo build -p skiff-controller-manager` into the profile directory `profile_dir`.
fn build(profile_dir: &Path) {
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    let target_dir = profile_dir.parent().expect("a target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let out = Command::new(cargo)
        .args(["build", "--quiet", "-p", "skiff-controller-manager", "--bin", "skiff-controller-manager"])
        .args(["--profile", &profile])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo build -p skiff-controller-manager: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("skiff-controller-manager was missing or older than its sources: built in {:.1?}", started.elapsed());
}
