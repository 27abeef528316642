//! The committer: the one thread that applies writes, in groups, and logs each group with one
//! write; the syncer (`syncer.rs`) makes them durable with one fsync for as many groups as
//! are waiting.
//!
//! etcd orders writes through raft and makes them durable in its WAL before applying them. A
//! single store needs the order and the durability, not the consensus, so Skiff has one writer
//! thread for the order and one syncing thread behind it, with *group commit*:
//!
//! 1. Wait for a proposal; then take every proposal already queued behind it (up to
//!    [`MAX_GROUP`]). Under load, the queue fills while the group before is applied, so
//!    groups grow exactly when it pays.
//! 2. Apply them in order (`apply.rs`), holding the index and lessor locks: revisions are
//!    assigned, the index learns the new entries, and one `Batch` collects every disk change.
//!    Readers are not disturbed by the new entries: they read at the published revision.
//! 3. Append the batch to the write-ahead log, unsynced (skipped if nothing changed), and hand
//!    the group to the syncer. Then back to 1, without waiting for the disk.
//! 4. The syncer: one `fdatasync` for every group handed to it since its last one, then per
//!    group in order: apply its batch to sled, publish (move the published revision forward,
//!    hand the events to the synced watchers), answer its proposals.
//!
//! So the disk's wait and the applying of the next group overlap, where one thread doing both
//! left the cores idle during every sync (`bench/README.md`, "The committer and the syncer").
//! A later group may read what an earlier one wrote before sled has it (a txn's compare on a
//! value): the committer keeps those values ([`Unsynced`]) until the syncer publishes them. A
//! later group's answers can depend on an earlier group's writes (a read-only txn that saw
//! them), so every group, even one that wrote nothing, is answered by the syncer, in order,
//! after every group before it is durable.
//!
//! A sync costs ~200–250 µs on the machines this was measured on; shared by a group of 16
//! writers, it costs each of them ~16 µs.
//!
//! If the disk fails, the writes of the group are in the index but not on disk: the store cannot
//! go on. It answers the group with the error, refuses everything after, and cancels
//! `Shared::failed` so that the server stops (etcd panics in the same place).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::apply::{Applied, GroupWriter, Unsynced, WriteOp};
use crate::error::StoreError;
use crate::metrics;
use crate::store::Shared;
use crate::syncer::{self, Logged, ToSyncer};

/// The most proposals one group takes.
pub const MAX_GROUP: usize = 512;

/// A write waiting for the committer.
pub struct Proposal {
    pub op: WriteOp,
    pub reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// What the committer's queue carries.
pub enum Message {
    Write(Proposal),
    /// Finish what is queued before this, then stop.
    Stop,
}

pub fn spawn(shared: Arc<Shared>, proposals: mpsc::UnboundedReceiver<Message>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("skiff-committer".into())
        .spawn(move || run(shared, proposals))
        .expect("the committer thread starts")
}

/// The committer's side of the pipeline: the syncer behind it and what it has not published.
struct Pipeline {
    to_syncer: std::sync::mpsc::Sender<ToSyncer>,
    syncer: std::thread::JoinHandle<()>,
    unsynced: Unsynced,
    /// The newest revision a group has taken, published or not.
    last_revision: i64,
}

impl Pipeline {
    fn hand_over(&self, logged: Logged) -> Result<(), StoreError> {
        // The syncer is gone only after a disk failure; it answered everything it had.
        self.to_syncer.send(ToSyncer::Group(logged)).map_err(|std::sync::mpsc::SendError(message)| {
            if let ToSyncer::Group(logged) = message {
                logged.refuse();
            }
            StoreError::Stopped
        })
    }

    /// Waits until the syncer has published everything handed to it, so sled has it all.
    fn drain(&self) -> Result<(), StoreError> {
        let (done, wait) = std::sync::mpsc::channel();
        self.to_syncer.send(ToSyncer::Barrier(done)).map_err(|_| StoreError::Stopped)?;
        wait.recv().map_err(|_| StoreError::Stopped)
    }

    /// Lets the syncer finish what it has, and waits for it.
    fn finish(self) {
        drop(self.to_syncer);
        let _ = self.syncer.join();
    }
}

fn run(shared: Arc<Shared>, mut proposals: mpsc::UnboundedReceiver<Message>) {
    let (to_syncer, handed) = std::sync::mpsc::channel();
    let mut pipeline = Pipeline {
        to_syncer,
        syncer: syncer::spawn(shared.clone(), handed),
        unsynced: Unsynced::default(),
        last_revision: shared.current_revision(),
    };
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut stopping = false;
    while !stopping {
        match proposals.blocking_recv() {
            Some(Message::Write(first)) => group.push(first),
            Some(Message::Stop) | None => break,
        }
        while group.len() < MAX_GROUP {
            match proposals.try_recv() {
                Ok(Message::Write(next)) => group.push(next),
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        if let Err(err) = write_group(&shared, &mut pipeline, &mut group) {
            tracing::error!(cause = %err, "the disk failed; the store stops");
            for proposal in group.drain(..) {
                let _ = proposal.reply.send(Err(StoreError::Stopped));
            }
            shared.failed.cancel();
            proposals.close();
            while let Ok(message) = proposals.try_recv() {
                if let Message::Write(p) = message {
                    let _ = p.reply.send(Err(StoreError::Stopped));
                }
            }
            pipeline.finish();
            return;
        }
    }
    // Whatever arrives after a stop is refused (its sender sees the reply channel dropped).
    proposals.close();
    pipeline.finish();
    // A clean stop leaves nothing to replay.
    if let Err(err) = shared.backend.checkpoint() {
        tracing::error!(cause = %err, "final checkpoint failed; the log will be replayed at the next start");
    }
}

/// Steps 2 and 3 for one group. An error is a disk failure; `group` then holds the proposals
/// nobody has answered yet.
fn write_group(shared: &Arc<Shared>, pipeline: &mut Pipeline, group: &mut Vec<Proposal>) -> Result<(), StoreError> {
    let published = shared.current_revision();
    pipeline.unsynced.forget_through(published);
    let (results, finished) = {
        let mut index = shared.index.write();
        let mut lessor = shared.lessor.lock();
        let mut writer = GroupWriter::new(
            &mut index,
            &mut lessor,
            &shared.backend,
            &pipeline.unsynced,
            pipeline.last_revision,
            published,
        );
        let results: Vec<_> = group.iter().map(|p| writer.apply(&p.op)).collect();
        (results, writer.finish())
    };
    metrics::COMMIT_GROUP_SIZE.observe(group.len() as f64);
    let batch = if finished.batch.is_empty() {
        None
    } else if shared.backend.log(&finished.batch)? {
        Some(finished.batch)
    } else {
        // No room left in the log: the checkpoint that empties it makes sled durable, so sled
        // must first have every batch logged before this one. Then this group is committed
        // here, whole, and the syncer only publishes it.
        pipeline.drain()?;
        shared.backend.commit(finished.batch)?;
        None
    };
    pipeline.unsynced.push(finished.revision, finished.values);
    pipeline.last_revision = finished.revision;
    pipeline.hand_over(Logged {
        proposals: std::mem::take(group),
        results,
        batch,
        revision: finished.revision,
        events: finished.events,
    })
}
