//! `/scenarios`: list, store, get (JSON or YAML) and disable scenarios.

use super::auth::User;
use super::error::{ApiError, ErrorBody, Result};
use super::negotiate::{split_suffix, Accept, Payload, Reply};
use super::schemas::Scenario;
use super::{blocking, now, AppState, Path};
use crate::scenario::locate::Locations;
use crate::scenario::warnings::warnings;
use crate::schema::ValidationError;
use axum::extract::State;
use axum::http::{header, HeaderName, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// `X-Disabled: true` marks a disabled scenario.
const X_DISABLED: HeaderName = HeaderName::from_static("x-disabled");

/// A scenario as listed by `GET /scenarios`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScenarioSummary {
    /// The content-derived id.
    pub id: String,
    /// The `name` of the scenario (null when it has none).
    pub name: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<Value>,
}

impl ScenarioSummary {
    /// The summary of a normalized scenario.
    pub fn of(id: &str, json: &Value) -> Self {
        let text = |key: &str| {
            json.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        ScenarioSummary {
            id: id.to_string(),
            name: json.get("name").and_then(Value::as_str).map(str::to_string),
            title: text("title"),
            description: text("description"),
            tags: json
                .get("tags")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// List the enabled scenarios (by title).
#[utoipa::path(
    get, path = "/scenarios", tag = "scenario",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Summaries of the enabled scenarios", body = [ScenarioSummary]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `scenario:read`", body = ErrorBody),
    )
)]
pub async fn list_scenarios(
    State(state): State<AppState>,
    user: User,
    Accept(format): Accept,
) -> Result<Reply> {
    user.require("scenario:read")?;
    let engine = state.engine.clone();
    let mut list: Vec<ScenarioSummary> = blocking(move || {
        Ok(engine
            .scenarios()?
            .iter()
            .filter(|r| !r.disabled)
            .map(|r| ScenarioSummary::of(&r.id, &r.json))
            .collect())
    })
    .await?;
    list.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
    let list = serde_json::to_value(list).map_err(|e| ApiError::Emit(e.to_string()))?;
    Ok(Reply::ok(list).format(format))
}

/// Store a scenario (JSON or YAML). Answers the normalized scenario with its id; `201` when
/// it is new, `200` when the same content was stored before (a disabled one is enabled
/// again). What is valid but most likely a mistake (unknown keys, undefined actions,
/// unreached states, states without a way out) is listed in `warnings`, each with
/// `instancePath`, `keyword`, `message`, `params` and, for YAML, `line` and `column`.
#[utoipa::path(
    post, path = "/scenarios", tag = "scenario",
    security(("bearer" = [])),
    request_body(description = "A scenario in JSON or YAML", content(
        (Object = "application/json"), (Object = "application/yaml")
    )),
    responses(
        (status = 201, description = "Stored; `Location: /scenarios/{id}`; the normalized scenario with its `id` and `warnings`", body = Scenario),
        (status = 200, description = "Already stored (enabled again)", body = Scenario),
        (status = 400, description = "Malformed, invalid or too large scenario (docs/security.md); `reason` lists validation errors", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `scenario:write`, or read-only mode", body = ErrorBody),
        (status = 413, description = "Body too large (YAML has a smaller limit)", body = ErrorBody),
        (status = 415, description = "Unsupported content type", body = ErrorBody),
    )
)]
pub async fn store_scenario(
    State(state): State<AppState>,
    user: User,
    Accept(format): Accept,
    payload: Payload,
) -> Result<Reply> {
    user.require("scenario:write")?;
    if state.settings.read_only_scenarios {
        return Err(ApiError::ReadOnly);
    }
    let engine = state.engine.clone();
    let at = now();
    let (id, created, mut json, warnings) = blocking(move || {
        // Parsed on this blocking thread, after the privilege check.
        let raw = payload.required()?;
        check_limits(&raw)?;
        let locations = payload
            .yaml_text()
            .map(Locations::of_yaml)
            .unwrap_or_default();
        let warnings = warnings_json(&warnings(&raw), &locations);
        let (id, created) = engine.add_scenario(&raw, at)?;
        let json = engine.scenario(&id)?.json_with_id().clone();
        Ok((id, created, json, warnings))
    })
    .await?;
    if !warnings.is_empty() {
        json["warnings"] = Value::Array(warnings);
    }
    tracing::info!(scenario = %id, created, "scenario stored");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Reply::ok(json)
        .status(status)
        .header(header::LOCATION, &format!("/scenarios/{id}"))
        .format(format))
}

