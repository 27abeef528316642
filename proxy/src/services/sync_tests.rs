//! The sync loop against the recording fake kernel, with paused time: what it asks of the
//! kernel, in which order, and how often.

use std::net::Ipv4Addr;

use futures::channel::mpsc;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::*;
use crate::services::chains::Table;
use crate::services::conntrack::StaleEntry;
use crate::services::endpoints::Endpoint;
use crate::services::fake::{Call, FakeKernel};
use crate::services::service_ports::{Protocol, ServicePort, ServicePortName};

fn web() -> ServicePortName {
    ServicePortName::new("default", "web", "", Protocol::Tcp)
}

fn state(protocol: Protocol, endpoints: &[u8]) -> ProxyState {
    let name = ServicePortName { protocol, ..web() };
    let port = ServicePort {
        name: name.clone(),
        cluster_ip: Ipv4Addr::new(10, 96, 0, 20),
        port: 80,
        node_port: None,
        affinity_seconds: None,
    };
    let endpoints = endpoints
        .iter()
        .map(|&last| Endpoint {
            ip: Ipv4Addr::new(10, 244, 0, last),
            port: 8080,
            ready: true,
            serving: true,
            terminating: false,
        })
        .collect();
    ProxyState { services: [(name.clone(), port)].into(), endpoints: [(name, endpoints)].into() }
}

struct Harness {
    kernel: Arc<FakeKernel>,
    state: Arc<Mutex<ProxyState>>,
    changes: mpsc::UnboundedSender<()>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), Error>>,
}

fn start_with(kernel: FakeKernel, config: Config) -> Harness {
    let kernel = Arc::new(kernel);
    let state = Arc::new(Mutex::new(state(Protocol::Tcp, &[5])));
    let (changes, receiver) = mpsc::unbounded();
    let shutdown = CancellationToken::new();
    let reading = state.clone();
    let task =
        tokio::spawn(sync_loop(config, kernel.clone(), move || reading.lock().clone(), receiver, shutdown.clone()));
    Harness { kernel, state, changes, shutdown, task }
}

fn start(kernel: FakeKernel) -> Harness {
    start_with(kernel, Config::default())
}

impl Harness {
    /// Lets the loop run (paused time advances only as far as the loop sleeps).
    async fn run_for(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }

    fn change(&self, state: ProxyState) {
        *self.state.lock() = state;
        self.changes.unbounded_send(()).unwrap();
    }

    async fn stop(self) -> Vec<Call> {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        self.kernel.calls()
    }
}

