//! The load generator: clients sending `GET /version` at a controlled rate along a few paths
//! (a ClusterIP, a NodePort, the Ingress router), recording every request — when it started,
//! when it ended, and the version that answered or why it failed — so that a test can ask
//! both "did any request fail?" and "which version answered the requests started after this
//! instant?".
//!
//! Each path gets [`CLIENTS_PER_PATH`] clients, each sending one request per tick of its own
//! interval (rate / clients per second). A client waits for each answer before its next
//! request, as a user does; the ticks it missed meanwhile are sent right after, so that the
//! rate holds on average also on a busy machine (where a request now and then takes a few
//! hundred milliseconds). A request that takes longer than [`TIMEOUT`](super::http::TIMEOUT)
//! counts as failed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::http::{exchange, fetch, ok, Request, TIMEOUT};

pub const CLIENTS_PER_PATH: usize = 6;

/// Where requests go, and how.
#[derive(Debug, Clone)]
pub struct Path {
    /// For reports: `ClusterIP`, `NodePort`, `Ingress`.
    pub name: String,
    pub address: SocketAddr,
    pub request: Request,
    /// One kept-alive connection per client (a browser, an upstream proxy), instead of a new
    /// connection per request (`while true; do curl …; done`).
    pub keep_alive: bool,
}

impl Path {
    /// A new connection per request.
    pub fn connections(name: &str, address: SocketAddr, request: Request) -> Path {
        Path { name: name.into(), address, request, keep_alive: false }
    }

    /// Requests on a kept-alive connection (a new one after a failure or a `Connection: close`).
    pub fn keep_alive(name: &str, address: SocketAddr, request: Request) -> Path {
        Path { name: name.into(), address, request, keep_alive: true }
    }
}

/// One request, as the client saw it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The index of its path.
    pub path: usize,
    pub started: Instant,
    pub ended: Instant,
    /// The version that answered, or why the request failed.
    pub outcome: Result<String, String>,
}

/// One client's connection state.
struct Client {
    path: Path,
    stream: Option<TcpStream>,
}

impl Client {
    async fn send(&mut self) -> Result<String, String> {
        if !self.path.keep_alive {
            return ok(fetch(self.path.address, &self.path.request).await);
        }
        let (address, request, stream) = (self.path.address, &self.path.request, &mut self.stream);
        let sent = tokio::time::timeout(TIMEOUT, async {
            if stream.is_none() {
                *stream = Some(TcpStream::connect(address).await.map_err(|e| format!("connect to {address}: {e}"))?);
            }
            exchange(stream.as_mut().expect("connected above"), request, false).await
        })
        .await
        .unwrap_or_else(|_| Err(format!("no response from {address} in {TIMEOUT:?}")));
        if !matches!(&sent, Ok(response) if !response.closes) {
            self.stream = None;
        }
        ok(sent)
    }
}

/// Clients running until [`Load::stop`].
pub struct Load {
    paths: Vec<Path>,
    began: Instant,
    stop: CancellationToken,
    clients: Vec<JoinHandle<Vec<Sample>>>,
}

impl Load {
    /// Starts `rate` requests per second on each path.
    pub fn start(paths: Vec<Path>, rate: u32) -> Load {
        let stop = CancellationToken::new();
        let period = Duration::from_secs_f64(CLIENTS_PER_PATH as f64 / f64::from(rate));
        let mut clients = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            for _ in 0..CLIENTS_PER_PATH {
                let client = Client { path: path.clone(), stream: None };
                clients.push(tokio::spawn(run(index, client, period, stop.clone())));
            }
        }
        Load { paths, began: Instant::now(), stop, clients }
    }

    /// Stops the clients (each finishes the request it is sending) and reports.
    pub async fn stop(self) -> Report {
        self.stop.cancel();
        let mut samples = Vec::new();
        for client in self.clients {
            samples.extend(client.await.expect("a load client does not panic"));
        }
        samples.sort_by_key(|s| s.started);
        Report {
            paths: self.paths.into_iter().map(|p| p.name).collect(),
            began: self.began,
            ended: Instant::now(),
            samples,
        }
    }
}

