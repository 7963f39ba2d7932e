//! The checks of an event received from a peer, before it is applied (DESIGN "Validation on
//! receipt"). These are the checks that need no replay; the engine then applies the event
//! with the `process` layer, which must accept it (an action not skipped, a timeout due).

use super::identity::NodeId;
use super::participants::{actor_node, event_actor, participants};
use super::seal::{verify_event, SealError};
use crate::process::{Event, Process, Timestamp};

/// Why a received event is refused. Each refusal is logged, counted against the peer that
/// sent it, and nothing of the event is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The hash does not match the content.
    #[error("tampered event {0}: its hash does not match its content")]
    Tampered(String),
    /// Unsigned, badly signed, or the signature does not verify.
    #[error("bad signature: {0}")]
    Seal(#[from] SealError),
    /// An unversioned (unsigned-era) event.
    #[error("event {0} has no version: only signed events of version 1 are accepted from peers")]
    Version(String),
    /// The event does not continue the chain the receiver holds.
    #[error("event {hash} does not follow the head {head}")]
    BrokenLink {
        /// The event.
        hash: String,
        /// The receiver's head.
        head: String,
    },
    /// The previous event is unknown to the receiver.
    #[error("orphan event {hash}: its previous event {previous} is unknown")]
    Orphan {
        /// The event.
        hash: String,
        /// What it names as previous.
        previous: String,
    },
    /// Signed by another node than the one bound to the acting actor.
    #[error("event {hash} is signed by {signer}, but actor '{actor}' belongs to node {expected}")]
    WrongSigner {
        /// The event.
        hash: String,
        /// The actor.
        actor: String,
        /// Who signed.
        signer: String,
        /// Who should have.
        expected: String,
    },
    /// A timeout signed by a node that takes no part in the process.
    #[error("event {hash} is signed by {signer}, which is no participant of process '{process}'")]
    NotParticipant {
        /// The event.
        hash: String,
        /// The process.
        process: String,
        /// Who signed.
        signer: String,
    },
    /// Earlier than its parent.
    #[error("event {hash} at {at} is earlier than its previous event at {parent}")]
    BeforeParent {
        /// The event.
        hash: String,
        /// Its timestamp.
        at: String,
        /// The parent's.
        parent: String,
    },
    /// Too far ahead of the receiver's clock.
    #[error("event {hash} at {at} is more than {skew_ms} ms ahead of this node's clock ({now})")]
    InFuture {
        /// The event.
        hash: String,
        /// Its timestamp.
        at: String,
        /// The receiver's time.
        now: String,
        /// The allowed skew.
        skew_ms: i64,
    },
    /// The process layer rejects the step.
    #[error("event {hash} would be rejected: {errors}")]
    Rejected {
        /// The event.
        hash: String,
        /// The errors of the step.
        errors: String,
    },
    /// A sibling of a final event that would win the fork choice: final events never
    /// change, and an honest node never makes such an event (docs/protocol.md, safety).
    #[error("event {hash} is a sibling of final event {sibling}: final events never change (evidence of a misbehaving node)")]
    FinalSibling {
        /// The event.
        hash: String,
        /// The final event it would replace.
        sibling: String,
    },
    /// A timeout that is not due at its timestamp.
    #[error("timeout event {0} is not due at its timestamp")]
    NotDue(String),
    /// The event cannot be applied to this process (wrong scenario, corrupt, …).
    #[error("event {hash} cannot be applied: {reason}")]
    Invalid {
        /// The event.
        hash: String,
        /// Why.
        reason: String,
    },
}

/// The clock and tolerance of the receiver.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptRules {
    /// The receiver's current time.
    pub now: Timestamp,
    /// How far (ms) an event's timestamp may be ahead of `now`.
    pub max_skew_ms: i64,
}

/// Checks `event`, received for the process whose current chain is `process` (`None` for
/// an instantiate event of a new process), and returns its signer. Replaying is left to the
/// caller.
pub fn check_received(
    process: Option<&Process>,
    event: &Event,
    rules: ReceiptRules,
) -> Result<NodeId, Refusal> {
    let hash = event.hash().to_string();
    if !event.hash_is_valid() {
        return Err(Refusal::Tampered(hash));
    }
    if event.version() == 0 {
        return Err(Refusal::Version(hash));
    }
    let signer = verify_event(event)?;
    let at = event.timestamp();
    if at.millis() > rules.now.millis().saturating_add(rules.max_skew_ms) {
        return Err(Refusal::InFuture {
            hash,
            at: at.to_iso(),
            now: rules.now.to_iso(),
            skew_ms: rules.max_skew_ms,
        });
    }
    let (Some(process), Some(previous)) = (process, event.previous()) else {
        // An instantiate event is signed by its creator, whoever that is; whether the
        // receiver takes part is decided once it is applied.
        return match (process, event) {
            (None, Event::Instantiate(_)) => Ok(signer),
            _ => Err(Refusal::Invalid {
                hash,
                reason: "an instantiate event must start a new process".into(),
            }),
        };
    };
    let head = process.last_event();
    if previous != head.hash() {
        return Err(Refusal::BrokenLink {
            hash,
            head: head.hash().to_string(),
        });
    }
    if at < head.timestamp() {
        return Err(Refusal::BeforeParent {
            hash,
            at: at.to_iso(),
            parent: head.timestamp().to_iso(),
        });
    }
    match event {
        Event::Action(_) => {
            let actor = event_actor(event).unwrap_or_default().to_string();
            let expected = actor_node(process, &actor);
            if expected != Some(signer) {
                return Err(Refusal::WrongSigner {
                    hash,
                    actor,
                    signer: signer.to_string(),
                    expected: expected.map_or_else(|| "none".into(), |n| n.to_string()),
                });
            }
        }
        _ => {
            if !participants(process).contains(&signer) {
                return Err(Refusal::NotParticipant {
                    hash,
                    process: process.id().to_string(),
                    signer: signer.to_string(),
                });
            }
        }
    }
    Ok(signer)
}
