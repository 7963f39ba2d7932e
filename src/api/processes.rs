//! `/processes`: list, start, get (with prediction) and step processes.
//!
//! Who may see and act on what (docs/security.md):
//! - A *person* (a user with an id or roles) sees a process when one of its actors is
//!   assigned to them — the actor's `id` is the user id, or, for an actor without id, its
//!   `role` is one of the user's roles — or when they hold `process:super`.
//! - An API key acts on behalf of its issuer: it has their user id and roles, so it is
//!   such a person. Only a key holding `process:super` acts for an application (no id, no
//!   roles): it sees every process its restrictions allow, as any actor they allow.
//! - An API key's restrictions `[{scenario, actors?, actions?}]` limit the scenarios (by
//!   id), actors and actions it may use ([`User::allows`]); a key restricted to actors sees
//!   only processes where it plays one of them.
//! - Whoever starts a process may bind a user id to an actor the scenario gives a `role`
//!   only when that user is the caller and holds the role, or the caller holds
//!   `process:super` (a deliberate difference from the reference, docs/decisions.md).
//!
//! A process the caller may not see answers 404, as if it did not exist.

use super::auth::User;
use super::error::{ApiError, ErrorBody, Result};
use super::finality::{self, WaitQuery};
use super::negotiate::{split_suffix, Accept, Payload, Reply};
use super::scenarios::ScenarioSummary;
use super::schemas;
use super::{blocking, now, AppState, Path, Query};
use crate::engine::current_summary;
use crate::engine::{Engine, EngineError};
use crate::process::{Process, StepActor};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

/// Processes per page of `GET /processes`.
pub const PAGE_SIZE: usize = 100;

/// The header naming the actor to perform a step as.
const AS_ACTOR: &str = "as-actor";

/// RFC 7240 preferences: a step answers the process only when asked to.
const PREFER: HeaderName = HeaderName::from_static("prefer");
const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");
const FINALITY: HeaderName = HeaderName::from_static(finality::FINALITY_HEADER);

/// The header with the number of processes a listing has over all pages.
const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// Query of `GET /processes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page number, starting at 1 (100 processes a page).
    #[param(minimum = 1)]
    page: Option<usize>,
    /// Also list processes where the caller is not an actor (needs `process:super`).
    all: Option<bool>,
}

/// Query of `GET /processes/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetQuery {
    /// Add the predicted next states as `next`.
    predict: Option<bool>,
    /// `final`: answer once every event is final at every participant (or when `timeout`
    /// runs out, with what is known then; the `Finality` header says which).
    wait: Option<String>,
    /// How long `wait` waits at most, in milliseconds (default 10,000, at most 60,000).
    timeout: Option<u64>,
}

/// Body of `POST /processes`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StartInstructions {
    /// The scenario id.
    #[schema(format = "uuid")]
    scenario: String,
    /// Properties of actors, e.g. `{"client": {"id": "u1", "title": "Client"}}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    actors: Map<String, Value>,
    /// The first action, performed right after the start by the caller.
    #[serde(default)]
    action: Option<StartAction>,
}

/// The first action of a new process: its key, or its key with a response.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StartAction {
    /// Only the action key (no response).
    Key(String),
    /// The action key and the response.
    WithResponse {
        /// The action key.
        key: String,
        /// The response (none: the default of the response schema).
        #[serde(default)]
        #[schema(value_type = Object)]
        response: Option<Value>,
    },
}

/// A process as listed by `GET /processes`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessSummary {
    /// Process id.
    id: String,
    /// Title.
    #[schema(value_type = String)]
    title: Value,
    /// False once the process ended.
    is_running: bool,
    /// Tags.
    #[schema(value_type = Vec<String>)]
    tags: Value,
    /// The scenario (null when it cannot be read).
    scenario: Option<ScenarioSummary>,
    /// The actors by key.
    #[schema(value_type = Object)]
    actors: Value,
    /// The current state: `{key, title, timestamp}`.
    #[schema(value_type = Object)]
    current: Value,
    /// When the process started (its first event).
    #[schema(value_type = String)]
    created: Value,
    /// When its last event happened.
    #[schema(value_type = String)]
    last_updated: Value,
}

