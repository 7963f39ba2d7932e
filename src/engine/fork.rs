//! Concurrent steps on the write path (docs/protocol.md, part 2): which events are final, the
//! switch to a winning sibling branch, and the rebase of this node's own steps that lost.
//!
//! - Finality is kept per shared process beside the process cache (and never evicted with
//!   it): the heads the participants announced, and how many events are final here. The
//!   count only grows; it is also written into the stored view with every commit, so a
//!   restart does not forget what was final.
//! - A received event whose parent is in the chain but not its head is a sibling of the
//!   event after that parent. The lower `(timestamp, hash)` wins ([`chain::wins`]); a
//!   losing event is answered [`Received::Superseded`] and not stored; a winning sibling of
//!   a final event is refused ([`Refusal::FinalSibling`]); otherwise the node switches: the
//!   chain from the fork on is replaced by the winner, and this node's own steps that were
//!   on the losing branch are re-run on it — re-signed if still valid, else kept as rejected
//!   attempts with the reason. Other nodes' steps on the losing branch are dropped: their
//!   authors rebase them (no node ever signs for another).

use super::core::{final_of_view, Engine, EngineError, Received, Result};
use crate::chain::{self, Announced, Finality, NodeId, ReceiptRules, Refusal, SignedHead};
use crate::process::{self, Event, Process, Recorded, StepActor};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Rebase outcomes remembered (for `?wait=final` to follow a step that was rebased).
const REBASES_KEPT: usize = 10_000;

/// The finality of one shared process, and a signal for those waiting on it.
#[derive(Default)]
pub(super) struct Watch {
    pub(super) finality: Finality,
    pub(super) changed: Arc<Notify>,
}

/// What became of a step of this node that lost a fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebased {
    /// Re-run on the winning branch: the new event's hash.
    Moved(String),
    /// Not valid on the winning branch: why.
    Rejected(String),
}

/// The latest rebase outcomes by the hash of the event that lost.
#[derive(Default)]
pub(super) struct Rebases {
    map: HashMap<String, Rebased>,
    order: VecDeque<String>,
}

impl Rebases {
    fn record(&mut self, lost: String, outcome: Rebased) {
        if self.map.insert(lost.clone(), outcome).is_none() {
            self.order.push_back(lost);
        }
        while self.order.len() > REBASES_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// The finality of a process as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalityView {
    /// The number of events, from the first, final at this node.
    pub final_len: u64,
    /// The number of events known final at every participant.
    pub final_everywhere: u64,
    /// The participants' latest announced heads (this node's own head included).
    pub heads: BTreeMap<NodeId, Announced>,
}

/// Where an event stands in this node's chain (see [`Engine::event_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Final: it never changes.
    Final,
    /// In the chain, not final yet: a concurrent step may still replace it.
    Pending,
    /// Not in the chain.
    Gone,
}

/// What an announced head told this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadSeen {
    /// The head is in this node's chain (else the announcer is ahead or on another branch:
    /// time to fetch from it).
    pub known: bool,
    /// More events became final here.
    pub changed: bool,
    /// The timestamps of the events that became final here with it.
    pub finalized: Vec<crate::process::Timestamp>,
}

/// How often forks happened at this node, since it started.
#[derive(Debug, Default)]
pub(super) struct ForkCounters {
    switched: AtomicU64,
    rebased: AtomicU64,
    rejected: AtomicU64,
    superseded: AtomicU64,
}

/// [`ForkCounters`] read out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ForkStats {
    /// Switches to a winning sibling branch.
    pub switched: u64,
    /// Own steps re-run on a winning branch.
    pub rebased: u64,
    /// Own steps that lost and were no longer valid on the winning branch.
    pub rejected: u64,
    /// Received events that lost the fork choice against one held here.
    pub superseded: u64,
}

impl Engine {
    /// Whether this process is shared with other nodes (only then is finality tracked).
    fn shared(&self, process: &Process) -> Option<(NodeId, BTreeSet<NodeId>)> {
        let me = self.node_id()?;
        let participants = chain::participants(process);
        (participants.len() > 1).then_some((me, participants))
    }

