//! Signatures. A node signs the hash of each event it authors, and the heads it announces.
//!
//! - Event: ed25519 over `b"letsflow-node event v1:"` followed by the 32 bytes of the event
//!   hash (the hash itself is BLAKE3 in key-derivation mode over the canonical JSON without
//!   `hash`, `signer` and `signature`; see [`crate::process::HASH_CONTEXT`]). The signer is
//!   not hashed: every node that fires the same due timeout makes the same event.
//! - Head: ed25519 over `b"letsflow-node head v1:"` followed by [`head_digest`].

use super::identity::{IdentityError, NodeId, NodeKey};
use crate::json;
use crate::process::Event;
use serde::{Deserialize, Serialize};

/// What is signed before an event hash.
pub const EVENT_SIGNATURE_PREFIX: &[u8] = b"letsflow-node event v1:";
/// What is signed before a head digest.
pub const HEAD_SIGNATURE_PREFIX: &[u8] = b"letsflow-node head v1:";
/// The BLAKE3 key-derivation context of head digests.
pub const HEAD_CONTEXT: &str = "letsflow-node 2026 head v1";

/// Why a seal does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The event carries no signer or no signature.
    #[error("the event is not signed")]
    Unsigned,
    /// The signer is not a node id, or the signature is malformed.
    #[error(transparent)]
    Malformed(#[from] IdentityError),
    /// The hash is not 64 hex digits.
    #[error("the event hash is not 64 hex digits")]
    Hash,
    /// The signature does not verify.
    #[error("the signature of {0} does not verify")]
    Forged(String),
}

fn event_message(hash: &str) -> Result<Vec<u8>, SealError> {
    let bytes = hex::decode(hash).map_err(|_| SealError::Hash)?;
    if bytes.len() != 32 {
        return Err(SealError::Hash);
    }
    let mut message = EVENT_SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(&bytes);
    Ok(message)
}

/// Signs `event` (whose hash must be final) as `key`'s node.
pub fn sign_event(key: &NodeKey, event: &mut Event) -> Result<(), SealError> {
    let signature = event_signature(key, event.hash())?;
    event.set_seal(Some(key.id().to_string()), Some(signature));
    Ok(())
}

/// `key`'s signature of the event with hash `hash` (hex).
pub fn event_signature(key: &NodeKey, hash: &str) -> Result<String, SealError> {
    Ok(key.sign(&event_message(hash)?))
}

/// The signer of `event` when its signature verifies (the hash is not checked here).
pub fn verify_event(event: &Event) -> Result<NodeId, SealError> {
    let (Some(signer), Some(signature)) = event.seal() else {
        return Err(SealError::Unsigned);
    };
    let signer: NodeId = signer.parse()?;
    if signer.verifies(&event_message(event.hash())?, signature)? {
        Ok(signer)
    } else {
        Err(SealError::Forged(event.hash().to_string()))
    }
}

/// A node's announced head of one process: the last event of its chain, and its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// The process id.
    pub process: String,
    /// The hash of the last event the signer holds.
    pub hash: String,
    /// The number of events the signer holds.
    pub len: u64,
    /// How many of them (from the first) are final at the signer; absent in heads of
    /// part 1, which the digest then leaves out.
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_len: Option<u64>,
    /// The announcing node.
    pub signer: NodeId,
    /// ed25519 over [`HEAD_SIGNATURE_PREFIX`] + [`head_digest`], hex. Absent in a head
    /// that travels in a message signed as a whole ([`sign_heads`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// BLAKE3 (key derivation, [`HEAD_CONTEXT`]) over the canonical JSON
/// `{"final":…,"hash":…,"len":…,"process":…}` (`final` only when given).
pub fn head_digest(process: &str, hash: &str, len: u64, final_len: Option<u64>) -> [u8; 32] {
    let mut doc = serde_json::json!({"process": process, "hash": hash, "len": len});
    if let Some(n) = final_len {
        doc["final"] = n.into();
    }
    *blake3::Hasher::new_derive_key(HEAD_CONTEXT)
        .update(json::canonical(&doc).as_bytes())
        .finalize()
        .as_bytes()
}