/// The warnings as JSON, with the `line` and `column` of the key when it is located.
fn warnings_json(warnings: &[ValidationError], locations: &Locations) -> Vec<Value> {
    warnings
        .iter()
        .map(|w| {
            let mut json = json!(w);
            if let Some(at) = locations.find(&w.instance_path) {
                json["line"] = json!(at.line);
                json["column"] = json!(at.column);
            }
            json
        })
        .collect()
}

/// Get a normalized scenario, as JSON or YAML (`{id}.json`, `{id}.yaml` or `Accept`).
/// The document has no `id`, so what is fetched can be stored again under the same id.
#[utoipa::path(
    get, path = "/scenarios/{id}", tag = "scenario",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Scenario id, optionally with `.json` or `.yaml`"),
        ("Accept" = Option<String>, Header, description = "`application/json` or `application/yaml`"),
    ),
    responses(
        (status = 200, description = "The normalized scenario; `X-Disabled: true` when disabled",
            content((Scenario = "application/json"), (Scenario = "application/yaml"))),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `scenario:read`", body = ErrorBody),
        (status = 404, description = "Unknown scenario", body = ErrorBody),
    )
)]
pub async fn get_scenario(
    State(state): State<AppState>,
    user: User,
    Accept(accept): Accept,
    Path(id): Path<String>,
) -> Result<Reply> {
    user.require("scenario:read")?;
    let (id, suffix) = split_suffix(&id);
    let id = id.to_string();
    let engine = state.engine.clone();
    let record = blocking(move || Ok(engine.scenario_record(&id)?)).await?;
    let mut reply = Reply::ok(record.json).format(suffix.unwrap_or(accept));
    if record.disabled {
        reply = reply.header(X_DISABLED, "true");
    }
    Ok(reply)
}

/// Disable a scenario: it is no longer listed and starts no processes; running processes
/// keep working.
#[utoipa::path(
    delete, path = "/scenarios/{id}", tag = "scenario",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Scenario id")),
    responses(
        (status = 204, description = "Disabled"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `scenario:write`, or read-only mode", body = ErrorBody),
        (status = 404, description = "Unknown scenario", body = ErrorBody),
    )
)]
pub async fn disable_scenario(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    user.require("scenario:write")?;
    if state.settings.read_only_scenarios {
        return Err(ApiError::ReadOnly);
    }
    let engine = state.engine.clone();
    let scenario = id.clone();
    blocking(move || Ok(engine.disable_scenario(&scenario)?)).await?;
    tracing::info!(scenario = %id, "scenario disabled");
    Ok(StatusCode::NO_CONTENT)
}

/// The most states a scenario stored through the API may have.
pub const MAX_SCENARIO_STATES: usize = 1_000;
/// The most actions a scenario stored through the API may have.
pub const MAX_SCENARIO_ACTIONS: usize = 1_000;
/// The largest scenario stored through the API, as compact JSON, in bytes (512 KiB).
pub const MAX_SCENARIO_BYTES: usize = 512 * 1024;

/// Refuses a scenario over the limits (400), before normalizing it: every process start
/// prepares the whole scenario, so one of 20,000 states costs hundreds of megabytes.
fn check_limits(raw: &Value) -> Result<()> {
    let count = |key: &str| {
        raw.get(key)
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
    };
    for (what, n, limit) in [
        ("states", count("states"), MAX_SCENARIO_STATES),
        ("actions", count("actions"), MAX_SCENARIO_ACTIONS),
    ] {
        if n > limit {
            return Err(ApiError::ScenarioTooLarge(format!(
                "{n} {what} (the limit is {limit})"
            )));
        }
    }
    let size = serde_json::to_vec(raw).map_or(0, |b| b.len());
    if size > MAX_SCENARIO_BYTES {
        return Err(ApiError::ScenarioTooLarge(format!(
            "{size} bytes as JSON (the limit is {MAX_SCENARIO_BYTES})"
        )));
    }
    Ok(())
}
