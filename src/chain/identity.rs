//! Node identity: an ed25519 key pair. The public key, written as a libp2p peer id (base58btc
//! of the identity multihash of the protobuf-encoded key), is the node id; so a node's peer
//! id and the signer of its events are one and the same.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The bytes before the 32 key bytes in a peer id: identity multihash (0x00) of 36 bytes
/// (0x24), protobuf `PublicKey { Type = Ed25519 (1), Data = 32 bytes }`.
const PEER_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/// Why a node id or signature could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The text is not a peer id of an ed25519 key.
    #[error("'{0}' is not a node id (the peer id of an ed25519 key, e.g. 12D3KooW…)")]
    NodeId(String),
    /// The signature is not 64 bytes of hex.
    #[error("malformed signature: expected 128 hex digits")]
    Signature,
}

/// The secret key of a node. `Debug` shows only the node id; the key bytes are wiped when
/// it is dropped (ed25519-dalek's `zeroize`).
pub struct NodeKey(SigningKey);

impl NodeKey {
    /// The key with this 32-byte secret (seed).
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        NodeKey(SigningKey::from_bytes(secret))
    }

    /// The 32-byte secret, e.g. for the libp2p identity or the key file.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The node id (public key).
    pub fn id(&self) -> NodeId {
        NodeId(self.0.verifying_key().to_bytes())
    }

    /// Signs `message`; the signature is hex.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.id())
    }
}

/// The public key of a node: text (the peer id) in JSON, 32 bytes in signatures. Holds
/// the bytes of a key checked to be a valid ed25519 point.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; 32]);

impl NodeId {
    /// The node id of the 32 public key bytes.
    pub fn from_public_bytes(bytes: &[u8; 32]) -> Result<Self, IdentityError> {
        VerifyingKey::from_bytes(bytes)
            .map(|key| NodeId(key.to_bytes()))
            .map_err(|_| IdentityError::NodeId(hex::encode(bytes)))
    }

    /// The 32 public key bytes.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The peer id bytes (the identity multihash of the protobuf-encoded key).
    pub fn peer_id_bytes(&self) -> Vec<u8> {
        let mut out = PEER_ID_PREFIX.to_vec();
        out.extend_from_slice(&self.0);
        out
    }

    /// The node id of peer id bytes.
    ///
    /// Only the shape is checked (an identity multihash of an ed25519 key of 32 bytes):
    /// node ids are read wherever a process names its participants, and decompressing the
    /// curve point each time would cost more than the step. Whether the bytes are a key is
    /// checked when a signature is verified (one that is not never verifies) and by
    /// [`NodeId::is_key`] where a user names a node.
    pub fn from_peer_id_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        bytes
            .strip_prefix(&PEER_ID_PREFIX[..])
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .map(NodeId)
            .ok_or_else(|| IdentityError::NodeId(bs58::encode(bytes).into_string()))
    }

    /// Whether the id's bytes are an ed25519 public key (a point of the curve).
    pub fn is_key(&self) -> bool {
        VerifyingKey::from_bytes(&self.0).is_ok()
    }

    /// Whether `signature` (hex) is this node's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> Result<bool, IdentityError> {
        let bytes: [u8; 64] = hex::decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(IdentityError::Signature)?;
        let key = VerifyingKey::from_bytes(&self.0)
            .map_err(|_| IdentityError::NodeId(hex::encode(self.0)))?;
        Ok(key
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok())
    }

    /// The last 8 characters, for logs.
    pub fn short(&self) -> String {
        let text = self.to_string();
        text[text.len().saturating_sub(8)..].to_string()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.peer_id_bytes()).into_string())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s)
            .into_vec()
            .map_err(|_| IdentityError::NodeId(s.to_string()))?;
        Self::from_peer_id_bytes(&bytes).map_err(|_| IdentityError::NodeId(s.to_string()))
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_round_trip_as_peer_ids() {
        let key = NodeKey::from_bytes(&[7; 32]);
        let id = key.id();
        let text = id.to_string();
        assert!(text.starts_with("12D3KooW"), "{text}");
        assert_eq!(text.parse::<NodeId>(), Ok(id));
        assert_eq!(serde_json::to_value(id).ok(), Some(text.clone().into()));
        assert_eq!(id.short(), text[text.len() - 8..]);
        assert!(format!("{key:?}").contains(&text));
        assert!(!format!("{key:?}").contains(&hex::encode([7u8; 32])));
        assert!("12D3KooWnot-base58".parse::<NodeId>().is_err());
        // The right shape, but not a key: read, never verifying, and told apart.
        let mut bytes = id.peer_id_bytes();
        let last = bytes.len() - 1;
        for candidate in 0..=255u8 {
            bytes[last] = candidate;
            let unkeyed = NodeId::from_peer_id_bytes(&bytes).expect("shape");
            if !unkeyed.is_key() {
                assert_eq!(
                    unkeyed.verifies(b"message", &key.sign(b"message")),
                    Err(IdentityError::NodeId(hex::encode(unkeyed.public_bytes())))
                );
                break;
            }
        }
        assert!(id.is_key());
        // A valid base58 text of the wrong shape (a sha256 multihash peer id).
        assert!("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
            .parse::<NodeId>()
            .is_err());
    }

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let key = NodeKey::from_bytes(&[1; 32]);
        let other = NodeKey::from_bytes(&[2; 32]).id();
        let signature = key.sign(b"message");
        assert_eq!(key.id().verifies(b"message", &signature), Ok(true));
        assert_eq!(key.id().verifies(b"messagf", &signature), Ok(false));
        assert_eq!(other.verifies(b"message", &signature), Ok(false));
        assert_eq!(
            key.id().verifies(b"message", "zz"),
            Err(IdentityError::Signature)
        );
    }
}
