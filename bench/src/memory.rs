//! Resident memory of a process, read from Linux's `/proc/PID/status`.
//!
//! `VmRSS` is what the process holds in RAM now: its heap as the allocator keeps it (memory
//! freed by the program but not returned to the kernel still counts), its stacks, and the
//! pages of its binary and libraries it has touched. That is what `ps`, `top` and a container's
//! memory limit see, so it is the figure a memory target is about. `VmHWM` is the highest
//! `VmRSS` has been.

/// Bytes of `VmRSS` of process `pid`; None if it is gone or this is not Linux.
pub fn resident(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS")
}

/// `VmRSS` split in two: `RssAnon` (heap, stacks: what the program allocated) and `RssFile`
/// (pages of its binary and libraries it has touched), in bytes. The second is mostly code, and
/// shrinks only with a smaller binary.
pub fn resident_parts(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((parse_kib(&status, "RssAnon")?, parse_kib(&status, "RssFile")?))
}

/// Bytes of `Pss` (`/proc/PID/smaps_rollup`): the resident set with each page shared with
/// other processes divided among them, so that summing it over several processes counts a
/// shared page (libc's code) once.
pub fn proportional(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_kib(&rollup, "Pss")
}

/// Bytes of `VmHWM`: the most `VmRSS` has been since the process started.
pub fn peak_resident(pid: u32) -> Option<u64> {
    status_field(pid, "VmHWM")
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_kib(&status, field)
}

/// `status` has lines like `VmRSS:` then a tab, spaces and `12345 kB` (kB meaning KiB).
fn parse_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// Bytes as MiB, for reports.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_kib_and_given_in_bytes() {
        let status = "Name:\tskiff-apiserver\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\n";
        let cases = [
            ("the resident set", "VmRSS", Some(20480 * 1024)),
            ("its peak", "VmHWM", Some(40960 * 1024)),
            ("a field that is not there", "VmSwap", None),
            ("a prefix of another field is not that field", "Vm", None),
            ("nor is a longer field that starts with it", "VmRS", None),
        ];
        for (name, field, want) in cases {
            assert_eq!(parse_kib(status, field), want, "{name}");
        }
    }

    #[test]
    fn this_process_has_a_resident_set() {
        assert!(resident(std::process::id()).is_some_and(|bytes| bytes > 0));
        let (anon, file) = resident_parts(std::process::id()).unwrap();
        assert!(anon > 0 && file > 0, "a running program has both");
        assert!(proportional(std::process::id()).is_some_and(|pss| pss > 0));
    }
}
