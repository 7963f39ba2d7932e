//! The REST API of a node (SPEC 6, `seed/engine-api.txt`): axum router, authentication,
//! content negotiation (JSON/YAML) and the OpenAPI document.

pub mod auth;

use crate::node::Engine;
use axum::Router;
use std::sync::Arc;

/// Settings of the API that come from the node configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Node name shown by `GET /info`.
    pub name: String,
    /// Development mode: `GET /demo-accounts` and a default account.
    pub dev: bool,
    /// Scenarios come from a folder and cannot be added or disabled through the API.
    pub read_only_scenarios: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The node's public key / identity, shown by `GET /info` (empty until the chain layer).
    pub node_id: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            name: "letsflow".into(),
            dev: true,
            read_only_scenarios: false,
            body_limit: 1024 * 1024,
            node_id: String::new(),
        }
    }
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    /// Scenarios and processes.
    pub engine: Arc<Engine>,
    /// Authentication and authorization.
    pub auth: Arc<auth::Auth>,
    /// API settings.
    pub settings: Arc<ApiSettings>,
}

/// Lets the [`auth::User`] extractor find the authentication state.
impl axum::extract::FromRef<AppState> for Arc<auth::Auth> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// The API router (SPEC 6). Tests call it with `tower::ServiceExt::oneshot`; the node
/// serves it with `axum::serve`.
pub fn router(state: AppState) -> Router {
    let _ = state;
    Router::new()
}
