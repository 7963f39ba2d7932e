//! process layer
