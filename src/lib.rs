//! LetsFlow node: a decentralized, peer-to-peer LetsFlow workflow engine.
#![forbid(unsafe_code)]

pub mod api;
pub mod chain;
pub mod engine;
pub mod expr;
pub mod json;
pub mod net;
pub mod node;
pub mod process;
pub mod scenario;
pub mod schema;
pub mod services;
pub mod store;
pub mod testsuite;
