//! [`ApiError`]: every way a request can fail, and its HTTP answer.
//!
//! Every error answers `{"error": {"message": …}}` (plus `reason` with details where there
//! are any) with the status code of its variant. Server errors (5xx) answer a generic message;
//! the detail is logged, inside the request's trace span (which carries the request id).

use super::auth::AuthError;
use crate::engine::EngineError;
use crate::schema::ValidationError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// What can go wrong when handling a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request body is not well-formed JSON or YAML; the message names the fault and
    /// where it is (`invalid JSON at line 1, column 9: …`).
    #[error("{0}")]
    Malformed(String),
    /// The body is well-formed but does not have the expected shape (a missing or
    /// mistyped field).
    #[error("Invalid request body: {0}")]
    InvalidBody(String),
    /// A query parameter or path segment cannot be read.
    #[error("Invalid {what}: {message}")]
    InvalidParameter {
        /// `query` or `path`.
        what: &'static str,
        /// What the parser reported.
        message: String,
    },
    /// The body has a content type this API does not read.
    #[error("Unsupported content type '{0}': send application/json or application/yaml")]
    UnsupportedMediaType(String),
    /// The body is larger than the configured limit.
    #[error("Request body too large: the limit is {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The YAML body is larger than the YAML limit (smaller than the limit for JSON).
    #[error("YAML request body too large: the limit is {limit} bytes; send larger bodies as JSON")]
    YamlTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The scenario does not validate; `reason` lists the validation errors.
    #[error("Invalid scenario")]
    InvalidScenario(Vec<ValidationError>),
    /// The scenario is over one of the limits of docs/security.md (states, actions, size).
    #[error("Scenario too large: {0}")]
    ScenarioTooLarge(String),
    /// The scenario cannot be normalized or prepared.
    #[error("Invalid scenario: {0}")]
    Scenario(String),
    /// The scenario named in a request body does not exist.
    #[error("Scenario '{0}' not found")]
    UnknownScenario(String),
    /// No scenario, process or API key with this id (or the caller may not see it).
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// `Scenario`, `Process` or `API key`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The scenario of the process has no such action.
    #[error("Unknown action '{action}' for this process")]
    UnknownAction {
        /// The action key.
        action: String,
    },
    /// No route matches the request path.
    #[error("No route for {method} {path}")]
    NoRoute {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// Demo accounts exist only in development mode.
    #[error("Demo accounts are only available in development mode")]
    DevOnly,
    /// The route exists but not for this method.
    #[error("Method {method} is not allowed for {path}")]
    MethodNotAllowed {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// Authentication failed, a privilege is missing, or an API-key operation was refused
    /// (answered by [`AuthError`] itself, with its status code).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Scenarios come from a folder on this node and cannot be changed through the API.
    #[error("Scenarios are read-only on this node")]
    ReadOnly,
    /// An API key's process restrictions do not allow this.
    #[error("Insufficient privileges of API key: {0}")]
    Restricted(String),
    /// The caller cannot perform this action as any actor of the process; `reason` says
    /// why not, for each actor that could.
    #[error("Not allowed to perform action '{action}' in this process")]
    NotAnActor {
        /// The action key.
        action: String,
        /// Why the caller is none of the actors (one line each).
        reasons: Vec<String>,
    },
    /// A user id was bound to an actor whose scenario gives it a role, and the caller can't
    /// vouch for that: only the user themselves holding the role, or `process:super`, may.
    #[error(
        "Cannot assign actor '{actor}' to user '{user}': the actor needs the role '{}', which only that user holding it or a caller with 'process:super' can assign",
        .roles.join("' or '")
    )]
    RoleRequired {
        /// The actor key.
        actor: String,
        /// The user id given for it.
        user: String,
        /// The roles the scenario gives the actor.
        roles: Vec<String>,
    },
    /// A user without `process:super` must name the first action when starting a process.
    #[error("Not allowed to start a process without an action (needs 'process:super')")]
    ActionRequired,
    /// Several actors of the process could be the caller; `As-Actor` must pick one.
    #[error(
        "Several actors can perform action '{action}': {}; choose one with the As-Actor header",
        .candidates.join(", ")
    )]
    AmbiguousActor {
        /// The action key.
        action: String,
        /// The actor keys the caller could be.
        candidates: Vec<String>,
    },
    /// The scenario is disabled and starts no new processes.
    #[error("Scenario '{0}' is disabled")]
    Disabled(String),
    /// The step was rejected; `reason` lists the errors (it was recorded as skipped).
    #[error("Unable to perform action '{action}'")]
    StepRejected {
        /// The action key.
        action: String,
        /// The errors of the step (SPEC 2.5 texts).
        errors: Vec<String>,
    },
    /// The actor belongs to another node; only that node may act for it.
    #[error("{0}")]
    OtherNode(String),
    /// A step waited for with `?wait=final` lost a concurrent step and is not valid on the
    /// winning branch.
    #[error("The step lost a concurrent step of another node: {0}")]
    LostRace(String),
    /// The engine refused the request (e.g. an unknown actor given at the start).
    #[error("{0}")]
    Refused(String),
    /// The engine failed.
    #[error(transparent)]
    Engine(EngineError),
    /// A blocking task panicked or was cancelled.
    #[error("blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A response could not be written as YAML.
    #[error("cannot write the response as YAML: {0}")]
    Emit(String),
}

