//! The command line the cluster benchmarks share (`bench-pods`, `bench-rollout`, `bench-net`).

use std::path::PathBuf;

/// `--quick`, `--work-dir`, `--logs`: flattened into each benchmark's own arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// A short run: to check that it works, not to quote.
    #[arg(long)]
    pub quick: bool,
    /// Where the daemons' directories go [default: $TMPDIR].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Copy every daemon's log into this directory at the end, to look at afterwards.
    #[arg(long)]
    pub logs: Option<PathBuf>,
}

impl ClusterArgs {
    pub fn work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// The report's plan line, marked when the run was a quick one.
    pub fn plan_line(&self, plan: &impl std::fmt::Display) -> String {
        crate::report::plan_line(plan, self.quick)
    }
}
