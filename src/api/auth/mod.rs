//! Authentication and authorization: JWT bearer tokens, role → privilege mapping,
//! development-mode demo accounts.
//!
//! A request carries `Authorization: Bearer <token>` with a JWT. [`Auth::authenticate`] turns
//! the header into a [`User`] with privileges:
//!
//! * a JWT user has the configured `defaultPrivileges` plus the privileges of each of its roles
//!   (`auth.roles`, default `{admin: ["*"]}`);
//!
//! Handlers take a [`User`] argument: its [`axum::extract::FromRequestParts`] implementation
//! authenticates the request and rejects it with an [`AuthError`] (401 JSON). A handler then
//! checks the privilege it needs with [`User::require`] (403).
//!
//! Time is passed in: [`Auth::authenticate`] checks expiry against the `now` it is given. Only
//! the extractor reads the clock.
//!
//! # JWTs
//!
//! The key is chosen by the token's `alg`: `HS256` (and `HS384`/`HS512`) is verified with
//! `auth.jwt.secret`; `RS256` (any RSA algorithm), `EdDSA` and `ES256`/`ES384` with the PEM
//! `auth.jwt.publicKey` when the key is of that family. `exp` and `nbf` are checked against
//! the time passed in, without leeway (a token without `exp` does not expire); `iss` must
//! equal `auth.jwt.issuer` when that is set. The claims become `{id: sub, roles, info}` —
//! `roles` one string or a list, `info` the other claims except the registered ones (`iss`,
//! `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`); a token in the reference engine's shape
//! (`{id, info: {…}, roles}`) is understood too. With `auth.jwt.transform`, a JMESPath
//! expression over the claims gives `{id, roles, info}` instead.
//!
//! # Development mode
//!
//! Without a configured `auth.jwt.secret`, a development node uses [`DEV_JWT_SECRET`] for
//! HS256 tokens, and [`Auth::demo_accounts`] hands out ready tokens for `alice`, `bob`,
//! `claire`, `david` and `admin`. A production node refuses to start without a JWT key.

mod jwt;
pub mod privileges;

use self::jwt::JwtVerifier;
use crate::process::Timestamp;
use crate::store::{self, Store};
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The HS256 secret of a development node that has no `auth.jwt.secret`. It is public, so
/// tokens signed with it prove nothing: a production node never accepts it.
pub const DEV_JWT_SECRET: &str = "letsflow-development-secret-not-for-production";

/// How long the tokens of the demo accounts are valid (seconds).
pub const DEMO_TOKEN_SECS: i64 = 24 * 60 * 60;

/// Authentication settings (from the node configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuthConfig {
    /// JWT verification; `None` only in development mode.
    pub jwt: Option<JwtConfig>,
    /// Role → privileges; default `{admin: ["*"]}`. A configured map replaces the default.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Privileges of every authenticated user; default `["process:start", "process:step"]`.
    pub default_privileges: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt: None,
            roles: BTreeMap::from([("admin".to_string(), vec![privileges::ALL.to_string()])]),
            default_privileges: privileges::DEFAULT_PRIVILEGES
                .iter()
                .map(|p| p.to_string())
                .collect(),
        }
    }
}

/// How JWTs are verified. `Debug` does not show the secret.
#[derive(Clone, Default, Serialize, Deserialize)]
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

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("public_key", &self.public_key)
            .field("issuer", &self.issuer)
            .field("transform", &self.transform)
            .finish()
    }
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
    /// Whether the user has `privilege` (holding `*` grants every privilege).
    pub fn can(&self, privilege: &str) -> bool {
        privileges::grants(&self.privileges, privilege)
    }

    /// `Ok` when the user has `privilege`, else [`AuthError::Forbidden`] (403) naming it.
    pub fn require(&self, privilege: &str) -> Result<(), AuthError> {
        if self.can(privilege) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!(
                "the '{privilege}' privilege is required"
            )))
        }
    }
}

/// A development-mode account with a ready token (`GET /demo-accounts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoAccount {
    /// The user id.
    pub id: String,
    /// `{name, email}`.
    pub info: Map<String, Value>,
    /// The roles (also in the token).
    pub roles: Vec<String>,
    /// An HS256 JWT for the account.
    pub token: String,
}

