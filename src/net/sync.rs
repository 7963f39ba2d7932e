//! Replication of shared processes between their participants, on top of the engine's one
//! write path:
//! - **delivery**: every event the engine commits (made here, or received and so relayed)
//!   goes to every other participant of its process, except the peer it came from;
//! - **receipt**: events from a peer are applied with [`Engine::receive`]; an event whose
//!   ancestors are missing makes the node fetch them from the sender first (an honest sender
//!   holds every ancestor of what it sends, so what it cannot supply is refused); an unknown
//!   scenario is fetched from the sender and checked against its content id;
//! - **heads**: on connect and every `interval`, each node sends every connected peer its
//!   signed heads of the processes they share; a peer that lacks a head fetches the events
//!   after its own head. A node that was down catches up this way without help.
//! - **serving**: events and scenarios go only to participants of the process asked about.
//!
//! Each refusal is logged and counted against the peer in [`Peers`].

use super::peers::Peers;
use super::protocol::{Request, Response, MAX_EVENTS_PER_ANSWER, MAX_HEADS_PER_MESSAGE};
use super::swarm::{Client, Inbound};
use crate::chain::{self, heads_verify, sign_heads, NodeId, NodeKey, ReceiptRules, SignedHead};
use crate::engine::timers::now;
use crate::engine::{Appended, Engine, EngineError, HeadSeen, Received};
use crate::process::Event;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify, Semaphore};

/// How the replication runs.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How often heads are exchanged with every connected peer.
    pub interval: Duration,
    /// How far (ms) a received event may be ahead of this node's clock.
    pub max_skew_ms: i64,
    /// Requests handled at once (inbound and deliveries each).
    pub concurrency: usize,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            interval: Duration::from_secs(5),
            max_skew_ms: 30_000,
            concurrency: 64,
        }
    }
}

/// The replication of one node.
pub struct Replicator {
    engine: Arc<Engine>,
    client: Client,
    peers: Arc<Peers>,
    key: Arc<NodeKey>,
    settings: SyncSettings,
    /// Process → its participants other than this node (the processes shared with peers).
    shared: Mutex<HashMap<String, BTreeSet<NodeId>>>,
    inbound_work: Arc<Semaphore>,
    delivery_work: Arc<Semaphore>,
    /// Processes whose head or finality changed since this node last announced them.
    dirty: Mutex<HashSet<String>>,
    /// Wakes the announcer when `dirty` gains a process.
    announce: Notify,
    /// (peer, process) pairs whose announced head this node waits for before fetching it.
    awaited: Mutex<HashSet<(NodeId, String)>>,
}

/// Why handling a peer's events stopped.
type Refused = String;

impl Replicator {
    /// The replication of `engine`'s processes over `client`.
    pub fn new(
        engine: Arc<Engine>,
        client: Client,
        peers: Arc<Peers>,
        key: Arc<NodeKey>,
        settings: SyncSettings,
    ) -> Arc<Self> {
        let concurrency = settings.concurrency.max(1);
        Arc::new(Replicator {
            engine,
            client,
            peers,
            key,
            settings,
            shared: Mutex::new(HashMap::new()),
            inbound_work: Arc::new(Semaphore::new(concurrency)),
            delivery_work: Arc::new(Semaphore::new(concurrency)),
            dirty: Mutex::new(HashSet::new()),
            announce: Notify::new(),
            awaited: Mutex::new(HashSet::new()),
        })
    }

    fn me(&self) -> NodeId {
        self.key.id()
    }

    fn rules(&self) -> ReceiptRules {
        ReceiptRules {
            now: now(),
            max_skew_ms: self.settings.max_skew_ms,
        }
    }

    /// Reads which stored processes are shared with whom (from their views).
    fn index(&self) -> Result<usize, EngineError> {
        let store = self.engine.store();
        let mut shared = HashMap::new();
        for id in store.processes()? {
            let id = id?;
            let Some(view) = store.view(&id)? else {
                continue;
            };
            let nodes = participants_of_view(&view, self.me());
            if !nodes.is_empty() {
                shared.insert(id, nodes);
            }
        }
        let count = shared.len();
        *lock(&self.shared) = shared;
        Ok(count)
    }