fn kinds(calls: &[Call]) -> Vec<&'static str> {
    calls
        .iter()
        .map(|c| match c {
            Call::Restore(_) => "restore",
            Call::Chains(_) => "chains",
            Call::EnsureJump(_) => "ensure jump",
            Call::DeleteJump(_) => "delete jump",
            Call::DeleteConntrack(_) => "delete conntrack",
            Call::HasRoute(_) => "has route",
            Call::AddRoute(..) => "add route",
            Call::RemoveRoute(..) => "remove route",
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_first_sync_restores_before_inserting_the_jumps_and_shutdown_undoes_both_in_reverse() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    let calls = harness.stop().await;
    let mut expected = vec!["chains", "chains", "has route", "restore"];
    expected.extend(["ensure jump"; 7]);
    expected.extend(["delete jump"; 7]);
    expected.push("restore");
    assert_eq!(kinds(&calls), expected);
    let Call::Restore(cleanup) = calls.last().unwrap() else { unreachable!() };
    let Call::Restore(first) = &calls[3] else { unreachable!() };
    for chain in first.lines().filter_map(|l| l.strip_prefix(':')).map(|l| l.split(' ').next().unwrap()) {
        assert!(cleanup.contains(&format!("-X {chain}\n")), "{chain} is deleted at shutdown");
    }
}

#[tokio::test(start_paused = true)]
async fn changes_within_the_coalescing_window_become_one_restore() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    // Three writes of a rollout, 5 ms apart: one restore, with the last state.
    for endpoints in [&[5, 6][..], &[6], &[6, 7]] {
        harness.change(state(Protocol::Tcp, endpoints));
        harness.run_for(5).await;
    }
    harness.run_for(100).await;
    let restores = harness.kernel.restores();
    assert_eq!(restores.len(), 2, "the first sync and one for the burst");
    assert!(restores[1].contains("10.244.0.7:8080") && !restores[1].contains("10.244.0.5:8080"));
    // A change after the window is a sync of its own.
    harness.change(state(Protocol::Tcp, &[7]));
    harness.run_for(100).await;
    assert_eq!(harness.kernel.restores().len(), 3);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_change_that_changes_no_rule_is_not_restored() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    harness.change(state(Protocol::Tcp, &[5]));
    harness.run_for(100).await;
    assert_eq!(harness.kernel.restores().len(), 1);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_sync_every_period_restores_and_checks_the_jumps() {
    let config = Config { sync_period: Duration::from_secs(30), ..Config::default() };
    let harness = start_with(FakeKernel::default(), config);
    harness.run_for(31_000).await;
    assert_eq!(harness.kernel.restores().len(), 2);
    assert_eq!(kinds(&harness.kernel.calls()).iter().filter(|k| **k == "ensure jump").count(), 14);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_restore_is_retried_a_second_later() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    *harness.kernel.fail_restores.lock() = true;
    harness.change(state(Protocol::Tcp, &[6]));
    harness.run_for(500).await;
    assert_eq!(harness.kernel.restores().len(), 2, "tried once");
    *harness.kernel.fail_restores.lock() = false;
    harness.run_for(600).await;
    let restores = harness.kernel.restores();
    assert_eq!(restores.len(), 3, "and again after a second");
    assert!(restores[2].contains("10.244.0.6:8080"));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn chains_left_by_a_previous_run_are_deleted_by_the_first_sync_and_no_one_elses() {
    let kernel = FakeKernel::default();
    kernel.existing.lock().extend([
        (Table::Nat, "SKIFF-SEP-LEFTOVER".to_string()),
        (Table::Nat, "DOCKER".to_string()),
        (Table::Nat, "SKIFF2-SERVICES".to_string()),
    ]);
    let harness = start(kernel);
    harness.run_for(1).await;
    let first = harness.kernel.restores().remove(0);
    assert!(first.contains("-X SKIFF-SEP-LEFTOVER\n"));
    assert!(!first.contains("DOCKER") && !first.contains("SKIFF2"));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_host_without_a_route_for_the_service_range_gets_one_until_shutdown() {
    let harness = start(FakeKernel { no_route: true, ..FakeKernel::default() });
    harness.run_for(1).await;
    let calls = harness.stop().await;
    let range: crate::net::Cidr = "10.96.0.0/12".parse().unwrap();
    assert!(calls.contains(&Call::AddRoute("skiff-vips".into(), range)));
    assert_eq!(calls.last(), Some(&Call::RemoveRoute("skiff-vips".into(), range)));
}

#[tokio::test(start_paused = true)]
async fn a_udp_endpoint_that_leaves_has_its_flows_deleted_and_tcp_never() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    harness.change(state(Protocol::Tcp, &[6]));
    harness.run_for(50).await;
    harness.change(state(Protocol::Udp, &[5, 6]));
    harness.run_for(50).await;
    harness.change(state(Protocol::Udp, &[6]));
    harness.run_for(50).await;
    let deleted: Vec<StaleEntry> = harness
        .stop()
        .await
        .into_iter()
        .filter_map(|c| match c {
            Call::DeleteConntrack(entry) => Some(entry),
            _ => None,
        })
        .collect();
    let service = Ipv4Addr::new(10, 96, 0, 20);
    assert_eq!(
        deleted,
        vec![
            // The UDP port's first endpoints: flows made before its rules are cleared.
            StaleEntry::ServiceIp { ip: service, port: 80, protocol: Protocol::Udp },
            StaleEntry::ServiceEndpoint {
                ip: service,
                port: 80,
                endpoint: Ipv4Addr::new(10, 244, 0, 5),
                protocol: Protocol::Udp
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_prefix_iptables_cannot_hold_is_refused() {
    for prefix in ["", "skiff", "TOOLONGPREFIX", "SK-IFF"] {
        let config = Config { chain_prefix: prefix.into(), ..Config::default() };
        let harness = start_with(FakeKernel::default(), config);
        assert!(matches!(harness.task.await.unwrap(), Err(Error::Prefix(_))), "{prefix:?}");
        assert!(harness.kernel.calls().is_empty());
    }
}
