//! How much work `bench-net` does, and the one set of `wrk` parameters every path gets.
//!
//! The full plan: three rounds, each of which runs every path once for each body, 10 s apiece
//! (5 paths × 2 bodies × 10 s = 100 s a round, about six minutes in all with the warm-up).
//! Rounds interleave the paths so that a burst of other work on the machine falls on all of
//! them alike, and the report takes each path's median round. `--quick` runs one short round:
//! to check that it works, not to quote.

use std::time::Duration;

/// What `wrk` is asked to do, the same for every path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// `-t`: wrk's threads. Two, one per core: more would only take turns.
    pub threads: u32,
    /// `-c`: connections held open, each with one request in flight at a time (wrk keeps its
    /// connections alive: HTTP/1.1, no `Connection: close`).
    pub connections: u32,
    /// `-d`.
    pub duration: Duration,
}

/// One response body the paths are measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    /// As the report names it.
    pub name: &'static str,
    /// What wrk asks demo-web for.
    pub path: &'static str,
}

/// `GET /version`: demo-web answers `v1` and a newline, so a run measures the paths, not the bytes.
pub const TINY: Body = Body { name: "/version", path: "/version" };

/// A file of [`LARGE_BYTES`] from a ConfigMap volume (`target.rs`), read by demo-web on every
/// request: a body the proxies have to copy.
pub const LARGE: Body = Body { name: "16 KiB", path: "/file/etc/bench/body" };

/// The size of [`LARGE`]'s body.
pub const LARGE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct NetPlan {
    pub rounds: usize,
    pub load: Load,
    /// One run of this long per path before the first round: the proxies' pools fill, the
    /// pages are in the cache, nothing is measured.
    pub warm_up: Duration,
    pub bodies: Vec<Body>,
}

impl NetPlan {
    pub fn full() -> NetPlan {
        NetPlan::of(3, Duration::from_secs(10), Duration::from_secs(3))
    }

    pub fn quick() -> NetPlan {
        NetPlan::of(1, Duration::from_secs(3), Duration::from_secs(1))
    }

    fn of(rounds: usize, duration: Duration, warm_up: Duration) -> NetPlan {
        NetPlan { rounds, load: Load { threads: 2, connections: 50, duration }, warm_up, bodies: vec![TINY, LARGE] }
    }
}

impl std::fmt::Display for NetPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bodies: Vec<&str> = self.bodies.iter().map(|b| b.name).collect();
        write!(
            f,
            "wrk -t{} -c{} -d{}s (keep-alive) on each path, {} round(s) interleaved, medians; bodies {}",
            self.load.threads,
            self.load.connections,
            self.load.duration.as_secs(),
            self.rounds,
            bodies.join(", ")
        )
    }
}