    fn note_shared(&self, process: &str, participants: &[NodeId]) {
        let others: BTreeSet<NodeId> = participants
            .iter()
            .copied()
            .filter(|n| *n != self.me())
            .collect();
        if !others.is_empty() {
            lock(&self.shared).insert(process.to_string(), others);
        }
    }

    /// Runs delivery, receipt and the head exchange until `stop` turns true.
    pub async fn run(
        self: Arc<Self>,
        mut appended: mpsc::Receiver<Appended>,
        mut inbound: mpsc::Receiver<Inbound>,
        mut stop: watch::Receiver<bool>,
    ) {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.index()).await {
            Ok(Ok(count)) => tracing::info!(processes = count, "shared processes indexed"),
            Ok(Err(error)) => tracing::error!(%error, "cannot index the shared processes"),
            Err(error) => tracing::error!(%error, "cannot index the shared processes"),
        }
        // Deliveries wait for peers; they run apart so that serving requests never waits
        // behind them (two nodes delivering to each other would stall otherwise).
        let deliveries = {
            let this = self.clone();
            let mut stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        batch = appended.recv() => match batch {
                            Some(batch) => this.clone().deliver(batch).await,
                            None => break,
                        },
                    }
                }
            })
        };
        let announcer = {
            let this = self.clone();
            let mut stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        _ = this.announce.notified() => {
                            // Gather what else changes meanwhile into the same messages.
                            tokio::time::sleep(ANNOUNCE_DELAY).await;
                            this.clone().announce_dirty().await;
                        }
                    }
                }
            })
        };
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut last_full = tokio::time::Instant::now();
        let mut known: HashSet<NodeId> = HashSet::new();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                Some(request) = inbound.recv() => self.clone().serve(request).await,
                _ = tick.tick() => {
                    let connected: HashSet<NodeId> = self.client.connected().await.into_iter().collect();
                    let full = last_full.elapsed() >= self.settings.interval;
                    if full {
                        last_full = tokio::time::Instant::now();
                    }
                    for peer in &connected {
                        if full || !known.contains(peer) {
                            let this = self.clone();
                            let peer = *peer;
                            tokio::spawn(async move { this.send_heads(peer).await });
                        }
                    }
                    known = connected;
                }
            }
        }
        deliveries.abort();
        announcer.abort();
        tracing::info!("replication stopped");
    }

    /// Sends new events to every other participant of their process (not back to the
    /// peer they came from).
    async fn deliver(self: Arc<Self>, batch: Appended) {
        self.note_shared(&batch.process, &batch.participants);
        self.mark_dirty(&batch.process);
        let me = self.me();
        let targets: Vec<NodeId> = batch
            .participants
            .iter()
            .copied()
            .filter(|peer| *peer != me && Some(*peer) != batch.from)
            .collect();
        if batch.from.is_some() {
            // A relay: the author sent the events to every participant itself, so each is
            // sent on only to those whose announced head still lacks it a moment later.
            let this = self.clone();
            tokio::spawn(async move { this.relay(batch, targets).await });
            return;
        }
        let committed = Some(batch.committed.millis());
        for peer in targets {
            self.clone()
                .send_events(peer, batch.process.clone(), batch.events.clone(), committed)
                .await;
        }
    }

    /// Sends `batch`, received from a peer, to those of `targets` that have not announced
    /// a head with it after [`RELAY_GRACE`].
    async fn relay(self: Arc<Self>, batch: Appended, targets: Vec<NodeId>) {
        tokio::time::sleep(RELAY_GRACE).await;
        let Some(last) = batch.events.last().map(|e| e.hash().to_string()) else {
            return;
        };
        let engine = self.engine.clone();
        let process = batch.process.clone();
        let lacking = tokio::task::spawn_blocking(move || {
            targets
                .into_iter()
                .filter(|peer| !engine.peer_holds(&process, *peer, &last).unwrap_or(false))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for peer in lacking {
            self.clone()
                .send_events(peer, batch.process.clone(), batch.events.clone(), None)
                .await;
        }
    }

    /// Sends events of `process` to `peer` in a task of its own (bounded).
    async fn send_events(
        self: Arc<Self>,
        peer: NodeId,
        process: String,
        events: Vec<Event>,
        committed: Option<i64>,
    ) {
        let Ok(permit) = self.delivery_work.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let request = Request::Events {
                process: process.clone(),
                events,
                committed,
            };
            match self.client.request(peer, request).await {
                Ok(Response::Refused { reason }) => {
                    tracing::warn!(%peer, %reason, "peer refused our events")
                }
                Ok(Response::Ack { superseded, .. }) if superseded > 0 => {
                    // The peer holds a winning sibling: fetch it now and switch.
                    if let Err(reason) = self.catch_up(peer, &process).await {
                        tracing::debug!(%peer, %reason, "catch-up after a lost fork failed");
                    }
                }
                Ok(_) => {}
                // The head exchange delivers once the peer is back.
                Err(error) => tracing::debug!(%peer, %error, "delivery failed"),
            }
        });
    }

    /// Handles one inbound request in its own task (bounded).
    async fn serve(self: Arc<Self>, inbound: Inbound) {
        let Inbound {
            peer,
            request,
            channel,
        } = inbound;
        // A busy node takes its time rather than turning events away (a refused delivery
        // is left to the slow path, the head exchange): the requests wait in the bounded
        // inbound queue meanwhile. Only a node stuck for long says it is busy.
        let permit =
            tokio::time::timeout(BUSY_AFTER, self.inbound_work.clone().acquire_owned()).await;
        let Ok(Ok(permit)) = permit else {
            let busy = Response::Refused {
                reason: "busy: too many requests in progress".into(),
            };
            self.client.respond(channel, busy).await;
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let response = self.answer(peer, request).await;
            if let Response::Refused { reason } = &response {
                self.peers.refused(peer, reason);
            }
            self.client.respond(channel, response).await;
        });
    }

    async fn answer(self: &Arc<Self>, peer: NodeId, request: Request) -> Response {
        match request {
            Request::Events {
                process,
                events,
                committed,
            } => self.take_events(peer, &process, events, committed).await,
            Request::Heads { heads, signature } => self.take_heads(peer, heads, signature).await,
            Request::GetEvents {
                process,
                after,
                since,
            } => self.events_for(peer, process, after, since).await,
            Request::GetScenario { id, process } => self.scenario_for(peer, id, process).await,
            Request::Oversized { limit } => Response::Refused {
                reason: format!("unreadable request: over {limit} bytes"),
            },
            Request::Unreadable { reason } => Response::Refused {
                reason: format!("unreadable request: {reason}"),
            },
        }
    }

    /// Applies events a peer sent, fetching missing ancestors from it first.
    async fn take_events(
        self: &Arc<Self>,
        peer: NodeId,
        process: &str,
        events: Vec<Event>,
        committed: Option<i64>,
    ) -> Response {
        let (mut applied, mut duplicates, mut superseded) = (0, 0, 0);
        for event in events {
            let mut result = self.apply(peer, process, &event, committed).await;
            let orphan = matches!(&result, Err(EngineError::Refused(r)) if matches!(**r, chain::Refusal::Orphan { .. }));
            if orphan
                || matches!(
                    &result,
                    Err(EngineError::NotFound {
                        kind: "process",
                        ..
                    })
                )
            {
                if let Err(reason) = self.catch_up(peer, process).await {
                    return Response::Refused { reason };
                }
                result = self.apply(peer, process, &event, committed).await;
            }
            match result {
                Ok(Received::Applied) => applied += 1,
                Ok(Received::Duplicate) => duplicates += 1,
                Ok(Received::Superseded { by }) => {
                    // The rest descends from the loser. Our head tells the sender of the
                    // winner, so that it switches.
                    tracing::debug!(%peer, process, winner = %by, "sibling lost the fork choice");
                    superseded += 1;
                    self.mark_dirty(process);
                    break;
                }
                Err(error) => {
                    return Response::Refused {
                        reason: error.to_string(),
                    }
                }
            }
        }
        Response::Ack {
            applied,
            duplicates,
            superseded,
        }
    }

    /// Applies one event (on a blocking thread), fetching its scenario from the sender
    /// when it starts a process of a scenario unknown here. Its arrival counts from
    /// `committed` (its commit at the author) when known, else from its timestamp.
    async fn apply(
        self: &Arc<Self>,
        peer: NodeId,
        process: &str,
        event: &Event,
        committed: Option<i64>,
    ) -> Result<Received, EngineError> {
        let (id, owned, rules) = (process.to_string(), event.clone(), self.rules());
        let received = self
            .with_scenario(peer, process, move |engine| {
                engine.receive(&id, &owned, peer, rules)
            })
            .await?;
        if received == Received::Applied {
            self.record_arrivals(std::slice::from_ref(event), committed);
        }
        Ok(received)
    }

    /// [`Engine::receive_chain`] on a blocking thread, fetching the scenario first when it
    /// is unknown here.
    async fn receive_chain(
        self: &Arc<Self>,
        peer: NodeId,
        process: &str,
        events: &[Event],
    ) -> Result<(), Refused> {
        let (id, owned, rules) = (process.to_string(), events.to_vec(), self.rules());
        let received = self
            .with_scenario(peer, process, move |engine| {
                engine.receive_chain(&id, &owned, peer, rules)
            })
            .await;
        match received {
            Ok(Received::Applied) => {
                self.record_arrivals(events, None);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(error) => {
                let reason = error.to_string();
                self.peers.refused(peer, &reason);
                Err(reason)
            }
        }
    }

    /// Runs `receive` on a blocking thread; when it names a scenario unknown here, fetches
    /// it from `peer` (for `process`) and runs it once more.
    async fn with_scenario(
        &self,
        peer: NodeId,
        process: &str,
        receive: impl Fn(&Engine) -> Result<Received, EngineError> + Send + Sync + 'static,
    ) -> Result<Received, EngineError> {
        let receive = Arc::new(receive);
        for _ in 0..2 {
            let (engine, receive) = (self.engine.clone(), receive.clone());
            let result = tokio::task::spawn_blocking(move || receive(&engine))
                .await
                .unwrap_or_else(|e| {
                    Err(EngineError::Scenario(format!("receive task failed: {e}")))
                });
            match result {
                Err(EngineError::UnknownScenario(scenario)) => {
                    self.fetch_scenario(peer, &scenario, process).await?;
                }
                other => return other,
            }
        }
        Err(EngineError::Scenario(format!(
            "scenario of process '{process}' still unknown"
        )))
    }

    /// Records how late `events`, just committed here, arrived.
    fn record_arrivals(&self, events: &[Event], committed: Option<i64>) {
        let now = now().millis();
        for event in events {
            let since = committed.unwrap_or_else(|| event.timestamp().millis());
            let lag = now.saturating_sub(since).max(0);
            self.peers
                .record_arrival(now, u32::try_from(lag).unwrap_or(u32::MAX));
        }
    }

    async fn fetch_scenario(
        &self,
        peer: NodeId,
        id: &str,
        process: &str,
    ) -> Result<(), EngineError> {
        let request = Request::GetScenario {
            id: id.to_string(),
            process: process.to_string(),
        };
        let failed = |reason: String| {
            EngineError::Scenario(format!(
                "cannot fetch scenario '{id}' from {peer}: {reason}"
            ))
        };
        match self.client.request(peer, request).await {
            Ok(Response::Scenario { scenario }) => {
                let engine = self.engine.clone();
                let id = id.to_string();
                tokio::task::spawn_blocking(move || {
                    engine.add_fetched_scenario(&id, scenario, now())
                })
                .await
                .map_err(|e| failed(e.to_string()))?
            }
            Ok(Response::Refused { reason }) => Err(failed(reason)),
            Ok(_) => Err(failed("unexpected answer".into())),
            Err(e) => Err(failed(e.to_string())),
        }
    }

    /// Fetches and applies the events of `process` after this node's head from `peer`,
    /// until it has sent all it has. Stops at the first refused event.
    async fn catch_up(self: &Arc<Self>, peer: NodeId, process: &str) -> Result<u64, Refused> {
        let mut applied = 0;
        // A chain is fetched in pages; the bound stops a peer that never says "done".
        for _ in 0..10_000 {
            let engine = self.engine.clone();
            let id = process.to_string();
            let (after, since) = tokio::task::spawn_blocking(move || engine.fork_points(&id))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let request = Request::GetEvents {
                process: process.to_string(),
                after,
                since,
            };
            let (events, more) = match self.client.request(peer, request).await {
                Ok(Response::Events { events, more }) => (events, more),
                Ok(Response::Refused { reason }) => {
                    return Err(format!("catch-up refused by the sender: {reason}"))
                }
                Ok(_) => return Err("unexpected answer to a catch-up request".into()),
                Err(e) => return Err(e.to_string()),
            };
            if events.is_empty() {
                break;
            }
            if head_is_none(&self.engine, process)? {
                // A process new here: its whole first page is checked and stored at once,
                // so that a node bound to an actor by a later step is let in.
                self.receive_chain(peer, process, &events).await?;
                applied += events.len() as u64;
                if !more {
                    break;
                }
                continue;
            }
            for event in &events {
                match self.apply(peer, process, event, None).await {
                    Ok(Received::Applied) => applied += 1,
                    Ok(Received::Duplicate) => {}
                    Ok(Received::Superseded { .. }) => {
                        // The sender is on a losing branch; our head will tell it.
                        self.mark_dirty(process);
                        return Ok(applied);
                    }
                    Err(error) => {
                        let reason = error.to_string();
                        self.peers.refused(peer, &reason);
                        return Err(reason);
                    }
                }
            }
            if !more {
                break;
            }
            // A long catch-up (a node back after a long downtime) shows its progress.
            tracing::info!(%peer, process, events = applied, "catching up: more to fetch");
        }
        if applied > 0 {
            tracing::info!(%peer, process, events = applied, "caught up");
        }
        Ok(applied)
    }

    /// Sends `peer` this node's heads of the processes it shares with it.
    async fn send_heads(self: Arc<Self>, peer: NodeId) {
        let processes: Vec<String> = lock(&self.shared)
            .iter()
            .filter(|(_, nodes)| nodes.contains(&peer))
            .map(|(id, _)| id.clone())
            .collect();
        for chunk in processes.chunks(MAX_HEADS_PER_MESSAGE) {
            let heads = self.own_heads(chunk.to_vec()).await;
            if heads.is_empty() {
                continue;
            }
            let request = Request::Heads {
                signature: Some(sign_heads(&self.key, &heads)),
                heads,
            };
            if let Err(error) = self.client.request(peer, request).await {
                tracing::debug!(%peer, %error, "heads not sent");
                return;
            }
        }
    }

    /// Fetches what this node lacks of the heads a peer announced.
    async fn take_heads(
        self: &Arc<Self>,
        peer: NodeId,
        heads: Vec<SignedHead>,
        signature: Option<String>,
    ) -> Response {
        if heads.len() > MAX_HEADS_PER_MESSAGE {
            return Response::Refused {
                reason: format!("more than {MAX_HEADS_PER_MESSAGE} heads in one message"),
            };
        }
        // Checked and taken in on one blocking thread: a message may carry hundreds.
        let engine = self.engine.clone();
        let seen = tokio::task::spawn_blocking(move || {
            // Signed as a whole, or each head on its own.
            let whole = signature.is_some_and(|s| heads_verify(&peer, &heads, &s));
            let mut seen = Vec::with_capacity(heads.len());
            for head in heads {
                if head.signer != peer || !(whole || head.verifies()) {
                    return Err(format!(
                        "the head of process '{}' is not signed by the sender",
                        head.process
                    ));
                }
                let result = engine.observe_head(&head);
                seen.push((head, result));
            }
            Ok(seen)
        })
        .await
        .unwrap_or_else(|e| Err(format!("internal error: {e}")));
        let seen = match seen {
            Ok(seen) => seen,
            Err(reason) => return Response::Refused { reason },
        };
        let now = now().millis();
        for (head, result) in seen {
            let held = match result {
                Ok(HeadSeen {
                    known,
                    changed,
                    finalized,
                }) => {
                    for at in finalized {
                        let lag = now.saturating_sub(at.millis()).max(0);
                        self.peers
                            .record_final(now, u32::try_from(lag).unwrap_or(u32::MAX));
                    }
                    if changed {
                        // Tell the others what is final here now.
                        self.mark_dirty(&head.process);
                    }
                    known
                }
                Err(EngineError::NotFound { .. }) => false,
                Err(error) => {
                    return Response::Refused {
                        reason: error.to_string(),
                    }
                }
            };
            if !held {
                self.clone()
                    .catch_up_later(peer, head.process.clone(), head.hash.clone());
            }
        }
        Response::Ack {
            applied: 0,
            duplicates: 0,
            superseded: 0,
        }
    }

    /// The events of `process` after `after`, for a participant.
    async fn events_for(
        self: &Arc<Self>,
        peer: NodeId,
        process: String,
        after: Option<String>,
        since: Option<String>,
    ) -> Response {
        let engine = self.engine.clone();
        let answer = tokio::task::spawn_blocking(move || -> Result<Response, String> {
            let takes_part = engine
                .read(&process, |p| chain::participants(p).contains(&peer))
                .map_err(|_| format!("process '{process}' is unknown here"))?;
            if !takes_part {
                return Err(format!("{peer} takes no part in process '{process}'"));
            }
            let store = engine.store();
            // After the asker's head; when that is not in this chain (the asker is on
            // another branch), after its last final event; else from the start.
            let mut from = 0;
            for hash in [&after, &since].into_iter().flatten() {
                if let Some(p) = store
                    .event_position(&process, hash)
                    .map_err(|e| e.to_string())?
                {
                    from = p + 1;
                    break;
                }
            }
            let mut events = store
                .events_from(&process, from)
                .map_err(|e| e.to_string())?;
            let more = events.len() > MAX_EVENTS_PER_ANSWER;
            events.truncate(MAX_EVENTS_PER_ANSWER);
            Ok(Response::Events { events, more })
        })
        .await;
        match answer {
            Ok(Ok(response)) => response,
            Ok(Err(reason)) => Response::Refused { reason },
            Err(e) => Response::Refused {
                reason: format!("internal error: {e}"),
            },
        }
    }

    /// The scenario of `process`, for a participant.
    async fn scenario_for(self: &Arc<Self>, peer: NodeId, id: String, process: String) -> Response {
        let engine = self.engine.clone();
        let answer = tokio::task::spawn_blocking(move || -> Result<Value, String> {
            let (takes_part, scenario) = engine
                .read(&process, |p| {
                    (chain::participants(p).contains(&peer), p.scenario().clone())
                })
                .map_err(|_| format!("process '{process}' is unknown here"))?;
            if !takes_part || scenario.id() != id {
                return Err(format!(
                    "{peer} takes no part in a process of scenario '{id}'"
                ));
            }
            Ok(scenario.json().clone())
        })
        .await;
        match answer {
            Ok(Ok(scenario)) => Response::Scenario { scenario },
            Ok(Err(reason)) => Response::Refused { reason },
            Err(e) => Response::Refused {
                reason: format!("internal error: {e}"),
            },
        }
    }
}

