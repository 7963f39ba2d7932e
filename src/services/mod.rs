//! Services: delivering the notifications a node owes (SPEC 2.9 and 7, DESIGN "Services").
//!
//! The engine writes what is owed into the store's outbox in the same commit as the event
//! that made it owed; the stored outbox is the truth. [`Services::run`] is the delivery
//! loop: it reads the due entries, hands each to its service's provider (`webhook`,
//! `zeromq`, `amqp`; settings in [`config`]) and records the outcome:
//!
//! - delivered without an answer: the entry is removed;
//! - delivered with an answer (a response): the notify entry's `trigger` action is performed
//!   as actor `service:NAME` through the engine's one write path
//!   ([`Engine::service_response`]); an answer that cannot be mapped to an action, or whose
//!   step is rejected, is logged and the entry parked as failed with the reason;
//! - failed: retried with exponential backoff and jitter ([`config::RetryPolicy`]); after
//!   the last attempt, or at once for errors a retry cannot mend (a redirect loop, an
//!   answer too large, a 4xx status), parked as failed.
//!
//! Deliveries run concurrently: at most `concurrency` per service, so a slow or dead service
//! holds up only its own notifications. The loop wakes when a commit owes a notification
//! ([`Engine::outbox_wake`]), when a delivery ends, when the next retry is due, and at least
//! every [`POLL`]. A notification of a process shared with other nodes is delivered only by
//! the node that hosts the service (the node bound to actor `service:NAME`, else the
//! process's creator); the others drop their copy.
//!
//! The message id of a notification (`{event hash}:{n}`) is the same on every attempt and
//! after restarts, so a receiver can deduplicate: delivery is at least once.

#[cfg(feature = "amqp")]
mod amqp;
pub mod config;
mod webhook;
#[cfg(feature = "zeromq")]
mod zmq;

use crate::engine::timers::now;
use crate::engine::{Engine, EngineError, EventStatus};
use crate::process::Timestamp;
use crate::store::{self, OutboxEntry, OutboxState};
use config::{ProviderConfig, ServiceConfig};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};

/// The delivery loop looks at the outbox at least this often.
pub const POLL: Duration = Duration::from_secs(1);

/// Due entries read from the store in one go.
const SCAN: usize = 2000;

/// How often the loop reads past a backlog of a busy service, for the due entries of others.
const DEEP_SCAN_EVERY: Duration = Duration::from_millis(250);

/// Deliveries started and not finished, over all services, at most.
const MAX_IN_FLIGHT: usize = 1024;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The service answered with a status that is not a success.
    #[error("the service answered HTTP {status}{}", body_text(.body))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Too many redirects (a redirect loop).
    #[error("redirect refused: {0}")]
    Redirect(String),
    /// The answer is larger than the service's `maxAnswer`.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The answer cannot be read (JSON that does not parse, text that is not UTF-8).
    #[error("the answer cannot be read: {0}")]
    BadAnswer(String),
    /// The service or broker cannot be reached, or dropped the connection.
    #[error("cannot reach the service: {0}")]
    Connect(String),
    /// The message or request cannot be built.
    #[error("cannot build the request: {0}")]
    Setup(String),
}

fn body_text(body: &str) -> String {
    if body.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", body.trim())
    }
}

impl DeliveryError {
    /// Whether trying again cannot help: the notification is parked at once.
    pub fn permanent(&self) -> bool {
        match self {
            DeliveryError::Status { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 429)
            }
            DeliveryError::Redirect(_)
            | DeliveryError::TooLarge { .. }
            | DeliveryError::BadAnswer(_)
            | DeliveryError::Setup(_) => true,
            DeliveryError::Timeout(_) | DeliveryError::Connect(_) => false,
        }
    }

    /// The HTTP status the service answered, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What a service answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Nothing to act on (fire and forget, 202, an empty body).
    Nothing,
    /// A response: the notify entry's trigger action is performed with it.
    Response(Value),
}

/// A delivered notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// What the service answered.
    pub answer: Answer,
    /// The HTTP status (webhooks).
    pub status: Option<u16>,
}

/// A notification on its way out.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The message id, stable across retries: the outbox entry id.
    pub id: &'a str,
    /// The process.
    pub process: &'a str,
    /// The service.
    pub service: &'a str,
    /// The process etag when the notification became owed: the hash of that event.
    pub etag: &'a str,
    /// The message.
    pub message: &'a Value,
}

