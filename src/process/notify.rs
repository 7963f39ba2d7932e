//! Notify: the messages owed to services when a state is entered, and turning a service's
//! answer into a step (SPEC 2.9). Delivery itself belongs to the node's outbox.

use super::event::Timestamp;
use super::{Error, Process, StepActor, StepOutcome};
use crate::expr::jmespath::Entropy;
use crate::json::truthy;
use serde_json::{Map, Value};

/// A message for a service, due `after` seconds after the state was entered.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyMessage {
    /// The service name (without `service:`).
    pub service: String,
    /// Seconds after entering the state.
    pub after: f64,
    /// The message: the one the scenario gives, else the standard message
    /// `{actions, instructions}` for that service.
    pub message: Value,
    /// The action a response of the service performs, if any.
    pub trigger: Option<Value>,
}

impl Process {
    /// The messages owed for the current state.
    pub fn notify_messages(&self) -> Result<Vec<NotifyMessage>, Error> {
        let entropy = Entropy::new(self.last_event().seed());
        let mut out = Vec::new();
        for entry in self.notify_entries(&entropy)? {
            let service = entry
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let message = match entry.get("message") {
                Some(m) => m.clone(),
                None => self.standard_message(&service),
            };
            out.push(NotifyMessage {
                after: entry.get("after").and_then(Value::as_f64).unwrap_or(0.0),
                trigger: entry.get("trigger").filter(|t| !t.is_null()).cloned(),
                service,
                message,
            });
        }
        Ok(out)
    }

    /// Performs the trigger action of `service`'s notify entry with its `response`, as
    /// actor `service:NAME`. A data-function trigger sees the response as `current.response`.
    pub fn service_response(
        &mut self,
        service: &str,
        response: Value,
        at: Timestamp,
    ) -> Result<StepOutcome, Error> {
        let entropy = Entropy::new(self.last_event().seed());
        let entry = self
            .notify_entries(&entropy)?
            .into_iter()
            .find(|e| e.get("service").and_then(Value::as_str) == Some(service));
        let no_trigger = || Error::NoTrigger(service.to_string(), self.current_key().to_string());
        let trigger = entry
            .and_then(|e| e.get("trigger").cloned())
            .ok_or_else(no_trigger)?;
        let trigger = if crate::expr::datafn::has_fn(&trigger) {
            let mut data = self.doc.clone();
            data["current"]["response"] = response.clone();
            self.evaluator(&entropy).apply(&trigger, &data)?
        } else {
            trigger
        };
        let Some(action) = trigger.as_str().map(str::to_string) else {
            return Err(no_trigger());
        };
        self.step(
            &action,
            &StepActor::key(&format!("service:{service}")),
            Some(response),
            at,
        )
    }

    /// The scenario's notify entries of the current state, evaluated, whose `if` holds.
    fn notify_entries(&self, entropy: &Entropy) -> Result<Vec<Map<String, Value>>, Error> {
        let Some(entries) = self
            .scenario
            .state(self.current_key())
            .and_then(|s| s.get("notify"))
        else {
            return Ok(vec![]);
        };
        let Value::Array(entries) = self.evaluator(entropy).apply(entries, &self.doc)? else {
            return Ok(vec![]);
        };
        Ok(entries
            .into_iter()
            .filter_map(|e| match e {
                Value::Object(m) if m.get("if").is_none_or(truthy) => Some(m),
                _ => None,
            })
            .collect())
    }

    /// `{actions: [actions service:NAME may do now], instructions: …}`.
    fn standard_message(&self, service: &str) -> Value {
        let actor = format!("service:{service}");
        let actions: Vec<Value> = self
            .current()
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| {
                a.get("actor")
                    .and_then(Value::as_array)
                    .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(&actor)))
            })
            .cloned()
            .collect();
        let instructions = self
            .current()
            .get("instructions")
            .and_then(|i| i.get(&actor))
            .cloned()
            .unwrap_or(Value::Null);
        let mut message = Map::new();
        message.insert("actions".into(), Value::Array(actions));
        message.insert("instructions".into(), instructions);
        Value::Object(message)
    }
}
