//! `skiff-apiserver`: the binary. Flags, logging and signals; everything else is in the library.

use std::net::SocketAddr;

use clap::Parser;

/// mimalloc rather than the system allocator: every request builds and drops JSON trees, and
/// glibc's malloc and free were ~40% of the server's CPU under write load (bench/README.md).
/// Built without transparent huge pages (`no_thp` in Cargo.toml), which cost ~9 MiB of memory
/// at start for nothing a server of this size gains from.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Kubernetes API server of Skiff.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address for the REST API (kubectl, curl).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Address for the internal gRPC API (scheduler, controllers, kubelets, proxies).
    #[arg(long, default_value = "127.0.0.1:6444")]
    grpc_listen: SocketAddr,
    /// etcd v3 endpoints, comma-separated: skiff-store or a real etcd.
    #[arg(long, default_value = "http://127.0.0.1:2379", value_delimiter = ',')]
    store_endpoints: Vec<String>,
    /// The address pods reach this server at, published as the `kubernetes` Service's
    /// endpoint (default: the `--listen` address, unless it is loopback or 0.0.0.0).
    #[arg(long)]
    advertise_address: Option<std::net::IpAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_client::process::init_logging("skiff_apiserver=info");
    let args = Args::parse();
    let shutdown = skiff_client::process::shutdown_on_signals()?;
    let config = skiff_apiserver::Config {
        listen: args.listen,
        grpc_listen: Some(args.grpc_listen),
        store_endpoints: args.store_endpoints,
        advertise_address: args.advertise_address,
    };
    skiff_apiserver::run(config, shutdown).await?;
    Ok(())
}