/// List processes where the caller is an actor (`all=true`: every process, needs
/// `process:super`), 100 a page, in id order. `X-Total-Count` tells the number over all
/// pages.
#[utoipa::path(
    get, path = "/processes", tag = "process",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of process summaries", body = [ProcessSummary]),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "`all=true` without `process:super`", body = ErrorBody),
    )
)]
pub async fn list_processes(
    State(state): State<AppState>,
    user: User,
    Accept(format): Accept,
    Query(query): Query<ListQuery>,
) -> Result<Reply> {
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::InvalidParameter {
            what: "query",
            message: "page numbers start at 1".into(),
        });
    }
    let all = query.all.unwrap_or(false);
    if all {
        user.require("process:super")?;
    }
    let engine = state.engine.clone();
    let (total, list) = blocking(move || list_page(&engine, &user, all, page)).await?;
    let list = serde_json::to_value(list).map_err(|e| ApiError::Emit(e.to_string()))?;
    Ok(Reply::ok(list)
        .header(X_TOTAL_COUNT, &total.to_string())
        .format(format))
}

fn list_page(
    engine: &Engine,
    user: &User,
    all: bool,
    page: usize,
) -> Result<(usize, Vec<ProcessSummary>)> {
    let store = engine.store();
    // An application (API key) takes part in every process it may see, or in none.
    if !all && !identified(user) && !participates(user, &Value::Null) {
        return Ok((0, Vec::new()));
    }
    let ids: Vec<String> = if all || !identified(user) {
        store
            .processes()
            .map_err(EngineError::from)?
            .collect::<Result<_, _>>()
            .map_err(EngineError::from)?
    } else {
        store
            .processes_of(user.id.as_deref(), &user.roles)
            .map_err(EngineError::from)?
    };
    // Who takes part is settled by now: for a person the actor index answers it exactly (an
    // actor by its id when it has one, else by its roles; see `plays`), an application takes
    // part in all, and `all` lists all. Only restrictions (of an API key) need the views of
    // every process; otherwise only the page's views are read.
    let filter = !matches!(user.restrictions, None | Some(Value::Null));
    // Saturating: an absurd page is past the last one (an empty page), never a wrapped offset.
    let skip = (page - 1).saturating_mul(PAGE_SIZE);
    let mut scenarios: HashMap<String, Option<ScenarioSummary>> = HashMap::new();
    let mut total = 0;
    let mut list = Vec::new();
    for id in ids {
        let mut view = None;
        if filter {
            let Some(v) = store.view(&id).map_err(EngineError::from)? else {
                continue;
            };
            let scenario_id = v
                .get("scenario")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !listed(user, all, &v, scenario_id) {
                continue;
            }
            view = Some(v);
        }
        total += 1;
        if total <= skip || total > skip.saturating_add(PAGE_SIZE) {
            continue;
        }
        let view = match view {
            Some(v) => v,
            None => match store.view(&id).map_err(EngineError::from)? {
                Some(v) => v,
                None => continue,
            },
        };
        let scenario_id = view
            .get("scenario")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let scenario = scenario_summary(engine, &mut scenarios, scenario_id)?;
        list.push(summary_of(&id, &view, scenario));
    }
    Ok((total, list))
}

/// The summary of scenario `id`, read once per listing.
fn scenario_summary(
    engine: &Engine,
    cache: &mut HashMap<String, Option<ScenarioSummary>>,
    id: &str,
) -> Result<Option<ScenarioSummary>> {
    if let Some(s) = cache.get(id) {
        return Ok(s.clone());
    }
    let summary = engine
        .store()
        .scenario(id)
        .map_err(EngineError::from)?
        .map(|r| ScenarioSummary::of(&r.id, &r.json));
    cache.insert(id.to_string(), summary.clone());
    Ok(summary)
}

fn summary_of(id: &str, view: &Value, scenario: Option<ScenarioSummary>) -> ProcessSummary {
    let field = |name: &str| view.get(name).cloned().unwrap_or(Value::Null);
    ProcessSummary {
        id: id.to_string(),
        title: field("title"),
        is_running: view
            .get("isRunning")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        tags: field("tags"),
        scenario,
        actors: field("actors"),
        current: current_summary(view),
        created: field("created"),
        last_updated: field("lastUpdated"),
    }
}

