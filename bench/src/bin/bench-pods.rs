//! `bench-pods`: Skiff's pod start against the Docker floor, and the cluster's memory, in one
//! table. Flags and the order of the steps; the work is in the library (see `bench/README.md`).

use clap::Parser;
use skiff_bench::cluster::cli::ClusterArgs;
use skiff_bench::cluster::run::Run;
use skiff_bench::pods::{self, PodsPlan};
use skiff_bench::report;

/// Time pod starts on a whole Skiff cluster (one at a time and 50 at once) against Docker
/// alone, and the cluster's resident memory.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_bench::server::until_interrupted(run(Args::parse())).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let work_dir = args.cluster.work_dir();
    let plan = if args.cluster.quick { PodsPlan::quick() } else { PodsPlan::full() };
    let run = Run::start(&work_dir).await?;
    let measured = pods::measure(&run.cluster, &run.docker, &run.floor, &plan, &run.clock).await;
    let finished = run.finish(args.cluster.logs.as_deref()).await?;
    let measured = measured?;

    let plan_line = args.cluster.plan_line(&plan);
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