fn head_message(process: &str, hash: &str, len: u64, final_len: Option<u64>) -> Vec<u8> {
    let mut message = HEAD_SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(&head_digest(process, hash, len, final_len));
    message
}

impl SignedHead {
    /// `key`'s node announces that its chain of `process` ends at `hash` with `len` events,
    /// of which the first `final_len` are final at it.
    pub fn sign(
        key: &NodeKey,
        process: &str,
        hash: &str,
        len: u64,
        final_len: Option<u64>,
    ) -> Self {
        SignedHead {
            process: process.to_string(),
            hash: hash.to_string(),
            len,
            final_len,
            signer: key.id(),
            signature: Some(key.sign(&head_message(process, hash, len, final_len))),
        }
    }

    /// `key`'s node's head, unsigned: to travel in a message signed as a whole.
    pub fn unsigned(
        key: &NodeKey,
        process: &str,
        hash: &str,
        len: u64,
        final_len: Option<u64>,
    ) -> Self {
        SignedHead {
            process: process.to_string(),
            hash: hash.to_string(),
            len,
            final_len,
            signer: key.id(),
            signature: None,
        }
    }

    /// Whether its own signature holds (false without one).
    pub fn verifies(&self) -> bool {
        let Some(signature) = &self.signature else {
            return false;
        };
        self.signer
            .verifies(
                &head_message(&self.process, &self.hash, self.len, self.final_len),
                signature,
            )
            .unwrap_or(false)
    }

    fn digest(&self) -> [u8; 32] {
        head_digest(&self.process, &self.hash, self.len, self.final_len)
    }
}

/// What is signed before a [`heads_digest`].
pub const HEADS_SIGNATURE_PREFIX: &[u8] = b"letsflow-node heads v1:";
/// The BLAKE3 key-derivation context of [`heads_digest`].
pub const HEADS_CONTEXT: &str = "letsflow-node 2026 heads v1";

/// BLAKE3 (key derivation, [`HEADS_CONTEXT`]) over the [`head_digest`]s of `heads`, in order:
/// what one signature covers for a whole message of heads.
pub fn heads_digest(heads: &[SignedHead]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(HEADS_CONTEXT);
    for head in heads {
        hasher.update(&head.digest());
    }
    *hasher.finalize().as_bytes()
}

fn heads_message(heads: &[SignedHead]) -> Vec<u8> {
    let mut message = HEADS_SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(&heads_digest(heads));
    message
}

/// `key`'s signature of a message of its own `heads` (one signature for all of them).
pub fn sign_heads(key: &NodeKey, heads: &[SignedHead]) -> String {
    key.sign(&heads_message(heads))
}