/// Start a process. With an `action`, the caller performs it right away (as the actor
/// `As-Actor` names, or the one actor they can be); when that step is rejected nothing is
/// stored. A person without `process:super` must give an action.
#[utoipa::path(
    post, path = "/processes", tag = "process",
    security(("bearer" = [])),
    params(("As-Actor" = Option<String>, Header, description = "The actor to perform the first action as")),
    request_body(content((StartInstructions = "application/json"), (StartInstructions = "application/yaml"))),
    responses(
        (status = 201, description = "Started; `Location: /processes/{id}`", body = schemas::Process),
        (status = 400, description = "Bad instructions, unknown or disabled scenario, or the first step was rejected (`reason`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `process:start`, restricted API key, no action, or a user bound to an actor with a role without the role", body = ErrorBody),
        (status = 413, description = "Body too large (YAML has a smaller limit)", body = ErrorBody),
        (status = 415, description = "Unsupported content type", body = ErrorBody),
    )
)]
pub async fn start_process(
    State(state): State<AppState>,
    user: User,
    Accept(format): Accept,
    headers: HeaderMap,
    payload: Payload,
) -> Result<Reply> {
    user.require("process:start")?;
    let as_actor = as_actor(&headers)?;
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    let engine = state.engine.clone();
    let network = state.network.clone();
    let process = blocking(move || {
        // Parsed on this blocking thread, after authentication.
        let instructions: StartInstructions = payload.parse()?;
        if instructions.action.is_none() && identified(&user) && !user.can("process:super") {
            return Err(ApiError::ActionRequired);
        }
        for (key, value) in &instructions.actors {
            if !(value.is_object() || value.is_null()) {
                return Err(ApiError::InvalidBody(format!(
                    "actor '{key}' must be an object"
                )));
            }
        }
        let StartInstructions {
            scenario,
            mut actors,
            action,
        } = instructions;
        bind_nodes(&mut actors, network.as_deref())?;
        let record = match engine.scenario_record(&scenario) {
            Err(EngineError::NotFound { .. }) => return Err(ApiError::UnknownScenario(scenario)),
            other => other?,
        };
        if record.disabled {
            return Err(ApiError::Disabled(record.id));
        }
        let action = action.map(|a| match a {
            StartAction::Key(key) => (key, None),
            StartAction::WithResponse { key, response } => (key, response),
        });
        let action_key = action.as_ref().map(|(k, _)| k.as_str());
        if !user.allows(&record.id, None, action_key) {
            return Err(ApiError::Restricted(format!(
                "scenario '{}' is not allowed",
                record.id
            )));
        }
        let scenario = engine.scenario(&record.id)?;
        check_role_bindings(&scenario, &actors, &user)?;
        let Some((action, response)) = action else {
            return Ok(engine.start(&record.id, &id, actors, at)?);
        };
        // Try the first step on a copy, so that a rejected one leaves nothing behind.
        let mut trial = Process::instantiate(scenario, &id, actors.clone(), at)
            .map_err(|e| ApiError::Refused(e.to_string()))?;
        let key = resolve_actor(&trial, &action, &user, as_actor.as_deref())?;
        if !user.allows(&record.id, Some(&key), Some(&action)) {
            return Err(ApiError::Restricted(format!(
                "actor '{key}' may not perform '{action}'"
            )));
        }
        let owner = actors
            .get(&key)
            .and_then(|a| a.get("node"))
            .and_then(Value::as_str);
        if let (Some(owner), Some(network)) = (owner, network.as_deref()) {
            if owner != network.me().to_string() {
                return Err(ApiError::OtherNode(format!(
                    "Actor '{key}' belongs to node {owner}; act for it through that node"
                )));
            }
        }
        let actor = step_actor(&key, &user);
        let outcome = trial
            .step(&action, &actor, response.clone(), at)
            .map_err(|e| ApiError::Refused(e.to_string()))?;
        if outcome.skipped {
            let played = trial.actors().get(&key);
            return Err(ApiError::StepRejected {
                errors: explained(outcome.errors, played, &key, &user),
                action,
            });
        }
        engine.start(&record.id, &id, actors, at)?;
        let (outcome, process) = engine.step(&id, &action, &actor, response, at)?;
        if outcome.skipped {
            return Err(ApiError::StepRejected {
                action,
                errors: outcome.errors,
            });
        }
        Ok(process)
    })
    .await?;
    tracing::info!(process = %process.id(), scenario = %process.scenario().id(), "process started");
    Ok(Reply::ok(process.to_json())
        .status(StatusCode::CREATED)
        .header(header::LOCATION, &format!("/processes/{}", process.id()))
        .format(format))
}

