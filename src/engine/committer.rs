//! Group commit: one thread owns the writing of steps to the store and commits the steps of
//! concurrent requests together, in one durable transaction
//! ([`ProcessStore::append_many`](crate::store::ProcessStore::append_many)).
//!
//! A durable commit costs one `fsync` whatever it carries (~3.7 ms with redb on the
//! development machine), so committing each step alone caps a node at a few hundred steps a
//! second. Here a caller hands its batch to the committer through a bounded queue and waits
//! for the result of *its own* batch before it answers, so durability before
//! acknowledgement stays; while one transaction is being written, the next batches queue up
//! and go together in the next one. There is no artificial delay: a lone step is committed
//! at once.

use crate::store::{self, AppendBatch, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Settings of the committer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// Batches waiting for the committer at most; a caller blocks when the queue is full.
    pub queue: usize,
    /// Batches written in one transaction at most.
    pub max_group: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            queue: 1024,
            max_group: 256,
        }
    }
}

/// One batch to commit and where its result goes.
struct Request {
    process: String,
    batch: AppendBatch,
    reply: SyncSender<store::Result<()>>,
}

/// The handle of the committer thread. Dropping it lets the thread finish the queued batches
/// and waits for it.
pub struct Committer {
    queue: Option<SyncSender<Request>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Counters>,
}

/// What the committer has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    /// Write transactions.
    pub transactions: u64,
    /// Batches written (or refused) in them.
    pub batches: u64,
    /// Time spent writing them, in microseconds.
    pub busy_micros: u64,
    /// The slowest transaction, in microseconds.
    pub max_micros: u64,
}

#[derive(Debug, Default)]
struct Counters {
    transactions: AtomicU64,
    batches: AtomicU64,
    busy_micros: AtomicU64,
    max_micros: AtomicU64,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

/// The committer thread is gone (it panicked); the batch was not written.
fn stopped() -> store::Error {
    store::Error::Io(std::io::Error::other("the committer thread has stopped"))
}

impl Committer {
    /// Starts the committer thread over `store`.
    pub fn spawn(store: Arc<dyn Store>, settings: GroupCommit) -> std::io::Result<Self> {
        let (queue, requests) = mpsc::sync_channel(settings.queue.max(1));
        let max_group = settings.max_group.max(1);
        let stats = Arc::new(Counters::default());
        let counters = stats.clone();
        let thread = std::thread::Builder::new()
            .name("letsflow-committer".into())
            .spawn(move || run(store.as_ref(), &requests, max_group, &counters))?;
        Ok(Committer {
            queue: Some(queue),
            thread: Some(thread),
            stats,
        })
    }

    /// Transactions and batches written so far.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            transactions: self.stats.transactions.load(Ordering::Relaxed),
            batches: self.stats.batches.load(Ordering::Relaxed),
            busy_micros: self.stats.busy_micros.load(Ordering::Relaxed),
            max_micros: self.stats.max_micros.load(Ordering::Relaxed),
        }
    }

    /// Commits `batch` of `process` durably (together with whatever else is queued) and
    /// returns its own result, as [`ProcessStore::append`](crate::store::ProcessStore::append)
    /// would. Blocks until then.
    pub fn commit(&self, process: &str, batch: AppendBatch) -> store::Result<()> {
        let queue = self.queue.as_ref().ok_or_else(stopped)?;
        let (reply, result) = mpsc::sync_channel(1);
        let request = Request {
            process: process.to_string(),
            batch,
            reply,
        };
        match queue.try_send(request) {
            Ok(()) => {}
            // Full: wait for room (back-pressure on the callers).
            Err(TrySendError::Full(request)) => queue.send(request).map_err(|_| stopped())?,
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        result.recv().map_err(|_| stopped())?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has written what was queued.
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the committer thread panicked");
            }
        }
    }
}

