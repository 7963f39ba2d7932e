//! The node's engine: scenarios and processes on top of the store, with one write path —
//! "apply one event to a process and commit it durably" — whoever produced the event (the
//! local API now, a peer later). Work on one process is serialized by a lock per process;
//! different processes proceed in parallel. The API is synchronous (the store is); async
//! callers run it on a blocking thread.
//!
//! With [`Engine::with_group_commit`] the commits of concurrent steps go through one
//! [`Committer`] thread that writes them together, one durable transaction for many steps;
//! each step still returns only after its own commit is durable.
//!
//! Loaded processes stay in memory for the next step, up to [`Engine::with_cache_capacity`]
//! of them; beyond it, the ones used longest ago that no one is working on are dropped (and
//! replayed from the store when asked for again).

use super::committer::{CommitStats, Committer, GroupCommit};
use super::fork::{ForkCounters, Rebases, Watch};
use super::timers::TimerWake;
use crate::chain::{self, NodeId, NodeKey, ReceiptRules, Refusal};
use crate::process::{self, Event, Process, Scenario, StepActor, StepOutcome, Timestamp};
use crate::scenario::normalize::normalize;
use crate::scenario::validate::validate;
use crate::schema::{SchemaRegistry, ValidationError};
use crate::store::{self, AppendBatch, OutboxEntry, ScenarioRecord, Store};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// What can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No scenario or process with that id.
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// `scenario` or `process`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The scenario does not validate.
    #[error("invalid scenario: {}", crate::schema::errors_text(.0))]
    InvalidScenario(Vec<ValidationError>),
    /// The scenario cannot be normalized or prepared.
    #[error("invalid scenario: {0}")]
    Scenario(String),
    /// The scenario is disabled: it starts no new processes.
    #[error("scenario '{0}' is disabled")]
    Disabled(String),
    /// A process with that id exists already.
    #[error("process '{0}' already exists")]
    Exists(String),
    /// The engine refused the operation (e.g. an unknown actor at the start).
    #[error(transparent)]
    Process(#[from] process::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The actor of a step belongs to another node: only that node may act for it.
    #[error("Actor '{actor}' of process '{process}' belongs to node {node}; act for it through that node")]
    ForeignActor {
        /// The process.
        process: String,
        /// The actor key.
        actor: String,
        /// The node bound to the actor (its id).
        node: String,
    },
    /// An event received from a peer is refused.
    #[error(transparent)]
    Refused(Box<Refusal>),
    /// An event received from a peer names a scenario this node does not hold yet.
    #[error("scenario '{0}' is unknown here; fetch it first")]
    UnknownScenario(String),
    /// A service answered a notification owed since an event the process has moved past.
    #[error("process '{process}' has moved on since the notification (it was owed after event {after}, the last event is {head})")]
    MovedOn {
        /// The process.
        process: String,
        /// The event the notification was owed after.
        after: String,
        /// The process's last event now.
        head: String,
    },
    /// The committer thread could not be started.
    #[error("cannot start the committer thread: {0}")]
    Committer(#[source] std::io::Error),
}

impl From<Refusal> for EngineError {
    fn from(refusal: Refusal) -> Self {
        EngineError::Refused(Box::new(refusal))
    }
}

/// Result with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// One slot per process: `None` until loaded from the store.
type Slot = Arc<Mutex<Option<Process>>>;

/// Processes kept loaded in memory by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// The slots of the processes in memory, each with the tick of its last use.
#[derive(Default)]
struct Slots {
    map: HashMap<String, (Slot, u64)>,
    tick: u64,
}

impl Slots {
    /// The slot of `id` (a new one if there is none), marked as used now. When there are
    /// more than `capacity`, the idle ones used longest ago are dropped first, down to
    /// three quarters of `capacity` — so the sorting this takes is paid once every
    /// `capacity / 4` new slots.
    fn get(&mut self, id: &str, capacity: usize) -> Slot {
        self.tick += 1;
        let tick = self.tick;
        if let Some((slot, used)) = self.map.get_mut(id) {
            *used = tick;
            return slot.clone();
        }
        if self.map.len() >= capacity {
            self.evict(capacity - capacity / 4);
        }
        let slot = Slot::default();
        self.map.insert(id.to_string(), (slot.clone(), tick));
        slot
    }

    /// Drops idle slots, oldest first, until at most `keep` are left. A slot is idle when
    /// only this map holds it: no one holds or waits for its lock (and no one can start
    /// to, as the map is locked while this runs).
    fn evict(&mut self, keep: usize) {
        let mut idle: Vec<(u64, String)> = self
            .map
            .iter()
            .filter(|(_, (slot, _))| Arc::strong_count(slot) == 1)
            .map(|(id, (_, used))| (*used, id.clone()))
            .collect();
        idle.sort_unstable();
        let excess = self.map.len().saturating_sub(keep);
        for (_, id) in idle.into_iter().take(excess) {
            self.map.remove(&id);
        }
    }
}

/// Scenarios and processes of one node.
pub struct Engine {
    store: Arc<dyn Store>,
    registry: SchemaRegistry,
    scenarios: RwLock<HashMap<String, Arc<Scenario>>>,
    processes: Mutex<Slots>,
    /// Processes kept loaded at most (see [`Slots::get`]).
    cache_capacity: usize,
    /// Group commit; `None`: each step commits on its own, on the caller's thread.
    committer: Option<Committer>,
    timers: Arc<TimerWake>,
    /// Told of every notification a commit owes, so the services can deliver at once.
    outbox: Arc<TimerWake>,
    /// The node's key: it signs every event the node authors. `None`: events stay unsigned
    /// (an embedded engine without peers).
    key: Option<Arc<NodeKey>>,
    /// Told of every committed event, for delivery to the other participants. A hint
    /// only: when it is full the periodic head exchange delivers later.
    appended: Option<tokio::sync::mpsc::Sender<Appended>>,
    /// Rejected attempts kept per process.
    pub(super) rejected_kept: usize,
    /// The finality of the shared processes (see `fork.rs`); locked after a process's lock,
    /// never before.
    pub(super) watches: Mutex<HashMap<String, Watch>>,
    /// What became of this node's steps that lost a fork.
    pub(super) rebases: Mutex<Rebases>,
    /// How often forks happened.
    pub(super) forks: ForkCounters,
}

/// Events just committed to a process, for the network to deliver.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The process.
    pub process: String,
    /// The new events, in chain order.
    pub events: Vec<Event>,
    /// The participants of the process after them.
    pub participants: Vec<NodeId>,
    /// The peer the events came from (`None`: made here).
    pub from: Option<NodeId>,
    /// When they were committed here (the step is acknowledged from then on).
    pub committed: Timestamp,
}

