//! The syncer: the thread behind the committer that waits for the disk, then publishes.
//!
//! The committer (`committer.rs`) applies a group and appends it to the write-ahead log
//! without syncing, then hands it here and goes on with the next group. The syncer takes every
//! group handed to it so far, syncs the log once for all of them — one `fdatasync` covers
//! every write that returned before it started — and then, per group in order, applies its
//! batch to sled, publishes its revision, hands its events to the watchers and answers its
//! proposals. A group is visible to readers only once it is durable, as before the split; what
//! changed is that the next group is applied during the sync instead of after it.
//!
//! etcd splits its write path the same way: raft's `Ready` loop appends entries to its WAL and
//! syncs them while the applier goroutine applies what was committed before
//! (`server/etcdserver/raft.go`, `apply.go`).

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use crate::apply::{Applied, RevisionEvents};
use crate::backend::Batch;
use crate::committer::Proposal;
use crate::error::StoreError;
use crate::metrics;
use crate::store::Shared;

/// A group the committer has applied and logged.
pub struct Logged {
    pub proposals: Vec<Proposal>,
    /// One answer per proposal, sent once the group is published.
    pub results: Vec<Result<Applied, StoreError>>,
    /// The changes to put in sled after the sync; `None` if there are none, or if the committer
    /// already made them durable and put them in sled itself (a group that found the log full).
    pub batch: Option<Batch>,
    /// The group's newest revision.
    pub revision: i64,
    pub events: Vec<RevisionEvents>,
}

impl Logged {
    /// Answers every proposal of the group with [`StoreError::Stopped`]: it will never be durable.
    pub fn refuse(self) {
        for proposal in self.proposals {
            let _ = proposal.reply.send(Err(StoreError::Stopped));
        }
    }
}

/// What the committer hands to the syncer.
pub enum ToSyncer {
    Group(Logged),
    /// Signal once every group handed before this is published.
    Barrier(Sender<()>),
}

/// The most groups one sync covers: bounds how long the first of them waits for its answer
/// behind the sled work of the others.
const MAX_GROUPS_PER_SYNC: usize = 64;

pub fn spawn(shared: Arc<Shared>, handed: Receiver<ToSyncer>) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("skiff-syncer".into())
        .spawn(move || run(shared, handed))
        .expect("the syncer thread starts")
}

fn run(shared: Arc<Shared>, handed: Receiver<ToSyncer>) {
    let mut groups = VecDeque::with_capacity(MAX_GROUPS_PER_SYNC);
    // Ends when the committer has stopped and everything it handed over is done.
    while let Ok(first) = handed.recv() {
        let mut barrier = None;
        match first {
            ToSyncer::Group(group) => groups.push_back(group),
            ToSyncer::Barrier(done) => barrier = Some(done),
        }
        while barrier.is_none() && groups.len() < MAX_GROUPS_PER_SYNC {
            match handed.try_recv() {
                Ok(ToSyncer::Group(group)) => groups.push_back(group),
                Ok(ToSyncer::Barrier(done)) => barrier = Some(done),
                Err(_) => break,
            }
        }
        if let Err(err) = publish_groups(&shared, &mut groups) {
            tracing::error!(cause = %err, "the disk failed; the store stops");
            groups.drain(..).for_each(Logged::refuse);
            shared.failed.cancel();
            // Everything still handed over is refused; the committer sees the channel closed.
            while let Ok(message) = handed.try_recv() {
                if let ToSyncer::Group(group) = message {
                    group.refuse();
                }
            }
            return;
        }
        if let Some(done) = barrier {
            let _ = done.send(());
        }
    }
}

/// One sync for all of `groups`, then each of them into sled, published and answered, in
/// order. An error is a disk failure; `groups` then holds the groups not answered yet.
fn publish_groups(shared: &Arc<Shared>, groups: &mut VecDeque<Logged>) -> Result<(), StoreError> {
    if groups.iter().any(|group| group.batch.is_some()) {
        let timer = metrics::SYNC_SECONDS.start_timer();
        shared.backend.sync_log()?;
        timer.observe_duration();
    }
    while let Some(group) = groups.front_mut() {
        if let Some(batch) = group.batch.take() {
            shared.backend.apply(batch)?;
        }
        let group = groups.pop_front().expect("the front was there");
        if group.revision > shared.current_revision() {
            shared.publish_revision(group.revision);
            metrics::REVISION.set(group.revision);
        }
        let mut events = group.events;
        shared.hub.notify(shared, &mut events, group.revision);
        for (proposal, result) in group.proposals.into_iter().zip(group.results) {
            let _ = proposal.reply.send(result);
        }
    }
    Ok(())
}
