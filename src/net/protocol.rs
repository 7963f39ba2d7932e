//! The messages nodes exchange (request-response over libp2p, JSON, protocol
//! [`PROTOCOL`]). `docs/protocol.md` describes each one and the checks on both sides.

use crate::chain::SignedHead;
use crate::process::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The libp2p protocol name of the sync protocol.
pub const PROTOCOL: &str = "/letsflow/sync/1";

/// The largest request a node reads (bytes); a larger one is refused by the codec.
pub const MAX_REQUEST_BYTES: u64 = 8 * 1024 * 1024;
/// The largest response a node reads (bytes).
pub const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// The most events an [`Request::GetEvents`] answer carries.
pub const MAX_EVENTS_PER_ANSWER: usize = 256;
/// The most heads one [`Request::Heads`] carries.
pub const MAX_HEADS_PER_MESSAGE: usize = 512;

/// A request to a peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Request {
    /// New events of a process, in chain order (idempotent: known events are skipped).
    Events {
        /// The process.
        process: String,
        /// The events.
        events: Vec<Event>,
        /// When their author committed them (ms since the Unix epoch, its clock): for the
        /// receiver's arrival statistics only. Absent in relays.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        committed: Option<i64>,
    },
    /// The sender's heads of processes both take part in.
    Heads {
        /// One head per process, each signed — or all signed at once by `signature`.
        heads: Vec<SignedHead>,
        /// The sender's signature of all `heads` together (see `chain::sign_heads`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The events of a process after the event `after` (`None`: from the start).
    #[serde(rename_all = "camelCase")]
    GetEvents {
        /// The process.
        process: String,
        /// The hash of the last event the asker holds.
        after: Option<String>,
        /// The asker's last final event: where to start when `after` is unknown to the
        /// answerer (the asker is on another branch after it). Absent: from the start.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<String>,
    },
    /// Not sent: a request over [`MAX_REQUEST_BYTES`] as the receiver sees it.
    #[serde(skip)]
    Oversized {
        /// The limit.
        limit: u64,
    },
    /// Not sent: a request that is not JSON of this protocol, as the receiver sees it.
    #[serde(skip)]
    Unreadable {
        /// Why.
        reason: String,
    },
    /// The normalized scenario `id`, which process `process` runs.
    GetScenario {
        /// The scenario id.
        id: String,
        /// A process of the scenario that both take part in.
        process: String,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Response {
    /// Events or heads were taken in.
    Ack {
        /// Events applied.
        applied: u32,
        /// Events held already.
        duplicates: u32,
        /// Events that lost the fork choice against a sibling held here (not stored; the
        /// rest of the message, which descends from them, is not looked at).
        #[serde(default, skip_serializing_if = "is_zero")]
        superseded: u32,
    },
    /// Events of a process.
    Events {
        /// In chain order.
        events: Vec<Event>,
        /// True when more follow (ask again after the last one).
        more: bool,
    },
    /// A normalized scenario.
    Scenario {
        /// Its JSON.
        scenario: Value,
    },
    /// The request was refused.
    Refused {
        /// Why.
        reason: String,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
