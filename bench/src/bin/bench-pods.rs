//! `bench-pods`: Skiff's pod start against the Docker floor, and the cluster's memory, in one
//! table. Flags and the order of the steps; the work is in the library (see `bench/README.md`).

use std::path::PathBuf;

use clap::Parser;
use skiff_bench::cluster::run::Run;
use skiff_bench::pods::{self, PodsPlan};
use skiff_bench::report;

/// Time pod starts on a whole Skiff cluster (one at a time and 50 at once) against Docker
/// alone, and the cluster's resident memory.
#[derive(Parser)]
struct Args {
    /// Fewer pods: to check that it works, not to quote.
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
    let plan = if args.quick { PodsPlan::quick() } else { PodsPlan::full() };
    let run = Run::start(&work_dir).await?;
    let measured = pods::measure(&run.cluster, &run.docker, &run.floor, &plan, &run.clock).await;
    let finished = run.finish(args.logs.as_deref()).await?;
    let measured = measured?;

    let plan_line = format!("{plan}{}", if args.quick { " (--quick)" } else { "" });
    println!();
    print!("{}", report::header(&finished.machine, finished.others, &finished.versions, &plan_line));
    println!();
    print!("{}", report::render_figures(&pods::report::figures(&measured)));
    for table in pods::report::breakdowns(&measured) {
        println!();
        print!("{table}");
    }
    Ok(())
}
