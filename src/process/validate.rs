//! Validating the process after update instructions ran (SPEC 2.5 step 6).

use super::Process;
use crate::json::truthy;
use crate::schema::errors_text;
use serde_json::Value;

/// The actor property that binds an actor to a node (see `chain::participants`).
pub const NODE_PROPERTY: &str = "node";

impl Process {
    /// The errors of the process against its scenario: title, actors (schema, unchanged
    /// role, none missing), vars and result.
    pub(crate) fn validate_process(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !self.title().is_string() {
            errors.push("Title is invalid: must be a string".to_string());
        }

        let scenario = &self.scenario;
        if let Value::Object(actors) = self.actors() {
            for (key, actor) in actors {
                if let Some(validator) = scenario.actor_validator(key) {
                    // `node` is reserved: it binds the actor to a node (the participant
                    // map of a shared process), so the actor's schema does not judge it.
                    let found = match actor {
                        Value::Object(map) if map.contains_key(NODE_PROPERTY) => {
                            let mut without = map.clone();
                            without.remove(NODE_PROPERTY);
                            validator.validate(&Value::Object(without))
                        }
                        _ => validator.validate(actor),
                    };
                    if !found.is_empty() {
                        errors.push(format!("Actor '{key}' is invalid: {}", errors_text(&found)));
                    }
                }
                if let Some(role) = scenario.actor_role(key) {
                    if !roles_equal(role, actor.get("role").unwrap_or(&Value::Null)) {
                        errors.push(format!("Role of actor '{key}' must not be changed"));
                    }
                }
            }
            for key in scenario.section("actors").keys() {
                if !key.ends_with('*') && !actors.get(key).is_some_and(truthy) {
                    errors.push(format!("Actor '{key}' is missing"));
                }
            }
        }

        if let Value::Object(vars) = self.vars() {
            for (key, value) in vars {
                if let Some(validator) = scenario.var_validator(key) {
                    let found = validator.validate(value);
                    if !found.is_empty() {
                        errors.push(format!(
                            "Variable '{key}' is invalid: {}",
                            errors_text(&found)
                        ));
                    }
                }
            }
        }

        if truthy(self.result()) {
            if let Some(validator) = scenario.result_validator() {
                let found = validator.validate(self.result());
                if !found.is_empty() {
                    errors.push(format!("Result is invalid: {}", errors_text(&found)));
                }
            }
        }
        errors
    }
}

/// Roles compare as sets of names; a single name equals a one-item list.
fn roles_equal(a: &Value, b: &Value) -> bool {
    let list = |v: &Value| {
        let mut l = super::state::string_list(v);
        l.sort();
        l
    };
    list(a) == list(b)
}
