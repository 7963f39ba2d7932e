//! `/info`, `/demo-accounts` and `/health`.

use super::error::{ApiError, ErrorBody, Result};
use super::negotiate::{Accept, Reply};
use super::{now, AppState};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// What `GET /info` tells about the node.
#[derive(Debug, Serialize, ToSchema)]
pub struct Info {
    /// The node name.
    name: String,
    /// The version of this program.
    version: String,
    /// What this program is.
    description: String,
    /// `development` or `production`.
    env: String,
    /// The node identity (public key; empty until the node has one).
    node: String,
    /// The names of the JSON schemas the node knows.
    schemas: Vec<String>,
}

/// System information.
#[utoipa::path(
    get, path = "/info", tag = "system",
    responses((status = 200, description = "About this node", body = Info))
)]
pub async fn info(State(state): State<AppState>, Accept(format): Accept) -> Result<Reply> {
    let settings = &state.settings;
    let info = Info {
        name: settings.name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: env!("CARGO_PKG_DESCRIPTION").into(),
        env: if settings.dev {
            "development"
        } else {
            "production"
        }
        .into(),
        node: settings.node_id.clone(),
        schemas: state
            .engine
            .registry()
            .names()
            .map(str::to_string)
            .collect(),
    };
    let info = serde_json::to_value(info).map_err(|e| ApiError::Emit(e.to_string()))?;
    Ok(Reply::ok(info).format(format))
}

/// Accounts with ready tokens; only in development mode (404 otherwise).
#[utoipa::path(
    get, path = "/demo-accounts", tag = "system",
    responses(
        (status = 200, description = "Demo accounts `[{id, name, roles, token}]`", body = [Object]),
        (status = 404, description = "Not in development mode", body = ErrorBody),
    )
)]
pub async fn demo_accounts(State(state): State<AppState>, Accept(format): Accept) -> Result<Reply> {
    if !state.settings.dev {
        return Err(ApiError::DevOnly);
    }
    let accounts = state.auth.demo_accounts(now());
    let accounts = serde_json::to_value(accounts).map_err(|e| ApiError::Emit(e.to_string()))?;
    Ok(Reply::ok(accounts).format(format))
}

/// Liveness: `{"status": "ok"}`.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses((status = 200, description = "The node is up", body = Object, example = json!({"status": "ok"})))
)]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