/// Result with [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::NotFound { kind, id } => ApiError::NotFound {
                kind: if kind == "scenario" {
                    "Scenario"
                } else {
                    "Process"
                },
                id,
            },
            EngineError::InvalidScenario(errors) => ApiError::InvalidScenario(errors),
            EngineError::Scenario(message) => ApiError::Scenario(message),
            EngineError::Disabled(id) => ApiError::Disabled(id),
            EngineError::Process(e) => ApiError::Refused(e.to_string()),
            e @ EngineError::ForeignActor { .. } => ApiError::OtherNode(e.to_string()),
            other => ApiError::Engine(other),
        }
    }
}

impl ApiError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_)
            | ApiError::InvalidBody(_)
            | ApiError::InvalidParameter { .. }
            | ApiError::InvalidScenario(_)
            | ApiError::Scenario(_)
            | ApiError::ScenarioTooLarge(_)
            | ApiError::AmbiguousActor { .. }
            | ApiError::Disabled(_)
            | ApiError::UnknownScenario(_)
            | ApiError::StepRejected { .. }
            | ApiError::Refused(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } | ApiError::YamlTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::NotFound { .. }
            | ApiError::UnknownAction { .. }
            | ApiError::NoRoute { .. }
            | ApiError::DevOnly => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::ReadOnly
            | ApiError::Restricted(_)
            | ApiError::NotAnActor { .. }
            | ApiError::OtherNode(_)
            | ApiError::RoleRequired { .. }
            | ApiError::ActionRequired => StatusCode::FORBIDDEN,
            ApiError::Auth(e) => e.status(),
            ApiError::Engine(EngineError::Exists(_)) | ApiError::LostRace(_) => {
                StatusCode::CONFLICT
            }
            ApiError::Engine(_) | ApiError::Task(_) | ApiError::Emit(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The JSON body: `{"error": {"message", "reason"?}}`.
    fn body(&self) -> Value {
        let status = self.status();
        if status.is_server_error() {
            return json!({"error": {"message": "Internal server error"}});
        }
        let mut error = json!({"message": self.to_string()});
        match self {
            ApiError::InvalidScenario(errors) => error["reason"] = json!(errors),
            ApiError::StepRejected { errors, .. } => error["reason"] = json!(errors),
            ApiError::NotAnActor { reasons, .. } => error["reason"] = json!(reasons),
            _ => {}
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = match self {
            ApiError::Auth(e) => return e.into_response(),
            other => other,
        };
        let status = this.status();
        if status.is_server_error() {
            tracing::error!(error = %this, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %this, "request refused");
        }
        (status, Json(this.body())).into_response()
    }
}

/// The shape of every error answer, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"error": {
    "message": "Not allowed to perform action 'approve' in this process",
    "reason": ["User is not allowed to perform as actor 'manager': it needs role 'management', the user has 'support'"]
}}))]
#[allow(dead_code)] // documentation only: the body is built as JSON by `ApiError`
pub struct ErrorBody {
    /// The error.
    error: ErrorDetail,
}

/// The error of an error answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct ErrorDetail {
    /// What went wrong, for people.
    message: String,
    /// Details: validation errors of a scenario, the errors of a rejected step, or why the
    /// caller is none of the actors that may perform an action.
    reason: Option<Vec<Value>>,
}
