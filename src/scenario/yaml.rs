//! scenario::yaml