/// A provider, ready to deliver.
#[derive(Debug)]
enum Provider {
    Webhook(webhook::Webhook),
    #[cfg(feature = "zeromq")]
    ZeroMq(zmq::ZeroMq),
    #[cfg(feature = "amqp")]
    Amqp(amqp::Amqp),
}

impl Provider {
    fn new(config: &ProviderConfig) -> Result<Provider, DeliveryError> {
        Ok(match config {
            ProviderConfig::Webhook(c) => Provider::Webhook(webhook::Webhook::new(c.clone())?),
            #[cfg(feature = "zeromq")]
            ProviderConfig::ZeroMq(c) => Provider::ZeroMq(zmq::ZeroMq::new(c.clone())),
            #[cfg(feature = "amqp")]
            ProviderConfig::Amqp(c) => Provider::Amqp(amqp::Amqp::new(c.clone())),
            #[allow(unreachable_patterns)]
            other => {
                return Err(DeliveryError::Setup(format!(
                    "this build has no {} provider",
                    other.name()
                )))
            }
        })
    }

    async fn send(&self, out: &Outgoing<'_>) -> Result<Delivered, DeliveryError> {
        match self {
            Provider::Webhook(p) => p.send(out).await,
            #[cfg(feature = "zeromq")]
            Provider::ZeroMq(p) => p.send(out).await,
            #[cfg(feature = "amqp")]
            Provider::Amqp(p) => p.send(out).await,
        }
    }
}

/// One configured service.
#[derive(Debug)]
struct Service {
    config: ServiceConfig,
    provider: Provider,
    /// Deliveries running at once, at most `concurrency`.
    slots: Semaphore,
    /// Deliveries started (waiting for a slot or running).
    started: AtomicUsize,
}

/// Why the services cannot start.
#[derive(Debug, thiserror::Error)]
#[error("service '{service}': {source}")]
pub struct StartError {
    /// The service.
    pub service: String,
    /// Why.
    #[source]
    pub source: DeliveryError,
}

/// What became of one delivery (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Delivered; nothing more to do.
    Delivered,
    /// Delivered, and the answer was applied as a step.
    Stepped,
    /// Not for this node: another node hosts the service.
    NotHosted,
    /// Failed; tried again later.
    Retry,
    /// Parked as failed.
    Parked,
}

/// Who notifies a service of an entry, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hosting {
    /// This node, now.
    Here,
    /// This node, once the event that owed it is final.
    NotFinal,
    /// Another node: this node's copy is dropped.
    Elsewhere,
}

/// How often a notification waiting for its event to be final is looked at again.
const FINALITY_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The delivery loop and the configured services of a node.
pub struct Services {
    engine: Arc<Engine>,
    services: HashMap<String, Arc<Service>>,
    /// Outbox entries being delivered.
    in_flight: Mutex<HashSet<String>>,
    /// Deliveries that ended since the loop last began to read the due entries.
    settled: Mutex<HashSet<String>>,
    /// A delivery ended.
    finished: Notify,
    /// Due entries the last pass did not start because their service was busy.
    passed_over: AtomicUsize,
    /// When the loop last read past the entries passed over.
    last_deep_scan: Mutex<std::time::Instant>,
    /// Deliveries to record as done (by [`flush_done`], which [`Services::run`] starts).
    done_sender: tokio::sync::mpsc::Sender<Done>,
    done_queue: Mutex<Option<tokio::sync::mpsc::Receiver<Done>>>,
}

/// A delivered entry, and who waits for it to be recorded.
type Done = (String, tokio::sync::oneshot::Sender<()>);

/// Delivered entries recorded in one write transaction at most.
const DONE_GROUP: usize = 256;

