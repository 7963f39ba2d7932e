//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The `shared/` folder with the conformance data and golden outputs: `$LETSFLOW_SHARED_DIR`,
/// else `../shared` beside the crate. `None` (with the reason printed) when it is absent,
/// so that the conformance tests skip on a machine without it.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LETSFLOW_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("conformance").is_dir() {
        Some(dir)
    } else {
        println!(
            "skipping: conformance data not found at {} (set LETSFLOW_SHARED_DIR)",
            dir.display()
        );
        None
    }
}
