//! The sync loop: from a change in the caches to the rules in the kernel.
//!
//! Mirrors `Proxier.syncProxyRules`' surroundings in `pkg/proxy/iptables/proxier.go` and the
//! `BoundedFrequencyRunner` that drives it (Kubernetes 1.32), as one loop:
//!
//! 1. Wait for the informers' first lists; read (`iptables-save`) the chains and jumps of ours a
//!    predecessor may have left (the first restore deletes the chains no Service needs); route
//!    the service range ([`super::presence`]); set `route_localnet` (NodePorts on 127.0.0.1).
//! 2. Sync once: the rules and the missing jumps from the built-in chains, in one
//!    `iptables-restore`. In one, because a jump inserted after its chain was filled leaves a
//!    moment in which the rules are there but no packet reaches them (a test that waited for
//!    the rules and connected in that moment went out of the host un-NATed).
//! 3. On a change, wait `min_sync_period` (20 ms) so that a burst — a rollout replacing a pod
//!    writes its EndpointSlice several times — becomes one restore; then read the caches whole
//!    and sync. Text identical to the last restore is not restored again. Every `sync_period`
//!    a full sync reads the tables again and restores regardless (someone may have flushed a
//!    chain, or deleted a jump: both come back).
//! 4. A failed restore changes nothing in the kernel (it is all or nothing) and is retried a
//!    second later.
//! 5. On shutdown: one restore deletes the jumps and the chains; then the route goes, if it
//!    was added here.
//!    Established connections live on: conntrack holds their NAT, which no rule is needed for.
//!    New connections find no rule until the next proxy has synced.
//!
//! Left out: upstream's partial syncs and its separate minimum interval between syncs.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::chains::{jumps, ours_in, Chains, Jump, Table, MAX_PREFIX};
use super::connect::connect_table;
use super::conntrack::stale;
use super::endpoints::endpoints_map;
use super::kernel::{Kernel, KernelError};
use super::rules::{cleanup, rules, ChainSet, RuleConfig};
use super::service_ports::all_service_ports;
use super::{presence, Config, Error, ProxyState};
use crate::cluster::Cluster;
use crate::error_chain;
use crate::metrics;
use crate::progress::Reporter;

/// How long after a failed sync the next one is tried.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

impl ProxyState {
    /// The state of the caches' contents.
    pub fn from_caches(services: &[Arc<Service>], slices: &[Arc<EndpointSlice>]) -> ProxyState {
        ProxyState {
            services: all_service_ports(services.iter().map(|s| s.as_ref())),
            endpoints: endpoints_map(slices.iter().map(|s| s.as_ref())),
            slice_revision: slices
                .iter()
                .filter_map(|s| s.metadata.resource_version.as_deref()?.parse::<i64>().ok())
                .max()
                .unwrap_or(0),
        }
    }
}

/// Runs the data path until `shutdown`, then removes its rules. After each sync, `progress`
/// hears which EndpointSlice revision the kernel's rules include.
pub async fn run(
    config: Config,
    cluster: Cluster,
    kernel: Arc<dyn Kernel>,
    progress: Reporter,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let changes = cluster.changes();
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        _ = cluster.synced() => {}
    }
    let (services, slices) = (cluster.service_store(), cluster.slice_store());
    let state = move || ProxyState::from_caches(&services.list(), &slices.list());
    sync_loop(config, kernel, state, changes, progress, shutdown).await
}

