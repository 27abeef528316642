//! `bench-api`: skiff-apiserver through REST, with skiff-store behind it, in one table.
//! Flags and the order of the steps; the work is in the library (see `bench/README.md`).

use std::path::PathBuf;

use clap::Parser;
use skiff_bench::api::{self, ApiPlan};
use skiff_bench::machine::Machine;
use skiff_bench::{cpu, locate, report, Server};

/// Measure the API server: pod create, get, list and update latency and throughput, watch
/// fan-out to 1,000 watchers, and memory with 10,000 pods.
#[derive(Parser)]
struct Args {
    /// The skiff-apiserver binary [default: skiff-apiserver next to this executable].
    #[arg(long)]
    skiff_apiserver: Option<PathBuf>,
    /// The skiff-store binary [default: skiff-store next to this executable].
    #[arg(long)]
    skiff_store: Option<PathBuf>,
    /// Fewer pods, requests and rounds: to check that it works, not to quote.
    #[arg(long)]
    quick: bool,
    /// Where the store's data directory goes; its disk is the one the store syncs [default: $TMPDIR].
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_bench::server::until_interrupted(run(Args::parse())).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let apiserver_binary = locate::skiff_apiserver(args.skiff_apiserver)?;
    let store_binary = locate::skiff_store(args.skiff_store)?;
    let work_dir = args.work_dir.unwrap_or_else(std::env::temp_dir);
    let plan = if args.quick { ApiPlan::quick() } else { ApiPlan::full() };
    // Before the servers start: they inherit the limit.
    api::fan_out::raise_open_files(plan.watchers)?;
    let machine = Machine::probe(&work_dir).await;

    let others = cpu::OthersMeter::start();
    let store = Server::start_skiff(&store_binary, &work_dir).await?;
    let apiserver = Server::start_apiserver(&apiserver_binary, &work_dir, &store).await?;
    let measured = api::measure(&apiserver, &store, &plan).await?;
    let others_share = others.and_then(|meter| meter.share(&[apiserver.pid(), store.pid()]));
    drop((apiserver, store));

    let commit = locate::commit().map(|c| format!("; commit {c}")).unwrap_or_default();
    let versions = format!("{}; {}{commit}", locate::version(&apiserver_binary), locate::version(&store_binary));
    let plan_line = report::plan_line(&plan, args.quick);
    println!();
    print!("{}", report::header(&machine, others_share, &versions, &plan_line));
    println!();
    print!("{}", report::render_figures(&api::report::figures(&measured, &plan)));
    println!();
    for note in api::report::notes(&measured, &plan) {
        println!("{note}");
    }
    Ok(())
}
