//! Authentication and authorization: JWT bearer tokens, `lfl_` API keys, role → privilege
//! mapping, development-mode demo accounts.
//!
//! A request carries `Authorization: Bearer <token>`. A token that starts with `lfl_` is an
//! API key; anything else is a JWT. [`Auth::authenticate`] turns the header into a [`User`]
//! with privileges:
//!
//! * a JWT user has the configured `defaultPrivileges` plus the privileges of each of its roles
//!   (`auth.roles`, default `{admin: ["*"]}`);
//! * an API key has exactly the privileges it was issued with, and its process restrictions.
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
//! # API keys
//!
//! A token is `lfl_` + 30 random base62 characters + a 6-character base62 checksum: 40
//! characters, alphabet `0-9A-Za-z`. The checksum is the CRC-32 (IEEE) of the 30 random
//! characters in base62, left-padded with `0` — the reference engine's format. A token whose
//! checksum doesn't match is refused without a store lookup. The store keeps only the
//! token's SHA-256 (lowercase hex); the token is shown once, when the key is issued. A key has
//! its own privileges (never more than its issuer's), optional process restrictions
//! ([`ProcessRestrictions`]) and an expiration (default 30 days).
//!
//! # Development mode
//!
//! Without a configured `auth.jwt.secret`, a development node uses [`DEV_JWT_SECRET`] for
//! HS256 tokens, and [`Auth::demo_accounts`] hands out ready tokens for `alice`, `bob`,
//! `claire`, `david` and `admin`. A production node refuses to start without a JWT key.

mod apikey;
mod jwt;
pub mod privileges;

pub use self::apikey::{
    api_key_json, ApiKeyRequest, KeyOrigin, ProcessRestriction, ProcessRestrictions, API_KEY_LEN,
    API_KEY_PREFIX, DEFAULT_EXPIRATION_DAYS, MAX_EXPIRATION_DAYS, MAX_KEY_CHAIN,
};

use self::jwt::JwtVerifier;
use crate::process::Timestamp;
use crate::store::{self, ApiKey, Store};
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

