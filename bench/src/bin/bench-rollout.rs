//! `bench-rollout`: a rolling update against its theoretical minimum and a scale-up against the
//! Docker floor, in one table. Flags and the order of the steps; the work is in the library
//! (see `bench/README.md`).

use std::path::PathBuf;

use clap::Parser;
use skiff_bench::cluster::run::Run;
use skiff_bench::report;
use skiff_bench::rollout::{self, RolloutPlan};

/// Time a 10-replica rolling update against its theoretical minimum, and a scale-up from 1 to
/// 50 replicas against Docker alone, on a whole Skiff cluster.
#[derive(Parser)]
struct Args {
    /// Fewer replicas and pods: to check that it works, not to quote.
    #[arg(long)]
    quick: bool,
    /// Where the daemons' directories go [default: $TMPDIR].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Copy every daemon's log into this directory at the end, to look at afterwards.
    #[arg(long)]
    logs: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // On Ctrl-C the benchmark future is dropped, and with it the guards: no daemon and no
    // container is left behind.
    tokio::select! {
        result = run(args) => result,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let work_dir = args.work_dir.unwrap_or_else(std::env::temp_dir);
    let plan = if args.quick { RolloutPlan::quick() } else { RolloutPlan::full() };
    let run = Run::start(&work_dir).await?;
    let measured = rollout::measure(&run.cluster, &run.docker, &run.floor, &plan, &run.clock).await;
    let finished = run.finish(args.logs.as_deref()).await?;
    let measured = measured?;

    let plan_line = format!("{plan}{}", if args.quick { " (--quick)" } else { "" });
    println!();
    print!("{}", report::header(&finished.machine, finished.others, &finished.versions, &plan_line));
    println!();
    print!("{}", report::render_figures(&rollout::report::figures(&measured)));
    for table in rollout::report::breakdowns(&measured) {
        println!();
        print!("{table}");
    }
    Ok(())
}
