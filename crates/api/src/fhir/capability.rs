//! `GET /fhir/metadata`: the CapabilityStatement, generated from [`RESOURCES`], which lists
//! exactly the resources, interactions and search parameters the facade serves. The search
//! handlers take their allowed parameters from the same table, so the statement cannot claim a
//! parameter that a search refuses, nor the other way round (a test checks both).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use fhirbolt::model::r4::resources::{
    CapabilityStatement, CapabilityStatementImplementation, CapabilityStatementRest, CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction, CapabilityStatementRestResourceSearchParam,
    CapabilityStatementRestSecurity, CapabilityStatementSoftware,
};
use fhirbolt::model::r4::types::{Boolean, CodeableConcept, Coding};

use super::respond;
use crate::error::ApiError;

/// One search parameter: name, FHIR type and what it matches.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub type_: &'static str,
    pub doc: &'static str,
}

/// One resource type the facade serves.
#[derive(Debug, Clone, Copy)]
pub struct Supported {
    pub type_: &'static str,
    /// `read`, `search-type`, `create`, `update`.
    pub interactions: &'static [&'static str],
    pub search: &'static [Param],
    pub doc: &'static str,
}

const fn p(name: &'static str, type_: &'static str, doc: &'static str) -> Param {
    Param { name, type_, doc }
}

const DEFINITION_SEARCH: &[Param] =
    &[p("_id", "token", "the logical id"), p("url", "uri", "the canonical URL, exactly")];

/// Every resource type of the facade.
pub const RESOURCES: &[Supported] = &[
    Supported {
        type_: "Questionnaire",
        interactions: &["read", "search-type"],
        search: DEFINITION_SEARCH,
        doc: "One per form kind (baseline, measurement, discharge, follow-up), generated from the form catalogue. \
              No token needed.",
    },
    Supported {
        type_: "CodeSystem",
        interactions: &["read", "search-type"],
        search: DEFINITION_SEARCH,
        doc: "The register's code lists. No token needed.",
    },
    Supported {
        type_: "ValueSet",
        interactions: &["read", "search-type"],
        search: DEFINITION_SEARCH,
        doc: "The answers a Questionnaire item takes. No token needed.",
    },
    Supported {
        type_: "Organization",
        interactions: &["read", "search-type"],
        search: &[
            p("_id", "token", "the node id"),
            p(
                "identifier",
                "token",
                "RESH id (urn:oid:2.16.578.1.12.4.1.4.102) or organisation number (urn:oid:2.16.578.1.12.4.1.4.101), \
                 system|value or a value of either",
            ),
            p("partof", "reference", "children of this node (on `date`)"),
            p("type", "token", "nation, region, legal_entity or unit"),
            p("date", "date", "the day whose tree (partOf) to show, YYYY-MM-DD; default today"),
        ],
        doc: "The organisation tree. Any signed-in user. partOf is the parent on the day read for (read: today).",
    },
    Supported {
        type_: "Patient",
        interactions: &["read", "search-type"],
        search: &[
            p("_id", "token", "the internal id"),
            p(
                "identifier",
                "token",
                "the internal id, system https://rusreg.example/fhir/sid/patient-id (any other system is refused)",
            ),
        ],
        doc: "Internal id, sex and birth year only; never the national id. Registrars and unit contacts, in their \
              scope; a patient outside it reads as one that does not exist (404 on read, empty Bundle on search). \
              A search needs _id or identifier. Every read is audited (patient.read).",
    },
    Supported {
        type_: "EpisodeOfCare",
        interactions: &["read", "search-type"],
        search: &[
            p("_id", "token", "the pathway id"),
            p("status", "token", "active (treatment status 1), or finished together with treatment-status"),
            p("treatment-status", "token", "the register's treatment status, 1 to 7"),
            p("organization", "reference", "the owning unit's id"),
            p("date", "date", "the start date: a day, geYYYY-MM-DD or leYYYY-MM-DD"),
        ],
        doc: "A pathway (pakkeforløp). Registrars and unit contacts, in their scope (a unit outside it gives an empty Bundle). \
              Reads are audited as pathway.read, searches as pathway.list. statusHistory on read only.",
    },
    Supported {
        type_: "QuestionnaireResponse",
        interactions: &["read", "search-type", "create", "update"],
        search: &[
            p("subject", "reference", "the pathway, EpisodeOfCare/{id} (required)"),
            p("questionnaire", "reference", "the form kind's Questionnaire (canonical URL or id)"),
            p("status", "token", "in-progress (draft) or completed"),
            p("authored", "date", "the form's date (event_date): a day, geYYYY-MM-DD or leYYYY-MM-DD"),
        ],
        doc: "A form (skjema). The same rules as /api/v1/forms: create a draft (status in-progress) or a completed form \
              (completed: every rule, in one transaction); update a draft with If-Match: W/\"version\" (428 \
              without, 409 when stale or completed). Every read is audited as form.read.",
    },
    Supported {
        type_: "Measure",
        interactions: &["read", "search-type"],
        search: DEFINITION_SEARCH,
        doc: "One per quality indicator (docs/indicators.md). No token needed.",
    },
    Supported {
        type_: "MeasureReport",
        interactions: &["search-type"],
        search: &[
            p("period", "date", "the year (YYYY); default the latest published release of any year"),
            p("entity", "reference", "the legal entity whose slice, as in the JSON download (required but for register staff)"),
            p("measure", "reference", "the Measure (canonical URL or id)"),
            p("subject", "reference", "an Organization of the slice"),
        ],
        doc: "Summary reports per indicator, org node and year, from the latest PUBLISHED release of the year only: \
              the cells the JSON download gives the same caller (register contacts their legal entity, register \
              staff every node), suppressed alike (data-absent-reason masked, never a number). Audited as \
              release.download (format fhir).",
    },
];