/// The shortest HS256 secret a production node accepts, in bytes (RFC 7518 3.2: a key of
/// at least the hash's size).
pub const MIN_SECRET_BYTES: usize = 32;

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
#[derive(Clone, Serialize, Deserialize)]
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
    /// A production node refuses tokens without `exp` unless this is false. Default true.
    pub require_expiry: bool,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            secret: None,
            public_key: None,
            issuer: None,
            transform: None,
            require_expiry: true,
        }
    }
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("public_key", &self.public_key)
            .field("issuer", &self.issuer)
            .field("transform", &self.transform)
            .field("require_expiry", &self.require_expiry)
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
    /// For an API key: its id, issuer and expiration (`None` for a JWT user).
    #[serde(skip)]
    pub key: Option<KeyOrigin>,
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

    /// The id of the API key the user authenticated with, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.info.get("apiKey").and_then(Value::as_str)
    }

    /// Whether the process restrictions (of an API key) allow using a process of `scenario`
    /// as `actor`, performing `action`. `None` for `actor` or `action` leaves that part
    /// unchecked; a user without restrictions is allowed everything. Restrictions that can't
    /// be read allow nothing.
    pub fn allows(&self, scenario: &str, actor: Option<&str>, action: Option<&str>) -> bool {
        match &self.restrictions {
            None | Some(Value::Null) => true,
            Some(r) => serde_json::from_value::<ProcessRestrictions>(r.clone())
                .is_ok_and(|r| r.allows(scenario, actor, action)),
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
    /// The API key token has the wrong shape or checksum — mistyped or truncated (401).
    #[error("malformed API key: the checksum does not match")]
    MalformedApiKey,
    /// No API key has this token (401).
    #[error("unknown API key")]
    UnknownApiKey,
    /// The API key was revoked (401).
    #[error("API key revoked")]
    ApiKeyRevoked,
    /// The API key has expired (401).
    #[error("API key expired")]
    ApiKeyExpired,
    /// A key in the chain that issued the API key was revoked, or is gone (401).
    #[error("API key revoked: the key that issued it was revoked")]
    IssuerRevoked,
    /// A key in the chain that issued the API key has expired (401).
    #[error("API key expired: the key that issued it has expired")]
    IssuerExpired,
    /// The user lacks a privilege, or asks to grant more than it has (403).
    #[error("{0}")]
    Forbidden(String),
    /// An API key request is invalid (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// No API key has this id (404).
    #[error("API key '{id}' not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
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
    /// A record could not be encoded.
    #[error("cannot encode API key restrictions: {0}")]
    Encode(#[source] serde_json::Error),
    /// The API-key store failed.
    #[error("API key store: {0}")]
    Store(#[from] store::Error),
    /// The blocking task that looked up an API key failed.
    #[error("authentication task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl AuthError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        use AuthError::*;
        match self {
            Missing | Malformed | TokenExpired | TokenNotYetValid | InvalidSignature
            | WrongIssuer | InvalidToken(_) | MalformedApiKey | UnknownApiKey | ApiKeyRevoked
            | ApiKeyExpired | IssuerRevoked | IssuerExpired => StatusCode::UNAUTHORIZED,
            Forbidden(_) => StatusCode::FORBIDDEN,
            InvalidRequest(_) => StatusCode::BAD_REQUEST,
            NotFound { .. } => StatusCode::NOT_FOUND,
            NoJwtKey | Config { .. } | NoSigningKey | Sign(_) | Encode(_) | Store(_) | Task(_) => {
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
    /// `auth.jwt.publicKey` ([`AuthError::NoJwtKey`]), an HS256 secret of at least
    /// [`MIN_SECRET_BYTES`], and refuses tokens without `exp` unless
    /// `auth.jwt.requireExpiry` is false; a development node without a secret uses
    /// [`DEV_JWT_SECRET`]. An empty or blank secret or public key, unusable keys, transforms
    /// and unknown privileges in `auth.roles` / `auth.defaultPrivileges` fail with
    /// [`AuthError::Config`].
    pub fn new(config: AuthConfig, dev: bool, store: Arc<dyn Store>) -> Result<Auth, AuthError> {
        let jwt_config = config.jwt.clone().unwrap_or_default();
        // An empty key is a mistake, never "no key": it would start a node anyone can sign
        // tokens for (or, taken as absent, a development node).
        for (name, key) in [
            ("auth.jwt.secret", &jwt_config.secret),
            ("auth.jwt.publicKey", &jwt_config.public_key),
        ] {
            if key.as_deref().is_some_and(|k| k.trim().is_empty()) {
                return Err(AuthError::Config {
                    setting: name.to_string(),
                    reason: "it is empty; set a key, or leave the setting out".into(),
                });
            }
        }
        if let Some(secret) = jwt_config.secret.as_deref().filter(|_| !dev) {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(AuthError::Config {
                    setting: "auth.jwt.secret".into(),
                    reason: format!(
                        "an HS256 secret needs at least {MIN_SECRET_BYTES} bytes in production \
                         mode; this one has {}",
                        secret.len()
                    ),
                });
            }
        }
        // Empty optional settings (e.g. from unset environment variables) count as not
        // configured.
        let setting = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        let mut secret = jwt_config.secret.clone();
        let public_key = jwt_config.public_key.clone();
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
        )?
        .require_expiry(!dev && jwt_config.require_expiry);
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
    ///
    /// An `lfl_` token is an API key: its checksum is checked first (a mistyped token is
    /// refused without a store lookup), then the key is found by the token's SHA-256 and
    /// refused when revoked or expired; its `lastUsed` is updated (at most once a minute).
    /// Any other token is a JWT. This reads and may write the store; from async code, call it
    /// on a blocking thread (the extractor does).
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        now: Timestamp,
    ) -> Result<User, AuthError> {
        let token = bearer_token(authorization)?;
        if token.starts_with(API_KEY_PREFIX) {
            self.authenticate_api_key(token, now)
        } else {
            let identity = self.jwt.verify(token, now)?;
            let privileges = self.privileges_of(&identity.roles);
            Ok(User {
                id: Some(identity.id),
                roles: identity.roles,
                info: identity.info,
                privileges,
                restrictions: None,
                key: None,
            })
        }
    }

    /// The privileges of a user with these roles: the default privileges plus those of each
    /// role (unknown roles add nothing).
    pub fn privileges_of(&self, roles: &[String]) -> Vec<String> {
        privileges::union(
            std::iter::once(&self.config.default_privileges)
                .chain(roles.iter().filter_map(|r| self.config.roles.get(r))),
        )
    }

    fn authenticate_api_key(&self, token: &str, now: Timestamp) -> Result<User, AuthError> {
        if !apikey::has_valid_checksum(token) {
            return Err(AuthError::MalformedApiKey);
        }
        let key = self
            .store
            .api_key_by_hash(&apikey::token_hash(token))?
            .ok_or(AuthError::UnknownApiKey)?;
        if key.revoked {
            return Err(AuthError::ApiKeyRevoked);
        }
        if key.expiration.is_some_and(|at| at <= now) {
            return Err(AuthError::ApiKeyExpired);
        }
        // A key issued by a key lives only as long as every key above it.
        let mut parent = key.issuer.as_ref().and_then(|i| i.key.clone());
        let mut hops = 0;
        while let Some(id) = parent {
            hops += 1;
            if hops > MAX_KEY_CHAIN {
                return Err(AuthError::IssuerRevoked);
            }
            let issuing = self.store.api_key(&id)?.ok_or(AuthError::IssuerRevoked)?;
            if issuing.revoked {
                return Err(AuthError::IssuerRevoked);
            }
            if issuing.expiration.is_some_and(|at| at <= now) {
                return Err(AuthError::IssuerExpired);
            }
            parent = issuing.issuer.and_then(|i| i.key);
        }
        let stale = key
            .last_used
            .is_none_or(|at| now.seconds_since(&at).abs() >= apikey::LAST_USED_RESOLUTION_SECS);
        if stale {
            self.store.touch_api_key(&key.id, now)?;
        }
        Ok(apikey::user_of(&key, hops))
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

    /// Issues an API key for `by`, who needs `apikey:issue` and every privilege the key is to
    /// have ([`AuthError::Forbidden`] otherwise). An issuer with process restrictions passes
    /// them on. The key expires at `expiration`, or `expirationDays` (default 30) after `now`.
    /// Returns the stored key and its token; the token is not stored and can't be shown again.
    pub fn issue_api_key(
        &self,
        by: &User,
        req: ApiKeyRequest,
        now: Timestamp,
    ) -> Result<(ApiKey, String), AuthError> {
        let (key, token) = apikey::new_key(by, req, now)?;
        self.store.put_api_key(&key)?;
        Ok((key, token))
    }

    /// All API keys, revoked ones included, in id order. Show them with [`api_key_json`].
    pub fn list_api_keys(&self) -> Result<Vec<ApiKey>, AuthError> {
        Ok(self.store.api_keys()?)
    }

    /// Revokes an API key ([`AuthError::NotFound`], 404, for an unknown id). Revoking a revoked
    /// key changes nothing.
    pub fn revoke_api_key(&self, id: &str) -> Result<(), AuthError> {
        self.store.revoke_api_key(id).map_err(|e| match e {
            store::Error::NotFound { .. } => AuthError::NotFound { id: id.to_string() },
            e => AuthError::Store(e),
        })
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

/// Authenticates at the current time; API keys are looked up on a blocking thread. The
/// request's span records who it is: the user id, and the key id for an API key (never
/// the token).
async fn authenticate_now(auth: Arc<Auth>, header: Option<String>) -> Result<User, AuthError> {
    let now = Timestamp(chrono::Utc::now());
    let is_api_key = bearer_token(header.as_deref()).is_ok_and(|t| t.starts_with(API_KEY_PREFIX));
    let user = if is_api_key {
        tokio::task::spawn_blocking(move || auth.authenticate(header.as_deref(), now)).await??
    } else {
        auth.authenticate(header.as_deref(), now)?
    };
    let span = tracing::Span::current();
    if let Some(id) = &user.id {
        span.record("user", tracing::field::display(id));
    }
    if let Some(key) = &user.key {
        span.record("key", tracing::field::display(&key.id));
    }
    Ok(user)
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