/// Whether `heads` are all `signer`'s and `signature` is its signature of them together.
pub fn heads_verify(signer: &NodeId, heads: &[SignedHead], signature: &str) -> bool {
    heads.iter().all(|h| h.signer == *signer)
        && signer
            .verifies(&heads_message(heads), signature)
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{Event, TimeoutEvent, Timestamp, EVENT_VERSION};

    fn timeout() -> Event {
        let mut event = Event::Timeout(TimeoutEvent {
            previous: "00".repeat(32),
            timestamp: Timestamp::from_millis(1_735_689_600_000),
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        event.rehash();
        event
    }

    #[test]
    fn signed_events_verify_and_tampering_is_caught() {
        let key = NodeKey::from_bytes(&[3; 32]);
        let mut event = timeout();
        assert_eq!(verify_event(&event), Err(SealError::Unsigned));
        sign_event(&key, &mut event).expect("sign");
        assert_eq!(verify_event(&event), Ok(key.id()));
        // The seal does not change the hash.
        assert!(event.hash_is_valid());

        let mut other = event.clone();
        let (_, signature) = other.seal();
        let signature = signature.map(str::to_string);
        other.set_seal(
            Some(NodeKey::from_bytes(&[4; 32]).id().to_string()),
            signature,
        );
        assert!(matches!(verify_event(&other), Err(SealError::Forged(_))));

        let mut json = event.to_json();
        json["hash"] = "11".repeat(32).into();
        let moved: Event = serde_json::from_value(json).expect("event");
        assert!(matches!(verify_event(&moved), Err(SealError::Forged(_))));
    }

    /// The test vectors of docs/protocol.md.
    #[test]
    fn protocol_test_vectors() {
        let key = NodeKey::from_bytes(&[1; 32]);
        let id = key.id().to_string();
        let mut event: Event = serde_json::from_value(serde_json::json!({
            "previous": "0".repeat(64),
            "timestamp": "2025-01-01T00:00:00.000Z",
            "version": 1,
            "hash": "",
        }))
        .expect("timeout event");
        event.rehash();
        sign_event(&key, &mut event).expect("sign");
        let head = hex::encode(head_digest("p1", "ab", 3, None));
        let head_final = hex::encode(head_digest("p1", "ab", 3, Some(2)));
        let heads = hex::encode(heads_digest(&[
            SignedHead::unsigned(&key, "p1", "ab", 3, Some(2)),
            SignedHead::unsigned(&key, "p2", "cd", 1, None),
        ]));
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md"))
                .expect("docs/protocol.md");
        let (_, signature) = event.seal();
        let signature = signature.expect("signature");
        println!(
            "{id}\n{}\n{signature}\n{head}\n{head_final}\n{heads}",
            event.hash()
        );
        for value in [
            id.as_str(),
            event.hash(),
            signature,
            head.as_str(),
            head_final.as_str(),
            heads.as_str(),
        ] {
            assert!(text.contains(value), "docs/protocol.md lacks {value}");
        }
        let canonical = r#"{"previous":"0000000000000000000000000000000000000000000000000000000000000000","timestamp":"2025-01-01T00:00:00.000Z","version":1}"#;
        assert!(text.contains(canonical));
        let hash = blake3::Hasher::new_derive_key(crate::process::HASH_CONTEXT)
            .update(canonical.as_bytes())
            .finalize();
        assert_eq!(hash.to_hex().as_str(), event.hash());
    }

    #[test]
    fn messages_of_heads_verify_as_a_whole() {
        let key = NodeKey::from_bytes(&[5; 32]);
        let heads = vec![
            SignedHead::unsigned(&key, "p1", "ab", 3, Some(2)),
            SignedHead::unsigned(&key, "p2", "cd", 1, Some(1)),
        ];
        assert!(!heads[0].verifies());
        let signature = sign_heads(&key, &heads);
        assert!(heads_verify(&key.id(), &heads, &signature));
        let mut changed = heads.clone();
        changed[1].len = 2;
        assert!(!heads_verify(&key.id(), &changed, &signature));
        let reordered = vec![heads[1].clone(), heads[0].clone()];
        assert!(!heads_verify(&key.id(), &reordered, &signature));
        let other = NodeKey::from_bytes(&[6; 32]);
        assert!(!heads_verify(&other.id(), &heads, &signature));
        let foreign = vec![SignedHead::unsigned(&other, "p1", "ab", 3, None)];
        assert!(!heads_verify(
            &key.id(),
            &foreign,
            &sign_heads(&key, &foreign)
        ));
    }

    #[test]
    fn single_heads_verify() {
        let key = NodeKey::from_bytes(&[5; 32]);
        let head = SignedHead::sign(&key, "p1", "ab", 3, Some(2));
        assert!(head.verifies());
        assert!(!SignedHead {
            len: 4,
            ..head.clone()
        }
        .verifies());
        assert!(!SignedHead {
            final_len: Some(3),
            ..head.clone()
        }
        .verifies());
        assert!(!SignedHead {
            process: "p2".into(),
            ..head
        }
        .verifies());
    }
}
