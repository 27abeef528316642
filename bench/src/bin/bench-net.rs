//! `bench-net`: one pod directly, through its ClusterIP, a NodePort and the Ingress router,
//! and through nginx, all with the same wrk, in one table. Flags and the order of the steps;
//! the work is in the library (see `bench/README.md`).

use clap::Parser;
use skiff_bench::cluster::cli::ClusterArgs;
use skiff_bench::cluster::run::Run;
use skiff_bench::net::nginx::Nginx;
use skiff_bench::net::proxy::Proxy;
use skiff_bench::net::report::NGINX;
use skiff_bench::net::target::{self, Path, Target};
use skiff_bench::net::{self, process, Measured, NetPlan};
use skiff_bench::{locate, report};

/// Throughput and tail latency of a Skiff cluster's ways to a pod, against the pod directly
/// and against nginx.
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
    process::require_tool("wrk", "wrk")?;
    process::require_tool(net::nginx::BINARY, "nginx")?;
    let proxy_binary = locate::beside_me("skiff-proxy", None)?;
    let work_dir = args.cluster.work_dir();
    let plan = if args.cluster.quick { NetPlan::quick() } else { NetPlan::full() };

    // Declared in the order they start, so dropped the other way round.
    let run = Run::start(&work_dir).await?;
    let api = run.cluster.apiserver.grpc().to_string();
    let proxy = Proxy::start(&proxy_binary, &work_dir, &api, &run.cluster.node).await?;
    let target = Target::create(&run.cluster.client).await?;
    let nginx = Nginx::start(&work_dir, target.pod).await?;
    let mut paths: Vec<Measured> = target
        .paths(proxy.ingress)
        .into_iter()
        .map(|path| Measured { pids: if path.address == proxy.ingress { vec![proxy.pid()] } else { vec![] }, path })
        .collect();
    paths.push(Measured { path: Path { name: NGINX, address: nginx.listen }, pids: nginx.pids() });
    for measured in &paths {
        target::wait_serving(&measured.path, &plan.bodies).await?;
    }
    let load_before = load_average();
    let measured = net::measure(&paths, &plan).await;
    let load_after = load_average();

    if let Some(dir) = &args.cluster.logs {
        let _ = proxy.save_log(&dir.join("skiff-proxy.log"));
    }
    drop(nginx);
    drop(proxy);
    let finished = run.finish(args.cluster.logs.as_deref()).await?;
    let measured = measured?;

    let versions = format!("{}; nginx {}; {}", finished.versions, Nginx::version(), wrk_version());
    let plan_line = args.cluster.plan_line(&plan);
    println!();
    print!("{}", report::header(&finished.machine, None, &versions, &plan_line));
    println!("load:     1-minute load average {load_before} before the runs, {load_after} after");
    println!();
    print!("{}", report::render_figures(&net::report::figures(&measured, &plan.bodies)));
    Ok(())
}

/// The first field of `/proc/loadavg`.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("unknown").to_string()
}

/// `wrk -v` prints its version on the first line (and exits 1).
fn wrk_version() -> String {
    let output = std::process::Command::new("wrk").arg("-v").output();
    let text = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}
