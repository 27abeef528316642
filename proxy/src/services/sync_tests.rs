//! The sync loop against the recording fake kernel, with paused time: what it asks of the
//! kernel, in which order, and how often.

use std::net::Ipv4Addr;

use futures::channel::mpsc;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::*;
use crate::progress::Progress;
use crate::services::chains::Table;
use crate::services::connect::ConnectTable;
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
    ProxyState { services: [(name.clone(), port)].into(), endpoints: [(name, endpoints)].into(), ..Default::default() }
}

struct Harness {
    kernel: Arc<FakeKernel>,
    progress: Arc<Progress>,
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
    let progress = Progress::new();
    let reporter = progress.reporter("services");
    let read = move || reading.lock().clone();
    let task = tokio::spawn(sync_loop(config, kernel.clone(), read, receiver, reporter, shutdown.clone()));
    Harness { kernel, progress, state, changes, shutdown, task }
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

    async fn stop_after(self, millis: u64) -> Vec<Call> {
        self.run_for(millis).await;
        self.stop().await
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
            Call::Save(_) => "save",
            Call::DeleteConntrack(_) => "delete conntrack",
            Call::HasRoute(_) => "has route",
            Call::RouteDevice(_) => "route device",
            Call::AddRoute(..) => "add route",
            Call::RemoveRoute(..) => "remove route",
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_first_sync_puts_chains_and_jumps_in_one_restore_and_shutdown_takes_both_out_in_one() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    let first = harness.kernel.restores().remove(0);
    assert_eq!(first.matches("\n-I ").count(), 7, "every jump, with the chains:\n{first}");
    assert!(!harness.kernel.chains.lock().is_empty());
    let kernel = harness.kernel.clone();
    let calls = harness.stop().await;
    assert_eq!(
        kinds(&calls),
        vec![
            "save",
            "save", // the start: leftovers
            "route device",
            "add route", // the service range
            "save",
            "save",
            "restore", // the first sync: which jumps are missing, then all at once
            "save",
            "save",
            "restore", // shutdown: what is ours, then all out at once
            "remove route",
        ]
    );
    assert!(kernel.chains.lock().is_empty(), "no chain left");
    assert!(kernel.jumps.lock().is_empty(), "no jump left");
    assert!(*kernel.route_localnet.lock(), "NodePorts on 127.0.0.1 asked for");
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
async fn a_full_sync_every_period_restores_and_puts_back_a_jump_someone_deleted() {
    let config = Config { sync_period: Duration::from_secs(30), ..Config::default() };
    let harness = start_with(FakeKernel::default(), config);
    harness.run_for(1).await;
    harness.kernel.jumps.lock().retain(|(_, line)| !line.starts_with("-A OUTPUT"));
    harness.run_for(30_000).await;
    let restores = harness.kernel.restores();
    assert_eq!(restores.len(), 2);
    let inserted: Vec<&str> = restores[1].lines().filter(|l| l.starts_with("-I ")).collect();
    assert_eq!(inserted.len(), 2, "the nat and filter jumps from OUTPUT, and only they: {inserted:?}");
    assert!(inserted.iter().all(|l| l.starts_with("-I OUTPUT 1 ")));
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
async fn what_a_previous_run_left_is_reused_or_deleted_and_no_one_elses_is_touched() {
    let kernel = FakeKernel::default();
    kernel.chains.lock().extend([
        (Table::Nat, "SKIFF-SERVICES".to_string()),
        (Table::Nat, "SKIFF-SEP-LEFTOVER".to_string()),
        (Table::Nat, "DOCKER".to_string()),
        (Table::Nat, "SKIFF2-SERVICES".to_string()),
    ]);
    kernel
        .jumps
        .lock()
        .push((Table::Nat, "-A PREROUTING -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES".into()));
    let harness = start(kernel);
    harness.run_for(1).await;
    let first = harness.kernel.restores().remove(0);
    assert!(first.contains("-X SKIFF-SEP-LEFTOVER\n"));
    assert!(!first.contains("DOCKER") && !first.contains("SKIFF2"));
    assert_eq!(first.matches("\n-I ").count(), 6, "the jump found in place is not inserted twice");
    let kernel = harness.kernel.clone();
    harness.stop().await;
    let left: Vec<String> = kernel.chains.lock().iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(left, vec!["DOCKER", "SKIFF2-SERVICES"]);
}

#[tokio::test(start_paused = true)]
async fn the_service_range_is_routed_once_per_host_and_only_its_creator_removes_it() {
    let range: crate::net::Cidr = "10.96.0.0/12".parse().unwrap();
    let calls = start(FakeKernel::default()).stop_after(1).await;
    assert!(calls.contains(&Call::AddRoute("skiff-vips".into(), range)));
    assert_eq!(calls.last(), Some(&Call::RemoveRoute("skiff-vips".into(), range)));

    let found = FakeKernel { route: Mutex::new(Some("skiff-vips".into())), ..FakeKernel::default() };
    let calls = start(found).stop_after(1).await;
    assert!(
        !kinds(&calls).iter().any(|k| *k == "add route" || *k == "remove route"),
        "another proxy's route: {calls:?}"
    );

    let off = Config { service_route: false, ..Config::default() };
    let calls = start_with(FakeKernel::default(), off).stop_after(1).await;
    assert!(!kinds(&calls).iter().any(|k| *k == "add route" || *k == "route device"));
    assert!(calls.contains(&Call::HasRoute(std::net::Ipv4Addr::new(10, 96, 0, 1))), "it only checks, to warn");
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

#[tokio::test(start_paused = true)]
async fn a_first_sync_that_fails_stops_the_proxy_and_takes_its_route_back() {
    let kernel = FakeKernel { fail_restores: Mutex::new(true), ..FakeKernel::default() };
    let harness = start(kernel);
    assert!(matches!(harness.task.await.unwrap(), Err(Error::FirstSync(_))));
    assert!(matches!(harness.kernel.calls().last(), Some(Call::RemoveRoute(..))));
    assert!(harness.kernel.route.lock().is_none());
}

#[tokio::test(start_paused = true)]
async fn the_applied_revision_is_reported_only_once_the_kernel_has_the_rules() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    assert_eq!(harness.progress.applied(), Some(0));
    *harness.kernel.fail_restores.lock() = true;
    harness.change(ProxyState { slice_revision: 9, ..state(Protocol::Tcp, &[6]) });
    harness.run_for(500).await;
    assert_eq!(harness.progress.applied(), Some(0), "the restore failed: revision 9 is not applied");
    *harness.kernel.fail_restores.lock() = false;
    harness.run_for(600).await;
    assert_eq!(harness.progress.applied(), Some(9));
    // A change that needs no new rules is applied too.
    harness.change(ProxyState { slice_revision: 10, ..state(Protocol::Tcp, &[6]) });
    harness.run_for(50).await;
    assert_eq!(harness.progress.applied(), Some(10));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn each_sync_hands_the_connect_time_table_over_and_shutdown_stops_balancing() {
    let harness = start(FakeKernel::default());
    harness.run_for(1).await;
    let vip = (Ipv4Addr::new(10, 96, 0, 20), 80);
    let endpoint = |last| (Ipv4Addr::new(10, 244, 0, last), 8080);
    let table = |h: &Harness| h.kernel.connect_table.lock().clone();
    assert_eq!(table(&harness), Some([(vip, vec![endpoint(5)])].into()), "the first sync's table");

    harness.change(state(Protocol::Tcp, &[6, 5]));
    harness.run_for(100).await;
    assert_eq!(table(&harness), Some([(vip, vec![endpoint(5), endpoint(6)])].into()), "the same pods as the rules");

    harness.change(state(Protocol::Udp, &[5]));
    harness.run_for(100).await;
    assert_eq!(table(&harness), Some(ConnectTable::new()), "UDP is left to iptables");

    let kernel = harness.kernel.clone();
    harness.stop().await;
    assert_eq!(*kernel.connect_table.lock(), None, "balancing stopped at shutdown");
}
