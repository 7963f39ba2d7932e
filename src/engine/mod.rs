//! The engine: the one write path of a node. Every event — made by a local user through the
//! API, fired by a timer, or received from a peer — is applied to its process under the
//! process's lock and committed durably in one write (events, view, timer, outbox). Above
//! it sit the API, the network and the services; the wiring in `node` starts them over one
//! engine. Also here: the process cache, the group committer, the timer loop and the store
//! check.

pub mod check;
pub mod committer;
mod core;
mod fork;
pub mod rejected;
pub mod timers;

pub use self::core::{
    current_summary, timer_of, view_of, Appended, Engine, EngineError, Received, Result,
    DEFAULT_CACHE_CAPACITY, DEFAULT_REJECTED_KEPT,
};
pub use committer::{CommitStats, Committer, GroupCommit};
pub use fork::{EventStatus, FinalityView, ForkStats, HeadSeen, Rebased};

#[cfg(test)]
mod tests;
