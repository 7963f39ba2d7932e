//! `/apikey`: list, issue and revoke API keys.

use super::auth::{ApiKeyRequest, User};
use super::error::{ApiError, ErrorBody, Result};
use super::negotiate::{Accept, Body, Reply};
use super::{blocking, now, require, AppState, Path};
use crate::process::Timestamp;
use crate::store::ApiKey;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An API key as the API shows it: never its hash; the token only once, when issued.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    /// Key id.
    id: String,
    /// The token (`lfl_…`): only in the answer to `POST /apikey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Name.
    name: Option<String>,
    /// Privileges.
    privileges: Vec<String>,
    /// Process restrictions `[{scenario, actors?, actions?}]` (null: none).
    #[schema(value_type = Object)]
    processes: Value,
    /// When it was issued.
    #[schema(value_type = String, format = DateTime)]
    issued: Timestamp,
    /// When it stops working.
    #[schema(value_type = Option<String>, format = DateTime)]
    expiration: Option<Timestamp>,
    /// When it was last used.
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used: Option<Timestamp>,
    /// Whether it was revoked.
    revoked: bool,
}

impl ApiKeyView {
    fn of(key: ApiKey, token: Option<String>) -> Self {
        ApiKeyView {
            id: key.id,
            token,
            name: key.name,
            privileges: key.privileges,
            processes: key.processes,
            issued: key.issued,
            expiration: key.expiration,
            last_used: key.last_used,
            revoked: key.revoked,
        }
    }
}

/// Body of `POST /apikey` (documentation of [`ApiKeyRequest`]).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documentation only
pub struct IssueApiKey {
    /// A name for the key.
    name: String,
    /// A description.
    description: Option<String>,
    /// Privileges: `scenario:read`, `scenario:write`, `apikey:issue`, `apikey:revoke`,
    /// `process:super`, `process:start`, `process:step` or `*`.
    privileges: Vec<String>,
    /// Process restrictions `[{scenario, actors?, actions?}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    processes: Option<Value>,
    /// Days until the key expires (default 30).
    expiration_days: Option<u32>,
}

fn to_json<T: Serialize>(value: T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Emit(e.to_string()))
}

/// List the API keys (needs `apikey:issue` or `apikey:revoke`).
#[utoipa::path(
    get, path = "/apikey", tag = "apikey",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All API keys, revoked ones included", body = [ApiKeyView]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `apikey:issue`", body = ErrorBody),
    )
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    user: User,
    Accept(format): Accept,
) -> Result<Reply> {
    if !user.can("apikey:revoke") {
        require(&user, "apikey:issue")?;
    }
    let auth = state.auth.clone();
    let keys = blocking(move || Ok(auth.list_api_keys()?)).await?;
    let keys: Vec<ApiKeyView> = keys.into_iter().map(|k| ApiKeyView::of(k, None)).collect();
    Ok(Reply::ok(to_json(keys)?).format(format))
}

/// Issue an API key. The answer holds the token; it is not shown again.
#[utoipa::path(
    post, path = "/apikey", tag = "apikey",
    security(("bearer" = [])),
    request_body(content((IssueApiKey = "application/json"), (IssueApiKey = "application/yaml"))),
    responses(
        (status = 201, description = "Issued, with its token", body = ApiKeyView),
        (status = 400, description = "Bad request body", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `apikey:issue`", body = ErrorBody),
    )
)]
pub async fn issue_api_key(
    State(state): State<AppState>,
    user: User,
    Accept(format): Accept,
    Body(request): Body<ApiKeyRequest>,
) -> Result<Reply> {
    require(&user, "apikey:issue")?;
    let auth = state.auth.clone();
    let at = now();
    let (key, token) = blocking(move || Ok(auth.issue_api_key(&user, request, at)?)).await?;
    tracing::info!(key = %key.id, "API key issued");
    Ok(Reply::ok(to_json(ApiKeyView::of(key, Some(token)))?)
        .status(StatusCode::CREATED)
        .format(format))
}

/// Revoke an API key.
#[utoipa::path(
    delete, path = "/apikey/{id}", tag = "apikey",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Missing privilege `apikey:revoke`", body = ErrorBody),
        (status = 404, description = "Unknown key", body = ErrorBody),
    )
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require(&user, "apikey:revoke")?;
    let auth = state.auth.clone();
    let key = id.clone();
    blocking(move || {
        if !auth.list_api_keys()?.iter().any(|k| k.id == key) {
            return Err(ApiError::NotFound {
                kind: "API key",
                id: key,
            });
        }
        Ok(auth.revoke_api_key(&key)?)
    })
    .await?;
    tracing::info!(key = %id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
