//! The node: the wiring on top of everything — configuration, the node key, startup, and
//! the runtime that starts the API, the timer loop and the network over one
//! [`Engine`](crate::engine::Engine).

pub mod config;
pub mod identity;
pub mod preflight;
pub mod server;