/// How long the announcer waits after a change to gather more into the same messages.
const ANNOUNCE_DELAY: Duration = Duration::from_millis(3);

/// How long a request of a peer may wait for one of the `concurrency` slots before the
/// answer is `busy`.
const BUSY_AFTER: Duration = Duration::from_secs(5);

/// How long a node waits before it relays events it received: their author sent them to
/// every participant, whose heads usually show them by then.
const RELAY_GRACE: Duration = Duration::from_millis(100);

/// How long a node waits before it fetches what a peer's head shows it lacks: a head is
/// announced right after the events it names were sent, which are usually still in flight.
const CATCH_UP_GRACE: Duration = Duration::from_millis(300);

impl Replicator {
    /// Fetches from `peer` what it holds of `process` up to `hash`, unless that arrives by
    /// itself: after [`CATCH_UP_GRACE`] without it, and without any progress of the process
    /// here meanwhile. One such wait per peer and process at a time.
    fn catch_up_later(self: Arc<Self>, peer: NodeId, process: String, hash: String) {
        if !lock(&self.awaited).insert((peer, process.clone())) {
            return;
        }
        tokio::spawn(async move {
            let mut len = self.look(&process, &hash).await.1;
            let mut fetch = false;
            // While events of the process keep arriving (a busy node works through its
            // queue), fetching would only add to the load: wait on.
            for _ in 0..20 {
                tokio::time::sleep(CATCH_UP_GRACE).await;
                let (arrived, now) = self.look(&process, &hash).await;
                if arrived {
                    break;
                }
                if now == len {
                    fetch = true;
                    break;
                }
                len = now;
            }
            lock(&self.awaited).remove(&(peer, process.clone()));
            if fetch {
                if let Err(reason) = self.catch_up(peer, &process).await {
                    tracing::warn!(%peer, %process, %reason, "catch-up failed");
                }
            }
        });
    }

