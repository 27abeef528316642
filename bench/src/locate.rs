//! Finding the servers to run, and asking them their versions.
//!
//! The benchmarks build nothing themselves: `make bench-store`, `make bench-api`, `make
//! bench-pods` and `make bench-rollout` build the Skiff servers and the benchmark into the same
//! `target/release/`, so the servers are looked for next to the running executable.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::BenchError;

/// Where Debian's `etcd-server` package installs etcd.
pub const DEFAULT_ETCD: &str = "/usr/bin/etcd";

/// The `skiff-store` to run: `flag` if given, else the one beside this executable.
pub fn skiff_store(flag: Option<PathBuf>) -> Result<PathBuf, BenchError> {
    beside_me("skiff-store", flag)
}

/// The `skiff-apiserver` to run: `flag` if given, else the one beside this executable.
pub fn skiff_apiserver(flag: Option<PathBuf>) -> Result<PathBuf, BenchError> {
    beside_me("skiff-apiserver", flag)
}

/// `flag` if given, else `binary` in this executable's directory; it must exist. The cluster
/// benchmarks find every daemon this way.
pub fn beside_me(binary: &'static str, flag: Option<PathBuf>) -> Result<PathBuf, BenchError> {
    let path = match flag {
        Some(path) => path,
        None => {
            let exe = std::env::current_exe().map_err(BenchError::OwnPath)?;
            exe.with_file_name(binary)
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::NoBinary { binary, path })
    }
}

/// The etcd to compare with. A missing etcd is an error, not a skipped column: a table with one
/// column would look like a result and compare nothing.
pub fn etcd(flag: Option<PathBuf>) -> Result<PathBuf, BenchError> {
    let path = flag.unwrap_or_else(|| PathBuf::from(DEFAULT_ETCD));
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::NoEtcd(path))
    }
}

/// The first line `binary --version` prints ("etcd Version: 3.4.23", "skiff-store 0.1.0").
pub fn version(binary: &Path) -> String {
    first_line(Command::new(binary).arg("--version")).unwrap_or_else(|| "unknown version".into())
}

/// The checked-out commit the benchmark runs in (`git describe --always --dirty`): with
/// `-dirty` when the working tree has changes not committed, which the servers were built with.
pub fn commit() -> Option<String> {
    first_line(Command::new("git").args(["describe", "--always", "--dirty"]))
}

/// The first line a command prints, if it runs and succeeds. Used for the machine facts too.
pub fn first_line(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_string())
}