/// The loop over any source of states and changes (the caches, or a test's).
pub async fn sync_loop(
    config: Config,
    kernel: Arc<dyn Kernel>,
    state: impl Fn() -> ProxyState,
    changes: impl Stream<Item = ()>,
    progress: Reporter,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let prefix = &config.chain_prefix;
    let valid = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
    if prefix.is_empty() || prefix.len() > MAX_PREFIX || !prefix.chars().all(valid) {
        return Err(Error::Prefix(prefix.clone()));
    }
    let mut changes = Box::pin(changes);
    let rule_config = RuleConfig { chains: Chains::new(prefix), cluster_cidr: config.cluster_cidr };
    let mut syncer = Syncer::start(rule_config, kernel.clone()).await.map_err(Error::FirstSync)?;
    if let Err(err) = kernel.route_localnet().await {
        tracing::warn!(cause = %err, "NodePorts will not answer on 127.0.0.1");
    }
    let route_added = match presence::ensure(&kernel, config.service_cidr, config.service_route).await {
        Ok(added) => added,
        Err(err) => {
            tracing::warn!(cause = %err, "cannot check the route of the service range");
            false
        }
    };
    let first = state();
    let revision = first.slice_revision;
    if let Err(err) = syncer.sync(first, true).await {
        teardown(&mut syncer, &config, route_added).await;
        return Err(Error::FirstSync(err));
    }
    progress.applied(revision);
    tracing::info!(prefix = %prefix, services = syncer.applied.services.len(), "rules in place");

    let mut full_sync = tokio::time::interval_at(Instant::now() + config.sync_period, config.sync_period);
    let mut retry: Option<Instant> = None;
    loop {
        let full = tokio::select! {
            _ = shutdown.cancelled() => break,
            change = changes.next() => match change {
                Some(()) => false,
                // The informers stopped: only a shutdown does that.
                None => { shutdown.cancelled().await; break }
            },
            _ = full_sync.tick() => true,
            _ = tokio::time::sleep_until(retry.unwrap_or_else(Instant::now)), if retry.is_some() => true,
        };
        let since = Instant::now();
        if !full {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(config.min_sync_period) => {}
            }
        }
        // Everything that arrived meanwhile is in the caches already: one sync covers it.
        while let Some(Some(())) = changes.next().now_or_never() {}
        let current = state();
        let revision = current.slice_revision;
        match syncer.sync(current, full).await {
            Ok(restored) => {
                retry = None;
                // Restored or already in place: the kernel's rules include this revision.
                progress.applied(revision);
                if restored && !full {
                    metrics::PROGRAMMING_DURATION.observe(since.elapsed().as_secs_f64());
                }
            }
            Err(err) => {
                metrics::SYNC_FAILURES.inc();
                tracing::warn!(cause = %err, "syncing the rules failed; retrying");
                retry = Some(Instant::now() + RETRY_AFTER_FAILURE);
            }
        }
    }
    teardown(&mut syncer, &config, route_added).await;
    Ok(())
}

/// Removes the rules, then the route if this proxy added it.
async fn teardown(syncer: &mut Syncer, config: &Config, route_added: bool) {
    // First, while the rules can still take every connection.
    syncer.kernel.stop_balancing_connects().await;
    syncer.cleanup().await;
    if route_added {
        if let Err(err) = presence::remove(&syncer.kernel, config.service_cidr).await {
            tracing::warn!(cause = %err, "cannot remove the route of the service range");
        }
    }
    tracing::info!(prefix = %config.chain_prefix, "rules removed");
}

/// What the kernel holds of ours, and how to change it.
struct Syncer {
    config: RuleConfig,
    kernel: Arc<dyn Kernel>,
    /// Our chains in the kernel: read at start, then what each restore left.
    chains: ChainSet,
    /// The state the kernel's rules were made from.
    applied: ProxyState,
    /// The text of the last restore: an identical one is skipped.
    last_text: Option<String>,
    /// The jumps are known to be in place (cleared to read the tables again).
    jumps_in_place: bool,
    /// Warned once that `conntrack` is missing.
    warned_conntrack: bool,
}

/// What `iptables-save` shows of ours in both tables.
struct Saved {
    chains: ChainSet,
    /// `-A BUILTIN … -j OURS` lines, as saved.
    jump_lines: Vec<(Table, String)>,
    /// The saved text per table, to test the jumps against.
    text: Vec<(Table, String)>,
}

impl Syncer {
    async fn read(&self) -> Result<Saved, KernelError> {
        let mut saved = Saved { chains: ChainSet::new(), jump_lines: Vec::new(), text: Vec::new() };
        for table in [Table::Nat, Table::Filter] {
            let text = self.kernel.save(table).await?;
            let (chains, jump_lines) = ours_in(&text, &self.config.chains);
            saved.chains.extend(chains.into_iter().map(|c| (table, c)));
            saved.jump_lines.extend(jump_lines.into_iter().map(|l| (table, l)));
            saved.text.push((table, text));
        }
        Ok(saved)
    }

