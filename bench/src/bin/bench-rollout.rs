//! `bench-rollout`: a rolling update against its theoretical minimum and a scale-up against the
//! Docker floor, in one table. Flags and the order of the steps; the work is in the library
//! (see `bench/README.md`).

use clap::Parser;
use skiff_bench::cluster::cli::ClusterArgs;
use skiff_bench::cluster::run::Run;
use skiff_bench::report;
use skiff_bench::rollout::{self, RolloutPlan};

/// Time a 10-replica rolling update against its theoretical minimum, and a scale-up from 1 to
/// 50 replicas against Docker alone, on a whole Skiff cluster.
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
    let plan = if args.cluster.quick { RolloutPlan::quick() } else { RolloutPlan::full() };
    let run = Run::start(&work_dir).await?;
    let measured = rollout::measure(&run.cluster, &run.docker, &run.floor, &plan, &run.clock).await;
    let finished = run.finish(args.cluster.logs.as_deref()).await?;
    let measured = measured?;

    let plan_line = args.cluster.plan_line(&plan);
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
