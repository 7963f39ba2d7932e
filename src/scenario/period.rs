//! scenario::period
