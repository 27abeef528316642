//! CPU time, read from Linux's `/proc`.
//!
//! On a two-core machine that also runs the benchmark client, throughput is bounded by CPU, not
//! by the disk: 16 clients keep both cores busy. So the figure that explains a throughput is
//! how much CPU the server spends per operation, and the figure that explains a noisy run is
//! how busy the machine already was before it started.
//!
//! `/proc` counts in clock ticks of `USER_HZ`, which Linux fixes at 100 per second for every
//! program that reads it: a resolution of 10 ms, fine over runs of seconds.

use std::time::Duration;

const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU time of process `pid` so far, all threads included (also those that
/// have exited). None if the process is gone or this is not Linux.
pub fn process_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_process_ticks(&stat).map(ticks)
}

/// `/proc/PID/stat` is `pid (comm) state ...`: utime and stime are fields 14 and 15. The
/// command name may hold spaces and parentheses, so fields are counted after the last `)`,
/// where field 3 (state) comes first.
fn parse_process_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total ticks of all cores together, from the first line of `/proc/stat`.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_machine_ticks(stat.lines().next()?)
}

/// `cpu user nice system idle iowait irq softirq steal guest guest_nice`. Busy is user, nice,
/// system and steal (another virtual machine running on our core). Interrupt time is left out
/// of busy: Linux charges it to no process, and most of it here is our own loopback traffic,
/// which would otherwise show up as someone else's work. Guest time is already inside user.
fn parse_machine_ticks(line: &str) -> Option<(u64, u64)> {
    let values: Vec<u64> = line.split_whitespace().skip(1).take(8).map(|v| v.parse().ok()).collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal]: [u64; 8] = values.try_into().ok()?;
    let total = user + nice + system + idle + iowait + irq + softirq + steal;
    Some((user + nice + system + steal, total))
}

/// Measures how much of the machine other work took while the benchmark ran: all busy time,
/// less this process and the servers under test. Figures from a run where others took a
/// sizeable share are not comparable with a quiet run's.
pub struct OthersMeter {
    machine: (u64, u64),
    own: Duration,
    /// Processes that ran before the benchmark but work for it (Docker's daemons, for the
    /// cluster benchmarks), with their CPU time at the start: what they spend from then on is
    /// counted as the benchmark's.
    helpers: Vec<(u32, Duration)>,
}

impl OthersMeter {
    /// Starts before the servers do, so that their whole CPU time falls inside the span.
    pub fn start() -> Option<OthersMeter> {
        OthersMeter::start_with_helpers(&[])
    }

    /// Like [`OthersMeter::start`], counting what `helpers` spend from now on as ours.
    pub fn start_with_helpers(helpers: &[u32]) -> Option<OthersMeter> {
        let helpers = helpers.iter().filter_map(|pid| Some((*pid, process_time(*pid)?))).collect();
        Some(OthersMeter { machine: machine_ticks()?, own: process_time(std::process::id())?, helpers })
    }

    /// Others' share of all cores since `start`, 0.0 to 1.0; call it while `servers` still run.
    pub fn share(&self, servers: &[u32]) -> Option<f64> {
        let (busy, total) = machine_ticks()?;
        let mut ours = process_time(std::process::id())?.checked_sub(self.own)?;
        for pid in servers {
            ours += process_time(*pid)?;
        }
        for (pid, at_start) in &self.helpers {
            if let Some(now) = process_time(*pid) {
                ours += now.saturating_sub(*at_start);
            }
        }
        let busy = ticks(busy.checked_sub(self.machine.0)?);
        let total = ticks(total.checked_sub(self.machine.1)?);
        (!total.is_zero()).then(|| busy.saturating_sub(ours).as_secs_f64() / total.as_secs_f64())
    }
}

/// The processes whose command name (`/proc/PID/comm`) is one of `names`: `dockerd`,
/// `containerd`.
pub fn pids_named(names: &[&str]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| names.contains(&comm.trim()))
        })
        .collect()
}

fn ticks(count: u64) -> Duration {
    Duration::from_millis(count * 1000 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ticks_are_user_plus_system_even_with_odd_names() {
        let cases = [
            ("plain name", "42 (etcd) S 1 42 42 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 9 0", Some(320)),
            ("name with spaces and parens", "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0", Some(11)),
            ("truncated line", "7 (x) R 1 7", None),
        ];
        for (name, stat, want) in cases {
            assert_eq!(parse_process_ticks(stat), want, "{name}");
        }
    }

    #[test]
    fn machine_ticks_leave_idle_iowait_and_interrupts_out_of_busy() {
        // user 100, nice 0, system 50, idle 800, iowait 30, irq 5, softirq 10, steal 5, guest 20.
        let line = "cpu  100 0 50 800 30 5 10 5 20 0";
        assert_eq!(parse_machine_ticks(line), Some((155, 1000)));
    }
}