/// Get a process (`{id}.json`, `{id}.yaml` or `Accept` choose the format); with
/// `predict=true` its likely next states are added as `next`, or, when the prediction
/// fails, the reason as `predictError`.
#[utoipa::path(
    get, path = "/processes/{id}", tag = "process",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Process id, optionally with `.json` or `.yaml`"), GetQuery),
    responses(
        (status = 200, description = "The process (with `?predict=true` also `next`, or `predictError`; with `?wait=final` once every event is final at every participant, or when the wait ran out — the `Finality` header says `final` or `pending`)", content((schemas::Process = "application/json"), (schemas::Process = "application/yaml"))),
        (status = 400, description = "Bad query (`predict` must be true or false)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "Unknown process, or not visible to the caller", body = ErrorBody),
    )
)]
pub async fn get_process(
    State(state): State<AppState>,
    user: User,
    Accept(accept): Accept,
    Path(id): Path<String>,
    Query(query): Query<GetQuery>,
) -> Result<Reply> {
    let (id, suffix) = split_suffix(&id);
    let id = id.to_string();
    let predict = query.predict.unwrap_or(false);
    let wait = WaitQuery::new(query.wait, query.timeout).deadline()?;
    let read = |user: User| {
        let (engine, id) = (state.engine.clone(), id.clone());
        blocking(move || {
            let rejected = engine.rejected(&id).unwrap_or_default();
            let notifications = notifications_of(&engine, &id)?;
            with_visible(&engine, &user, &id, |process| {
                let mut json = process.to_json();
                finality::annotate(&engine, process, &mut json);
                json["rejected"] = Value::Array(rejected);
                json["notifications"] = notifications;
                if predict {
                    match process.predict() {
                        Ok(next) => json["next"] = Value::Array(next),
                        Err(e) => json["predictError"] = Value::String(e.to_string()),
                    }
                }
                Ok(json)
            })
        })
    };
    // Visible to the caller first; only then is it waited for.
    let json = read(user.clone()).await?;
    let Some(limit) = wait else {
        return Ok(Reply::ok(json).format(suffix.unwrap_or(accept)));
    };
    let waited = finality::wait_final(&state.engine, &id, None, limit).await?;
    let json = read(user).await?;
    Ok(Reply::ok(json)
        .format(suffix.unwrap_or(accept))
        .header(FINALITY, waited.header()))
}

/// The notifications owed for process `id`, as `GET /processes/{id}` shows them.
fn notifications_of(engine: &Engine, id: &str) -> Result<Value> {
    let entries = engine.store().outbox_of(id).map_err(EngineError::from)?;
    Ok(Value::Array(entries.iter().map(notification).collect()))
}

fn notification(entry: &crate::store::OutboxEntry) -> Value {
    json!({
        "id": entry.id,
        "service": entry.service,
        "state": entry.state,
        "attempts": entry.attempts,
        "status": entry.status,
        "nextAttempt": entry.next_attempt.to_iso(),
        "lastError": entry.last_error,
    })
}

/// Deliver the notifications of the process owed to a service now: pending ones at once,
/// failed (parked) ones once more. Answers 202 with them; delivery happens in the
/// background (`GET /processes/{id}` shows how it went).
#[utoipa::path(
    post, path = "/processes/{id}/notify/{service}", tag = "process",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Process id"),
        ("service" = String, Path, description = "Service name (without `service:`)"),
    ),
    responses(
        (status = 202, description = "The notifications to be delivered now", body = Vec<schemas::Notification>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `process:super`", body = ErrorBody),
        (status = 404, description = "Unknown process, or nothing owed to that service", body = ErrorBody),
    )
)]
pub async fn retry_notification(
    State(state): State<AppState>,
    user: User,
    Path((id, service)): Path<(String, String)>,
) -> Result<Response> {
    user.require("process:super")?;
    let engine = state.engine.clone();
    let at = now();
    let retried = blocking(move || {
        with_visible(&engine, &user, &id, |_| Ok(()))?;
        let retried = engine.retry_notifications(&id, &service, at)?;
        if retried.is_empty() {
            return Err(ApiError::NotFound {
                kind: "Notification",
                id: format!("{id}/notify/{service}"),
            });
        }
        tracing::info!(process = %id, %service, count = retried.len(), "notifications retried by hand");
        Ok(retried)
    })
    .await?;
    let list = Value::Array(retried.iter().map(notification).collect());
    Ok((StatusCode::ACCEPTED, axum::Json(list)).into_response())
}