/// What receiving an event from a peer came to (refusals are [`EngineError::Refused`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Applied and committed.
    Applied,
    /// Held already (same hash).
    Duplicate,
    /// A sibling of an event this node holds, which wins the fork choice against it: not
    /// stored (no fault of the sender's; it switches once it learns of the winner).
    Superseded {
        /// The winning event held here.
        by: String,
    },
}

/// Rejected attempts kept per process by default.
pub const DEFAULT_REJECTED_KEPT: usize = 100;

impl Engine {
    /// An engine over `store`, resolving local schema names with `registry`. Each step is
    /// committed on its own, on the caller's thread.
    pub fn new(store: Arc<dyn Store>, registry: SchemaRegistry) -> Self {
        Engine {
            store,
            registry,
            scenarios: RwLock::new(HashMap::new()),
            processes: Mutex::new(Slots::default()),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            committer: None,
            timers: Arc::new(TimerWake::new()),
            outbox: Arc::new(TimerWake::new()),
            key: None,
            appended: None,
            rejected_kept: DEFAULT_REJECTED_KEPT,
            watches: Mutex::new(HashMap::new()),
            rebases: Mutex::new(Rebases::default()),
            forks: ForkCounters::default(),
        }
    }

    /// Signs every event this node authors with `key` (and checks that local users act
    /// only for actors bound to this node).
    pub fn with_key(mut self, key: Arc<NodeKey>) -> Self {
        self.key = Some(key);
        self
    }

    /// Tells `sender` of every committed event (see [`Appended`]).
    pub fn with_delivery(mut self, sender: tokio::sync::mpsc::Sender<Appended>) -> Self {
        self.appended = Some(sender);
        self
    }

    /// This node's id, when it has a key.
    pub fn node_id(&self) -> Option<NodeId> {
        self.key.as_ref().map(|k| k.id())
    }

    /// The node's key, when it has one.
    pub fn key(&self) -> Option<&Arc<NodeKey>> {
        self.key.as_ref()
    }

