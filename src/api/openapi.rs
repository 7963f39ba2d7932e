//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.

use super::{apikeys, info, processes, scenarios, AppState};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LetsFlow node",
        description = "The REST API of a LetsFlow node: scenarios, processes and API keys. \
            Authenticate with `Authorization: Bearer <JWT>` or `Bearer lfl_…` (an API key). \
            Bodies may be JSON or YAML (`Content-Type: application/yaml`); scenarios and \
            processes are also served as YAML (`Accept: application/yaml` or a `.yaml` suffix). \
            Every error answers `{\"error\": {\"message\": …}}`."
    ),
    modifiers(&BearerAuth),
    components(schemas(super::error::ErrorBody)),
    tags(
        (name = "system", description = "About the node"),
        (name = "scenario", description = "Scenarios"),
        (name = "process", description = "Processes"),
        (name = "apikey", description = "API keys"),
    )
)]
struct ApiDoc;

/// Adds the `bearer` security scheme the operations refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A JWT, or an API key `lfl_…`"))
                    .build(),
            ),
        );
    }
}

/// All API routes with their OpenAPI description.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(info::info))
        .routes(routes!(info::demo_accounts))
        .routes(routes!(info::health))
        .routes(routes!(info::peers))
        .routes(routes!(info::replication))
        .routes(routes!(
            scenarios::list_scenarios,
            scenarios::store_scenario
        ))
        .routes(routes!(
            scenarios::get_scenario,
            scenarios::disable_scenario
        ))
        .routes(routes!(processes::list_processes, processes::start_process))
        .routes(routes!(processes::get_process))
        .routes(routes!(processes::step_process))
        .routes(routes!(processes::retry_notification))
        .routes(routes!(apikeys::list_api_keys, apikeys::issue_api_key))
        .routes(routes!(apikeys::revoke_api_key))
}

/// The OpenAPI document of the API (served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}