/// Perform an action. The body is the response (JSON or YAML; empty: no response). The
/// actor is `As-Actor`, or the one actor of the process the caller can be that may
/// perform the action. A rejected step is recorded (as skipped) and answers 400 with the
/// errors in `reason`. Success answers 204, as the published API does; with
/// `Prefer: return=representation` (RFC 7240) it answers 200 with the process instead.
#[utoipa::path(
    post, path = "/processes/{id}/{action}", tag = "process",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Process id"),
        ("action" = String, Path, description = "Action key"),
        ("As-Actor" = Option<String>, Header, description = "The actor to perform the action as, when the caller could be several"),
        ("Prefer" = Option<String>, Header, description = "`return=representation`: answer 200 with the process after the step"),
        WaitQuery,
    ),
    request_body(description = "The response: any JSON or YAML value (may be empty: no response)", content((Value = "application/json"), (Value = "application/yaml"))),
    responses(
        (status = 204, description = "The step was performed"),
        (status = 200, description = "The step was performed; the process after it (with `Prefer: return=representation`, or with `?wait=final`: then once the step is final at every participant, or when the wait ran out — the `Finality` header says `final` or `pending`)", body = schemas::Process),
        (status = 409, description = "With `?wait=final`: the step lost a concurrent step of another node and is not valid on the winning branch (`message` says why)", body = ErrorBody),
        (status = 400, description = "Malformed body, several possible actors, or the step was rejected (`reason`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `process:step`, not an actor for this action, or restricted API key", body = ErrorBody),
        (status = 404, description = "Unknown process or action", body = ErrorBody),
        (status = 413, description = "Body too large (YAML has a smaller limit)", body = ErrorBody),
        (status = 415, description = "Unsupported content type", body = ErrorBody),
    )
)]
pub async fn step_process(
    State(state): State<AppState>,
    user: User,
    Accept(format): Accept,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Query(wait): Query<WaitQuery>,
    payload: Payload,
) -> Result<Response> {
    user.require("process:step")?;
    let as_actor = as_actor(&headers)?;
    let wait = wait.deadline()?;
    let representation = wants_representation(&headers) && wait.is_none();
    let engine = state.engine.clone();
    let at = now();
    let process_id = id.clone();
    let (process, hash) = blocking(move || {
        let (key, played) = with_visible(&engine, &user, &id, |process| {
            if !knows_action(process, &action) {
                return Err(ApiError::UnknownAction {
                    action: action.clone(),
                });
            }
            let key = resolve_actor(process, &action, &user, as_actor.as_deref())?;
            if !user.allows(process.scenario().id(), Some(&key), Some(&action)) {
                return Err(ApiError::Restricted(format!(
                    "actor '{key}' may not perform '{action}'"
                )));
            }
            let played = process.actors().get(&key).cloned();
            Ok((key, played))
        })?;
        // Parsed only now that the caller may act here, and on this blocking thread: a
        // hostile body costs an unknown or invisible process nothing.
        let response = payload.value()?;
        let actor = step_actor(&key, &user);
        // The process is copied into the answer only when asked for: copying a long one
        // costs more than the step.
        let (outcome, process) = engine.step_then(&id, &action, &actor, response, at, |p| {
            let json = representation.then(|| {
                let mut json = p.to_json();
                finality::annotate(&engine, p, &mut json);
                json
            });
            (json, p.last_event().hash().to_string())
        })?;
        if outcome.skipped {
            tracing::info!(process = %id, action = %action, errors = ?outcome.errors, "step rejected");
            return Err(ApiError::StepRejected {
                action,
                errors: explained(outcome.errors, played.as_ref(), &key, &user),
            });
        }
        Ok(process)
    })
    .await?;
    if let Some(limit) = wait {
        let waited = finality::wait_final(&state.engine, &process_id, Some(hash), limit).await?;
        if let finality::Waited::Rejected(reason) = waited {
            return Err(ApiError::LostRace(reason));
        }
        let engine = state.engine.clone();
        let json = blocking(move || {
            Ok(engine.read(&process_id, |p| {
                let mut json = p.to_json();
                finality::annotate(&engine, p, &mut json);
                json
            })?)
        })
        .await?;
        return Ok(Reply::ok(json)
            .format(format)
            .header(FINALITY, waited.header())
            .into_response());
    }
    Ok(match process {
        Some(process) => Reply::ok(process)
            .format(format)
            .header(PREFERENCE_APPLIED, "return=representation")
            .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Replaces the `node` of each actor given at the start — a node id or a name in the
/// address book — by the node id, so the instantiate event carries the participant map.
fn bind_nodes(actors: &mut Map<String, Value>, network: Option<&crate::net::Peers>) -> Result<()> {
    for (key, actor) in actors.iter_mut() {
        let Some(node) = actor.get("node") else {
            continue;
        };
        let text = node.as_str().ok_or_else(|| {
            ApiError::InvalidBody(format!("actor '{key}': node must be a node id or name"))
        })?;
        let Some(network) = network else {
            return Err(ApiError::InvalidBody(format!(
                "actor '{key}': this node has no peer-to-peer network to bind actors to nodes"
            )));
        };
        let id = network.resolve(text).ok_or_else(|| {
            ApiError::InvalidBody(format!(
                "actor '{key}': unknown node '{text}' (neither a node id nor a name in the address book)"
            ))
        })?;
        actor["node"] = Value::String(id.to_string());
    }
    Ok(())
}

/// Whether `Prefer` asks for the resource in the answer (`return=representation`).
fn wants_representation(headers: &HeaderMap) -> bool {
    headers
        .get_all(PREFER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| {
            p.split(';')
                .next()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("return=representation"))
        })
}

/// The `As-Actor` header.
fn as_actor(headers: &HeaderMap) -> Result<Option<String>> {
    headers
        .get(AS_ACTOR)
        .map(|v| {
            v.to_str()
                .map(|s| s.trim().to_string())
                .map_err(|_| ApiError::InvalidParameter {
                    what: "header",
                    message: "As-Actor is not text".into(),
                })
        })
        .transpose()
}

/// Runs `f` on process `id` (under its lock, without copying it) if the caller may see it;
/// 404 otherwise (also when it does not exist).
fn with_visible<T>(
    engine: &Engine,
    user: &User,
    id: &str,
    f: impl FnOnce(&Process) -> Result<T>,
) -> Result<T> {
    let not_found = || ApiError::NotFound {
        kind: "Process",
        id: id.to_string(),
    };
    // Ask the store first: an unknown id would take a slot of the engine's process cache.
    if engine
        .store()
        .head(id)
        .map_err(EngineError::from)?
        .is_none()
    {
        return Err(not_found());
    }
    engine.read(id, |process| {
        if !can_see(user, process.actors(), process.scenario().id()) {
            return Err(not_found());
        }
        f(process)
    })?
}

/// Whether the caller is a person (has an id or roles) rather than an application.
fn identified(user: &User) -> bool {
    user.id.is_some() || !user.roles.is_empty()
}

/// Whether the process actor is assigned to the user: by id when the actor has one, else
/// by one of its roles (as the engine checks it, SPEC 2.5).
fn plays(actor: &Value, user: &User) -> bool {
    let id = actor
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if let Some(id) = id {
        return user.id.as_deref() == Some(id);
    }
    let has = |role: &Value| {
        role.as_str()
            .is_some_and(|r| user.roles.iter().any(|u| u == r))
    };
    match actor.get("role") {
        Some(Value::Array(roles)) => roles.iter().any(has),
        Some(role) => has(role),
        None => false,
    }
}

/// Whether any actor of the process is assigned to the user.
fn is_actor(actors: &Value, user: &User) -> bool {
    actors
        .as_object()
        .is_some_and(|map| map.values().any(|a| plays(a, user)))
}

/// Whether the caller takes part in a process with these actors: a person (or a key acting
/// for one) through an actor assigned to them; an application key (one holding
/// `process:super`) in every process; a key that acts for nobody in none.
fn participates(user: &User, actors: &Value) -> bool {
    if identified(user) {
        is_actor(actors, user)
    } else {
        user.key.is_some() && (user.can("process:super") || service_of(user).is_some())
    }
}

/// The service an API key is bound to: it acts as actor `service:NAME` only.
fn service_of(user: &User) -> Option<&str> {
    user.key.as_ref().and_then(|k| k.service.as_deref())
}

/// Whether the caller's restrictions let it use the process at all: its scenario is
/// allowed and, for a key restricted to actors, it plays one of those actors there (an
/// application key may play any).
fn within_restrictions(user: &User, actors: &Value, scenario: &str) -> bool {
    if !user.allows(scenario, None, None) {
        return false;
    }
    if matches!(user.restrictions, None | Some(Value::Null)) {
        return true;
    }
    actors.as_object().is_some_and(|map| {
        map.iter().any(|(key, actor)| {
            user.allows(scenario, Some(key), None) && (!identified(user) || plays(actor, user))
        })
    })
}

/// Whether the caller may see a process with these actors of this scenario.
fn can_see(user: &User, actors: &Value, scenario: &str) -> bool {
    within_restrictions(user, actors, scenario)
        && (user.can("process:super") || participates(user, actors))
}

/// Whether a process (its stored view) is listed for the caller.
fn listed(user: &User, all: bool, view: &Value, scenario: &str) -> bool {
    let actors = view.get("actors").unwrap_or(&Value::Null);
    within_restrictions(user, actors, scenario) && (all || participates(user, actors))
}

/// Binding a user id to an actor whose scenario gives it a `role` requires that user to be
/// the caller and to hold the role, or the caller to hold `process:super`: otherwise anyone
/// who starts a process could make themselves its manager (403 naming actor and role).
fn check_role_bindings(
    scenario: &crate::process::Scenario,
    actors: &Map<String, Value>,
    user: &User,
) -> Result<()> {
    if user.can("process:super") {
        return Ok(());
    }
    let defined = scenario.json().get("actors").and_then(Value::as_object);
    for (key, given) in actors {
        let Some(bound) = given
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let roles: Vec<&str> = match defined.and_then(|d| d.get(key)).and_then(|a| a.get("role")) {
            Some(Value::String(role)) => vec![role.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        if roles.is_empty() {
            continue;
        }
        let holds = user.id.as_deref() == Some(bound)
            && roles.iter().any(|r| user.roles.iter().any(|u| u == r));
        if !holds {
            return Err(ApiError::RoleRequired {
                actor: key.clone(),
                user: bound.to_string(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            });
        }
    }
    Ok(())
}

/// Whether the scenario of the process defines the action (as `ACTION` or, for an
/// implicit action, `STATE.ACTION`).
fn knows_action(process: &Process, action: &str) -> bool {
    let Some(actions) = process
        .scenario()
        .json()
        .get("actions")
        .and_then(Value::as_object)
    else {
        return false;
    };
    actions.contains_key(action)
        || actions.keys().any(|k| {
            k.strip_suffix(action)
                .is_some_and(|state| state.ends_with('.'))
        })
}

/// The actor to perform `action` as: `As-Actor` when given; else the one actor the caller
/// can be among those that may perform the action now (all actors when the action is not
/// available now — the step is then rejected with the engine's reason).
fn resolve_actor(
    process: &Process,
    action: &str,
    user: &User,
    as_actor: Option<&str>,
) -> Result<String> {
    if let Some(service) = service_of(user) {
        let key = format!("service:{service}");
        if as_actor.is_some_and(|a| !a.is_empty() && a != key) {
            return Err(ApiError::NotAnActor {
                action: action.to_string(),
                reasons: vec![format!("The API key acts as '{key}' only")],
            });
        }
        return Ok(key);
    }
    if let Some(key) = as_actor.filter(|k| !k.is_empty()) {
        // A person does not speak for a service (unless they may do anything).
        if key.starts_with("service:") && identified(user) && !user.can("process:super") {
            return Err(ApiError::NotAnActor {
                action: action.to_string(),
                reasons: vec![format!("A person cannot perform as service '{key}'")],
            });
        }
        return Ok(key.to_string());
    }
    let available = process
        .current()
        .get("actions")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|a| a.get("key").and_then(Value::as_str) == Some(action))
        })
        .and_then(|a| a.get("actor"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
    let candidates = available.unwrap_or_else(|| {
        process
            .actors()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    });
    let scenario = process.scenario().id();
    let (mine, others): (Vec<String>, Vec<String>) = candidates.into_iter().partition(|key| {
        if identified(user) {
            process.actors().get(key).is_some_and(|a| plays(a, user))
                && user.allows(scenario, Some(key), Some(action))
        } else {
            user.allows(scenario, Some(key), Some(action))
        }
    });
    match mine.len() {
        0 => Err(ApiError::NotAnActor {
            action: action.to_string(),
            reasons: others
                .iter()
                .map(|key| why_not(process.actors().get(key), key, user))
                .collect(),
        }),
        1 => Ok(mine.into_iter().next().unwrap_or_default()),
        _ => Err(ApiError::AmbiguousActor {
            action: action.to_string(),
            candidates: mine,
        }),
    }
}

/// Why the caller is not actor `key` (`actor`: the process actor), in the engine's words
/// where it has them (SPEC 2.5), with what is missing.
fn why_not(actor: Option<&Value>, key: &str, user: &User) -> String {
    if !identified(user) {
        return format!("The API key may not perform as actor '{key}'");
    }
    let Some(actor) = actor else {
        return match key.strip_prefix("service:") {
            Some(_) => format!("A person cannot perform as service '{key}'"),
            None => format!("Actor '{key}' is not defined in the scenario"),
        };
    };
    let id = actor
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let roles: Vec<&str> = match actor.get("role") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(role)) => vec![role.as_str()],
        _ => Vec::new(),
    };
    let quoted = |list: &[&str]| {
        list.iter()
            .map(|r| format!("'{r}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let has = match user.roles.as_slice() {
        [] => "the user has no role".to_string(),
        roles => {
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            format!("the user has {}", quoted(&roles))
        }
    };
    match (id, roles.as_slice()) {
        (Some(id), _) => format!(
            "User is not allowed to perform as actor '{key}': it is assigned to user '{id}'"
        ),
        (None, []) => format!("Actor '{key}' is not assigned to a user or role"),
        (None, [role]) => format!(
            "User is not allowed to perform as actor '{key}': it needs role '{role}', {has}"
        ),
        (None, roles) => format!(
            "User is not allowed to perform as actor '{key}': it needs one of the roles {}, {has}",
            quoted(roles)
        ),
    }
}

/// The errors of a rejected step for the answer: the engine's `User is not allowed to
/// perform as actor 'K'` (as recorded in the event) with what is missing added.
fn explained(errors: Vec<String>, actor: Option<&Value>, key: &str, user: &User) -> Vec<String> {
    let refused = format!("User is not allowed to perform as actor '{key}'");
    errors
        .into_iter()
        .map(|e| {
            if e != refused {
                return e;
            }
            let why = why_not(actor, key, user);
            if why.starts_with(&refused) {
                why
            } else {
                e
            }
        })
        .collect()
}

/// The actor of a step: the actor key plus the user's id and roles, which the engine
/// checks against the process actor (SPEC 2.5). For an API key, the event also records
/// the key's id (`apiKey`) and, for an application key, the user who issued it (`issuer`):
/// the audit trail names who acted.
fn step_actor(key: &str, user: &User) -> StepActor {
    let mut actor = StepActor::key(key);
    if let Some(id) = &user.id {
        actor = actor.with("id", Value::String(id.clone()));
    }
    if identified(user) {
        actor = actor.with("roles", json!(user.roles));
    }
    if let Some(origin) = &user.key {
        actor = actor.with("apiKey", Value::String(origin.id.clone()));
        let issuer = origin.issuer.as_ref().and_then(|i| i.user.as_ref());
        if let (None, Some(issuer)) = (&user.id, issuer) {
            actor = actor.with("issuer", Value::String(issuer.clone()));
        }
    }
    actor
}
