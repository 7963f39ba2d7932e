//! Checking the store: every process is replayed from its events — which verifies the hash
//! chain and every transition — and the stored projections (the process view with its actor
//! index, and the pending timer) are compared with the replayed process. With `repair`,
//! projections that differ are rewritten from the events. Events are never changed: a
//! process whose events do not replay is reported, not "fixed".

use super::core::{final_of_view, timer_of, view_of, Engine, EngineError};
use crate::store;

/// What the check found for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessCheck {
    /// The events replay and the projections match them.
    Consistent,
    /// The events replay but these projections (`view`, `timer`) differed; they were
    /// rewritten from the events when `repaired`.
    Stale {
        /// The projections that differed.
        projections: Vec<&'static str>,
        /// Whether they were rewritten.
        repaired: bool,
    },
    /// The events cannot be replayed (broken or tampered chain, unknown scenario, …).
    Broken(String),
}

/// Checks process `id` of `engine`'s store, and repairs its projections when `repair`.
/// Run it on a store no node is writing to (`letsflow store check` opens the store itself,
/// which a running node's lock prevents).
pub fn check_process(engine: &Engine, id: &str, repair: bool) -> Result<ProcessCheck, EngineError> {
    let store = engine.store();
    let broken = |why: String| Ok(ProcessCheck::Broken(why));
    let process = match engine.replay_stored(id) {
        Ok(process) => process,
        Err(EngineError::Store(store::Error::Corrupt(message))) => return broken(message),
        // It is listed, so it has events: the first is no instantiate event.
        Err(EngineError::NotFound {
            kind: "process", ..
        }) => return broken("the first event is not an instantiate event".into()),
        Err(e @ (EngineError::NotFound { .. } | EngineError::Scenario(_))) => {
            return broken(e.to_string())
        }
        Err(EngineError::Process(e)) => return broken(format!("the events do not replay: {e}")),
        Err(e) => return Err(e),
    };
    let mut view = view_of(&process);
    let stored = store.view(id)?;
    // The count of final events comes from the other participants' heads, not from the
    // events: the stored one is kept (at most the chain's length).
    let final_len = final_of_view(stored.as_ref()).min(process.events().len() as u64);
    view["final"] = final_len.into();
    let timer = timer_of(&process);
    let mut projections = Vec::new();
    if stored.as_ref() != Some(&view) {
        projections.push("view");
    }
    if store.timer(id)? != timer {
        projections.push("timer");
    }
    if projections.is_empty() {
        return Ok(ProcessCheck::Consistent);
    }
    if repair {
        if projections.contains(&"view") {
            store.put_view(id, &view)?;
        }
        if projections.contains(&"timer") {
            store.set_timer(id, timer)?;
        }
    }
    Ok(ProcessCheck::Stale {
        projections,
        repaired: repair,
    })
}

/// Totals of a check of the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Processes looked at.
    pub processes: usize,
    /// Processes whose projections differed (repaired or not).
    pub stale: usize,
    /// Of those, the ones rewritten.
    pub repaired: usize,
    /// Processes whose events do not replay, with why.
    pub broken: Vec<(String, String)>,
}

impl CheckSummary {
    /// Whether the store is consistent now (nothing broken, nothing stale left).
    pub fn ok(&self) -> bool {
        self.broken.is_empty() && self.stale == self.repaired
    }
}

/// Checks every process of the store, in id order; `progress` is told of each one.
pub fn check_store(
    engine: &Engine,
    repair: bool,
    mut progress: impl FnMut(&str, &ProcessCheck),
) -> Result<CheckSummary, EngineError> {
    let ids: Vec<String> = engine.store().processes()?.collect::<Result<_, _>>()?;
    let mut summary = CheckSummary::default();
    for id in ids {
        let check = check_process(engine, &id, repair)?;
        summary.processes += 1;
        match &check {
            ProcessCheck::Consistent => {}
            ProcessCheck::Stale { repaired, .. } => {
                summary.stale += 1;
                summary.repaired += usize::from(*repaired);
            }
            ProcessCheck::Broken(why) => summary.broken.push((id.clone(), why.clone())),
        }
        progress(&id, &check);
    }
    Ok(summary)
}
