//! What the node is made of: CPUs, memory, disk, the operating system.
//!
//! Mirrors cAdvisor's `MachineInfo` as the kubelet reads it (`pkg/kubelet/cadvisor`), read
//! straight from `/proc`, `/etc` and `df` instead. Left out: hugepages, NUMA topology,
//! per-device disk capacity.

use std::path::Path;

/// The facts a Node reports about its machine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Machine {
    pub cpus: usize,
    /// Bytes (`MemTotal`).
    pub memory: u64,
    /// Bytes of the filesystem holding the kubelet's root directory.
    pub ephemeral_storage: u64,
    pub machine_id: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
    /// Kubernetes' spelling: `amd64`, `arm64`.
    pub architecture: String,
    pub hostname: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default().trim().to_string()
}

/// `MemTotal:  24576000 kB` → bytes.
pub fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"` → the name.
pub fn pretty_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// Rust's architecture names as Go (and so Kubernetes) spells them.
pub fn go_arch(arch: &str) -> String {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
    .to_string()
}

/// The size of the filesystem under `dir`, from `df` (no statvfs without unsafe code).
fn filesystem_bytes(dir: &Path) -> u64 {
    let out = std::process::Command::new("df").arg("-Pk").arg(dir).output();
    let Ok(out) = out else { return 0 };
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()).unwrap_or(0)
        * 1024
}

impl Machine {
    pub fn read(root_dir: &Path) -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory: mem_total(&read("/proc/meminfo")),
            ephemeral_storage: filesystem_bytes(root_dir),
            machine_id: read("/etc/machine-id"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            kernel_version: read("/proc/sys/kernel/osrelease"),
            os_image: pretty_name(&read("/etc/os-release")),
            architecture: go_arch(std::env::consts::ARCH),
            hostname: read("/proc/sys/kernel/hostname"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_and_etc_files_are_read_as_the_kubelet_reports_them() {
        assert_eq!(mem_total("MemFree: 10 kB\nMemTotal:       24576000 kB\n"), 24_576_000 * 1024);
        assert_eq!(mem_total("nothing"), 0);
        assert_eq!(
            pretty_name("ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        let machine = Machine::read(Path::new("/"));
        assert!(machine.cpus >= 1 && machine.memory > 0 && machine.ephemeral_storage > 0, "{machine:?}");
    }
}
