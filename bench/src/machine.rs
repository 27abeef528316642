//! What the figures were measured on.
//!
//! Both stores wait for a disk sync before they answer a put, so the disk's sync time is the
//! floor under every write latency; it is measured here, on the file system the data
//! directories use, so that a reader can tell a slow store from a slow disk. And the machine
//! may be shared: how busy it was just before the run says how far to trust the figures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::locate::first_line;
use crate::{cpu, stats};

/// How many syncs the probe times: enough for a stable median, and well under a second.
const SYNC_PROBES: usize = 200;

/// How long the machine is watched for other work before the run.
const BUSY_WINDOW: Duration = Duration::from_millis(500);

pub struct Machine {
    /// `nproc`: the cores the client and the server under test share.
    pub cores: String,
    /// `uname -r`.
    pub kernel: String,
    /// `date -u`, so that a pasted table says when it was made.
    pub date: String,
    /// Median time to write 4 KiB and `fdatasync` it, if the probe could run.
    pub sync_p50: Option<Duration>,
    /// Share of all cores busy with other work just before the run, 0.0 to 1.0. More than a
    /// few percent means someone else is using the machine and the figures are noisier.
    pub busy_before: Option<f64>,
}

impl Machine {
    /// Looks around; `dir` is where the data directories will be created.
    pub async fn probe(dir: &Path) -> Machine {
        let unknown = || "unknown".to_string();
        let busy_before = busy(BUSY_WINDOW).await;
        let dir: PathBuf = dir.to_path_buf();
        // Blocking syncs, kept off the runtime's worker threads.
        let sync_p50 = tokio::task::spawn_blocking(move || sync_probe(&dir).ok()).await.ok().flatten();
        Machine {
            cores: first_line(&mut Command::new("nproc")).unwrap_or_else(unknown),
            kernel: first_line(Command::new("uname").arg("-r")).unwrap_or_else(unknown),
            date: first_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_else(unknown),
            sync_p50,
            busy_before,
        }
    }
}

/// One line: "2 cores, kernel 6.1.0, fsync of 4 KiB p50 0.250 ms, busy before the run 3%".
impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cores, kernel {}, fsync of 4 KiB p50 ", self.cores, self.kernel)?;
        match self.sync_p50 {
            Some(sync) => write!(f, "{:.3} ms", sync.as_secs_f64() * 1e3)?,
            None => write!(f, "unknown")?,
        }
        match self.busy_before {
            Some(busy) => write!(f, ", busy before the run {:.0}%", busy * 100.0),
            None => Ok(()),
        }
    }
}

/// The busy share of all cores over `window`.
async fn busy(window: Duration) -> Option<f64> {
    let (busy_0, total_0) = cpu::machine_ticks()?;
    tokio::time::sleep(window).await;
    let (busy_1, total_1) = cpu::machine_ticks()?;
    let total = total_1.checked_sub(total_0).filter(|t| *t > 0)?;
    Some(busy_1.saturating_sub(busy_0) as f64 / total as f64)
}

/// Appends 4 KiB and syncs it, [`SYNC_PROBES`] times, in a temporary file under `dir`.
fn sync_probe(dir: &Path) -> std::io::Result<Duration> {
    let mut file = tempfile::tempfile_in(dir)?;
    let block = [0u8; 4096];
    let mut times = Vec::with_capacity(SYNC_PROBES);
    for _ in 0..SYNC_PROBES {
        file.write_all(&block)?;
        let start = Instant::now();
        file.sync_data()?;
        times.push(start.elapsed());
    }
    Ok(stats::Percentiles::of(times).p50)
}
