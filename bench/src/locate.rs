//! Finding the two servers to compare, and asking them their versions.
//!
//! The benchmark builds nothing itself: `make bench-store` builds `skiff-store` and this binary
//! into the same `target/release/`, so the store is looked for next to the running executable.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::BenchError;

/// Where Debian's `etcd-server` package installs etcd.
pub const DEFAULT_ETCD: &str = "/usr/bin/etcd";

/// The `skiff-store` to run: `flag` if given, else the one beside this executable.
pub fn skiff_store(flag: Option<PathBuf>) -> Result<PathBuf, BenchError> {
    let path = match flag {
        Some(path) => path,
        None => {
            let exe = std::env::current_exe().map_err(BenchError::OwnPath)?;
            exe.with_file_name("skiff-store")
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::NoSkiffStore(path))
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

/// The first line a command prints, if it runs and succeeds. Used for the machine facts too.
pub fn first_line(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_string())
}