/// Records delivered entries as they come, together in one write transaction those that
/// came while the last one was written (a durable write has a fixed cost), and then tells
/// their deliveries.
async fn flush_done(engine: Arc<Engine>, mut queue: tokio::sync::mpsc::Receiver<Done>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < DONE_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let ids: Vec<String> = group.iter().map(|(id, _)| id.clone()).collect();
        let engine = engine.clone();
        match tokio::task::spawn_blocking(move || engine.store().outbox_done_many(&ids)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "cannot record deliveries"),
            Err(error) => tracing::error!(%error, "cannot record deliveries"),
        }
        for (_, reply) in group {
            // Ignored: the delivery task is gone (it is delivered again after a restart).
            let _ = reply.send(());
        }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Services {
    /// The services of `configs` over `engine` (nothing is connected yet).
    pub fn new(engine: Arc<Engine>, configs: &[ServiceConfig]) -> Result<Self, StartError> {
        let mut services = HashMap::new();
        for config in configs {
            let provider = Provider::new(&config.provider).map_err(|source| StartError {
                service: config.name.clone(),
                source,
            })?;
            services.insert(
                config.name.clone(),
                Arc::new(Service {
                    config: config.clone(),
                    provider,
                    slots: Semaphore::new(config.concurrency),
                    started: AtomicUsize::new(0),
                }),
            );
        }
        let (done, done_queue) = tokio::sync::mpsc::channel(MAX_IN_FLIGHT);
        Ok(Services {
            engine,
            services,
            in_flight: Mutex::new(HashSet::new()),
            settled: Mutex::new(HashSet::new()),
            finished: Notify::new(),
            passed_over: AtomicUsize::new(0),
            last_deep_scan: Mutex::new(std::time::Instant::now()),
            done_sender: done,
            done_queue: Mutex::new(Some(done_queue)),
        })
    }

    /// The names of the configured services.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.services.keys().cloned().collect();
        names.sort();
        names
    }

    /// Runs the delivery loop until `shutdown` turns true (or its sender is dropped); then
    /// waits up to `grace` for the deliveries in flight (an unfinished one is delivered
    /// again after a restart).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        let wake = self.engine.outbox_wake().clone();
        let poll_ms = POLL.as_millis() as i64;
        if let Some(queue) = self.done_queue.lock().ok().and_then(|mut q| q.take()) {
            tokio::spawn(flush_done(self.engine.clone(), queue));
        }
        loop {
            if *shutdown.borrow() {
                break;
            }
            let start = now();
            // Plan the longest wait first: a commit from here on that owes an earlier
            // notification wakes us.
            wake.plan(Timestamp::from_millis(start.millis() + poll_ms));
            let next = match self.clone().dispatch_due(start).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(%error, "cannot read the outbox");
                    None
                }
            };
            let wait = next
                .map(|at| (at.millis() - now().millis()).clamp(0, poll_ms))
                .unwrap_or(poll_ms);
            wake.plan(Timestamp::from_millis(now().millis() + wait));
            tokio::select! {
                _ = shutdown.changed() => {}
                () = wake.woken() => {}
                () = self.finished.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            }
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.in_flight() > 0 && tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout_at(deadline, self.finished.notified()).await;
        }
    }

    /// Deliveries in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.lock().map_or(0, |s| s.len())
    }

    /// Starts the deliveries due at `at` that are not in flight yet (as far as the bounds
    /// allow) and returns when the next pending one not started falls due.
    async fn dispatch_due(self: Arc<Self>, at: Timestamp) -> Result<Option<Timestamp>, String> {
        let engine = self.engine.clone();
        // Read up to the next poll, so that entries due soon are known to the loop's wait.
        let horizon = Timestamp::from_millis(at.millis() + POLL.as_millis() as i64);
        // The entries in flight come first (they are the earliest due): read only as many
        // more as could be started now, so a wake-up costs little when many are in flight.
        let room: usize = self
            .services
            .values()
            .map(|s| (s.config.concurrency * 2).saturating_sub(s.started.load(Ordering::SeqCst)))
            .sum();
        // Entries passed over last time (their service was busy) come early again: now and
        // then read past them, so that a service with a backlog does not hide the others
        // for long — but not on every wake-up, which would read the backlog each time.
        let passed = self.passed_over.load(Ordering::SeqCst);
        let deep = passed > 0
            && self.last_deep_scan.lock().is_ok_and(|mut last| {
                let due = last.elapsed() >= DEEP_SCAN_EVERY;
                if due {
                    *last = std::time::Instant::now();
                }
                due
            });
        let limit = (self.in_flight() + room + 64 + if deep { passed } else { 0 }).min(SCAN);
        // Deliveries that end from here on may be in what is read below as still due: they
        // are noted in `settled` and not started again.
        if let Ok(mut settled) = self.settled.lock() {
            settled.clear();
        }
        let due = tokio::task::spawn_blocking(move || engine.store().due_outbox(horizon, limit))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let mut next: Option<Timestamp> = None;
        let mut passed = 0;
        for entry in due {
            if entry.next_attempt > at {
                next = Some(next.map_or(entry.next_attempt, |n| n.min(entry.next_attempt)));
                continue;
            }
            let service = self.services.get(&entry.service).cloned();
            {
                let Ok(mut in_flight) = self.in_flight.lock() else {
                    return Err("the in-flight set is poisoned".into());
                };
                if in_flight.len() >= MAX_IN_FLIGHT {
                    break;
                }
                let settled = self.settled.lock().is_ok_and(|s| s.contains(&entry.id));
                if in_flight.contains(&entry.id) || settled {
                    continue;
                }
                if let Some(service) = &service {
                    // A few more than can run, so that a slot freed is used at once; the
                    // rest wait in the store.
                    if service.started.load(Ordering::SeqCst) >= service.config.concurrency * 2 {
                        passed += 1;
                        continue;
                    }
                    service.started.fetch_add(1, Ordering::SeqCst);
                }
                in_flight.insert(entry.id.clone());
            }
            let this = self.clone();
            tokio::spawn(async move {
                let id = entry.id.clone();
                let outcome = this.deliver(entry, service.clone()).await;
                tracing::debug!(notification = %id, ?outcome, "delivery ended");
                if let Some(service) = service {
                    service.started.fetch_sub(1, Ordering::SeqCst);
                }
                if let Ok(mut in_flight) = this.in_flight.lock() {
                    if let Ok(mut settled) = this.settled.lock() {
                        settled.insert(id.clone());
                    }
                    in_flight.remove(&id);
                }
                this.finished.notify_one();
            });
        }
        if deep || passed > self.passed_over.load(Ordering::SeqCst) {
            self.passed_over.store(passed, Ordering::SeqCst);
        }
        Ok(next)
    }

    /// Delivers one notification and records the outcome.
    async fn deliver(&self, entry: OutboxEntry, service: Option<Arc<Service>>) -> Outcome {
        match self.hosted_here(&entry).await {
            Ok(Hosting::Here) => {}
            Ok(Hosting::NotFinal) => {
                // A concurrent step of another node may still replace the event that owes
                // it: a service must not act on a state that may be undone. Looked at again
                // shortly, without counting an attempt.
                let mut entry = entry;
                entry.next_attempt = now().plus_seconds(FINALITY_POLL.as_secs_f64());
                entry.last_error = Some("waiting for the event to be final".into());
                self.update(entry).await;
                return Outcome::Retry;
            }
            Ok(Hosting::Elsewhere) => {
                tracing::debug!(process = %entry.process, service = %entry.service, "service hosted by another node; not notified here");
                self.done(&entry).await;
                return Outcome::NotHosted;
            }
            Err(error @ EngineError::NotFound { .. }) => {
                tracing::info!(process = %entry.process, service = %entry.service, %error, "notification no longer owed; dropped");
                self.done(&entry).await;
                return Outcome::NotHosted;
            }
            Err(error) => {
                tracing::warn!(process = %entry.process, %error, "cannot load the process of a notification");
                return self
                    .failed(entry, None, &error.to_string(), false, None)
                    .await;
            }
        }
        let Some(service) = service else {
            let reason = format!("service '{}' is not configured on this node", entry.service);
            tracing::warn!(process = %entry.process, service = %entry.service, "{reason}");
            return self.park(entry, None, reason).await;
        };
        let delivered = {
            let Ok(_slot) = service.slots.acquire().await else {
                return Outcome::Retry;
            };
            let out = Outgoing {
                id: &entry.id,
                process: &entry.process,
                service: &entry.service,
                etag: &entry.after,
                message: &entry.message,
            };
            service.provider.send(&out).await
        };
        match delivered {
            Ok(Delivered {
                answer: Answer::Nothing,
                ..
            }) => {
                tracing::info!(process = %entry.process, service = %entry.service, notification = %entry.id, "notification delivered");
                self.done(&entry).await;
                Outcome::Delivered
            }
            Ok(Delivered {
                answer: Answer::Response(response),
                status,
            }) => self.apply_answer(entry, response, status).await,
            Err(error) => {
                let status = error.status();
                self.failed(
                    entry,
                    status,
                    &error.to_string(),
                    error.permanent(),
                    Some(&service),
                )
                .await
            }
        }
    }

    /// Whether this node notifies the service of `entry`: it is not bound to another node,
    /// and (in a shared process) the event that owed it is final. `NotFound` when the
    /// process is unknown, or that event is no longer in its chain (it lost a fork and was
    /// replaced).
    async fn hosted_here(&self, entry: &OutboxEntry) -> Result<Hosting, EngineError> {
        // A node without a key has no peers: everything is hosted here.
        let me = self.engine.node_id();
        let engine = self.engine.clone();
        let (process, actor) = (entry.process.clone(), format!("service:{}", entry.service));
        let after = entry.after.clone();
        let host = tokio::task::spawn_blocking(move || {
            let Some(view) = engine.store().view(&process)? else {
                return Err(EngineError::NotFound {
                    kind: "process",
                    id: process,
                });
            };
            // The event that owed it lost a fork and was replaced: nothing is owed.
            if engine.store().event_position(&process, &after)?.is_none() {
                return Err(EngineError::NotFound {
                    kind: "event",
                    id: after,
                });
            }
            // A process no other node takes part in is hosted here (the stored view says
            // so without loading the process).
            let shared = view
                .get("participants")
                .and_then(Value::as_array)
                .is_some_and(|nodes| nodes.len() > 1);
            if !shared || me.is_none() {
                return Ok(Hosting::Here);
            }
            engine.read(&process, |p| {
                let host = crate::chain::actor_node(p, &actor);
                if host.is_some_and(|node| Some(node) != me) {
                    return Hosting::Elsewhere;
                }
                match engine.event_status_in(p, &after) {
                    EventStatus::Final => Hosting::Here,
                    // Gone since the check above: the next look drops it.
                    EventStatus::Pending | EventStatus::Gone => Hosting::NotFinal,
                }
            })
        })
        .await
        .map_err(|e| EngineError::Store(store::Error::Corrupt(e.to_string())))??;
        Ok(host)
    }

    /// Performs the trigger action with the service's answer.
    async fn apply_answer(
        &self,
        entry: OutboxEntry,
        response: Value,
        status: Option<u16>,
    ) -> Outcome {
        let engine = self.engine.clone();
        let (process, service, after) = (
            entry.process.clone(),
            entry.service.clone(),
            entry.after.clone(),
        );
        let applied = tokio::task::spawn_blocking(move || {
            engine.service_response(&process, &service, &after, response, now())
        })
        .await;
        let applied = match applied {
            Ok(a) => a,
            Err(e) => Err(EngineError::Store(store::Error::Corrupt(e.to_string()))),
        };
        match applied {
            Ok(outcome) if !outcome.skipped => {
                tracing::info!(process = %entry.process, service = %entry.service, notification = %entry.id, "notification delivered; the answer was applied");
                self.done(&entry).await;
                Outcome::Stepped
            }
            Ok(outcome) => {
                let reason = format!(
                    "the answer's step was rejected: {}",
                    outcome.errors.join("; ")
                );
                tracing::warn!(process = %entry.process, service = %entry.service, %reason, "service answer not applied");
                self.park(entry, status, reason).await
            }
            Err(error @ EngineError::MovedOn { .. }) => {
                // Applied before (a delivery repeated after a restart), or too late.
                tracing::warn!(process = %entry.process, service = %entry.service, %error, "service answer not applied");
                self.done(&entry).await;
                Outcome::Delivered
            }
            Err(
                error @ (EngineError::Process(_)
                | EngineError::ForeignActor { .. }
                | EngineError::NotFound { .. }),
            ) => {
                let reason = format!("the answer cannot be applied: {error}");
                tracing::warn!(process = %entry.process, service = %entry.service, %reason, "service answer not applied");
                self.park(entry, status, reason).await
            }
            Err(error) => {
                tracing::warn!(process = %entry.process, service = %entry.service, %error, "service answer not applied; delivering again later");
                let service = self.services.get(&entry.service).cloned();
                self.failed(entry, status, &error.to_string(), false, service.as_deref())
                    .await
            }
        }
    }

    /// Records a failed attempt: retried later with backoff, or parked after the last one.
    async fn failed(
        &self,
        mut entry: OutboxEntry,
        status: Option<u16>,
        reason: &str,
        permanent: bool,
        service: Option<&Service>,
    ) -> Outcome {
        let policy = service.map(|s| s.config.retry).unwrap_or_default();
        entry.attempts = entry.attempts.saturating_add(1);
        entry.status = status;
        entry.last_error = Some(reason.to_string());
        let parked = permanent || entry.attempts >= policy.max_attempts;
        if parked {
            entry.state = OutboxState::Failed;
            tracing::warn!(process = %entry.process, service = %entry.service, attempts = entry.attempts, %reason, "notification failed; parked");
        } else {
            let delay = policy.delay(entry.attempts, rand::random::<f64>());
            entry.next_attempt = now().plus_seconds(delay.as_secs_f64());
            tracing::info!(process = %entry.process, service = %entry.service, attempts = entry.attempts, retry_in = ?delay, %reason, "notification failed; will retry");
        }
        self.update(entry).await;
        if parked {
            Outcome::Parked
        } else {
            Outcome::Retry
        }
    }

    /// Parks an entry as failed (one more attempt counted).
    async fn park(&self, mut entry: OutboxEntry, status: Option<u16>, reason: String) -> Outcome {
        entry.attempts = entry.attempts.saturating_add(1);
        entry.state = OutboxState::Failed;
        entry.status = status;
        entry.last_error = Some(reason);
        self.update(entry).await;
        Outcome::Parked
    }

    async fn update(&self, entry: OutboxEntry) {
        let engine = self.engine.clone();
        let id = entry.id.clone();
        match tokio::task::spawn_blocking(move || engine.store().outbox_update(&entry)).await {
            Ok(Ok(())) | Ok(Err(store::Error::NotFound { .. })) => {}
            Ok(Err(error)) => {
                tracing::error!(notification = %id, %error, "cannot record a delivery")
            }
            Err(error) => tracing::error!(notification = %id, %error, "cannot record a delivery"),
        }
    }

    /// Records a delivery: removes the entry, in one write with the deliveries that end
    /// meanwhile (see [`flush_done`]).
    async fn done(&self, entry: &OutboxEntry) {
        // Through the flusher once `run` has started it; else directly.
        let flushing = self.done_queue.lock().is_ok_and(|q| q.is_none());
        let (reply, written) = tokio::sync::oneshot::channel();
        if flushing
            && self
                .done_sender
                .send((entry.id.clone(), reply))
                .await
                .is_ok()
            && written.await.is_ok()
        {
            return;
        }
        let engine = self.engine.clone();
        let id = entry.id.clone();
        match tokio::task::spawn_blocking(move || engine.store().outbox_done(&id)).await {
            Ok(Ok(())) | Ok(Err(store::Error::NotFound { .. })) => {}
            Ok(Err(error)) => {
                tracing::error!(notification = %entry.id, %error, "cannot record a delivery")
            }
            Err(error) => {
                tracing::error!(notification = %entry.id, %error, "cannot record a delivery")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::StepActor;
    use crate::schema::SchemaRegistry;
    use crate::store::MemoryStore;
    use serde_json::{json, Map};

    const ORDER: &str = "title: Order\nactors:\n  client: {}\nactions:\n  order:\n    actor: client\n  confirm:\n    actor: service:robot\nstates:\n  initial:\n    on: order\n    goto: waiting\n  waiting:\n    notify:\n      service: robot\n    on: confirm\n    goto: (done)\n";

    #[tokio::test]
    async fn a_notification_of_a_replaced_event_is_dropped_not_delivered() {
        let store: Arc<dyn store::Store> = Arc::new(MemoryStore::new());
        let engine = Arc::new(Engine::new(store.clone(), SchemaRegistry::new()));
        let raw = crate::scenario::yaml::from_yaml(ORDER).expect("yaml");
        let (scenario, _) = engine.add_scenario(&raw, now()).expect("scenario");
        engine
            .start(&scenario, "p", Map::new(), now())
            .expect("start");
        engine
            .step("p", "order", &StepActor::key("client"), None, now())
            .expect("order");
        // Nothing listens there: a delivery attempt would fail and count an attempt.
        let configs = config::parse_services(
            &json!({"robot": {"provider": "webhook", "url": "http://127.0.0.1:9/"}}),
            "test",
        )
        .expect("config");
        let services = Arc::new(Services::new(engine.clone(), &configs).expect("services"));
        let owed = store.outbox_of("p").expect("outbox").remove(0);
        let mut replaced = owed.clone();
        replaced.after = "0".repeat(64);
        replaced.id = format!("{}:0", replaced.after);
        let service = services.services.get("robot").cloned();
        let outcome = services.deliver(replaced, service.clone()).await;
        assert_eq!(outcome, Outcome::NotHosted);
        // The real one is attempted (and fails: nothing listens).
        let outcome = services.deliver(owed.clone(), service).await;
        assert_eq!(outcome, Outcome::Retry);
        let entry = store.outbox_entry(&owed.id).expect("get").expect("entry");
        assert_eq!(entry.attempts, 1);
        assert!(
            entry
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("cannot reach the service: ")),
            "{entry:?}"
        );
    }

    /// In a process shared with another node, a notification waits (without counting an
    /// attempt) until the event that owes it is final: every participant holds it.
    #[tokio::test]
    async fn a_notification_waits_for_its_event_to_be_final() {
        let store: Arc<dyn store::Store> = Arc::new(MemoryStore::new());
        let key = Arc::new(crate::chain::NodeKey::from_bytes(&[1; 32]));
        let other = crate::chain::NodeKey::from_bytes(&[2; 32]);
        let engine =
            Arc::new(Engine::new(store.clone(), SchemaRegistry::new()).with_key(key.clone()));
        let raw = crate::scenario::yaml::from_yaml(ORDER).expect("yaml");
        let (scenario, _) = engine.add_scenario(&raw, now()).expect("scenario");
        let mut actors = Map::new();
        actors.insert("client".into(), json!({"node": other.id().to_string()}));
        let started = engine.start(&scenario, "p", actors, now()).expect("start");
        // The client's order, made at the other node, arrives here.
        let mut branch = started.clone();
        branch
            .step("order", &StepActor::key("client"), None, now())
            .expect("order");
        let mut order = branch.last_event().clone();
        crate::chain::sign_event(&other, &mut order).expect("sign");
        let rules = crate::chain::ReceiptRules {
            now: now(),
            max_skew_ms: 60_000,
        };
        engine
            .receive("p", &order, other.id(), rules)
            .expect("receive");
        let configs = config::parse_services(
            &json!({"robot": {"provider": "webhook", "url": "http://127.0.0.1:9/"}}),
            "test",
        )
        .expect("config");
        let services = Arc::new(Services::new(engine.clone(), &configs).expect("services"));
        let owed = store.outbox_of("p").expect("outbox").remove(0);
        let service = services.services.get("robot").cloned();
        let outcome = services.deliver(owed.clone(), service.clone()).await;
        assert_eq!(outcome, Outcome::Retry);
        let entry = store.outbox_entry(&owed.id).expect("get").expect("entry");
        assert_eq!(entry.attempts, 0);
        assert_eq!(
            entry.last_error.as_deref(),
            Some("waiting for the event to be final")
        );
        // The other node announces that it holds the order: final, so it is attempted
        // (and fails: nothing listens there).
        let head = crate::chain::SignedHead::sign(&other, "p", order.hash(), 2, Some(2));
        engine.observe_head(&head).expect("head");
        let outcome = services.deliver(entry, service).await;
        assert_eq!(outcome, Outcome::Retry);
        let entry = store.outbox_entry(&owed.id).expect("get").expect("entry");
        assert_eq!(entry.attempts, 1, "{entry:?}");
    }

    #[test]
    fn only_errors_a_retry_can_mend_are_retried() {
        let status = |status| DeliveryError::Status {
            status,
            body: String::new(),
        };
        for retried in [
            status(500),
            status(503),
            status(408),
            status(429),
            DeliveryError::Timeout(Duration::from_secs(1)),
            DeliveryError::Connect("refused".into()),
        ] {
            assert!(!retried.permanent(), "{retried}");
        }
        for parked in [
            status(400),
            status(404),
            DeliveryError::Redirect("loop".into()),
            DeliveryError::TooLarge { limit: 10 },
            DeliveryError::BadAnswer("x".into()),
        ] {
            assert!(parked.permanent(), "{parked}");
        }
        assert_eq!(status(503).status(), Some(503));
        assert_eq!(DeliveryError::Timeout(Duration::ZERO).status(), None);
        assert_eq!(
            DeliveryError::Status {
                status: 500,
                body: " boom \n".into()
            }
            .to_string(),
            "the service answered HTTP 500: boom"
        );
        assert_eq!(status(500).to_string(), "the service answered HTTP 500");
    }
}