async fn run(path: usize, mut client: Client, period: Duration, stop: CancellationToken) -> Vec<Sample> {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut samples = Vec::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return samples,
            _ = ticks.tick() => {}
        }
        let started = Instant::now();
        let outcome = client.send().await;
        samples.push(Sample { path, started, ended: Instant::now(), outcome });
    }
}

/// `count` requests on `path` from `concurrency` clients, as fast as they are answered: the
/// outcomes, for shares of versions.
pub async fn burst(path: &Path, count: usize, concurrency: usize) -> Vec<Result<String, String>> {
    let mut clients = Vec::new();
    for share in 0..concurrency {
        let mut client = Client { path: path.clone(), stream: None };
        let requests = count / concurrency + usize::from(share < count % concurrency);
        clients.push(tokio::spawn(async move {
            let mut outcomes = Vec::with_capacity(requests);
            for _ in 0..requests {
                outcomes.push(client.send().await);
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::with_capacity(count);
    for client in clients {
        outcomes.extend(client.await.expect("a burst client does not panic"));
    }
    outcomes
}

/// Every request of a [`Load`].
pub struct Report {
    pub paths: Vec<String>,
    pub began: Instant,
    pub ended: Instant,
    /// In the order they started.
    pub samples: Vec<Sample>,
}

impl Report {
    fn index(&self, path: &str) -> usize {
        self.paths.iter().position(|p| p == path).unwrap_or_else(|| panic!("no path {path:?}"))
    }

    pub fn on<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a Sample> + 'a {
        let index = self.index(path);
        self.samples.iter().filter(move |s| s.path == index)
    }

    /// Seconds from the start of the load, for messages.
    pub fn at(&self, instant: Instant) -> f64 {
        instant.saturating_duration_since(self.began).as_secs_f64()
    }

    /// How many requests each version answered among the samples of `path` that `which` takes.
    pub fn versions(&self, path: &str, which: impl Fn(&Sample) -> bool) -> BTreeMap<String, usize> {
        let mut versions = BTreeMap::new();
        for sample in self.on(path).filter(|s| which(s)) {
            if let Ok(version) = &sample.outcome {
                *versions.entry(version.clone()).or_default() += 1;
            }
        }
        versions
    }

    /// Requests per second over the whole load, all paths together.
    pub fn total_rate(&self) -> f64 {
        self.samples.len() as f64 / self.ended.duration_since(self.began).as_secs_f64()
    }

    /// One line per path: requests, rate, failures, versions.
    pub fn summary(&self) -> String {
        let seconds = self.ended.duration_since(self.began).as_secs_f64();
        let mut text = format!("{} requests in {seconds:.1} s ({:.0}/s):", self.samples.len(), self.total_rate());
        for path in &self.paths {
            let (count, failed) = (self.on(path).count(), self.on(path).filter(|s| s.outcome.is_err()).count());
            let slowest = self.on(path).map(|s| s.ended.duration_since(s.started)).max().unwrap_or_default();
            let versions = self.versions(path, |_| true);
            let rate = count as f64 / seconds;
            let _ =
                write!(text, "\n  {path}: {count} ({rate:.0}/s), {failed} failed, slowest {slowest:.0?}, {versions:?}");
        }
        text
    }

    /// No request failed on any path; else the first few failures of each, with when they
    /// happened.
    pub fn assert_none_failed(&self) {
        let failed: Vec<String> = (0..self.paths.len())
            .flat_map(|path| {
                let failures = self.samples.iter().filter(move |s| s.path == path);
                failures.filter_map(|s| s.outcome.as_ref().err().map(|why| (s, why))).take(4)
            })
            .map(|(s, why)| format!("{} at {:.2} s: {why}", self.paths[s.path], self.at(s.started)))
            .collect();
        assert!(failed.is_empty(), "failed requests: {failed:#?}\n{}", self.summary());
    }
}
