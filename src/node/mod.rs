//! The node: wiring of engine, storage and API; configuration, startup, the timer loop and
//! group commit.

pub mod check;
pub mod committer;
pub mod config;
pub mod engine;
pub mod rejected;
pub mod server;
pub mod timers;

pub use committer::{CommitStats, Committer, GroupCommit};
pub use engine::{Engine, EngineError};

#[cfg(test)]
mod tests;
