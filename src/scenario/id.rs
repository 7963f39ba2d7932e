//! scenario::id
