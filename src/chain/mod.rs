//! The chain: node identity, signed and hash-chained events, and the rules a node checks
//! before it accepts an event from a peer (DESIGN "Events on the wire", "Validation on
//! receipt"). Pure like `process`: no clock, no randomness, no I/O — the current time and
//! the key bytes are passed in. `docs/protocol.md` specifies the encodings byte for byte.
//!
//! - [`identity`]: [`NodeKey`] (the node's ed25519 key) and [`NodeId`] (its public key,
//!   written as the libp2p peer id, so the peer id *is* the node id).
//! - [`seal`]: signing events and heads, and checking their signatures.
//! - [`participants`]: which node acts for which actor of a process.
//! - [`receipt`]: the deterministic checks of an event received from a peer.
//! - [`finality`]: fork choice between sibling events, and which events are final.

pub mod finality;
pub mod identity;
pub mod participants;
pub mod receipt;
pub mod seal;

pub use finality::{position, wins, Announced, Finality};
pub use identity::{NodeId, NodeKey};
pub use participants::{actor_node, creator, event_actor, participants};
pub use receipt::{check_received, ReceiptRules, Refusal};
pub use seal::{
    event_signature, head_digest, heads_digest, heads_verify, sign_event, sign_heads, verify_event,
    SignedHead,
};
