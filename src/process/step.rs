//! Stepping a process: an actor performs an action (SPEC 2.5), or a timeout fires (2.8).
//!
//! Step and replay share [`Process::apply_action`], so a chain replays exactly as it was
//! stepped.

use super::compiled::{wildcard_form, CompiledTransition, Writes};
use super::event::{ActionEvent, Event, TimeoutEvent, Timestamp, EVENT_VERSION};
use super::path;
use super::state::string_list;
use super::{Error, Process, Scenario, StepActor, StepOutcome};
use crate::expr::jmespath::Entropy;
use crate::json::truthy;
use serde_json::{Map, Value};

/// The parts of the document a step may change before it is accepted; restored when the
/// step turns out to be rejected. Only update instructions change `title`, `actors`, `vars`
/// and `result`, so only those their `set` paths could write are kept (`None`: left as
/// they are). `current` needs no copy: a step only adds `response`, `actor` and `action`
/// to it (and `enter_state` restores it on failure), and `previous` only grows unless an
/// update instruction writes it.
struct Saved {
    title: Option<Value>,
    actors: Option<Value>,
    vars: Option<Value>,
    result: Option<Value>,
    previous: Result<Value, usize>,
}

impl Process {
    /// `actor` performs `action` with `response` (None: no response given) at time `at`.
    /// A rejected step is recorded as a skipped event with its errors (see [`StepOutcome`]);
    /// `Err` is only for failures of the scenario itself or of the caller.
    pub fn step(
        &mut self,
        action: &str,
        actor: &StepActor,
        response: Option<Value>,
        at: Timestamp,
    ) -> Result<StepOutcome, Error> {
        let event = ActionEvent {
            previous: self.last_event().hash().to_string(),
            timestamp: at,
            action: action.to_string(),
            actor: actor.for_event(),
            response,
            skipped: false,
            errors: vec![],
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        };
        let pending = event.pending_hash();
        let errors = self.apply_action_seeded(event, actor, pending.seed())?;
        // The event appended by `apply_action_seeded` gets its final form.
        if let Some(Event::Action(last)) = self.events.last_mut() {
            last.skipped = !errors.is_empty();
            last.errors = errors.clone();
            last.hash = pending.hash(last.skipped, &errors);
        }
        Ok(StepOutcome {
            skipped: !errors.is_empty(),
            errors,
        })
    }

    /// Applies an action event. The event is appended (as given; the caller fixes its
    /// outcome and hash afterwards) and the errors are returned: empty when the step was
    /// accepted, else the process is as before apart from the appended event.
    pub(crate) fn apply_action(
        &mut self,
        event: &ActionEvent,
        actor: &StepActor,
    ) -> Result<Vec<String>, Error> {
        let seed = event.pending_hash().seed();
        self.apply_action_seeded(event.clone(), actor, seed)
    }

    /// [`Self::apply_action`] with the seed of the event known.
    fn apply_action_seeded(
        &mut self,
        event: ActionEvent,
        actor: &StepActor,
        seed: [u8; 32],
    ) -> Result<Vec<String>, Error> {
        let saved = self.save(self.writes(&event.action));
        let action = event.action.clone();
        let response = event.response.clone();
        let timestamp = event.timestamp;
        self.events.push(Event::Action(event));
        let entropy = Entropy::new(seed);

        match self.try_action(&action, response, timestamp, actor, &entropy) {
            Ok(errors) if errors.is_empty() => Ok(errors),
            Ok(errors) => {
                self.restore(saved);
                Ok(errors)
            }
            Err(err @ (Error::Fn(_) | Error::UpdatePath(_))) if !self.predicting => {
                // A failing data function or update of the scenario rejects this step
                // rather than breaking the process. A prediction fails with it instead
                // (SPEC 2.10).
                self.restore(saved);
                Ok(vec![err.to_string()])
            }
            Err(err) => {
                self.restore(saved);
                self.events.pop();
                Err(err)
            }
        }
    }

