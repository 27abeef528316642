//! A steady put load against a running store, to profile the server under it: N clients, each
//! on its own connection with one put of 1 KiB in flight, for a number of seconds, as
//! bench-store's 16-client throughput row does.
//!
//! ```sh
//! target/release/examples/load 127.0.0.1:2379 [clients] [seconds]
//! perf record -e cpu-clock --call-graph dwarf -p "$(pgrep -x skiff-store)" -- sleep 3
//! ```
//!
//! Prints the puts per second it reached.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_store::client::StoreClient;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:2379".into());
    let clients: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(16);
    let seconds: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new()?;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            let mut client = StoreClient::connect(std::slice::from_ref(&endpoint)).await?;
            let done = done.clone();
            tasks.push(tokio::spawn(async move {
                let value = vec![b'v'; 1024];
                let mut i = 0u64;
                while Instant::now() < deadline {
                    client.put(format!("load/{c}/{}", i % 100), value.clone()).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                Ok::<_, anyhow::Error>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    println!("{clients} clients: {:.0} puts/s", done.load(Ordering::Relaxed) as f64 / seconds as f64);
    Ok(())
}