    /// Whether event `hash` of `process` is held here, and the length of the chain.
    async fn look(&self, process: &str, hash: &str) -> (bool, u64) {
        let engine = self.engine.clone();
        let (id, wanted) = (process.to_string(), hash.to_string());
        tokio::task::spawn_blocking(move || {
            let store = engine.store();
            let arrived = store.event_position(&id, &wanted).ok().flatten().is_some();
            let len = store.head(&id).ok().flatten().map_or(0, |h| h.len);
            (arrived, len)
        })
        .await
        .unwrap_or((false, 0))
    }

    /// Marks `process` for the next announcement of heads.
    fn mark_dirty(&self, process: &str) {
        if lock(&self.dirty).insert(process.to_string()) {
            self.announce.notify_one();
        }
    }

    /// Sends this node's signed heads of the processes marked dirty to their other
    /// participants, one message per peer.
    async fn announce_dirty(self: Arc<Self>) {
        let dirty: Vec<String> = lock(&self.dirty).drain().collect();
        if dirty.is_empty() {
            return;
        }
        let heads = self.own_heads(dirty).await;
        let mut per_peer: HashMap<NodeId, Vec<SignedHead>> = HashMap::new();
        {
            let shared = lock(&self.shared);
            for head in heads {
                for peer in shared.get(&head.process).into_iter().flatten() {
                    per_peer.entry(*peer).or_default().push(head.clone());
                }
            }
        }
        for (peer, heads) in per_peer {
            for chunk in heads.chunks(MAX_HEADS_PER_MESSAGE) {
                let this = self.clone();
                let request = Request::Heads {
                    heads: chunk.to_vec(),
                    signature: Some(sign_heads(&self.key, chunk)),
                };
                tokio::spawn(async move {
                    if let Err(error) = this.client.request(peer, request).await {
                        tracing::debug!(%peer, %error, "heads not announced");
                    }
                });
            }
        }
    }
}

impl Replicator {
    /// This node's heads of `processes` (those it holds), with the number of their final
    /// events, to be signed together as one message.
    async fn own_heads(&self, processes: Vec<String>) -> Vec<SignedHead> {
        let (engine, key) = (self.engine.clone(), self.key.clone());
        tokio::task::spawn_blocking(move || {
            processes
                .iter()
                .filter_map(|id| {
                    let (hash, len, final_len) = engine.own_head(id).ok()??;
                    Some(SignedHead::unsigned(&key, id, &hash, len, Some(final_len)))
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }
}

/// Whether the engine holds no event of `process`.
fn head_is_none(engine: &Engine, process: &str) -> Result<bool, Refused> {
    Ok(engine
        .store()
        .head(process)
        .map_err(|e| e.to_string())?
        .is_none())
}

/// The participants other than `me` that a stored view lists.
fn participants_of_view(view: &Value, me: NodeId) -> BTreeSet<NodeId> {
    view.get("participants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str()?.parse().ok())
        .filter(|n| *n != me)
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
