//! Prediction: the likely path from the current state (SPEC 2.10).

use super::event::hash_value;
use super::state::{string_list, transitions};
use super::{Error, Process, StepActor};
use serde_json::{json, Map, Value};

/// At most this many predicted states.
const MAX_STEPS: usize = 100;

impl Process {
    /// The states the process will likely pass through from here, without `timestamp` and
    /// `notify`: each step tries every action × allowed actor with no response (update
    /// instructions use their `stub`, schema checks are off); a state without action
    /// transitions is assumed to time out. Stops at an end state or when the process would
    /// repeat itself; `Err(MaxIterations)` after 100 steps without either.
    pub fn predict(&self) -> Result<Vec<Value>, Error> {
        let mut process = self.clone();
        process.predicting = true;
        let mut seen = vec![process.fingerprint()];
        let mut states = vec![predicted_state(process.current())];

        loop {
            let next = process.try_to_step()?;
            let fingerprint = next.fingerprint();
            if seen.contains(&fingerprint) {
                let last_key = states.last().and_then(|s| s.get("key")).cloned();
                let repeats = last_key.as_ref().and_then(Value::as_str) == Some(next.current_key());
                if !next.scenario.is_end_state(next.current_key()) && !repeats {
                    states.push(predicted_state(next.current()));
                }
                break;
            }
            seen.push(fingerprint);
            states.push(predicted_state(next.current()));
            if states.len() > MAX_STEPS {
                return Err(Error::MaxIterations);
            }
            process = next;
        }
        // The first entry is where the process is now.
        states.remove(0);
        Ok(states)
    }

    /// One simulated step; the process unchanged when nothing can be done.
    fn try_to_step(&self) -> Result<Process, Error> {
        let key = self.current_key();
        if self.scenario.is_end_state(key) {
            return Ok(self.clone());
        }
        let at = self.last_event().timestamp();
        let state = self.scenario.state(key).cloned().unwrap_or_default();
        let actionable: Vec<&Map<String, Value>> = transitions(&state)
            .filter(|tr| tr.get("on").is_some_and(|on| !on.is_null()))
            .collect();

        if actionable.is_empty() {
            let mut next = self.clone();
            next.force_timeout(at)?;
            return Ok(next);
        }

        let mut tried: Vec<(String, String)> = Vec::new();
        for tr in actionable {
            let Some(action) = tr.get("on").and_then(Value::as_str) else {
                continue;
            };
            let mut actors = string_list(tr.get("by").unwrap_or(&Value::Null));
            if actors.is_empty() {
                actors = self.current_action_actors(action);
            }
            if actors.iter().any(|a| a == "*") {
                actors = match self.actors() {
                    Value::Object(map) => map.keys().cloned().collect(),
                    _ => vec![],
                };
            }
            for actor in actors {
                let attempt = (action.to_string(), actor.clone());
                if tried.contains(&attempt) {
                    continue;
                }
                let mut next = self.clone();
                let outcome = next.step(action, &StepActor::key(&actor), None, at)?;
                if !outcome.skipped {
                    return Ok(next);
                }
                tried.push(attempt);
            }
        }
        Ok(self.clone())
    }

    fn current_action_actors(&self, action: &str) -> Vec<String> {
        self.current()
            .get("actions")
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|a| a.get("key").and_then(Value::as_str) == Some(action))
            })
            .map(|a| string_list(a.get("actor").unwrap_or(&Value::Null)))
            .unwrap_or_default()
    }

    /// Fires the first timeout transition whose `if` holds, however long it waits.
    fn force_timeout(&mut self, at: super::Timestamp) -> Result<(), Error> {
        let mut event = super::Event::Timeout(super::TimeoutEvent {
            previous: self.last_event().hash().to_string(),
            timestamp: at,
            version: super::EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        let seed = event.rehash_seeded();
        self.fire_timeout(event, f64::MAX, seed)?;
        Ok(())
    }

    /// What identifies a point on the path: everything variable in the process.
    fn fingerprint(&self) -> String {
        hash_value(&json!({
            "title": self.title(),
            "tags": self.tags(),
            "actors": self.actors(),
            "vars": self.vars(),
            "result": self.result(),
            "current": self.current_key(),
        }))
    }
}

fn predicted_state(state: &Value) -> Value {
    let mut state = state.clone();
    if let Value::Object(map) = &mut state {
        map.remove("timestamp");
        map.remove("notify");
    }
    state
}