/// The committer loop: wait for a batch, take whatever else is queued (up to `max_group`),
/// write them in one transaction, hand each caller its result.
fn run(store: &dyn Store, requests: &Receiver<Request>, max_group: usize, stats: &Counters) {
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let (replies, batches): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|r| (r.reply, (r.process, r.batch)))
            .unzip();
        let size = batches.len();
        let started = std::time::Instant::now();
        let results = store.append_many(batches);
        let took = started.elapsed();
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        stats.batches.fetch_add(size as u64, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        stats.busy_micros.fetch_add(micros, Ordering::Relaxed);
        stats.max_micros.fetch_max(micros, Ordering::Relaxed);
        tracing::trace!(size, micros, "group commit");
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that went away needs no answer.
            let _ = reply.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{ActionEvent, Event, InstantiateEvent, Timestamp};
    use crate::store::{MemoryStore, RedbStore};
    use serde_json::{json, Map};

    fn instantiate(id: &str) -> Event {
        let mut event = Event::Instantiate(InstantiateEvent {
            id: id.into(),
            timestamp: Timestamp::from_millis(0),
            scenario: "s".into(),
            actors: Map::new(),
            version: crate::process::EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        event.rehash();
        event
    }

    fn action(previous: &Event) -> Event {
        let mut event = Event::Action(ActionEvent {
            previous: previous.hash().into(),
            timestamp: previous.timestamp().plus_seconds(1.0),
            action: "next".into(),
            actor: Map::new(),
            response: None,
            skipped: false,
            errors: vec![],
            version: crate::process::EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        event.rehash();
        event
    }

    fn batch(event: &Event) -> AppendBatch {
        AppendBatch {
            events: vec![event.clone()],
            view: json!({}),
            timer: None,
            outbox: vec![],
        }
    }

    /// Many threads each step their own process through one committer: every step is
    /// committed, in order, and a conflict comes back to the caller that caused it.
    fn concurrent_steps(store: Arc<dyn Store>, settings: GroupCommit) -> CommitStats {
        let committer = Committer::spawn(store.clone(), settings).expect("spawn");
        std::thread::scope(|scope| {
            for t in 0..8 {
                let committer = &committer;
                scope.spawn(move || {
                    let id = format!("p{t}");
                    let mut last = instantiate(&id);
                    committer.commit(&id, batch(&last)).expect("start");
                    for _ in 0..20 {
                        let next = action(&last);
                        committer.commit(&id, batch(&next)).expect("step");
                        last = next;
                    }
                    let stale = action(&instantiate(&id));
                    assert!(matches!(
                        committer.commit(&id, batch(&stale)),
                        Err(store::Error::Conflict { .. })
                    ));
                });
            }
        });
        let stats = committer.stats();
        drop(committer);
        for t in 0..8 {
            let events = store.events(&format!("p{t}")).expect("events");
            assert_eq!(events.len(), 21);
        }
        assert_eq!(stats.batches, 8 * 22);
        // the slowest transaction is one of those counted in the busy time
        assert!(stats.max_micros <= stats.busy_micros, "{stats:?}");
        assert!(
            stats.transactions == 0 || stats.max_micros * stats.transactions >= stats.busy_micros,
            "{stats:?}"
        );
        stats
    }

    #[test]
    fn commits_concurrent_steps_on_memory() {
        concurrent_steps(Arc::new(MemoryStore::new()), GroupCommit::default());
    }

    #[test]
    fn commits_concurrent_steps_on_redb() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = RedbStore::open(dir.path()).expect("open");
        let stats = concurrent_steps(Arc::new(store), GroupCommit::default());
        // Eight writers and a durable commit of milliseconds: steps went together.
        assert!(stats.transactions < stats.batches, "{stats:?}");
    }

    #[test]
    fn a_tiny_queue_still_commits_everything() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let settings = GroupCommit {
            queue: 1,
            max_group: 1,
        };
        let stats = concurrent_steps(store, settings);
        assert_eq!(stats.transactions, stats.batches);
    }
}