    fn try_action(
        &mut self,
        action: &str,
        response: Option<Value>,
        timestamp: Timestamp,
        actor: &StepActor,
        entropy: &Entropy,
    ) -> Result<Vec<String>, Error> {
        let actor_key = actor.actor_key();
        let state_key = self.current_key().to_string();
        let scenario = self.scenario.clone();
        let found = scenario.action(&state_key, action);

        let response = match response {
            Some(r) => r,
            None => found
                .and_then(|(_, a)| a.default_response.clone())
                .unwrap_or(Value::Null),
        };

        // current.response, current.actor and current.action are visible to the checks,
        // the update instructions and the next state's data functions.
        let mut current_actor = match self.actors().get(actor_key) {
            Some(Value::Object(a)) => a.clone(),
            _ => Map::new(),
        };
        current_actor.insert("key".into(), Value::String(actor_key.to_string()));
        let current_action = self
            .current()
            .get("actions")
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .find(|a| a.get("key").and_then(Value::as_str) == Some(action))
            })
            .cloned()
            .unwrap_or(Value::Null);
        let current = self.field_mut("current");
        current["response"] = response;
        current["actor"] = Value::Object(current_actor);
        current["action"] = current_action;

        let response = &self.current()["response"];
        let errors = self.validate_step(action, actor, response, entropy)?;
        if !errors.is_empty() {
            return Ok(errors);
        }

        if let Some((_, scenario_action)) = found {
            for instruction in &scenario_action.update {
                let instruction = self.evaluator(entropy).evaluate(instruction, &self.doc)?;
                if instruction.get("if").is_some_and(|c| !truthy(c)) {
                    continue;
                }
                self.update(&instruction, actor_key)?;
            }
        }

        let mut errors = if self.predicting {
            vec![]
        } else {
            self.validate_process()
        };
        let next = self.find_action_transition(&scenario, action, actor_key, entropy)?;
        let Some(next) = next.filter(|_| errors.is_empty()) else {
            if errors.is_empty() {
                errors.push(format!(
                    "No transition found for action '{action}' in state '{state_key}' for actor {actor_key}"
                ));
            }
            return Ok(errors);
        };

        self.log_transition(next, entropy)?;
        match &next.goto {
            Some(goto) => self.enter_state(goto, timestamp, entropy)?,
            None => {
                let entered = self.current_timestamp();
                self.enter_state(&state_key, entered, entropy)?;
            }
        }
        Ok(vec![])
    }

    /// The checks of SPEC 2.5 step 4, in order.
    fn validate_step(
        &self,
        action: &str,
        actor: &StepActor,
        response: &Value,
        entropy: &Entropy,
    ) -> Result<Vec<String>, Error> {
        let mut errors = Vec::new();
        let state_key = self.current_key();
        let key = actor.actor_key();
        let service = key.strip_prefix("service:");
        let process_actor = self.actors().get(key).filter(|a| truthy(a));

        let scenario_action = self.scenario.action(state_key, action);
        let current_action = match scenario_action {
            // A response schema without data functions is used as it is (and its validator
            // is compiled already); only a computed one is evaluated.
            Some((k, a)) => Some(self.evaluate_action(k, &a.checked, None, entropy)?),
            None => None,
        };

        let allowed_here = self.scenario.compiled_state(state_key).is_some_and(|s| {
            s.transitions
                .iter()
                .any(|tr| tr.on.as_deref() == Some(action))
        });
        if !allowed_here {
            errors.push(format!(
                "Action '{action}' is not allowed in state '{state_key}'"
            ));
        }

        if service.is_none() && process_actor.is_none() {
            errors.push(format!("Actor '{key}' is not defined in the scenario"));
        }

        if let Some(process_actor) = process_actor {
            let user_id = actor.get("id");
            let user_roles = actor.get("roles");
            if user_id.is_some_and(truthy) || user_roles.is_some() {
                let actor_id = process_actor.get("id").filter(|v| truthy(v));
                let actor_role = process_actor.get("role").filter(|v| truthy(v));
                if actor_id.is_none() && actor_role.is_none() {
                    errors.push(format!("Actor '{key}' is not assigned to a user or role"));
                }
                if let Some(id) = actor_id {
                    if Some(id) != user_id {
                        errors.push(format!("User is not allowed to perform as actor '{key}'"));
                    }
                }
                if let (None, Some(role)) = (actor_id, actor_role) {
                    let roles = string_list(role);
                    let user_roles = user_roles.map(string_list).unwrap_or_default();
                    if !roles.iter().any(|r| user_roles.contains(r)) {
                        errors.push(format!("User is not allowed to perform as actor '{key}'"));
                    }
                }
            }
        }

        if let Some(current_action) = &current_action {
            let may = string_list(current_action.get("actor").unwrap_or(&Value::Null));
            if (process_actor.is_some() || service.is_some()) && !may.iter().any(|a| a == key) {
                let who = match service {
                    Some(s) => format!("Service '{s}'"),
                    None => format!("Actor '{key}'"),
                };
                errors.push(format!("{who} is not allowed to perform action '{action}'"));
            }
            if !current_action.get("if").is_some_and(truthy) {
                errors.push(format!(
                    "Action '{action}' is not allowed due to if condition"
                ));
            }
            if !self.predicting {
                let static_schema = scenario_action.and_then(|(_, a)| a.response.as_ref());
                if let Some(schema) = current_action
                    .get("response")
                    .or(static_schema)
                    .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
                {
                    let action_key = scenario_action.map_or("", |(k, _)| k);
                    for err in self
                        .scenario
                        .validate_response(action_key, schema, response)?
                    {
                        errors.push(format!("Response is invalid: {}", err.text()));
                    }
                }
            }
        }
        Ok(errors)
    }

    /// Applies one evaluated update instruction (SPEC 2.5 step 5).
    fn update(&mut self, instruction: &Value, actor_key: &str) -> Result<(), Error> {
        let path = instruction
            .get("set")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !update_path_allowed(&path) {
            return Err(Error::UpdatePath(path));
        }
        let stub = instruction.get("stub").filter(|s| !s.is_null());
        let mut value = match (self.predicting, stub) {
            (true, Some(stub)) => stub.clone(),
            _ => instruction.get("value").cloned().unwrap_or(Value::Null),
        };
        let mode = instruction
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("replace");

        let existing: Vec<String> = match self.actors() {
            Value::Object(map) => map.keys().cloned().collect(),
            _ => vec![],
        };
        let current = path::get(&self.doc, &path).cloned();
        match mode {
            "merge" => match (current, &mut value) {
                (Some(Value::Array(mut old)), Value::Array(new)) => {
                    old.append(new);
                    value = Value::Array(old);
                }
                (Some(Value::Object(mut old)), Value::Object(new)) => {
                    old.extend(std::mem::take(new));
                    value = Value::Object(old);
                }
                (Some(Value::Object(old)), Value::Null) => value = Value::Object(old),
                _ => {}
            },
            "append" => {
                value = match current {
                    Some(Value::Array(mut old)) => {
                        old.push(value);
                        Value::Array(old)
                    }
                    _ => Value::Array(vec![value]),
                }
            }
            _ => {}
        }
        path::set(&mut self.doc, &path, value);

        // Writing under current.actor writes through to the actor.
        let is_current_actor = path == "current.actor" || path.starts_with("current.actor.");
        if is_current_actor && self.actors().get(actor_key).is_some() {
            if let Some(Value::Object(mut actor)) = self.current().get("actor").cloned() {
                actor.remove("key");
                self.field_mut("actors")[actor_key] = Value::Object(actor);
            }
        }

        // Actors that appeared are instantiated from their (wildcard) schema.
        let added: Vec<(String, Value)> = match self.actors() {
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| !existing.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => vec![],
        };
        for (key, values) in added {
            // An actor the scenario doesn't know fails process validation instead.
            if let Ok(actor) = super::state::instantiate_actor(&self.scenario, &key, &values) {
                self.field_mut("actors")[key.as_str()] = actor;
            }
        }
        Ok(())
    }

    /// The first action transition of the current state for this action and actor whose
    /// `if` holds.
    fn find_action_transition<'s>(
        &self,
        scenario: &'s Scenario,
        action: &str,
        actor_key: &str,
        entropy: &Entropy,
    ) -> Result<Option<&'s CompiledTransition>, Error> {
        let Some(state) = scenario.compiled_state(self.current_key()) else {
            return Ok(None);
        };
        for tr in &state.transitions {
            if tr.on.as_deref() != Some(action) {
                continue;
            }
            if !self.condition(&tr.cond, entropy)? {
                continue;
            }
            let by = self.actor_list(&tr.by, entropy)?;
            let wildcard = wildcard_form(actor_key);
            if by
                .iter()
                .any(|b| b == actor_key || b == "*" || *b == wildcard)
            {
                return Ok(Some(tr));
            }
        }
        Ok(None)
    }

    /// Fires the first due timeout transition of the current state at time `at` (SPEC
    /// 2.8). Returns whether one fired; when none is due nothing is recorded.
    pub fn timeout(&mut self, at: Timestamp) -> Result<bool, Error> {
        let mut event = Event::Timeout(TimeoutEvent {
            previous: self.last_event().hash().to_string(),
            timestamp: at,
            version: EVENT_VERSION,
            signer: None,
            signature: None,
            hash: String::new(),
        });
        let seed = event.rehash_seeded();
        let passed = at.seconds_since(&self.current_timestamp());
        self.fire_timeout(event, passed, seed)
    }

    /// Applies a timeout event; `Ok(false)` (and nothing appended) when no timeout
    /// transition is due at its time.
    pub(crate) fn apply_timeout(&mut self, event: Event) -> Result<bool, Error> {
        let passed = event.timestamp().seconds_since(&self.current_timestamp());
        let seed = event.seed();
        self.fire_timeout(event, passed, seed)
    }

    /// Fires the first timeout transition due after `passed` seconds, recording `event`
    /// (whose seed is `seed`).
    pub(crate) fn fire_timeout(
        &mut self,
        event: Event,
        passed: f64,
        seed: [u8; 32],
    ) -> Result<bool, Error> {
        let entropy = Entropy::new(seed);
        let scenario = self.scenario.clone();
        let Some(next) = self.find_timeout_transition(&scenario, passed, &entropy)? else {
            return Ok(false);
        };
        let at = event.timestamp();
        self.events.push(event);
        self.log_transition(next, &entropy)?;
        if let Some(goto) = &next.goto {
            self.enter_state(goto, at, &entropy)?;
        }
        Ok(true)
    }

    /// The first timeout transition (by `after`) whose `if` holds and whose `after` has
    /// passed.
    pub(crate) fn find_timeout_transition<'s>(
        &self,
        scenario: &'s Scenario,
        passed: f64,
        entropy: &Entropy,
    ) -> Result<Option<&'s CompiledTransition>, Error> {
        let Some(state) = scenario.compiled_state(self.current_key()) else {
            return Ok(None);
        };
        for &(after, i) in &state.timeouts {
            let tr = &state.transitions[i];
            if after <= passed && self.condition(&tr.cond, entropy)? {
                return Ok(Some(tr));
            }
        }
        Ok(None)
    }

    /// When the earliest timeout transition of the current state falls due, if it has one.
    /// (Its `if` is checked when it fires.)
    pub fn next_timeout(&self) -> Option<Timestamp> {
        let state = self.scenario.compiled_state(self.current_key())?;
        state
            .timeouts
            .first()
            .map(|&(after, _)| self.current_timestamp().plus_seconds(after))
    }

    fn save(&self, writes: Writes) -> Saved {
        let keep = |write: bool, value: &Value| write.then(|| value.clone());
        Saved {
            title: keep(writes.title, self.title()),
            actors: keep(writes.actors, self.actors()),
            vars: keep(writes.vars, self.vars()),
            result: keep(writes.result, self.result()),
            previous: if writes.previous {
                Ok(self.previous().clone())
            } else {
                Err(self.previous().as_array().map_or(0, Vec::len))
            },
        }
    }

    fn restore(&mut self, saved: Saved) {
        let fields = [
            ("title", saved.title),
            ("actors", saved.actors),
            ("vars", saved.vars),
            ("result", saved.result),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                self.set_field(name, value);
            }
        }
        match saved.previous {
            Ok(previous) => self.set_field("previous", previous),
            Err(len) => {
                if let Value::Array(list) = self.field_mut("previous") {
                    list.truncate(len);
                }
            }
        }
        if let Value::Object(current) = self.field_mut("current") {
            for key in ["response", "actor", "action"] {
                current.remove(key);
            }
        }
        // isRunning and tags only change when an end state is entered, which happens
        // after the last check, so they need no saving.
    }
}

impl Process {
    /// What the update instructions of the action could write.
    fn writes(&self, action: &str) -> Writes {
        self.scenario
            .action(self.current_key(), action)
            .map(|(_, a)| a.writes)
            .unwrap_or_default()
    }
}

/// Paths update instructions may write (SPEC 2.5 step 5).
pub(crate) fn update_path_allowed(path: &str) -> bool {
    let under = |root: &str| path == root || path.starts_with(&format!("{root}."));
    path == "title"
        || path == "previous"
        || ["vars", "actors", "result", "current.actor"]
            .iter()
            .any(|r| under(r))
}
