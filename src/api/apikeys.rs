//! `/apikey`: list, issue and revoke API keys.

use super::auth::{api_key_json, ApiKeyRequest, User};
use super::error::{ErrorBody, Result};
use super::negotiate::{Accept, Body, Reply};
use super::{blocking, now, AppState, Path};
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use utoipa::ToSchema;

/// An API key as the API shows it: never its hash; the token only once, when issued.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documentation only
pub struct ApiKeyView {
    /// Key id.
    id: String,
    /// The token (`lfl_…`): only in the answer to `POST /apikey`.
    token: Option<String>,
    /// Name.
    name: Option<String>,
    /// Privileges.
    privileges: Vec<String>,
    /// Process restrictions `{scenario?, actors?, actions?}` or a list of them (null: none).
    #[schema(value_type = Option<Value>)]
    processes: Value,
    /// When it was issued.
    #[schema(value_type = String, format = DateTime)]
    issued: String,
    /// When it stops working.
    #[schema(value_type = Option<String>, format = DateTime)]
    expiration: Option<String>,
    /// When it was last used (updated at most once a minute).
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used: Option<String>,
    /// Whether it was revoked.
    revoked: bool,
    /// The service the key is bound to (it acts as actor `service:NAME`).
    service: Option<String>,
}

/// Body of `POST /apikey`: the privileges, process restrictions and expiry of a new key.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documentation only
pub struct IssueApiKey {
    /// A name to recognize the key by.
    name: Option<String>,
    /// Privileges (at least one, none the issuer lacks): `scenario:read`, `scenario:write`,
    /// `apikey:issue`, `apikey:revoke`, `process:super`, `process:start`, `process:step` or
    /// `*`.
    #[schema(min_items = 1)]
    privileges: Vec<String>,
    /// Process restrictions `{scenario?, actors?, actions?}` or a list of them.
    #[schema(value_type = Option<Object>)]
    processes: Option<Value>,
    /// Days until the key expires (default 30).
    #[schema(minimum = 1, maximum = 36500)]
    expiration_days: Option<u32>,
    /// When the key expires (instead of `expirationDays`).
    #[schema(value_type = Option<String>, format = DateTime)]
    expiration: Option<String>,
    /// Binds the key to a service (a name, without `service:`): it then acts as actor
    /// `service:NAME`. Needs `process:super`.
    service: Option<String>,
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
        user.require("apikey:issue")?;
    }
    let auth = state.auth.clone();
    let keys = blocking(move || Ok(auth.list_api_keys()?)).await?;
    let keys = keys.iter().map(api_key_json).collect();
    Ok(Reply::ok(Value::Array(keys)).format(format))
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
    user.require("apikey:issue")?;
    let auth = state.auth.clone();
    let at = now();
    let (key, token) = blocking(move || Ok(auth.issue_api_key(&user, request, at)?)).await?;
    tracing::info!(key = %key.id, "API key issued");
    let mut json = api_key_json(&key);
    if let Value::Object(map) = &mut json {
        map.insert("token".into(), Value::String(token));
    }
    Ok(Reply::ok(json).status(StatusCode::CREATED).format(format))
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
    user.require("apikey:revoke")?;
    let auth = state.auth.clone();
    let key = id.clone();
    blocking(move || Ok(auth.revoke_api_key(&key)?)).await?;
    tracing::info!(key = %id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