/// What goes wrong when authenticating, authorizing or managing API keys. The HTTP status of
/// each variant is [`AuthError::status`].
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request has no `Authorization` header (401).
    #[error("missing Authorization header")]
    Missing,
    /// The header is not `Bearer <token>` (401).
    #[error("malformed Authorization header: expected 'Bearer <token>'")]
    Malformed,
    /// The JWT's `exp` has passed (401).
    #[error("token expired")]
    TokenExpired,
    /// The JWT's `nbf` has not come yet (401).
    #[error("token not yet valid")]
    TokenNotYetValid,
    /// The JWT's signature does not verify with the configured key (401).
    #[error("invalid signature")]
    InvalidSignature,
    /// The JWT's `iss` is not the configured issuer (401).
    #[error("wrong issuer")]
    WrongIssuer,
    /// The JWT is malformed, of an algorithm the node doesn't accept, or its claims name no
    /// user (401).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The user lacks a privilege, or asks to grant more than it has (403).
    #[error("{0}")]
    Forbidden(String),
    /// A production node has no key to verify JWTs with (startup).
    #[error(
        "no JWT key configured: set auth.jwt.secret (HS256) or auth.jwt.publicKey (RS256/EdDSA); \
         only a development node runs without one"
    )]
    NoJwtKey,
    /// An authentication setting is unusable (startup).
    #[error("invalid {setting}: {reason}")]
    Config {
        /// The setting, e.g. `auth.jwt.publicKey`.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Demo tokens need an HMAC secret (development mode only).
    #[error("no HMAC secret to sign tokens with")]
    NoSigningKey,
    /// A token could not be signed.
    #[error("cannot sign a token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// The API-key store failed.
    #[error("API key store: {0}")]
    Store(#[from] store::Error),
}

impl AuthError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        use AuthError::*;
        match self {
            Missing | Malformed | TokenExpired | TokenNotYetValid | InvalidSignature
            | WrongIssuer | InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Forbidden(_) => StatusCode::FORBIDDEN,
            NoJwtKey | Config { .. } | NoSigningKey | Sign(_) | Store(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// `{"error": {"message": …}}` with the status of [`AuthError::status`]; a 401 also carries
/// `WWW-Authenticate: Bearer`. Server errors are logged and answered with a generic message.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "authentication failed");
            "internal server error".to_string()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(json!({"error": {"message": message}}))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Authentication state: configuration, keys and the API-key store.
pub struct Auth {
    config: AuthConfig,
    dev: bool,
    jwt: JwtVerifier,
    #[allow(dead_code)] // API keys come next
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.config)
            .field("dev", &self.dev)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Prepares authentication. A production node (`dev == false`) needs `auth.jwt.secret` or
    /// `auth.jwt.publicKey` ([`AuthError::NoJwtKey`]); a development node without a secret
    /// uses [`DEV_JWT_SECRET`]. Unusable keys, transforms and unknown privileges in
    /// `auth.roles` / `auth.defaultPrivileges` fail with [`AuthError::Config`].
    pub fn new(config: AuthConfig, dev: bool, store: Arc<dyn Store>) -> Result<Auth, AuthError> {
        let jwt_config = config.jwt.clone().unwrap_or_default();
        // Empty settings (e.g. from unset environment variables) count as not configured.
        let setting = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        let mut secret = setting(&jwt_config.secret);
        let public_key = setting(&jwt_config.public_key);
        if secret.is_none() && dev {
            secret = Some(DEV_JWT_SECRET.to_string());
        }
        if secret.is_none() && public_key.is_none() {
            return Err(AuthError::NoJwtKey);
        }
        for (role, list) in &config.roles {
            check_privileges(&format!("auth.roles.{role}"), list)?;
        }
        check_privileges("auth.defaultPrivileges", &config.default_privileges)?;

        let jwt = JwtVerifier::new(
            secret.as_deref(),
            public_key.as_deref(),
            setting(&jwt_config.issuer).as_deref(),
            setting(&jwt_config.transform).as_deref(),
        )?;
        Ok(Auth {
            config,
            dev,
            jwt,
            store,
        })
    }

    /// Whether the node runs in development mode.
    pub fn dev(&self) -> bool {
        self.dev
    }

    /// Authenticates the value of an `Authorization` header at time `now`.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        now: Timestamp,
    ) -> Result<User, AuthError> {
        let token = bearer_token(authorization)?;
        let identity = self.jwt.verify(token, now)?;
        let privileges = self.privileges_of(&identity.roles);
        Ok(User {
            id: Some(identity.id),
            roles: identity.roles,
            info: identity.info,
            privileges,
            restrictions: None,
        })
    }

    /// The privileges of a user with these roles: the default privileges plus those of each
    /// role (unknown roles add nothing).
    pub fn privileges_of(&self, roles: &[String]) -> Vec<String> {
        privileges::union(
            std::iter::once(&self.config.default_privileges)
                .chain(roles.iter().filter_map(|r| self.config.roles.get(r))),
        )
    }

    /// The demo accounts of a development node, with HS256 tokens valid for
    /// [`DEMO_TOKEN_SECS`] from `now`: `alice` (role `support`), `bob` (`management`),
    /// `claire` (`client`), `david` (no role) and `admin` (`admin`), as the reference engine
    /// has them. Empty on a production node.
    pub fn demo_accounts(&self, now: Timestamp) -> Vec<DemoAccount> {
        if !self.dev {
            return Vec::new();
        }
        const ACCOUNTS: [(&str, &str, &str); 5] = [
            ("alice", "Alice", "support"),
            ("bob", "Bob", "management"),
            ("claire", "Claire", "client"),
            ("david", "David", ""),
            ("admin", "Arnold", "admin"),
        ];
        let iat = now.0.timestamp();
        ACCOUNTS
            .iter()
            .filter_map(|&(id, name, role)| {
                let roles: Vec<String> = Some(role)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .into_iter()
                    .collect();
                let mut info = Map::new();
                info.insert("name".into(), json!(name));
                info.insert("email".into(), json!(format!("{id}@example.com")));
                let mut claims = info.clone();
                claims.insert("sub".into(), json!(id));
                claims.insert("roles".into(), json!(roles));
                claims.insert("iat".into(), json!(iat));
                claims.insert("exp".into(), json!(iat + DEMO_TOKEN_SECS));
                if let Some(iss) = self.jwt.issuer() {
                    claims.insert("iss".into(), json!(iss));
                }
                match self.jwt.sign(&claims) {
                    Ok(token) => Some(DemoAccount {
                        id: id.to_string(),
                        info,
                        roles,
                        token,
                    }),
                    Err(e) => {
                        tracing::error!(error = %e, account = id, "cannot sign a demo token");
                        None
                    }
                }
            })
            .collect()
    }
}

fn check_privileges(setting: &str, list: &[String]) -> Result<(), AuthError> {
    match list.iter().find(|p| !privileges::is_known(p)) {
        Some(p) => Err(AuthError::Config {
            setting: setting.to_string(),
            reason: format!(
                "unknown privilege '{p}' (known: {})",
                privileges::PRIVILEGES.join(", ")
            ),
        }),
        None => Ok(()),
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

/// The `Authorization` header as text (`None` when absent).
fn authorization(parts: &Parts) -> Result<Option<String>, AuthError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| AuthError::Malformed)
        })
        .transpose()
}

/// Authenticates at the current time.
async fn authenticate_now(auth: Arc<Auth>, header: Option<String>) -> Result<User, AuthError> {
    auth.authenticate(header.as_deref(), Timestamp(chrono::Utc::now()))
}

/// The authenticated caller of a request: rejects with [`AuthError`] (401) when the
/// `Authorization` header is missing or invalid.
impl<S> FromRequestParts<S> for User
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = authorization(parts)?;
        authenticate_now(Arc::<Auth>::from_ref(state), header).await
    }
}

/// `Option<User>`: `None` without an `Authorization` header; an invalid one is still rejected.
impl<S> OptionalFromRequestParts<S> for User
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match authorization(parts)? {
            None => Ok(None),
            header => authenticate_now(Arc::<Auth>::from_ref(state), header)
                .await
                .map(Some),
        }
    }
}

#[cfg(test)]
mod tests;
