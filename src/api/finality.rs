//! Finality in the API: every event of a process answer says whether it is `final`, the
//! answer lists the participants' `heads`, and `?wait=final` makes a step or a read wait
//! until what it is about is final at every participant (docs/protocol.md, part 2).

use super::error::{ApiError, Result};
use crate::engine::{Engine, Rebased};
use crate::process::Process;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;

/// How long `?wait=final` waits by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// The longest wait a caller may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// The header of an answer to `?wait=final`: `final` when what was waited for is final at
/// every participant, `pending` when the wait ran out first.
pub const FINALITY_HEADER: &str = "finality";

/// `?wait=final[&timeout=MS]`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// `final`: answer once the step (or, on a read, every event) is final at every
    /// participant, or when `timeout` runs out, with what is known then.
    wait: Option<String>,
    /// How long to wait at most, in milliseconds (default 10,000, at most 60,000).
    timeout: Option<u64>,
}

impl WaitQuery {
    /// `?wait=…&timeout=…` as read by another query.
    pub fn new(wait: Option<String>, timeout: Option<u64>) -> Self {
        WaitQuery { wait, timeout }
    }

    /// How long to wait for finality; `None` when no wait was asked for.
    pub fn deadline(&self) -> Result<Option<Duration>> {
        match self.wait.as_deref() {
            None => Ok(None),
            Some("final") => Ok(Some(
                self.timeout
                    .map_or(DEFAULT_WAIT, Duration::from_millis)
                    .min(MAX_WAIT),
            )),
            Some(other) => Err(ApiError::InvalidParameter {
                what: "query",
                message: format!("wait must be 'final', not '{other}'"),
            }),
        }
    }
}

/// Adds to the JSON of `process` (its `events` in chain order) the `final` flag of each
/// event and the participants' `heads`.
pub fn annotate(engine: &Engine, process: &Process, json: &mut Value) {
    let view = engine.finality_of(process);
    if let Some(events) = json.get_mut("events").and_then(Value::as_array_mut) {
        for (i, event) in events.iter_mut().enumerate() {
            event["final"] = Value::Bool((i as u64) < view.final_len);
        }
    }
    let heads: serde_json::Map<String, Value> = view
        .heads
        .iter()
        .map(|(node, head)| (node.to_string(), json!(head)))
        .collect();
    json["heads"] = Value::Object(heads);
}

/// What a wait for finality came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// Final at every participant.
    Final,
    /// The wait ran out first.
    Pending,
    /// The step lost a concurrent step and is not valid on the winning branch.
    Rejected(String),
}

impl Waited {
    /// The value of the [`FINALITY_HEADER`].
    pub fn header(&self) -> &'static str {
        match self {
            Waited::Final => "final",
            _ => "pending",
        }
    }
}

/// Waits until the event `hash` of process `id` (or, with `None`, every event it has) is
/// final at every participant, following the step if it was rebased onto another branch;
/// at most `limit`.
pub async fn wait_final(
    engine: &Arc<Engine>,
    id: &str,
    mut hash: Option<String>,
    limit: Duration,
) -> Result<Waited> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let signal = {
            let engine = engine.clone();
            let id = id.to_string();
            tokio::task::spawn_blocking(move || engine.finality_signal(&id)).await??
        };
        let notified = signal.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (engine2, id2, wanted) = (engine.clone(), id.to_string(), hash.clone());
        let state = tokio::task::spawn_blocking(move || {
            engine2.read(&id2, |p| {
                let view = engine2.finality_of(p);
                let position = match &wanted {
                    Some(h) => crate::chain::position(p.events(), h),
                    None => p.events().len().checked_sub(1),
                };
                (position, view.final_everywhere)
            })
        })
        .await??;
        match state {
            (Some(position), everywhere) if (position as u64) < everywhere => {
                return Ok(Waited::Final)
            }
            (Some(_), _) => {}
            (None, _) => match hash.as_deref().and_then(|h| engine.rebased(h)) {
                Some(Rebased::Moved(new)) => {
                    hash = Some(new);
                    continue;
                }
                Some(Rebased::Rejected(reason)) => return Ok(Waited::Rejected(reason)),
                // Dropped with its branch, not rebased yet: wait for the outcome.
                None => {}
            },
        }
        // Finality may also come from a rebase, which does not signal: look again soon.
        let tick = Duration::from_millis(250);
        if tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + tick), notified)
            .await
            .is_err()
            && tokio::time::Instant::now() >= deadline
        {
            return Ok(Waited::Pending);
        }
    }
}
