//! Scenarios: loading (YAML with custom tags, JSON), normalization, validation and ids.

pub mod id;
pub mod normalize;
pub mod period;
pub mod validate;
pub mod yaml;
