//! The OpenAPI 3 document (served at /api/v1/openapi.json) and Swagger UI (at /docs), both from
//! the binary: utoipa-swagger-ui's `vendored` feature builds the UI in, so no internet is needed.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, OpenIdConnect, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::config::OidcSettings;

#[derive(OpenApi)]
#[openapi(
    info(title = "rusreg", description = "National medical quality register for substance-use treatment (TSB): API v1."),
    paths(
        crate::auth::issue_token, crate::auth::get_me, crate::auth::change_own_password,
        crate::organisations::list_org_units, crate::organisations::get_org_unit, crate::organisations::create_org_unit,
        crate::organisations::update_org_unit, crate::organisations::create_org_link,
        crate::users::list_users, crate::users::create_user, crate::users::update_user,
        crate::users::add_grant, crate::users::remove_grant, crate::users::approve_grant,
        crate::users::list_authorisations,
        crate::identities::list_identities, crate::identities::add_identity, crate::identities::remove_identity,
        crate::identities::register_client, crate::identities::list_clients, crate::identities::revoke_client,
        crate::audit::list_audit, crate::audit::get_patient_log, crate::audit::get_login_failures,
        crate::patients::register_patient, crate::patients::get_patient,
        crate::pathways::open_pathway, crate::pathways::list_pathways, crate::pathways::get_pathway,
        crate::pathways::create_transfer,
        crate::forms::create_form, crate::forms::get_form, crate::forms::update_form, crate::forms::complete_form,
        crate::forms::reopen_form, crate::forms::get_form_history,
        crate::imports::create_import, crate::imports::get_import, crate::imports::get_import_errors,
        crate::reservations::create_reservation, crate::reservations::list_reservations,
        crate::reservations::mark_letter_sent,
        crate::research::create_project, crate::research::list_projects, crate::research::get_project,
        crate::research::create_extract, crate::research::mark_notice_told,
        crate::orders::create_order, crate::orders::list_orders, crate::orders::get_order,
        crate::orders::cancel_order, crate::orders::order_summary,
        crate::worklist::get_worklist,
        crate::reports::get_indicators, crate::reports::get_completeness, crate::reports::get_variable_completeness,
        crate::reports::get_residence,
        crate::reports::import_reference_counts, crate::reports::create_release, crate::reports::list_releases,
        crate::reports::get_release, crate::reports::get_release_job, crate::reports::publish_release, crate::reports::download_release,
        crate::reports::public_indicators,
        crate::directory::get_directory, crate::directory::put_facts, crate::directory::get_history,
        crate::directory::import_directory,
        crate::residence::import_areas, crate::residence::import_catchment, crate::residence::import_population,
        crate::health::live, crate::health::ready, crate::health::metrics,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldErrorDoc, crate::forms::ReopenReceiptResponse)),
    modifiers(&BearerAuth, &ProviderAuth),
    tags(
        (name = "auth", description = "Tokens and the caller"),
        (name = "org-units", description = "The organisation tree"),
        (name = "users", description = "Users, grants, sign-in identities and record-system clients (admin)"),
        (name = "audit", description = "The audit log (register staff)"),
        (name = "patients", description = "Patients (registrars and unit contacts)"),
        (name = "pathways", description = "Pathways and transfers"),
        (name = "forms", description = "Forms: drafts, completion, reopening, history"),
        (name = "imports", description = "Bulk import from patient-record systems"),
        (name = "reservations", description = "The reservation list (register staff)"),
        (name = "research", description = "Research projects and pseudonymised extracts (register staff)"),
        (name = "orders", description = "Questionnaire orders of the patient channel"),
        (name = "worklist", description = "Forms due and overdue at a unit"),
        (name = "reports", description = "Indicators, completeness, coverage"),
        (name = "releases", description = "Releases and downloads (suppressed)"),
        (name = "public", description = "Published results and the TSB service directory, no login"),
        (name = "directory", description = "The TSB service directory: recording and importing (register staff)"),
        (name = "residence", description = "Residence reference data: areas, catchment areas, population (register staff)"),
        (name = "health", description = "Liveness, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// How an access token of the OpenID provider is sent (the scheme's description).
const PROVIDER_TOKENS: &str = "An access token of the configured OpenID provider (HelseID): people through the \
    authorization-code flow, record systems through client credentials. Its audience and scope are rusreg's. \
    Sent as `Authorization: Bearer <token>`, or, when it is DPoP-bound (`cnf.jkt`), as `Authorization: DPoP \
    <token>` with a `DPoP` proof header (RFC 9449). A person signed in below security level 4 gets 403 \
    `security_level` on identifiable data.";

/// The provider's tokens: every operation that takes rusreg's bearer token takes them too.
struct ProviderAuth;

impl Modify for ProviderAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oidc",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(PROVIDER_TOKENS))
                    .build(),
            ),
        );
        let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
        let oidc = SecurityRequirement::new("oidc", Vec::<String>::new());
        for item in openapi.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head];
            for operation in operations.into_iter().flatten() {
                if let Some(security) = operation.security.as_mut() {
                    if security.contains(&bearer) && !security.contains(&oidc) {
                        security.push(oidc.clone());
                    }
                }
            }
        }
    }
}

/// The document as served: with a provider configured, its `oidc` scheme points at the
/// provider's discovery document.
pub fn document(provider: Option<&OidcSettings>) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if let (Some(p), Some(components)) = (provider, doc.components.as_mut()) {
        let url = format!("{}/.well-known/openid-configuration", p.issuer.trim_end_matches('/'));
        components.add_security_scheme(
            "oidc",
            SecurityScheme::OpenIdConnect(OpenIdConnect::with_description(url, PROVIDER_TOKENS.to_owned())),
        );
    }
    doc
}
