//! scenario::validate
