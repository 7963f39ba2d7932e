//! scenario::normalize
