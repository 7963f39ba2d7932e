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
    /// The node: `{id, addresses, name}` (id: its public key as a libp2p peer id;
    /// addresses: where it listens for peers). `null` for an engine without a network.
    node: Option<NodeInfo>,
    /// The names of the JSON schemas the node knows.
    schemas: Vec<String>,
}

/// A node's identity and addresses.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeInfo {
    /// The node id (libp2p peer id of its ed25519 key).
    id: String,
    /// The multiaddrs it listens on for peers.
    addresses: Vec<String>,
    /// Its name.
    name: String,
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
        node: state.network.as_ref().map(|peers| NodeInfo {
            id: peers.me().to_string(),
            addresses: peers.listening(),
            name: peers.name().to_string(),
        }),
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

/// The peers this node knows: `[{id, name, addresses, connected, lastSeen, refused: {count,
/// lastReason}}]` (refused: events and requests of the peer this node refused).
#[utoipa::path(
    get, path = "/peers", tag = "system",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Known peers", body = [Object]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn peers(
    State(state): State<AppState>,
    _user: super::auth::User,
    Accept(format): Accept,
) -> Result<Reply> {
    let peers = state.network.as_ref().map(|p| p.list()).unwrap_or_default();
    let peers = serde_json::to_value(peers).map_err(|e| ApiError::Emit(e.to_string()))?;
    Ok(Reply::ok(peers).format(format))
}

/// `GET /replication?since=MILLIS`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ReplicationQuery {
    /// Only events received at or after this time (ms since the Unix epoch).
    since: Option<i64>,
}

/// How late the events received from peers arrived: `{received, p50Ms, p99Ms, maxMs}`,
/// from an event's timestamp (taken by its author when the step request came in) to its
/// commit here; the latest 200,000 events are kept. `final` is the same from an event's
/// timestamp to the moment it became final here (as a participant's head made it so), and
/// `forks` counts `{switched, rebased, rejected, superseded}` since the node started.
#[utoipa::path(
    get, path = "/replication", tag = "system",
    security(("bearer" = [])),
    params(ReplicationQuery),
    responses(
        (status = 200, description = "Arrival lags", body = Object),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn replication(
    State(state): State<AppState>,
    _user: super::auth::User,
    axum::extract::Query(query): axum::extract::Query<ReplicationQuery>,
    Accept(format): Accept,
) -> Result<Reply> {
    let stats = state
        .network
        .as_ref()
        .map(|p| p.arrival_stats(query.since.unwrap_or(i64::MIN)))
        .unwrap_or_default();
    let since = query.since.unwrap_or(i64::MIN);
    let finals = state
        .network
        .as_ref()
        .map(|p| p.final_stats(since))
        .unwrap_or_default();
    let emit = |e: serde_json::Error| ApiError::Emit(e.to_string());
    let mut stats = serde_json::to_value(stats).map_err(emit)?;
    stats["final"] = serde_json::to_value(finals).map_err(emit)?;
    stats["forks"] = serde_json::to_value(state.engine.fork_stats()).map_err(emit)?;
    Ok(Reply::ok(stats).format(format))
}
