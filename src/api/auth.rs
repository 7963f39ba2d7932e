//! Authentication and authorization: JWT bearer tokens, `lfl_` API keys, role → privilege
//! mapping, development-mode demo accounts.
//!
//! TEMP: a stand-in with the interface the API needs (HS256 JWTs and `lfl_` API keys),
//! replaced by the real implementation when the branches are merged.

use super::AppState;
use crate::process::Timestamp;
use crate::store::{ApiKey, Store};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Authentication settings (from the node configuration).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuthConfig {
    /// JWT verification; `None` only in development mode.
    pub jwt: Option<JwtConfig>,
    /// Role → privileges; default `{admin: ["*"]}`.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Privileges of every authenticated user; default `["process:start", "process:step"]`.
    pub default_privileges: Vec<String>,
}

/// How JWTs are verified.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JwtConfig {
    /// HS256 shared secret.
    pub secret: Option<String>,
    /// RS256 or EdDSA public key (PEM).
    pub public_key: Option<String>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// JMESPath expression mapping the claims to `{id, roles, info}`.
    pub transform: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// The user id (`sub` by default).
    pub id: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Extra information (name, email, …).
    pub info: Map<String, Value>,
    /// Privileges from the roles (or from the API key).
    pub privileges: Vec<String>,
    /// For an API key with process restrictions: `{scenario, actors, actions}`.
    pub restrictions: Option<Value>,
}

impl User {
    /// Whether the user holds `privilege` (or `*`).
    pub fn can(&self, privilege: &str) -> bool {
        self.privileges.iter().any(|p| p == "*" || p == privilege)
    }
}

/// What a client asks for when issuing an API key.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRequest {
    /// A name for the key.
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// Privileges of the key.
    pub privileges: Vec<String>,
    /// Process restrictions `[{scenario, actors?, actions?}]`.
    #[serde(default)]
    pub processes: Option<Value>,
    /// Days until the key expires (default 30).
    #[serde(default)]
    pub expiration_days: Option<u32>,
}

/// A development account with a ready token.
#[derive(Debug, Clone, Serialize)]
pub struct DemoAccount {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// A bearer token for the account.
    pub token: String,
}