    /// An engine whose steps are committed by a [`Committer`] thread, together with the
    /// steps of concurrent callers (group commit). Each step still returns only once its
    /// own commit is durable. The thread ends when the engine is dropped.
    pub fn with_group_commit(
        store: Arc<dyn Store>,
        registry: SchemaRegistry,
        settings: GroupCommit,
    ) -> Result<Self> {
        let committer =
            Committer::spawn(store.clone(), settings).map_err(EngineError::Committer)?;
        let mut engine = Engine::new(store, registry);
        engine.committer = Some(committer);
        Ok(engine)
    }

    /// Keeps at most `capacity` (at least 1) processes loaded in memory instead of
    /// [`DEFAULT_CACHE_CAPACITY`].
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity.max(1);
        self
    }

    /// The number of processes loaded in memory (or being loaded).
    pub fn cached_processes(&self) -> usize {
        self.slots().map.len()
    }

    /// What the committer has written so far (`None` without group commit).
    pub fn commit_stats(&self) -> Option<CommitStats> {
        self.committer.as_ref().map(Committer::stats)
    }

    /// Told of every timer a commit sets, so a timer loop can wake up early.
    pub fn timer_wake(&self) -> &Arc<TimerWake> {
        &self.timers
    }

    /// Told of every notification a commit owes, so a delivery loop can wake up early.
    pub fn outbox_wake(&self) -> &Arc<TimerWake> {
        &self.outbox
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The schema registry.
    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// Validates, normalizes and stores a scenario (as loaded from YAML or JSON). Returns
    /// its content-derived id and whether it was new. Storing the same content twice is
    /// harmless; a disabled scenario stored again is enabled again.
    pub fn add_scenario(&self, raw: &Value, at: Timestamp) -> Result<(String, bool)> {
        validate(raw, &self.registry).map_err(EngineError::InvalidScenario)?;
        let normalized = normalize(raw).map_err(|e| EngineError::Scenario(e.to_string()))?;
        let scenario = Scenario::new(normalized, &self.registry)
            .map_err(|e| EngineError::Scenario(e.to_string()))?;
        let id = scenario.id().to_string();
        let created = self.store.put_scenario(&id, scenario.json(), at)?;
        if !created {
            self.store.set_scenario_disabled(&id, false)?;
        }
        self.cache_scenario(Arc::new(scenario));
        Ok((id, created))
    }

    /// Stores a normalized scenario fetched from a peer for a process it shares, after
    /// checking that its content gives the id it was asked for. Stored disabled: it serves
    /// the shared processes, but starts none here until a user stores it.
    pub fn add_fetched_scenario(&self, id: &str, normalized: Value, at: Timestamp) -> Result<()> {
        let scenario = Scenario::new(normalized, &self.registry)
            .map_err(|e| EngineError::Scenario(e.to_string()))?;
        if scenario.id() != id {
            return Err(EngineError::Scenario(format!(
                "the scenario sent as '{id}' has the content id '{}'",
                scenario.id()
            )));
        }
        if self.store.put_scenario(id, scenario.json(), at)? {
            self.store.set_scenario_disabled(id, true)?;
        }
        self.cache_scenario(Arc::new(scenario));
        Ok(())
    }

    /// The stored scenario record (normalized JSON, disabled flag).
    pub fn scenario_record(&self, id: &str) -> Result<ScenarioRecord> {
        self.store
            .scenario(id)?
            .ok_or_else(|| EngineError::NotFound {
                kind: "scenario",
                id: id.to_string(),
            })
    }

    /// All stored scenarios.
    pub fn scenarios(&self) -> Result<Vec<ScenarioRecord>> {
        Ok(self.store.scenarios()?)
    }

    /// Disables a scenario: it is hidden and starts no new processes; running processes
    /// keep working.
    pub fn disable_scenario(&self, id: &str) -> Result<()> {
        self.scenario_record(id)?;
        Ok(self.store.set_scenario_disabled(id, true)?)
    }

    /// The prepared scenario `id` (cached after first use).
    pub fn scenario(&self, id: &str) -> Result<Arc<Scenario>> {
        if let Some(s) = self.scenarios.read().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(s);
        }
        let record = self.scenario_record(id)?;
        let scenario = Scenario::with_id(record.id, record.json, &self.registry)
            .map_err(|e| EngineError::Scenario(e.to_string()))?;
        let scenario = Arc::new(scenario);
        self.cache_scenario(scenario.clone());
        Ok(scenario)
    }

    fn cache_scenario(&self, scenario: Arc<Scenario>) {
        if let Ok(mut map) = self.scenarios.write() {
            map.insert(scenario.id().to_string(), scenario);
        }
    }

    /// Starts a process of scenario `scenario_id` with id `process_id` at `at`, with actor
    /// properties given at the start (e.g. `{"client": {"id": "u1"}}`).
    pub fn start(
        &self,
        scenario_id: &str,
        process_id: &str,
        actors: Map<String, Value>,
        at: Timestamp,
    ) -> Result<Process> {
        let record = self.scenario_record(scenario_id)?;
        if record.disabled {
            return Err(EngineError::Disabled(scenario_id.to_string()));
        }
        let scenario = self.scenario(scenario_id)?;
        let slot = self.slot(process_id);
        let mut guard = lock(&slot);
        if guard.is_some() || self.store.head(process_id)?.is_some() {
            return Err(EngineError::Exists(process_id.to_string()));
        }
        let mut process = Process::instantiate(scenario, process_id, actors, at)?;
        self.seal(&mut process, 0);
        self.commit(&process, 0, true, None)?;
        *guard = Some(process.clone());
        Ok(process)
    }

    /// `actor` performs `action` on process `id` at `at`. A rejected step is recorded as a
    /// skipped event (and committed) like an accepted one; the outcome tells which.
    pub fn step(
        &self,
        id: &str,
        action: &str,
        actor: &StepActor,
        response: Option<Value>,
        at: Timestamp,
    ) -> Result<(StepOutcome, Process)> {
        self.step_then(id, action, actor, response, at, Process::clone)
    }

    /// [`Engine::step`], handing the process after the step to `then` instead of copying it
    /// (a long process is costly to copy).
    pub fn step_then<T>(
        &self,
        id: &str,
        action: &str,
        actor: &StepActor,
        response: Option<Value>,
        at: Timestamp,
        then: impl FnOnce(&Process) -> T,
    ) -> Result<(StepOutcome, T)> {
        let mut rejected = None;
        let result = self.with_process(
            id,
            |process| {
                self.check_own_actor(process, actor.actor_key())?;
                let before = process.events().len();
                // The time was taken before the lock: a step that got it first may be later.
                // An event is never earlier than its parent (peers refuse that).
                let at = at.max(process.last_event().timestamp());
                let outcome = process.step(action, actor, response, at)?;
                if outcome.skipped {
                    // A rejected attempt never enters the chain: it is kept locally.
                    rejected = process.discard_rejected();
                }
                let moved = !outcome.skipped;
                Ok((outcome, before, moved))
            },
            then,
        );
        if let Some(attempt) = rejected {
            let entry = super::rejected::entry(&attempt);
            if let Err(error) = self.store.push_rejected(id, &entry, self.rejected_kept) {
                tracing::warn!(process = %id, %error, "rejected attempt not kept");
            }
        }
        result
    }

    /// Service `service` answered the notification owed since event `after` of process
    /// `id` with `response`: its notify entry's `trigger` action is performed as actor
    /// `service:NAME` through the one write path (SPEC 2.9). Refused with
    /// [`EngineError::MovedOn`] when the process has moved past `after` (the answer came
    /// too late, or was applied before a restart), with a process error when the state has
    /// no trigger for the service. A rejected step is kept as a rejected attempt, as a
    /// user's is, and its outcome tells why.
    pub fn service_response(
        &self,
        id: &str,
        service: &str,
        after: &str,
        response: Value,
        at: Timestamp,
    ) -> Result<StepOutcome> {
        let mut rejected = None;
        let result = self.with_process(
            id,
            |process| {
                let head = process.last_event().hash().to_string();
                if head != after {
                    return Err(EngineError::MovedOn {
                        process: process.id().to_string(),
                        after: after.to_string(),
                        head,
                    });
                }
                self.check_own_actor(process, &format!("service:{service}"))?;
                let before = process.events().len();
                let at = at.max(process.last_event().timestamp());
                let outcome = process.service_response(service, response, at)?;
                if outcome.skipped {
                    rejected = process.discard_rejected();
                }
                let moved = !outcome.skipped;
                Ok((outcome, before, moved))
            },
            |_| (),
        );
        if let Some(attempt) = rejected {
            let entry = super::rejected::entry(&attempt);
            if let Err(error) = self.store.push_rejected(id, &entry, self.rejected_kept) {
                tracing::warn!(process = %id, %error, "rejected attempt not kept");
            }
        }
        result.map(|(outcome, ())| outcome)
    }

    /// The notifications of process `id` owed to `service` (pending or failed), made due
    /// at `at` again and pending (a failed one gets one more attempt); the delivery loop
    /// is woken. Returns them (none when nothing is owed to that service).
    pub fn retry_notifications(
        &self,
        id: &str,
        service: &str,
        at: Timestamp,
    ) -> Result<Vec<OutboxEntry>> {
        let mut retried = Vec::new();
        for mut entry in self.store.outbox_of(id)? {
            if entry.service != service {
                continue;
            }
            entry.state = store::OutboxState::Pending;
            entry.next_attempt = at;
            match self.store.outbox_update(&entry) {
                // Delivered meanwhile.
                Err(store::Error::NotFound { .. }) => continue,
                other => other?,
            }
            retried.push(entry);
        }
        if !retried.is_empty() {
            self.outbox.scheduled(at);
        }
        Ok(retried)
    }

    /// The rejected attempts kept for process `id`, oldest first.
    pub fn rejected(&self, id: &str) -> Result<Vec<Value>> {
        Ok(self.store.rejected(id)?)
    }

    /// Fails when this node has a key, the process is shared (signed) and `actor` is bound
    /// to another node.
    fn check_own_actor(&self, process: &Process, actor: &str) -> Result<()> {
        let Some(me) = self.node_id() else {
            return Ok(());
        };
        match chain::actor_node(process, actor) {
            Some(node) if node != me => Err(EngineError::ForeignActor {
                process: process.id().to_string(),
                actor: actor.to_string(),
                node: node.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Fires the due timeout transition of process `id` at `at`; `None` when none is due
    /// (nothing is recorded then).
    pub fn timeout(&self, id: &str, at: Timestamp) -> Result<Option<Process>> {
        let (fired, process) = self.timeout_then(id, |_| at, Process::clone)?;
        Ok(fired.then_some(process))
    }

    /// Fires the due timeout transition of process `id` at the time `at` gives for it, and
    /// hands the process afterwards to `then`; `false` when none was due.
    fn timeout_then<T>(
        &self,
        id: &str,
        at: impl FnOnce(&Process) -> Timestamp,
        then: impl FnOnce(&Process) -> T,
    ) -> Result<(bool, T)> {
        self.with_process(
            id,
            |process| {
                let before = process.events().len();
                let fired = process.timeout(at(process))?;
                Ok((fired, before, fired))
            },
            then,
        )
    }

    /// Fires every timer due at `now` (after a restart too: due timers fire on start) and
    /// returns the ids of the processes that moved.
    pub fn fire_due_timers(&self, now: Timestamp) -> Result<Vec<String>> {
        Ok(self.fire_timers(&self.store.due_timers(now)?))
    }

    /// Fires the timers `due` (as [`TimerStore::due_timers`](crate::store::TimerStore::due_timers)
    /// lists them) and returns the ids of the processes that moved. A timer that cannot be
    /// fired is logged and stays.
    pub fn fire_timers(&self, due: &[(Timestamp, String)]) -> Vec<String> {
        let mut moved = Vec::new();
        for (due, id) in due {
            // One process that cannot be loaded or stepped must not hold up the others:
            // its timer stays and is tried again next time.
            match self.fire_timer(id, *due) {
                Ok(true) => moved.push(id.clone()),
                Ok(false) => {}
                Err(error) => tracing::warn!(process = %id, %error, "timer not fired"),
            }
        }
        moved
    }

    /// Fires the timer of process `id` that fell due at `due`; `false` when its timeout
    /// did not apply (the timer is then cleared until the state changes).
    fn fire_timer(&self, id: &str, due: Timestamp) -> Result<bool> {
        // Fire at the time it was due, so the chain shows when the timeout happened.
        let at = |process: &Process| due.max(process.last_event().timestamp());
        let (fired, ()) = self.timeout_then(id, at, |_| ())?;
        if !fired {
            self.store.set_timer(id, None)?;
        }
        Ok(fired)
    }

    /// The process `id`.
    pub fn process(&self, id: &str) -> Result<Process> {
        self.read(id, Process::clone)
    }

    /// Runs `f` on process `id` under its lock, without copying the process.
    pub fn read<T>(&self, id: &str, f: impl FnOnce(&Process) -> T) -> Result<T> {
        let slot = self.slot(id);
        let mut guard = lock(&slot);
        Ok(f(self.loaded(id, &mut guard)?))
    }

    /// Runs `apply` on process `id` under its lock and commits the events it appended.
    /// `apply` returns its result, the number of events before it ran and whether the
    /// process state changed (so timers and notifications are due anew); `then` reads the
    /// process afterwards, still under the lock.
    pub(crate) fn with_process<T, R>(
        &self,
        id: &str,
        apply: impl FnOnce(&mut Process) -> Result<(T, usize, bool)>,
        then: impl FnOnce(&Process) -> R,
    ) -> Result<(T, R)> {
        let slot = self.slot(id);
        let mut guard = lock(&slot);
        let process = self.loaded(id, &mut guard)?;
        let (out, before, moved) = match apply(process) {
            Ok(r) => r,
            Err(e) => {
                // The cached process may be half-changed: reload it next time.
                *guard = None;
                return Err(e);
            }
        };
        if process.events().len() > before {
            self.seal(process, before);
            if let Err(e) = self.commit(process, before, moved, None) {
                *guard = None;
                return Err(e);
            }
        }
        Ok((out, then(process)))
    }

    /// The loaded process in `slot`, read and replayed from the store if needed.
    fn loaded<'a>(
        &self,
        id: &str,
        slot: &'a mut MutexGuard<'_, Option<Process>>,
    ) -> Result<&'a mut Process> {
        if slot.is_none() {
            **slot = Some(self.replay_stored(id)?);
        }
        slot.as_mut().ok_or_else(|| EngineError::NotFound {
            kind: "process",
            id: id.to_string(),
        })
    }

    /// Process `id` rebuilt from its stored events, which verifies the whole chain. Fails
    /// with `NotFound` (process) when there are no events or the first is no instantiate
    /// event, with `Process` when the events do not replay.
    pub(crate) fn replay_stored(&self, id: &str) -> Result<Process> {
        let events = match self.store.events(id) {
            Err(store::Error::NotFound { .. }) => vec![],
            other => other?,
        };
        let Some(Event::Instantiate(first)) = events.first() else {
            return Err(EngineError::NotFound {
                kind: "process",
                id: id.to_string(),
            });
        };
        let scenario = self.scenario(&first.scenario)?;
        Ok(process::replay(scenario, &events)?)
    }

    /// Commits the events from index `from` on, with the view, the next timer and — when
    /// the state changed — the notifications owed, in one durable write.
    fn commit(
        &self,
        process: &Process,
        from: usize,
        moved: bool,
        source: Option<NodeId>,
    ) -> Result<()> {
        self.write(process, from, moved, source, false)
    }

    /// Commits `process` after a switch of branch: its events from index `from` on replace
    /// the stored ones from that position. Written directly, not through the committer: the
    /// caller holds the process's lock, so no other write of it is queued there.
    pub(super) fn commit_replacing(
        &self,
        process: &Process,
        from: usize,
        source: Option<NodeId>,
    ) -> Result<()> {
        self.write(process, from, true, source, true)
    }

    fn write(
        &self,
        process: &Process,
        from: usize,
        moved: bool,
        source: Option<NodeId>,
        replace: bool,
    ) -> Result<()> {
        let events = process.events()[from..].to_vec();
        let last = process.last_event();
        let outbox = if moved {
            process
                .notify_messages()?
                .into_iter()
                .enumerate()
                .map(|(n, m)| OutboxEntry {
                    id: format!("{}:{n}", last.hash()),
                    process: process.id().to_string(),
                    service: m.service,
                    after: last.hash().to_string(),
                    message: m.message,
                    attempts: 0,
                    next_attempt: process.current_timestamp().plus_seconds(m.after),
                    state: store::OutboxState::Pending,
                    status: None,
                    last_error: None,
                })
                .collect()
        } else {
            vec![]
        };
        let timer = timer_of(process);
        let owed = outbox.iter().map(|o| o.next_attempt).min();
        let delivery = self.appended.as_ref().map(|sender| {
            (
                sender,
                Appended {
                    process: process.id().to_string(),
                    events: events.clone(),
                    participants: chain::participants(process).into_iter().collect(),
                    from: source,
                    committed: Timestamp::from_millis(0),
                },
            )
        });
        let mut view = view_of(process);
        view["final"] = self.stored_final(process).into();
        let batch = AppendBatch {
            events,
            view,
            timer,
            outbox,
        };
        match &self.committer {
            _ if replace => self.store.replace(process.id(), from as u64, batch)?,
            Some(committer) => committer.commit(process.id(), batch)?,
            None => self.store.append(process.id(), batch)?,
        }
        self.refresh_finality(process);
        if let Some(at) = timer {
            self.timers.scheduled(at);
        }
        if let Some(at) = owed {
            self.outbox.scheduled(at);
        }
        if let Some((sender, mut appended)) = delivery {
            appended.committed = super::timers::now();
            // Only shared processes travel; a full channel is caught up by the head exchange.
            if appended.participants.len() > 1 && sender.try_send(appended).is_err() {
                tracing::debug!(process = %process.id(), "delivery queue full; left to sync");
            }
        }
        Ok(())
    }

    /// Signs the events from index `from` on, when this node has a key.
    pub(super) fn seal(&self, process: &mut Process, from: usize) {
        if let Some(key) = &self.key {
            let signer = key.id().to_string();
            process.seal_events(from, |event| {
                match chain::event_signature(key, event.hash()) {
                    Ok(signature) => (Some(signer.clone()), Some(signature)),
                    Err(_) => (None, None),
                }
            });
        }
    }

    /// Applies an event received from peer `from` through the same write path as a local
    /// step: the checks of [`chain::check_received`], then replay with the `process` layer
    /// (an action must be accepted, a timeout due), then one durable commit. A refused event
    /// changes nothing and is never stored.
    pub fn receive(
        &self,
        process_id: &str,
        event: &Event,
        from: NodeId,
        rules: ReceiptRules,
    ) -> Result<Received> {
        let refused = |reason: String| {
            EngineError::from(Refusal::Invalid {
                hash: event.hash().to_string(),
                reason,
            })
        };
        if let Event::Action(action) = event {
            if action.skipped {
                return Err(refused("rejected attempts are never shared".into()));
            }
        }
        let slot = self.slot(process_id);
        let mut guard = lock(&slot);
        if let Event::Instantiate(start) = event {
            if start.id != process_id {
                return Err(refused(format!("it starts process '{}'", start.id)));
            }
            if let Some(head) = self.store.head(process_id)? {
                if self.store.event_position(process_id, event.hash())? == Some(0) {
                    return Ok(Received::Duplicate);
                }
                return Err(refused(format!(
                    "process '{process_id}' exists with another start (head {})",
                    head.hash
                )));
            }
            let process = self.received_start(process_id, std::slice::from_ref(event), rules)?;
            self.commit(&process, 0, true, Some(from))?;
            *guard = Some(process);
            return Ok(Received::Applied);
        }
        if self
            .store
            .event_position(process_id, event.hash())?
            .is_some()
        {
            return Ok(Received::Duplicate);
        }
        let process = self.loaded(process_id, &mut guard)?;
        let previous = event.previous().unwrap_or_default();
        if previous != process.last_event().hash() {
            let parent = chain::position(process.events(), previous);
            let Some(parent) = parent else {
                return Err(EngineError::from(Refusal::Orphan {
                    hash: event.hash().to_string(),
                    previous: previous.to_string(),
                }));
            };
            let result = self.take_sibling(&mut guard, event, parent + 1, from, rules);
            if matches!(result, Err(EngineError::Store(_))) {
                // The write failed: reload from the store next time.
                *guard = None;
            }
            return result;
        }
        chain::check_received(Some(process), event, rules)?;
        let before = process.events().len();
        if let Err(refusal) = super::fork::applied(process, event) {
            // The cached process may hold the refused event or be half-changed.
            *guard = None;
            return Err(refusal);
        }
        if let Err(e) = self.commit(process, before, true, Some(from)) {
            *guard = None;
            return Err(e);
        }
        Ok(Received::Applied)
    }

    /// Applies the whole chain of a process this node does not hold yet, received from
    /// peer `from` (a catch-up): every event is checked as [`Engine::receive`] checks it and
    /// replayed, and the chain is committed at once only if this node is a participant at
    /// its end — which covers a node bound to an actor by a later step, who takes no part at
    /// the start.
    pub fn receive_chain(
        &self,
        process_id: &str,
        events: &[Event],
        from: NodeId,
        rules: ReceiptRules,
    ) -> Result<Received> {
        let slot = self.slot(process_id);
        let mut guard = lock(&slot);
        if self.store.head(process_id)?.is_some() {
            return Ok(Received::Duplicate);
        }
        let process = self.received_start(process_id, events, rules)?;
        self.commit(&process, 0, true, Some(from))?;
        *guard = Some(process);
        Ok(Received::Applied)
    }

    /// A process new here, from the first `events` of its chain as received from a peer:
    /// each is checked as [`Engine::receive`] checks it and replayed, and this node must be
    /// a participant at the end of them. Nothing is stored.
    fn received_start(
        &self,
        process_id: &str,
        events: &[Event],
        rules: ReceiptRules,
    ) -> Result<Process> {
        let Some(first @ Event::Instantiate(start)) = events.first() else {
            return Err(EngineError::NotFound {
                kind: "process",
                id: process_id.to_string(),
            });
        };
        let refused = |event: &Event, reason: String| {
            EngineError::from(Refusal::Invalid {
                hash: event.hash().to_string(),
                reason,
            })
        };
        if start.id != process_id {
            return Err(refused(first, format!("it starts process '{}'", start.id)));
        }
        chain::check_received(None, first, rules)?;
        let scenario = match self.scenario(&start.scenario) {
            Err(EngineError::NotFound { .. }) => {
                return Err(EngineError::UnknownScenario(start.scenario.clone()))
            }
            other => other?,
        };
        let mut process = process::replay(scenario, std::slice::from_ref(first))
            .map_err(|e| refused(first, e.to_string()))?;
        for event in &events[1..] {
            if matches!(event, Event::Action(a) if a.skipped) {
                return Err(refused(event, "rejected attempts are never shared".into()));
            }
            chain::check_received(Some(&process), event, rules)?;
            super::fork::applied(&mut process, event)?;
        }
        if !self
            .node_id()
            .is_some_and(|me| chain::participants(&process).contains(&me))
        {
            return Err(refused(
                first,
                format!("this node takes no part in process '{process_id}'"),
            ));
        }
        Ok(process)
    }

    fn slot(&self, id: &str) -> Slot {
        self.slots().get(id, self.cache_capacity)
    }

    /// Whether someone holds or waits for the lock of process `id` (tests).
    #[cfg(test)]
    pub(crate) fn slot_in_use(&self, id: &str) -> bool {
        self.slots()
            .map
            .get(id)
            .is_some_and(|(slot, _)| Arc::strong_count(slot) > 1)
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.processes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pending timer of a process: its next timeout while it runs.
pub fn timer_of(process: &Process) -> Option<Timestamp> {
    process
        .is_running()
        .then(|| process.next_timeout())
        .flatten()
}

/// The stored view of a process: what a listing shows of it — `id`, `title`, `isRunning`,
/// `tags`, `scenario` (its id), `actors`, `current` (`key`, `title`, `timestamp`), `created`
/// and `lastUpdated` (the times of the first and the last event). It is written with every
/// step, so it leaves out what grows with the process (`previous`, `vars`, the events): a
/// step of a long process costs no more to store than one of a short process. The whole
/// process comes from its events.
pub fn view_of(process: &Process) -> Value {
    let doc = process.data();
    let field = |name: &str| doc.get(name).cloned().unwrap_or(Value::Null);
    let created = process
        .events()
        .first()
        .map_or(Value::Null, |e| Value::String(e.timestamp().to_iso()));
    serde_json::json!({
        "id": field("id"),
        "title": field("title"),
        "isRunning": field("isRunning"),
        "tags": field("tags"),
        "scenario": process.scenario().id(),
        "actors": field("actors"),
        "current": current_summary(doc),
        "created": created,
        "lastUpdated": process.last_event().timestamp().to_iso(),
        "participants": chain::participants(process),
    })
}

/// The number of final events a stored view records (0 when it records none: views of
/// processes no other node takes part in, or written before finality existed).
pub fn final_of_view(view: Option<&Value>) -> u64 {
    view.and_then(|v| v.get("final"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// `{key, title, timestamp}` of the `current` state of a process document or view: what a
/// listing shows of it (views written by earlier versions hold the whole state).
pub fn current_summary(doc: &Value) -> Value {
    let current = doc.get("current");
    let field = |name: &str| {
        current
            .and_then(|c| c.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    serde_json::json!({
        "key": field("key"),
        "title": field("title"),
        "timestamp": field("timestamp"),
    })
}

fn lock(slot: &Slot) -> MutexGuard<'_, Option<Process>> {
    // A panic while holding the lock leaves the cached process suspect: drop it.
    slot.lock().unwrap_or_else(|poisoned| {
        let mut guard = poisoned.into_inner();
        *guard = None;
        guard
    })
}
