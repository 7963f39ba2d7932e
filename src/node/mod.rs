//! The node: wiring of engine, storage and (later) API, network and services.

pub mod engine;

pub use engine::{Engine, EngineError};

#[cfg(test)]
mod tests;