/// Why a request could not be authenticated or authorized.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("Authorization required: send 'Authorization: Bearer <token>'")]
    Missing,
    /// The token is not valid.
    #[error("Invalid token: {0}")]
    Invalid(String),
    /// The API key is unknown.
    #[error("API key '{0}' not found")]
    UnknownKey(String),
    /// The caller may not do this.
    #[error("Not allowed: missing privilege '{0}'")]
    Forbidden(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match &self {
            AuthError::Missing | AuthError::Invalid(_) => StatusCode::UNAUTHORIZED,
            AuthError::UnknownKey(_) => StatusCode::NOT_FOUND,
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            AuthError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status.is_server_error() {
            "Internal server error".to_string()
        } else {
            self.to_string()
        };
        (status, axum::Json(json!({"error": {"message": message}}))).into_response()
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    exp: i64,
}

/// Authentication state: configuration, keys and the API-key store.
pub struct Auth {
    config: AuthConfig,
    dev: bool,
    store: Arc<dyn Store>,
}

impl Auth {
    /// Prepares authentication.
    pub fn new(config: AuthConfig, dev: bool, store: Arc<dyn Store>) -> Self {
        Auth { config, dev, store }
    }

    fn secret(&self) -> String {
        self.config
            .jwt
            .as_ref()
            .and_then(|j| j.secret.clone())
            .unwrap_or_else(|| "letsflow-development-secret".into())
    }

    fn privileges_of(&self, roles: &[String]) -> Vec<String> {
        let mut out = if self.config.default_privileges.is_empty() {
            vec!["process:start".to_string(), "process:step".to_string()]
        } else {
            self.config.default_privileges.clone()
        };
        for role in roles {
            let granted = match self.config.roles.get(role) {
                Some(p) => p.clone(),
                None if role == "admin" && self.config.roles.is_empty() => vec!["*".into()],
                None => vec![],
            };
            out.extend(granted);
        }
        out
    }

    /// Authenticates the value of an `Authorization` header.
    pub fn authenticate(&self, header: Option<&str>, now: Timestamp) -> Result<User, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| AuthError::Invalid("expected a Bearer token".into()))?
            .trim();
        if token.starts_with("lfl_") {
            let hash = hex::encode(Sha256::digest(token.as_bytes()));
            let key = self
                .store
                .api_key_by_hash(&hash)?
                .filter(|k| !k.revoked && k.expiration.is_none_or(|e| e > now))
                .ok_or_else(|| AuthError::Invalid("unknown, revoked or expired API key".into()))?;
            self.store.touch_api_key(&key.id, now)?;
            return Ok(User {
                id: None,
                roles: vec![],
                info: Map::new(),
                privileges: key.privileges.clone(),
                restrictions: (!key.processes.is_null()).then(|| key.processes.clone()),
            });
        }
        let key = jsonwebtoken::DecodingKey::from_secret(self.secret().as_bytes())
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let mut info = Map::new();
        if let Some(name) = claims.name {
            info.insert("name".into(), Value::String(name));
        }
        Ok(User {
            id: Some(claims.sub),
            privileges: self.privileges_of(&claims.roles),
            roles: claims.roles,
            info,
            restrictions: None,
        })
    }

    /// Accounts with ready tokens for development mode (empty otherwise).
    pub fn demo_accounts(&self, now: Timestamp) -> Vec<DemoAccount> {
        if !self.dev {
            return vec![];
        }
        let accounts = [
            ("admin", "Arnold Admin", vec!["admin".to_string()]),
            ("alice", "Alice", vec![]),
            ("bob", "Bob", vec![]),
        ];
        let Ok(key) = jsonwebtoken::EncodingKey::from_secret(self.secret().as_bytes()) else {
            return vec![];
        };
        accounts
            .into_iter()
            .filter_map(|(id, name, roles)| {
                let claims = Claims {
                    sub: id.into(),
                    roles: roles.clone(),
                    name: Some(name.into()),
                    exp: now.0.timestamp() + 24 * 3600,
                };
                let token =
                    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).ok()?;
                Some(DemoAccount {
                    id: id.into(),
                    name: name.into(),
                    roles,
                    token,
                })
            })
            .collect()
    }

    /// Issues an API key; the token is returned once and only its hash is stored.
    pub fn issue_api_key(
        &self,
        by: &User,
        request: ApiKeyRequest,
        now: Timestamp,
    ) -> Result<(ApiKey, String), AuthError> {
        if let Some(p) = request
            .privileges
            .iter()
            .find(|p| !by.can(p) && p.as_str() != "*")
        {
            return Err(AuthError::Forbidden(p.clone()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let token = format!(
            "lfl_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let days = request.expiration_days.unwrap_or(30);
        let key = ApiKey {
            id,
            name: Some(request.name),
            hash: hex::encode(Sha256::digest(token.as_bytes())),
            privileges: request.privileges,
            processes: request.processes.unwrap_or(Value::Null),
            expiration: Some(now.plus_seconds(f64::from(days) * 86400.0)),
            last_used: None,
            revoked: false,
            issued: now,
        };
        self.store.put_api_key(&key)?;
        Ok((key, token))
    }

    /// All API keys.
    pub fn list_api_keys(&self) -> Result<Vec<ApiKey>, AuthError> {
        Ok(self.store.api_keys()?)
    }

    /// Revokes an API key.
    pub fn revoke_api_key(&self, id: &str) -> Result<(), AuthError> {
        match self.store.revoke_api_key(id) {
            Err(crate::store::Error::NotFound { .. }) => Err(AuthError::UnknownKey(id.into())),
            other => Ok(other?),
        }
    }
}

impl FromRequestParts<AppState> for User {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        let auth = state.auth.clone();
        let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        tokio::task::spawn_blocking(move || auth.authenticate(header.as_deref(), now))
            .await
            .map_err(|e| AuthError::Invalid(format!("authentication failed: {e}")))?
    }
}