    /// Recomputes the finality of `process` after its chain changed; wakes the waiters
    /// when more became final.
    pub(super) fn refresh_finality(&self, process: &Process) {
        let Some((me, participants)) = self.shared(process) else {
            return;
        };
        let mut watches = self.watches();
        let watch = self.watch_entry(&mut watches, process);
        if watch
            .finality
            .update(process.events(), &participants, Some(me))
        {
            watch.changed.notify_waiters();
        }
    }

    /// The number of final events to record in the stored view of `process`.
    pub(super) fn stored_final(&self, process: &Process) -> u64 {
        if self.shared(process).is_none() {
            return process.events().len() as u64;
        }
        let mut watches = self.watches();
        self.watch_entry(&mut watches, process).finality.final_len()
    }

    /// The watch of `process`, created on first use from the final count of its stored view.
    fn watch_entry<'a>(
        &self,
        watches: &'a mut HashMap<String, Watch>,
        process: &Process,
    ) -> &'a mut Watch {
        watches.entry(process.id().to_string()).or_insert_with(|| {
            let view = self.store().view(process.id()).ok().flatten();
            let stored = final_of_view(view.as_ref());
            Watch {
                finality: Finality::starting_at(stored.min(process.events().len() as u64)),
                changed: Arc::default(),
            }
        })
    }

    /// Takes in a head a participant announced (its signature checked by the caller).
    pub fn observe_head(&self, head: &SignedHead) -> Result<HeadSeen> {
        self.read(&head.process, |process| {
            let Some((me, participants)) = self.shared(process) else {
                return Ok(HeadSeen {
                    known: true,
                    changed: false,
                    finalized: vec![],
                });
            };
            if !participants.contains(&head.signer) {
                return Err(EngineError::from(Refusal::NotParticipant {
                    hash: head.hash.clone(),
                    process: head.process.clone(),
                    signer: head.signer.to_string(),
                }));
            }
            let known = chain::position(process.events(), &head.hash).is_some();
            let mut watches = self.watches();
            let watch = self.watch_entry(&mut watches, process);
            watch.finality.observe(
                head.signer,
                Announced {
                    hash: head.hash.clone(),
                    len: head.len,
                    final_len: head.final_len.unwrap_or(0),
                },
            );
            let before = watch.finality.final_len() as usize;
            let changed = watch
                .finality
                .update(process.events(), &participants, Some(me));
            let mut finalized = vec![];
            if changed {
                watch.changed.notify_waiters();
                let now = watch.finality.final_len() as usize;
                finalized = process.events()[before.min(now)..now]
                    .iter()
                    .map(Event::timestamp)
                    .collect();
            }
            Ok(HeadSeen {
                known,
                changed,
                finalized,
            })
        })?
    }

    /// The finality of `process` (whose lock the caller holds, e.g. inside [`Engine::read`]).
    pub fn finality_of(&self, process: &Process) -> FinalityView {
        let len = process.events().len() as u64;
        let own = |final_len| Announced {
            hash: process.last_event().hash().to_string(),
            len,
            final_len,
        };
        let Some((me, participants)) = self.shared(process) else {
            let heads = self
                .node_id()
                .map(|me| (me, own(len)))
                .into_iter()
                .collect();
            return FinalityView {
                final_len: len,
                final_everywhere: len,
                heads,
            };
        };
        let mut watches = self.watches();
        let watch = self.watch_entry(&mut watches, process);
        let final_len = watch.finality.final_len();
        let mut heads: BTreeMap<NodeId, Announced> = watch
            .finality
            .heads()
            .iter()
            .filter(|(node, _)| participants.contains(node))
            .map(|(node, head)| (*node, head.clone()))
            .collect();
        heads.insert(me, own(final_len));
        FinalityView {
            final_len,
            final_everywhere: watch.finality.final_everywhere(
                process.events(),
                &participants,
                Some(me),
            ),
            heads,
        }
    }

    /// Notified whenever more events of process `id` become final here.
    pub fn finality_signal(&self, id: &str) -> Result<Arc<Notify>> {
        self.read(id, |process| {
            let mut watches = self.watches();
            self.watch_entry(&mut watches, process).changed.clone()
        })
    }

    /// This node's head of process `id` to announce — `(hash, len, final)` — without
    /// loading the process.
    pub fn own_head(&self, id: &str) -> Result<Option<(String, u64, u64)>> {
        let Some(head) = self.store().head(id)? else {
            return Ok(None);
        };
        let tracked = self.watches().get(id).map(|w| w.finality.final_len());
        let final_len = match tracked {
            Some(n) => n,
            None => final_of_view(self.store().view(id)?.as_ref()),
        };
        Ok(Some((head.hash, head.len, final_len.min(head.len))))
    }

    /// Where a catch-up of process `id` starts: this node's head, and its last final event
    /// (for a peer on another branch). `(None, None)` when the process is unknown here.
    pub fn fork_points(&self, id: &str) -> Result<(Option<String>, Option<String>)> {
        let Some((head, _, final_len)) = self.own_head(id)? else {
            return Ok((None, None));
        };
        let since = match final_len {
            0 => None,
            n => self
                .store()
                .events_from(id, n - 1)?
                .first()
                .map(|e| e.hash().to_string()),
        };
        Ok((Some(head), since))
    }

    /// Where event `hash` of process `id` stands: final here, in the chain but not final
    /// yet, or not in the chain (dropped with a losing branch, or never held). Effects of an
    /// event that may still be dropped (service notifications) wait for it to be final.
    pub fn event_status(&self, id: &str, hash: &str) -> Result<EventStatus> {
        self.read(id, |process| self.event_status_in(process, hash))
    }

    /// [`Engine::event_status`] of `process`, whose lock the caller holds (e.g. inside
    /// [`Engine::read`]).
    pub fn event_status_in(&self, process: &Process, hash: &str) -> EventStatus {
        match chain::position(process.events(), hash) {
            None => EventStatus::Gone,
            Some(i) if (i as u64) < self.finality_of(process).final_len => EventStatus::Final,
            Some(_) => EventStatus::Pending,
        }
    }

    /// Whether participant `peer`'s latest announced head of process `id` is event `hash`
    /// or comes after it in this node's chain.
    pub fn peer_holds(&self, id: &str, peer: NodeId, hash: &str) -> Result<bool> {
        self.read(id, |process| {
            let watches = self.watches();
            let Some(head) = watches.get(id).and_then(|w| w.finality.heads().get(&peer)) else {
                return false;
            };
            let position = |h: &str| chain::position(process.events(), h);
            matches!((position(&head.hash), position(hash)), (Some(h), Some(e)) if h >= e)
        })
    }

    /// How often forks happened here since the start.
    pub fn fork_stats(&self) -> ForkStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ForkStats {
            switched: read(&self.forks.switched),
            rebased: read(&self.forks.rebased),
            rejected: read(&self.forks.rejected),
            superseded: read(&self.forks.superseded),
        }
    }

    /// What became of this node's step `hash` if it lost a fork (recently).
    pub fn rebased(&self, hash: &str) -> Option<Rebased> {
        lock(&self.rebases).map.get(hash).cloned()
    }

    fn watches(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watch>> {
        lock(&self.watches)
    }

    /// Handles `event`, received from `from`, whose parent is event `fork - 1` of `process`
    /// (not its head): a sibling of event `fork`. See the module documentation.
    pub(super) fn take_sibling(
        &self,
        slot: &mut Option<Process>,
        event: &Event,
        fork: usize,
        from: NodeId,
        rules: ReceiptRules,
    ) -> Result<Received> {
        let Some(process) = slot.as_ref() else {
            return Err(EngineError::NotFound {
                kind: "process",
                id: String::new(),
            });
        };
        let hash = event.hash().to_string();
        let held = process.events()[fork].clone();
        // The event must be valid where it was made: on the chain up to its parent.
        let mut branch = process::replay(process.scenario().clone(), &process.events()[..fork])
            .map_err(|e| Refusal::Invalid {
                hash: hash.clone(),
                reason: e.to_string(),
            })?;
        chain::check_received(Some(&branch), event, rules)?;
        applied(&mut branch, event)?;
        if !chain::wins(event, &held) {
            self.forks.superseded.fetch_add(1, Ordering::Relaxed);
            return Ok(Received::Superseded {
                by: held.hash().to_string(),
            });
        }
        if (fork as u64) < self.stored_final(process) {
            return Err(Refusal::FinalSibling {
                hash,
                sibling: held.hash().to_string(),
            }
            .into());
        }
        let lost = process.events()[fork..].to_vec();
        let rebases = self.rebase(&mut branch, &lost);
        let rebased_any = rebases.iter().any(|(_, r)| matches!(r, Rebased::Moved(_)));
        // Own rebased steps go to every participant (the sender too); the winner alone is
        // relayed like any received event.
        let source = (!rebased_any).then_some(from);
        self.commit_replacing(&branch, fork, source)?;
        tracing::info!(
            process = %branch.id(),
            winner = %hash,
            lost = lost.len(),
            rebased = rebases.len(),
            "switched to the winning branch"
        );
        self.forks.switched.fetch_add(1, Ordering::Relaxed);
        for (_, outcome) in &rebases {
            let counter = match outcome {
                Rebased::Moved(_) => &self.forks.rebased,
                Rebased::Rejected(_) => &self.forks.rejected,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let mut log = lock(&self.rebases);
        for (lost, outcome) in rebases {
            log.record(lost, outcome);
        }
        drop(log);
        *slot = Some(branch);
        Ok(Received::Applied)
    }

    /// Re-runs this node's own steps among `lost` on `branch`, signing the new events;
    /// returns what became of each. A step no longer valid is kept as a rejected attempt.
    fn rebase(&self, branch: &mut Process, lost: &[Event]) -> Vec<(String, Rebased)> {
        let me = self.node_id().map(|n| n.to_string());
        let mut outcomes = Vec::new();
        for event in lost {
            let Event::Action(action) = event else {
                continue;
            };
            if action.skipped || action.signer.is_none() || action.signer != me {
                continue;
            }
            let Some(actor) = StepActor::from_json(action.actor.clone()) else {
                continue;
            };
            // A new event, made now: it does not jump ahead of steps made while it was
            // on the losing branch (their authors would have to rebase in turn).
            let at = super::timers::now().max(branch.last_event().timestamp());
            let before = branch.events().len();
            let outcome = match branch.step(&action.action, &actor, action.response.clone(), at) {
                Ok(outcome) => outcome,
                Err(e) => {
                    outcomes.push((action.hash.clone(), Rebased::Rejected(e.to_string())));
                    continue;
                }
            };
            if outcome.skipped {
                let reason = format!(
                    "lost a concurrent step to another branch and is rejected on it: {}",
                    outcome.errors.join("; ")
                );
                if let Some(mut attempt) = branch.discard_rejected() {
                    attempt.errors.insert(0, reason.clone());
                    let entry = super::rejected::entry(&attempt);
                    let kept = self
                        .store()
                        .push_rejected(branch.id(), &entry, self.rejected_kept);
                    if let Err(error) = kept {
                        tracing::warn!(process = %branch.id(), %error, "rejected rebase not kept");
                    }
                }
                outcomes.push((action.hash.clone(), Rebased::Rejected(reason)));
                continue;
            }
            self.seal(branch, before);
            let new = branch.last_event().hash().to_string();
            outcomes.push((action.hash.clone(), Rebased::Moved(new)));
        }
        outcomes
    }
}

/// Applies a received event to `branch`; anything but an accepted step or a due timeout is
/// a refusal.
pub(super) fn applied(branch: &mut Process, event: &Event) -> Result<()> {
    let hash = event.hash().to_string();
    let refusal = match branch.apply_recorded(event) {
        Ok(Recorded::Applied) => return Ok(()),
        Ok(Recorded::Rejected(errors)) => Refusal::Rejected {
            hash,
            errors: errors.join("; "),
        },
        Ok(Recorded::NotDue) => Refusal::NotDue(hash),
        Err(e) => Refusal::Invalid {
            hash,
            reason: e.to_string(),
        },
    };
    Err(refusal.into())
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