/// The search parameters of a resource type (empty for a type the facade does not serve).
pub fn search_params(type_: &str) -> Vec<&'static str> {
    RESOURCES.iter().filter(|r| r.type_ == type_).flat_map(|r| r.search.iter().map(|p| p.name)).collect()
}

/// The date of this statement's content (changed with the facade).
pub const STATEMENT_DATE: &str = "2026-12-06";

pub fn statement() -> CapabilityStatement {
    let resources = RESOURCES
        .iter()
        .map(|r| CapabilityStatementRestResource {
            r#type: r.type_.into(),
            documentation: Some(r.doc.into()),
            interaction: r
                .interactions
                .iter()
                .map(|i| CapabilityStatementRestResourceInteraction { code: (*i).into(), ..Default::default() })
                .collect(),
            versioning: Some(if r.interactions.contains(&"update") { "versioned-update" } else { "no-version" }.into()),
            read_history: Some(Boolean::from(false)),
            update_create: r.interactions.contains(&"update").then(|| Boolean::from(false)),
            search_param: r
                .search
                .iter()
                .map(|p| CapabilityStatementRestResourceSearchParam {
                    name: p.name.into(),
                    r#type: p.type_.into(),
                    documentation: Some(p.doc.into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    CapabilityStatement {
        id: Some("rusreg".into()),
        url: Some(format!("{}/CapabilityStatement/rusreg", super::CANONICAL).into()),
        name: Some("Rusreg".into()),
        title: Some("rusreg FHIR R4 facade".into()),
        status: "active".into(),
        date: STATEMENT_DATE.into(),
        publisher: Some("rusreg".into()),
        kind: "instance".into(),
        software: Some(CapabilityStatementSoftware {
            name: "rusreg".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        }),
        implementation: Some(CapabilityStatementImplementation {
            description: "National medical quality register for substance-use treatment: FHIR R4 facade over the \
                          register's use cases (docs/fhir.md)"
                .into(),
            ..Default::default()
        }),
        fhir_version: "4.0.1".into(),
        format: vec![super::FHIR_JSON.into()],
        rest: vec![CapabilityStatementRest {
            mode: "server".into(),
            documentation: Some(
                "Every answer is application/fhir+json; every error an OperationOutcome. A search parameter not \
                 listed is refused (400), never ignored. Searches page with `_count` (1 to 200, default 50) and \
                 Bundle `next`/`previous` links."
                    .into(),
            ),
            security: Some(CapabilityStatementRestSecurity {
                cors: Some(Boolean::from(false)),
                service: vec![CodeableConcept {
                    coding: vec![Coding {
                        system: Some("http://terminology.hl7.org/CodeSystem/restful-security-service".into()),
                        code: Some("OAuth".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                description: Some(
                    "Bearer tokens as for the JSON API: rusreg's own or the OpenID provider's (HelseID). \
                     Identifiable resources need security level 4 for people."
                        .into(),
                ),
                ..Default::default()
            }),
            resource: resources,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `GET /fhir/metadata` (no token needed).
pub async fn metadata() -> Result<HttpResponse, ApiError> {
    respond(StatusCode::OK, &statement())
}
