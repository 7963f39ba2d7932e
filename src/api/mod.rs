//! The REST API of a node (SPEC 6, `seed/engine-api.txt`): axum router, authentication,
//! content negotiation (JSON/YAML) and the OpenAPI document.
//!
//! [`router`] builds the whole API over an [`AppState`]. Handlers authenticate with the
//! [`auth::User`] extractor, check privileges with [`auth::User::require`], read bodies with
//! [`negotiate::Payload`] / [`negotiate::Body`] and answer [`negotiate::Reply`] or
//! [`ApiError`]. The engine is synchronous; handlers run it with [`blocking`]. This layer is
//! where the clock is read ([`now`]) and process ids are drawn (uuid v4): the engine below
//! gets both as arguments.

mod apikeys;
pub mod auth;
mod error;
mod finality;
mod info;
pub mod negotiate;
mod openapi;
mod processes;
mod scenarios;
mod schemas;

pub use error::ApiError;
pub use openapi::openapi;

use crate::engine::Engine;
use crate::process::Timestamp;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use axum::Router;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The default largest YAML request body: 128 KiB.
pub const DEFAULT_YAML_BODY_LIMIT: usize = 128 * 1024;

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
    /// Largest YAML request body accepted, in bytes: YAML costs far more to parse than JSON
    /// (docs/security.md). Never more than `body_limit` in effect.
    pub yaml_body_limit: usize,
    /// Browser origins allowed to call the API (CORS), like `https://app.example`; `*` for
    /// any. Empty: no CORS headers, so browsers allow same-origin pages only.
    pub cors_origins: Vec<String>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            name: "letsflow".into(),
            dev: true,
            read_only_scenarios: false,
            body_limit: 1024 * 1024,
            yaml_body_limit: DEFAULT_YAML_BODY_LIMIT,
            cors_origins: Vec::new(),
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
    /// The node's peers and identity (`None`: an embedded engine without a network).
    pub network: Option<Arc<crate::net::Peers>>,
}

/// Lets the [`auth::User`] extractor find the authentication state.
impl axum::extract::FromRef<AppState> for Arc<auth::Auth> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// The API router (SPEC 6). Tests call it with `tower::ServiceExt::oneshot`; the node
/// serves it with `axum::serve`.
///
/// Besides the endpoints of SPEC 6 it serves `GET /health`, the OpenAPI document at
/// `/openapi.json` and Swagger UI at `/docs`. Every request gets an `x-request-id` (kept
/// when the client sends one, echoed in the response) and a trace span that carries it,
/// the method, the path and, once authenticated, the user or API key id; when the
/// response is sent, one `request` line at INFO level adds the status and the latency
/// (the access log). Headers, query strings and bodies are not logged, so neither are
/// tokens.
pub fn router(state: AppState) -> Router {
    let (api, doc) = openapi::routes().split_for_parts();
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", doc);
    let cors = cors(&state.settings.cors_origins);
    let router = api
        .merge(docs)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.body_limit))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %id,
                        user = tracing::field::Empty,
                        key = tracing::field::Empty,
                    )
                })
                .on_response(
                    |response: &axum::http::Response<_>,
                     latency: std::time::Duration,
                     _span: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "request"
                        );
                    },
                ),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state);
    // Outermost, so that preflight requests are answered before authentication.
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for browser apps on `origins` (none: no CORS headers). Bearer tokens travel in the
/// `Authorization` header, not in cookies, so credentials are not allowed.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    use axum::http::{header, HeaderName, HeaderValue};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let custom = |name: &'static str| HeaderName::from_static(name);
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                custom("as-actor"),
                custom("prefer"),
                custom("x-request-id"),
            ])
            .expose_headers([
                header::LOCATION,
                custom("x-total-count"),
                custom("x-disabled"),
                custom("x-request-id"),
                custom("preference-applied"),
            ])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

/// The current time, to the millisecond (as events record it).
pub fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// Runs synchronous work (the engine, the store) on a blocking thread, inside the
/// caller's trace span (so what it logs carries the request id).
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work)).await?
}

/// Query parameters; an unreadable query string answers 400 with an [`ApiError`].
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::InvalidParameter {
                what: "query",
                message: e.body_text(),
            })
    }
}

/// Path parameters; an unreadable path answers 400 with an [`ApiError`].
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::InvalidParameter {
                what: "path",
                message: e.body_text(),
            })
    }
}
