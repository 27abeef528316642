//! The committer: the one thread that writes, in groups, with one fsync per group.
//!
//! etcd orders writes through raft and makes them durable in its WAL before applying them. A
//! single store needs the order and the durability, not the consensus, so Skiff has one writer
//! thread that does both, with *group commit*:
//!
//! 1. Wait for a proposal; then take every proposal already queued behind it (up to
//!    [`MAX_GROUP`]). Under load, the queue fills while the previous group's fsync runs, so
//!    groups grow exactly when it pays.
//! 2. Apply them in order (`apply.rs`), holding the index and lessor locks: revisions are
//!    assigned, the index learns the new entries, and one `Batch` collects every disk change.
//!    Readers are not disturbed by the new entries: they read at the published revision.
//! 3. Append the batch to the write-ahead log and sync it, once for the whole group (skipped if
//!    nothing changed), then apply it to sled (`backend.rs`, `wal.rs`).
//! 4. Publish: move the published revision forward and hand the events to the synced watchers.
//! 5. Answer every proposal of the group.
//!
//! A sync costs ~250 µs on the machines this was measured on; shared by a group of 16 writers,
//! it costs each of them ~16 µs. See `bench/README.md`.
//!
//! If the disk fails, the writes of the group are in the index but not on disk: the store cannot
//! go on. It answers the group with the error, refuses everything after, and cancels
//! `Shared::failed` so that the server stops (etcd panics in the same place).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::apply::{Applied, GroupWriter, WriteOp};
use crate::error::StoreError;
use crate::metrics;
use crate::store::Shared;

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

fn run(shared: Arc<Shared>, mut proposals: mpsc::UnboundedReceiver<Message>) {
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
        if let Err(err) = commit_group(&shared, &mut group) {
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
            return;
        }
    }
    // Whatever arrives after a stop is refused (its sender sees the reply channel dropped).
    proposals.close();
    // A clean stop leaves nothing to replay.
    if let Err(err) = shared.backend.checkpoint() {
        tracing::error!(cause = %err, "final checkpoint failed; the log will be replayed at the next start");
    }
}

/// Steps 2–5 for one group. An error is a disk failure.
fn commit_group(shared: &Arc<Shared>, group: &mut Vec<Proposal>) -> Result<(), StoreError> {
    let published = shared.current_revision();
    let (results, batch, revision, mut events) = {
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
    shared.hub.notify(shared, &mut events, revision);
    for (proposal, result) in group.drain(..).zip(results) {
        let _ = proposal.reply.send(result);
    }
    Ok(())
}
