//! The network: libp2p between the nodes of the parties of shared processes. TCP + Noise +
//! Yamux; identify and ping; Kademlia to find a participant's addresses; configured peers;
//! optional mDNS. Process data travels only between participants, over request-response
//! ([`protocol`]): new events go straight from their author to every participant, each
//! participant relays what is new to it, and heads are exchanged on connect and
//! periodically so that a node that was away fetches what it missed ([`sync`]). Every
//! received event goes through the engine's one write path ([`crate::engine::Engine::receive`]).

mod codec;
pub mod peers;
pub mod protocol;
pub mod swarm;
pub mod sync;

pub use peers::{BookEntry, PeerStatus, Peers};
pub use swarm::{Client, NetError, Network, SwarmSettings};
