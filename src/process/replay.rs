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
        let last = process.last_event().hash().to_string();
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
                return Err(Error::Replay("Cannot replay an instantiate event".into()))
            }
            Event::Action(action) if action.skipped => process.events.push(event.clone()),
            Event::Action(action) => {
                let actor = StepActor::from_json(action.actor.clone()).ok_or_else(|| {
                    Error::Replay(format!("Event {} has an actor without a key", action.hash))
                })?;
                let errors = process.apply_action(action, &actor)?;
                if !errors.is_empty() {
                    return Err(Error::Replay(format!(
                        "Event {} should have been skipped:\n{}",
                        action.hash,
                        errors.join("\n")
                    )));
                }
            }
            Event::Timeout(_) => {
                if !process.apply_timeout(event.clone())? {
                    return Err(Error::Replay(format!(
                        "Timeout event {} should not have been triggered",
                        event.hash()
                    )));
                }
            }
        }
    }
    Ok(process)
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
