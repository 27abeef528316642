//! The committer: writes go to disk in groups, one fsync per group, committed by a *leader*
//! chosen among the writers themselves.
//!
//! etcd orders writes through raft and makes them durable in its WAL before applying them. A
//! single store needs the order and the durability, not the consensus. Skiff gets both from a
//! queue and one rule: at most one writer commits at a time, and it commits for everyone who
//! waits (*group commit* with a leader, as databases do for their log):
//!
//! 1. A write joins the queue. If nobody is committing, it becomes the *leader*; otherwise it
//!    waits for its answer.
//! 2. The leader takes everything queued (up to [`MAX_GROUP`]) and applies it in order
//!    (`apply.rs`), holding the index and lessor locks: revisions are assigned, the index learns
//!    the new entries, and one `Batch` collects every disk change. Readers are not disturbed by
//!    the new entries: they read at the published revision.
//! 3. It appends the batch to the write-ahead log and syncs it, once for the whole group (skipped
//!    if nothing changed), then applies it to sled (`backend.rs`, `wal.rs`).
//! 4. It publishes: moves the published revision forward and hands the events to the synced
//!    watchers.
//! 5. It answers every write of the group, its own included. If more writes queued during its
//!    sync, it hands the lead to a thread of Tokio's blocking pool, which commits group after
//!    group for as long as writes keep coming and gives up the lead when the queue is empty.
//!
//! So a lone writer commits on its own thread: its round trip has no hand-off to another
//! thread and back (two wake-ups across cores, ~50 µs of a sequential put's p50 in this VM; see
//! `bench/README.md`). Under load the store works as with a dedicated committer thread: the
//! queue fills while a sync runs, so groups grow exactly when it pays (a sync of ~100–250 µs on
//! the machines this was measured on, shared by 16 writers, costs each of them ~6–16 µs), and
//! the answers of one group go out while the next one syncs. Committing every group on a
//! writer's Tokio worker instead (the next leader a spawned task) was measured and dropped:
//! 16-client throughput fell by ~13%, with more CPU per put.
//!
//! The price is that a lone leader blocks the Tokio worker it runs on for one sync. That is
//! deliberate: handing that sync to another thread is the very hand-off this design removes.
//! The runtime's other workers steal the blocked worker's queued tasks in the meantime, and the
//! lock on the queue is never held across a sync.
//!
//! A write is answered only once its group is on disk; whoever leads, nothing is acknowledged
//! before its `fdatasync` returned, so `kill -9` at any moment loses nothing acknowledged
//! (`tests/crash.rs`). If the disk fails, the writes of the group are in the index but not on
//! disk: the store cannot go on. The leader answers the group and everything queued with
//! `Stopped`, refuses everything after, and cancels `Shared::failed` so that the server stops
//! (etcd panics in the same place).

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::apply::{Applied, GroupWriter, WriteOp};
use crate::error::StoreError;
use crate::metrics;
use crate::store::Shared;

/// The most writes one group takes.
pub const MAX_GROUP: usize = 512;