    async fn start(config: RuleConfig, kernel: Arc<dyn Kernel>) -> Result<Syncer, KernelError> {
        let mut syncer = Syncer {
            config,
            kernel,
            chains: ChainSet::new(),
            applied: ProxyState::default(),
            last_text: None,
            jumps_in_place: false,
            warned_conntrack: false,
        };
        syncer.chains = syncer.read().await?.chains;
        if !syncer.chains.is_empty() {
            tracing::info!(
                chains = syncer.chains.len(),
                "found chains of a previous run; the first sync replaces them"
            );
        }
        Ok(syncer)
    }

    /// The jumps the kernel lacks; none if they are known to be in place.
    async fn missing_jumps(&mut self, full: bool) -> Result<Vec<Jump>, KernelError> {
        if self.jumps_in_place && !full {
            return Ok(Vec::new());
        }
        let saved = self.read().await?;
        // Chains someone else deleted are declared again by the restore; leftovers are deleted.
        self.chains.extend(saved.chains);
        let missing: Vec<Jump> = jumps(&self.config.chains)
            .into_iter()
            .filter(|jump| !saved.text.iter().any(|(table, text)| *table == jump.table && jump.is_in(text)))
            .collect();
        if self.jumps_in_place && !missing.is_empty() {
            tracing::warn!(missing = missing.len(), "jumps to our chains had gone; putting them back");
        }
        Ok(missing)
    }

    /// Makes the kernel's rules those of `state`; true if it restored.
    async fn sync(&mut self, state: ProxyState, full: bool) -> Result<bool, KernelError> {
        let started = std::time::Instant::now();
        let missing = self.missing_jumps(full).await?;
        let ruleset = rules(&state, &self.config, &self.chains, &missing);
        let unchanged = self.last_text.as_deref() == Some(ruleset.text.as_str());
        if unchanged && !full {
            return Ok(false);
        }
        self.kernel.restore(&ruleset.text).await?;
        // After the restore: a port the program stops balancing is in the rules by then.
        if let Err(err) = self.kernel.balance_connects(&connect_table(&state)).await {
            tracing::warn!(cause = %error_chain(&err), "connect-time balancing is off; iptables serves every connection");
        }
        self.chains = ruleset.chains;
        self.jumps_in_place = true;
        // Without the jumps, so that the next sync's text compares equal when nothing changed.
        self.last_text =
            Some(if missing.is_empty() { ruleset.text } else { rules(&state, &self.config, &self.chains, &[]).text });
        for entry in stale(&self.applied, &state) {
            match self.kernel.delete_conntrack(&entry).await {
                Ok(()) => tracing::debug!(?entry, "deleted stale conntrack entries"),
                Err(KernelError::Missing { .. }) if self.warned_conntrack => {}
                Err(err) => {
                    self.warned_conntrack |= matches!(err, KernelError::Missing { .. });
                    tracing::warn!(cause = %err, ?entry, "cannot delete stale conntrack entries");
                }
            }
        }
        let elapsed = started.elapsed();
        metrics::SYNC_DURATION.observe(elapsed.as_secs_f64());
        metrics::LAST_SYNC.set(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64());
        tracing::debug!(services = state.services.len(), ?elapsed, "synced the rules");
        self.applied = state;
        Ok(true)
    }

    /// Removes the jumps and every chain of ours, in one restore.
    async fn cleanup(&mut self) {
        let saved = match self.read().await {
            Ok(saved) => saved,
            Err(err) => {
                tracing::warn!(cause = %err, "cannot read the tables to remove our rules");
                return;
            }
        };
        self.chains.extend(saved.chains);
        if self.chains.is_empty() && saved.jump_lines.is_empty() {
            return;
        }
        match self.kernel.restore(&cleanup(&self.chains, &saved.jump_lines)).await {
            Ok(()) => self.chains.clear(),
            Err(err) => tracing::warn!(cause = %err, "cannot delete our rules"),
        }
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
