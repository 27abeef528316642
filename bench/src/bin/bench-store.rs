//! `bench-store`: skiff-store against a real etcd on this machine, in one table.
//! Flags and the order of the steps; the work is in the library (see `bench/README.md`).

use std::path::PathBuf;

use clap::Parser;
use skiff_bench::machine::Machine;
use skiff_bench::measure::measure;
use skiff_bench::{cpu, locate, report, Plan, Server};

/// Compare skiff-store with a real etcd: put latency, put and get throughput, watch latency.
#[derive(Parser)]
struct Args {
    /// The skiff-store binary [default: skiff-store next to this executable].
    #[arg(long)]
    skiff_store: Option<PathBuf>,
    /// The etcd binary (Debian's etcd-server) [default: /usr/bin/etcd].
    #[arg(long)]
    etcd: Option<PathBuf>,
    /// Fewer operations and 1-second throughput runs: to check that it works, not to quote.
    #[arg(long)]
    quick: bool,
    /// Where the data directories go; its disk is the one both stores sync [default: $TMPDIR].
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_bench::server::until_interrupted(run(Args::parse())).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let skiff_binary = locate::skiff_store(args.skiff_store)?;
    let etcd_binary = locate::etcd(args.etcd)?;
    let work_dir = args.work_dir.unwrap_or_else(std::env::temp_dir);
    let plan = if args.quick { Plan::quick() } else { Plan::full() };
    let machine = Machine::probe(&work_dir).await;

    let others = cpu::OthersMeter::start();
    let skiff = Server::start_skiff(&skiff_binary, &work_dir).await?;
    let etcd = Server::start_etcd(&etcd_binary, &work_dir).await?;
    let [skiff_figures, etcd_figures] = measure(&skiff, &etcd, &plan).await?;
    let others_share = others.and_then(|meter| meter.share(&[skiff.pid(), etcd.pid()]));
    drop((skiff, etcd));

    let versions = format!("{}; {}", locate::version(&skiff_binary), locate::version(&etcd_binary));
    let plan_line = report::plan_line(&plan, args.quick);
    println!();
    print!("{}", report::header(&machine, others_share, &versions, &plan_line));
    println!();
    print!("{}", report::render(&report::rows(&skiff_figures, &etcd_figures, plan.clients)));
    if let Some(note) = report::client_note(&skiff_figures, &etcd_figures) {
        println!("\n{note}");
    }
    Ok(())
}
