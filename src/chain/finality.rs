//! Fork choice and finality (DESIGN "Concurrency"; `docs/protocol.md`, part 2). Pure: the
//! chain, the participants and the heads they announced are passed in.
//!
//! - **Fork choice**: of two events with the same `previous` (siblings), the one with the
//!   lower `(timestamp, hash)` wins — on content only, so every node picks the same one.
//! - **Finality**: an event is final here once every participant's latest announced head
//!   descends from it (is it, or comes after it, in this node's chain). What is final never
//!   changes: the count of final events only grows, and a sibling of a final event that would
//!   win is refused (it is evidence of a misbehaving node, see the safety argument).

use super::identity::NodeId;
use crate::process::Event;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Whether `candidate` wins the fork choice against `held`, its sibling: the lower
/// `(timestamp, hash)` wins.
pub fn wins(candidate: &Event, held: &Event) -> bool {
    (candidate.timestamp(), candidate.hash()) < (held.timestamp(), held.hash())
}

/// The latest head one participant announced of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announced {
    /// The hash of its last event.
    pub hash: String,
    /// The length of its chain.
    pub len: u64,
    /// How many events are final at it (as it announced; 0 when it did not say).
    #[serde(rename = "final")]
    pub final_len: u64,
}

/// What this node knows of the finality of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finality {
    /// Participant → its latest announced head.
    heads: BTreeMap<NodeId, Announced>,
    /// The number of events, from the first, that are final here. It never decreases.
    final_len: u64,
}

/// The position (0-based) of the event with `hash` in `chain`, searched from the end (the
/// events looked for — heads, parents of new events — are usually recent).
pub fn position(chain: &[Event], hash: &str) -> Option<usize> {
    chain.iter().rposition(|e| e.hash() == hash)
}

impl Finality {
    /// Finality that starts from `final_len` events known final (e.g. from the store).
    pub fn starting_at(final_len: u64) -> Self {
        Finality {
            heads: BTreeMap::new(),
            final_len,
        }
    }

    /// The number of events, from the first, that are final here.
    pub fn final_len(&self) -> u64 {
        self.final_len
    }

    /// The latest head each participant announced.
    pub fn heads(&self) -> &BTreeMap<NodeId, Announced> {
        &self.heads
    }

    /// Records `node`'s announced head (replacing what it announced before).
    pub fn observe(&mut self, node: NodeId, head: Announced) {
        self.heads.insert(node, head);
    }

    /// Recomputes what is final in `chain`, this node's chain of the process, shared by
    /// `participants` (`me` among them). Without other participants (or without an
    /// identity) every event is final. Returns whether more events became final.
    pub fn update(
        &mut self,
        chain: &[Event],
        participants: &BTreeSet<NodeId>,
        me: Option<NodeId>,
    ) -> bool {
        let len = chain.len() as u64;
        let mut reached = len;
        if let Some(me) = me {
            for node in participants.iter().filter(|n| **n != me) {
                let held = self
                    .heads
                    .get(node)
                    .and_then(|h| position(chain, &h.hash))
                    .map_or(0, |p| p as u64 + 1);
                reached = reached.min(held);
            }
        }
        let reached = reached.min(len);
        if reached > self.final_len {
            self.final_len = reached;
            true
        } else {
            false
        }
    }

    /// The number of events, from the first, known final at every participant: final
    /// here, and each other participant announced a head in this chain that says they are
    /// final there.
    pub fn final_everywhere(
        &self,
        chain: &[Event],
        participants: &BTreeSet<NodeId>,
        me: Option<NodeId>,
    ) -> u64 {
        let mut reached = self.final_len;
        if let Some(me) = me {
            for node in participants.iter().filter(|n| **n != me) {
                let known = self.heads.get(node).map_or(0, |h| {
                    position(chain, &h.hash).map_or(0, |p| (p as u64 + 1).min(h.final_len))
                });
                reached = reached.min(known);
            }
        }
        reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::NodeKey;
    use crate::process::{Event, TimeoutEvent, Timestamp, EVENT_VERSION};

    fn event(previous: &str, millis: i64) -> Event {
        let mut event = Event::Timeout(TimeoutEvent {
            previous: previous.to_string(),
            timestamp: Timestamp::from_millis(millis),
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        event.rehash();
        event
    }

    fn chain(n: usize) -> Vec<Event> {
        let mut events = vec![event(&"0".repeat(64), 0)];
        for i in 1..n {
            let next = event(events[i - 1].hash(), i as i64);
            events.push(next);
        }
        events
    }

    fn head(chain: &[Event], len: usize, final_len: u64) -> Announced {
        Announced {
            hash: chain[len - 1].hash().to_string(),
            len: len as u64,
            final_len,
        }
    }

    #[test]
    fn the_lower_timestamp_then_hash_wins() {
        let parent = "a".repeat(64);
        let (early, late) = (event(&parent, 10), event(&parent, 20));
        assert!(wins(&early, &late));
        assert!(!wins(&late, &early));
        let (x, y) = (event(&parent, 10), event(&"b".repeat(64), 10));
        let (low, high) = if x.hash() < y.hash() { (x, y) } else { (y, x) };
        assert!(wins(&low, &high) && !wins(&high, &low));
        assert!(!wins(&low, &low));
    }

    #[test]
    fn final_once_every_participant_holds_it() {
        let (me, b, c) = (
            NodeKey::from_bytes(&[1; 32]).id(),
            NodeKey::from_bytes(&[2; 32]).id(),
            NodeKey::from_bytes(&[3; 32]).id(),
        );
        let nodes: BTreeSet<NodeId> = [me, b, c].into();
        let events = chain(5);
        let mut finality = Finality::default();
        assert!(!finality.update(&events, &nodes, Some(me)));
        assert_eq!(finality.final_len(), 0);

        finality.observe(b, head(&events, 4, 0));
        assert!(!finality.update(&events, &nodes, Some(me)));
        finality.observe(c, head(&events, 2, 0));
        assert!(finality.update(&events, &nodes, Some(me)));
        assert_eq!(finality.final_len(), 2);

        // A head this node does not hold (ahead, or on another branch) confirms nothing,
        // and what was final stays final.
        finality.observe(
            c,
            Announced {
                hash: "f".repeat(64),
                len: 9,
                final_len: 0,
            },
        );
        assert!(!finality.update(&events, &nodes, Some(me)));
        assert_eq!(finality.final_len(), 2);
        finality.observe(c, head(&events, 5, 0));
        assert!(finality.update(&events, &nodes, Some(me)));
        assert_eq!(finality.final_len(), 4);

        // Final everywhere: as far as the others said.
        assert_eq!(finality.final_everywhere(&events, &nodes, Some(me)), 0);
        finality.observe(b, head(&events, 4, 3));
        finality.observe(c, head(&events, 5, 4));
        assert_eq!(finality.final_everywhere(&events, &nodes, Some(me)), 3);
    }

    #[test]
    fn alone_everything_is_final() {
        let me = NodeKey::from_bytes(&[1; 32]).id();
        let events = chain(3);
        let mut finality = Finality::default();
        assert!(finality.update(&events, &[me].into(), Some(me)));
        assert_eq!(finality.final_len(), 3);
        let mut unsigned = Finality::default();
        assert!(unsigned.update(&events, &BTreeSet::new(), None));
        assert_eq!(
            unsigned.final_everywhere(&events, &BTreeSet::new(), None),
            3
        );
    }
}
