//! Replay and migrate (SPEC 2.11): rebuilding a process from its event chain, checking
//! every link and re-validating every accepted step with the same code that stepped it.

use super::event::Event;
use super::{Error, Process, Scenario, StepActor};
use std::sync::Arc;

/// Rebuilds a process from its events. Fails when the chain is broken or tampered with
/// (a `previous` link or a hash does not match), when it belongs to another scenario, when
/// an accepted action should have been rejected, or when a timeout could not have fired.
pub fn replay(scenario: Arc<Scenario>, events: &[Event]) -> Result<Process, Error> {
    let Some(first) = events.first() else {
        return Err(Error::Replay("there are no events to replay".into()));
    };
    let Event::Instantiate(start) = first else {
        return Err(Error::Replay(
            "the first event must be an instantiate event".into(),
        ));
    };
    if start.scenario != scenario.id() {
        return Err(Error::Replay(format!(
            "Event scenario id '{}' does not match scenario id '{}'",
            start.scenario,
            scenario.id()
        )));
    }
    check_hash(first)?;
    let mut process = Process::from_instantiate_event(scenario, first.clone())?;

    for event in &events[1..] {
        match process.apply_recorded(event)? {
            Recorded::Applied => {}
            Recorded::Rejected(errors) => {
                return Err(Error::Replay(format!(
                    "Event {} should have been skipped:\n{}",
                    event.hash(),
                    errors.join("\n")
                )))
            }
            Recorded::NotDue => {
                return Err(Error::Replay(format!(
                    "Timeout event {} should not have been triggered",
                    event.hash()
                )))
            }
        }
    }
    Ok(process)
}

/// What applying a recorded event (see [`Process::apply_recorded`]) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The event was applied (a skipped action event is appended as it is).
    Applied,
    /// An accepted action event whose step is rejected: the process is as before, apart
    /// from the event, which stays appended.
    Rejected(Vec<String>),
    /// A timeout event that is not due at its time; nothing was appended.
    NotDue,
}

impl Process {
    /// Applies one recorded event after the last one, the way replay does: the link and
    /// hash are checked (`Err`), an accepted action is stepped again with the same code that
    /// stepped it, a timeout must be due. A [`Recorded::Rejected`] event stays appended;
    /// callers that refuse it drop the process or the event.
    pub fn apply_recorded(&mut self, event: &Event) -> Result<Recorded, Error> {
        let last = self.last_event().hash().to_string();
        if event.previous() != Some(last.as_str()) {
            return Err(Error::Replay(format!(
                "Event {} does not follow previous event; expected {last}, got {}",
                event.hash(),
                event.previous().unwrap_or("none")
            )));
        }
        check_hash(event)?;
        match event {
            Event::Instantiate(_) => {
                Err(Error::Replay("Cannot replay an instantiate event".into()))
            }
            Event::Action(action) if action.skipped => {
                self.events.push(event.clone());
                Ok(Recorded::Applied)
            }
            Event::Action(action) => {
                let actor = StepActor::from_json(action.actor.clone()).ok_or_else(|| {
                    Error::Replay(format!("Event {} has an actor without a key", action.hash))
                })?;
                let errors = self.apply_action(action, &actor)?;
                Ok(if errors.is_empty() {
                    Recorded::Applied
                } else {
                    Recorded::Rejected(errors)
                })
            }
            Event::Timeout(_) => Ok(if self.apply_timeout(event.clone())? {
                Recorded::Applied
            } else {
                Recorded::NotDue
            }),
        }
    }

    /// Removes the last event when it is a skipped (rejected) action and returns it: the
    /// process is then exactly as before the attempt. A node keeps rejected attempts out of
    /// the shared chain this way.
    pub fn discard_rejected(&mut self) -> Option<super::ActionEvent> {
        match self.events.last() {
            Some(Event::Action(e)) if e.skipped => match self.events.pop() {
                Some(Event::Action(e)) => Some(e),
                _ => None,
            },
            _ => None,
        }
    }

    /// Sets the signer and signature of the events from index `from` on (the hashes and the
    /// process do not change: seals are not hashed).
    pub fn seal_events(
        &mut self,
        from: usize,
        mut seal: impl FnMut(&Event) -> (Option<String>, Option<String>),
    ) {
        for event in self.events.iter_mut().skip(from) {
            let (signer, signature) = seal(event);
            event.set_seal(signer, signature);
        }
    }
}

/// Moves an event chain onto another version of the scenario: the instantiate event names
/// the new scenario, every link and hash is recomputed, and the chain is replayed.
pub fn migrate(scenario: Arc<Scenario>, events: &[Event]) -> Result<Process, Error> {
    let mut migrated = Vec::with_capacity(events.len());
    let mut previous = String::new();
    for (i, event) in events.iter().enumerate() {
        let mut event = event.clone();
        match &mut event {
            Event::Instantiate(e) if i == 0 => e.scenario = scenario.id().to_string(),
            Event::Instantiate(_) => {
                return Err(Error::Replay("Cannot replay an instantiate event".into()))
            }
            Event::Action(e) => e.previous = previous.clone(),
            Event::Timeout(e) => e.previous = previous.clone(),
        }
        if i == 0 && !matches!(event, Event::Instantiate(_)) {
            return Err(Error::Replay(
                "the first event must be an instantiate event".into(),
            ));
        }
        event.rehash();
        previous = event.hash().to_string();
        migrated.push(event);
    }
    replay(scenario, &migrated)
}

fn check_hash(event: &Event) -> Result<(), Error> {
    if event.hash_is_valid() {
        Ok(())
    } else {
        Err(Error::Replay(format!(
            "Event {} has been tampered with: its hash does not match its content",
            event.hash()
        )))
    }
}
