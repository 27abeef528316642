//! How much work each workload does.
//!
//! The full plan takes about 20 s per store on a 2-core machine, most of it the throughput
//! rounds, so a whole comparison fits in well under a minute and a half. `--quick` is for
//! checking that the benchmark works, not for quoting figures.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Plan {
    /// Puts before any timing starts, per workload: they open connections, fill caches and let
    /// the server's allocations settle, none of which a steady state pays for.
    pub warmup: usize,
    /// Puts timed one at a time by a single client.
    pub sequential_puts: usize,
    /// Clients in the throughput runs; each has its own connection, as separate API servers
    /// or controllers would.
    pub clients: usize,
    /// How long each throughput run lasts. Fixed time rather than a fixed count, so that a slow
    /// store makes the run no longer.
    pub throughput_time: Duration,
    /// Throughput runs per store, alternating between the stores; the median one is reported.
    /// One run disturbed by a burst of other work on the machine then changes nothing.
    pub throughput_rounds: usize,
    /// Puts whose events the watcher times.
    pub watched_puts: usize,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "1 KiB values; {} sequential puts; {} clients, median of {} × {} s per throughput figure; \
             {} watched puts; {} warm-up puts before each",
            self.sequential_puts,
            self.clients,
            self.throughput_rounds,
            self.throughput_time.as_secs_f64(),
            self.watched_puts,
            self.warmup,
        )
    }
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            warmup: 200,
            sequential_puts: 2000,
            clients: 16,
            throughput_time: Duration::from_secs(3),
            throughput_rounds: 3,
            watched_puts: 1000,
        }
    }

    pub fn quick() -> Plan {
        Plan {
            warmup: 50,
            sequential_puts: 300,
            clients: 16,
            throughput_time: Duration::from_secs(1),
            throughput_rounds: 1,
            watched_puts: 200,
        }
    }
}