/// A write waiting for its group to be committed.
struct Proposal {
    op: WriteOp,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// The queue of writes and who leads.
#[derive(Default)]
struct Queue {
    waiting: Vec<Proposal>,
    /// Whether someone holds the lead: a writer committing its group, or the blocking-pool
    /// thread draining the queue. Never held across an `.await`, so `close` can wait for it on
    /// any runtime.
    leading: bool,
    /// Refuse new writes (after `close`, or after a disk failure).
    stopped: bool,
}

/// The write path's shared state: one per store.
#[derive(Default)]
pub struct Committer {
    /// A std-style (parking_lot) mutex, not a Tokio one: it is held for a few pushes and swaps,
    /// never across an await or a sync.
    queue: Mutex<Queue>,
    /// Signaled whenever a leader gives up the lead, for `close`.
    lead_released: Condvar,
}

impl Committer {
    /// Proposes a write and waits until it is durable (steps 1–5 above).
    pub async fn write(&self, shared: &Arc<Shared>, op: WriteOp) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        let leads = {
            let mut queue = self.queue.lock();
            if queue.stopped {
                return Err(StoreError::Stopped);
            }
            queue.waiting.push(Proposal { op, reply });
            !std::mem::replace(&mut queue.leading, true)
        };
        if leads {
            self.lead(shared);
        }
        // The leader's own answer is already in its channel: this returns without a wake-up.
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Commits one group as the leader. If writes queued during its sync, the lead goes on to
    /// a thread of Tokio's blocking pool, which commits group after group for as long as writes
    /// keep coming, so that the leader's own answer does not wait for other people's commits.
    /// The caller has set `leading`.
    fn lead(&self, shared: &Arc<Shared>) {
        if !self.commit_next(shared) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let drainer = Drainer { shared: shared.clone(), ran: false };
                runtime.spawn_blocking(move || drainer.run());
            }
            // Outside a runtime (a caller that polls by hand) there is no pool: drain here.
            Err(_) => while self.commit_next(shared) {},
        }
    }

    /// Takes one group off the queue, commits and answers it. Keeps the lead and returns true if
    /// writes are still waiting; otherwise gives up the lead. On a disk failure, stops the store.
    fn commit_next(&self, shared: &Arc<Shared>) -> bool {
        let mut group = {
            let mut queue = self.queue.lock();
            let take = queue.waiting.len().min(MAX_GROUP);
            let rest = queue.waiting.split_off(take);
            std::mem::replace(&mut queue.waiting, rest)
        };
        let unwinding = StopOnPanic { committer: self, shared };
        let failed = commit_group(shared, &mut group);
        std::mem::forget(unwinding);
        let mut queue = self.queue.lock();
        if let Err(err) = failed {
            tracing::error!(cause = %err, "the disk failed; the store stops");
            queue.stopped = true;
            for proposal in group.drain(..).chain(queue.waiting.drain(..)) {
                let _ = proposal.reply.send(Err(StoreError::Stopped));
            }
            shared.failed.cancel();
        }
        if !queue.waiting.is_empty() {
            return true;
        }
        queue.leading = false;
        self.lead_released.notify_all();
        false
    }

    /// Gives up the lead without committing (a drainer that never ran).
    fn release(&self) {
        self.queue.lock().leading = false;
        self.lead_released.notify_all();
    }

    /// Refuses new writes, commits the ones already queued, and makes the disk hold everything
    /// (a checkpoint, so that the next start has no log to replay). Blocks while a leader
    /// finishes its group. A second call only waits.
    pub fn close(&self, shared: &Arc<Shared>) {
        let mut queue = self.queue.lock();
        let first = !std::mem::replace(&mut queue.stopped, true);
        while queue.leading {
            self.lead_released.wait(&mut queue);
        }
        // Writes queued behind the last leader (one that gave up the lead without draining):
        // commit them here, one group at a time.
        let leads = !queue.waiting.is_empty();
        queue.leading = leads;
        drop(queue);
        if leads {
            while self.commit_next(shared) {}
        }
        if first && !shared.failed.is_cancelled() {
            if let Err(err) = shared.backend.checkpoint() {
                tracing::error!(cause = %err, "final checkpoint failed; the log will be replayed at the next start");
            }
        }
    }
}

/// The lead, handed to a thread of the blocking pool: commits until nothing waits. If the
/// runtime shuts down before it runs, dropping it gives the lead up, and `close` commits what
/// is left.
struct Drainer {
    shared: Arc<Shared>,
    ran: bool,
}

impl Drainer {
    fn run(mut self) {
        while self.shared.committer.commit_next(&self.shared) {}
        self.ran = true;
    }
}

impl Drop for Drainer {
    fn drop(&mut self) {
        if !self.ran {
            self.shared.committer.release();
        }
    }
}

/// Stops the store if a commit panics (a bug): without it the lead would never be given up
/// and every later write would wait forever. Forgotten when the commit returns.
struct StopOnPanic<'a> {
    committer: &'a Committer,
    shared: &'a Arc<Shared>,
}

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        let mut queue = self.committer.queue.lock();
        queue.stopped = true;
        queue.leading = false;
        queue.waiting.clear();
        self.shared.failed.cancel();
        self.committer.lead_released.notify_all();
    }
}

/// Steps 2–5 for one group, answering each proposal. An error is a disk failure; the group is
/// then left unanswered for the caller.
fn commit_group(shared: &Arc<Shared>, group: &mut Vec<Proposal>) -> Result<(), StoreError> {
    let published = shared.current_revision();
    let (results, batch, revision, events) = {
        let mut index = shared.index.write();
        let mut lessor = shared.lessor.lock();
        let mut writer = GroupWriter::new(&mut index, &mut lessor, &shared.backend, published);
        let results: Vec<_> = group.iter().map(|p| writer.apply(&p.op)).collect();
        let (batch, revision, events) = writer.finish();
        (results, batch, revision, events)
    };
    metrics::COMMIT_GROUP_SIZE.observe(group.len() as f64);
    if !batch.is_empty() {
        let timer = metrics::SYNC_SECONDS.start_timer();
        shared.backend.commit(batch)?;
        timer.observe_duration();
    }
    if revision != published {
        shared.publish_revision(revision);
        metrics::REVISION.set(revision);
    }
    shared.hub.notify(shared, &events, revision);
    for (proposal, result) in group.drain(..).zip(results) {
        let _ = proposal.reply.send(result);
    }
    Ok(())
}
