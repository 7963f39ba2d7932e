//! The node: the wiring on top of everything — configuration, startup, and the runtime that
//! starts the API, the timer loop and the network over one [`Engine`](crate::engine::Engine).

pub mod config;
pub mod server;
