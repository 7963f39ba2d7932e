//! What the node keeps of a rejected attempt. A rejected step never enters the (shared)
//! chain: the node answers 400 and keeps the attempt in a bounded local log per process
//! (the latest [`DEFAULT_REJECTED_KEPT`](super::DEFAULT_REJECTED_KEPT)), shown as
//! `rejected` in the process JSON. So that a caller posting megabytes that are rejected
//! cannot grow that log by megabytes, a response over [`MAX_REJECTED_RESPONSE`] bytes of
//! JSON is replaced by `{"truncated": true, "bytes": N, "sha256": "…"}` (its size and the
//! SHA-256 of its JSON), and at most [`MAX_REJECTED_ERRORS`] errors of at most
//! [`MAX_ERROR_LEN`] bytes each are kept. The caller's answer still carries all the errors.

use crate::process::ActionEvent;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The largest response a rejected attempt keeps as given, in bytes of JSON (4 KiB).
pub const MAX_REJECTED_RESPONSE: usize = 4 * 1024;
/// The most errors a rejected attempt keeps (then one line says how many more there were).
pub const MAX_REJECTED_ERRORS: usize = 20;
/// The longest error text a rejected attempt keeps, in bytes.
pub const MAX_ERROR_LEN: usize = 1024;

/// The entry of the rejected log: `{timestamp, action, actor, response, errors}`, capped
/// to the limits above.
pub(crate) fn entry(attempt: &ActionEvent) -> Value {
    let response = attempt.response.as_ref().map(|response| {
        let bytes = serde_json::to_vec(response).unwrap_or_default();
        if bytes.len() > MAX_REJECTED_RESPONSE {
            json!({
                "truncated": true,
                "bytes": bytes.len(),
                "sha256": hex::encode(Sha256::digest(&bytes)),
            })
        } else {
            response.clone()
        }
    });
    let mut errors: Vec<String> = attempt
        .errors
        .iter()
        .take(MAX_REJECTED_ERRORS)
        .map(|error| {
            if error.len() <= MAX_ERROR_LEN {
                return error.clone();
            }
            let mut end = MAX_ERROR_LEN;
            while !error.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &error[..end])
        })
        .collect();
    if attempt.errors.len() > MAX_REJECTED_ERRORS {
        let more = attempt.errors.len() - MAX_REJECTED_ERRORS;
        errors.push(format!("… and {more} more errors"));
    }
    json!({
        "timestamp": attempt.timestamp,
        "action": attempt.action,
        "actor": attempt.actor,
        "response": response,
        "errors": errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::process::{StepActor, Timestamp};
    use crate::schema::SchemaRegistry;
    use crate::store::MemoryStore;
    use serde_json::Map;
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
    fn a_rejected_attempt_is_kept_capped_and_out_of_the_chain() {
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
        // Not in the chain.
        assert_eq!(process.events().len(), 1);
        let kept = engine.rejected("p").expect("rejected");
        assert_eq!(kept.len(), 1);
        let bytes = serde_json::to_vec(&big).expect("json");
        assert_eq!(
            kept[0]["response"],
            json!({
                "truncated": true,
                "bytes": bytes.len(),
                "sha256": hex::encode(Sha256::digest(&bytes)),
            })
        );
        let errors = kept[0]["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), MAX_REJECTED_ERRORS + 1);
        for (kept, given) in errors.iter().zip(&outcome.errors[..MAX_REJECTED_ERRORS]) {
            assert_eq!(kept, given);
        }
        assert_eq!(
            errors[MAX_REJECTED_ERRORS],
            format!(
                "… and {} more errors",
                outcome.errors.len() - MAX_REJECTED_ERRORS
            )
        );
        assert_eq!(
            engine.replay_stored("p").expect("replay").events(),
            process.events()
        );
    }
}
