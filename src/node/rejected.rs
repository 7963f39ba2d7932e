//! What a rejected step stores. A rejected attempt is recorded as a skipped event (STYLE 3),
//! with its whole response and errors; a caller posting megabytes that are rejected would
//! grow the process by megabytes each time. Until rejections leave the chain (the
//! peer-to-peer work), the node caps them: a response over [`MAX_REJECTED_RESPONSE`] bytes
//! of JSON is replaced by `{"truncated": true, "bytes": N, "sha256": "…"}` (its size and
//! the SHA-256 of its JSON), and at most [`MAX_REJECTED_ERRORS`] errors of at most
//! [`MAX_ERROR_LEN`] bytes each are kept. The caller's answer still carries all the errors.

use crate::process::Process;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The largest response a rejected attempt stores as given, in bytes of JSON (4 KiB).
pub const MAX_REJECTED_RESPONSE: usize = 4 * 1024;
/// The most errors a rejected attempt stores (then one line says how many more there were).
pub const MAX_REJECTED_ERRORS: usize = 20;
/// The longest error text a rejected attempt stores, in bytes.
pub const MAX_ERROR_LEN: usize = 1024;

/// Caps the last event of `process`, when it is a rejected attempt, to the limits above.
pub(crate) fn cap_rejected(process: &mut Process) {
    process.amend_rejected(|event| {
        if let Some(response) = &event.response {
            let bytes = serde_json::to_vec(response).unwrap_or_default();
            if bytes.len() > MAX_REJECTED_RESPONSE {
                event.response = Some(json!({
                    "truncated": true,
                    "bytes": bytes.len(),
                    "sha256": hex::encode(Sha256::digest(&bytes)),
                }));
            }
        }
        if event.errors.len() > MAX_REJECTED_ERRORS {
            let more = event.errors.len() - MAX_REJECTED_ERRORS;
            event.errors.truncate(MAX_REJECTED_ERRORS);
            event.errors.push(format!("… and {more} more errors"));
        }
        for error in &mut event.errors {
            if error.len() > MAX_ERROR_LEN {
                let mut end = MAX_ERROR_LEN;
                while !error.is_char_boundary(end) {
                    end -= 1;
                }
                error.truncate(end);
                error.push('…');
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Engine;
    use crate::process::{Event, StepActor, Timestamp};
    use crate::schema::SchemaRegistry;
    use crate::store::MemoryStore;
    use serde_json::{Map, Value};
    use std::sync::Arc;

    /// One action whose response needs 30 number properties.
    fn scenario() -> Value {
        let properties: Map<String, Value> = (0..30)
            .map(|n| (format!("p{n}"), json!({"type": "number"})))
            .collect();
        let required: Vec<String> = (0..30).map(|n| format!("p{n}")).collect();
        json!({
            "name": "many", "version": "1.0",
            "actors": {"a": {}},
            "actions": {"go": {"actor": "a", "response": {
                "type": "object", "properties": properties, "required": required,
            }}},
            "states": {"initial": {"on": "go", "by": "a", "goto": "(done)"}},
        })
    }

    #[test]
    fn a_rejected_attempt_is_capped_and_still_replays() {
        let at = Timestamp::from_millis(1_735_689_600_000);
        let store = Arc::new(MemoryStore::new());
        let engine = Engine::new(store.clone(), SchemaRegistry::new());
        let (id, _) = engine.add_scenario(&scenario(), at).expect("scenario");
        engine.start(&id, "p", Map::new(), at).expect("start");
        let big = json!({"text": "x".repeat(MAX_REJECTED_RESPONSE)});
        let (outcome, process) = engine
            .step("p", "go", &StepActor::key("a"), Some(big.clone()), at)
            .expect("step");
        assert!(outcome.skipped);
        assert!(
            outcome.errors.len() > MAX_REJECTED_ERRORS,
            "{:?}",
            outcome.errors
        );
        let Some(Event::Action(event)) = process.events().last() else {
            panic!("no action event");
        };
        let bytes = serde_json::to_vec(&big).expect("json");
        assert_eq!(
            event.response,
            Some(json!({
                "truncated": true,
                "bytes": bytes.len(),
                "sha256": hex::encode(Sha256::digest(&bytes)),
            }))
        );
        assert_eq!(event.errors.len(), MAX_REJECTED_ERRORS + 1);
        assert_eq!(
            event.errors[..MAX_REJECTED_ERRORS],
            outcome.errors[..MAX_REJECTED_ERRORS]
        );
        assert_eq!(
            event.errors[MAX_REJECTED_ERRORS],
            format!(
                "… and {} more errors",
                outcome.errors.len() - MAX_REJECTED_ERRORS
            )
        );
        // The rewritten event is what is stored, and its chain replays.
        assert_eq!(
            engine.replay_stored("p").expect("replay").events(),
            process.events()
        );
    }
}
