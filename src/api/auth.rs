//! Authentication and authorization: JWT bearer tokens, `lfl_` API keys, role → privilege
//! mapping, development-mode demo accounts.

use crate::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
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

/// Authentication state: configuration, keys and the API-key store.
#[allow(dead_code)] // filled in by the authentication work
pub struct Auth {
    config: AuthConfig,
    store: Arc<dyn Store>,
}

impl Auth {
    /// Prepares authentication.
    pub fn new(config: AuthConfig, store: Arc<dyn Store>) -> Self {
        Auth { config, store }
    }
}
