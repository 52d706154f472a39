//! `Measure` per quality indicator (docs/indicators.md) and `MeasureReport` per indicator, org
//! node and year, read from a **published** release only (`app::reports::published_slice`): the
//! same cells, suppressed alike, as the JSON download of that release gives the same caller. A
//! suppressed count or share is never a number: the element carries the data-absent-reason
//! extension with `masked` instead.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::indicators::{IndicatorId, INDICATORS};
use fhirbolt::model::r4::resources::{
    Measure, MeasureGroup, MeasureGroupPopulation, MeasureReport, MeasureReportGroup, MeasureReportGroupPopulation,
};
use fhirbolt::model::r4::types::{
    CodeableConcept, Coding, Decimal, Expression, Extension, ExtensionValue, Integer, Period, Quantity, Reference,
};
use fhirbolt::model::r4::Resource;
use reporting::exports::{DownloadTable, ReleaseSlice};

use super::{respond, searchset, SearchQuery, CANONICAL};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// The extension FHIR defines for a value that is absent on purpose.
pub const DATA_ABSENT_REASON: &str = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

/// A FHIR id of an indicator (`treatment-plan-early`: ids have no underscores).
pub fn measure_id(id: IndicatorId) -> String {
    id.as_str().replace('_', "-")
}

pub fn measure_url(id: IndicatorId) -> String {
    format!("{CANONICAL}/Measure/{}", measure_id(id))
}

fn concept(system: &str, code: &str) -> Box<CodeableConcept> {
    Box::new(CodeableConcept {
        coding: vec![Coding { system: Some(system.into()), code: Some(code.into()), ..Default::default() }],
        ..Default::default()
    })
}

const POPULATION: &str = "http://terminology.hl7.org/CodeSystem/measure-population";

fn population(code: &str, text: &str) -> MeasureGroupPopulation {
    MeasureGroupPopulation {
        code: Some(concept(POPULATION, code)),
        description: Some(text.into()),
        criteria: Box::new(Expression {
            description: Some(text.into()),
            language: "text/plain".into(),
            expression: Some(text.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Measure of an indicator, from its definition in `domain::indicators`.
pub fn measure(id: IndicatorId) -> Measure {
    let d = id.definition();
    Measure {
        id: Some(measure_id(id).into()),
        url: Some(measure_url(id).into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        name: Some(id.as_str().into()),
        title: Some(d.title_no.into()),
        subtitle: Some(d.title_en.into()),
        status: "active".into(),
        publisher: Some("rusreg".into()),
        description: Some(
            format!(
                "{}. Targets: high at or above {:.0} %, moderate at or above {:.0} %.",
                d.title_en,
                d.high * 100.0,
                d.moderate * 100.0
            )
            .into(),
        ),
        scoring: Some(concept("http://terminology.hl7.org/CodeSystem/measure-scoring", "proportion")),
        r#type: vec![*concept("http://terminology.hl7.org/CodeSystem/measure-type", "process")],
        // Every indicator is higher-is-better (`Direction::HigherIsBetter`).
        improvement_notation: Some(concept(
            "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
            "increase",
        )),
        group: vec![MeasureGroup {
            population: vec![
                population("initial-population", d.population),
                population("denominator", d.denominator),
                population("numerator", d.numerator),
            ],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn masked() -> Extension {
    Extension {
        url: DATA_ABSENT_REASON.into(),
        value: Some(ExtensionValue::Code("masked".into())),
        ..Default::default()
    }
}

fn count(code: &str, value: Option<i64>) -> MeasureReportGroupPopulation {
    let count = match value.and_then(|v| i32::try_from(v).ok()) {
        Some(v) => Integer::from(v),
        None => Integer { extension: vec![masked()], ..Default::default() },
    };
    MeasureReportGroupPopulation { code: Some(concept(POPULATION, code)), count: Some(count), ..Default::default() }
}

/// The id of a MeasureReport: release, indicator and node.
fn report_id(release: i64, indicator: IndicatorId, node: i64) -> String {
    format!("{release}-{}-{node}", measure_id(indicator))
}

/// The MeasureReports of a slice, in the slice's order (indicator, then node).
pub fn reports(slice: &ReleaseSlice) -> Vec<(String, MeasureReport)> {
    let meta = &slice.metadata;
    let period = Period {
        start: Some(format!("{:04}-01-01", meta.year).into()),
        end: Some(format!("{:04}-12-31", meta.year).into()),
        ..Default::default()
    };
    let mut out = Vec::new();
    for DownloadTable { id, rows, .. } in &slice.indicators {
        for row in rows {
            let r = &row.result;
            let score = match r.share {
                Some(share) => Quantity { value: Some(Decimal::from(format!("{share}"))), ..Default::default() },
                None => Quantity {
                    value: Some(Decimal { extension: vec![masked()], ..Default::default() }),
                    ..Default::default()
                },
            };
            let rid = report_id(meta.release_id, *id, r.node_id);
            out.push((
                rid.clone(),
                MeasureReport {
                    id: Some(rid.into()),
                    status: "complete".into(),
                    r#type: "summary".into(),
                    measure: measure_url(*id).into(),
                    subject: Some(Box::new(Reference {
                        reference: Some(format!("Organization/{}", r.node_id).into()),
                        display: Some(r.name.clone().into()),
                        ..Default::default()
                    })),
                    date: meta.published_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into()),
                    period: Box::new(period.clone()),
                    improvement_notation: Some(concept(
                        "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
                        "increase",
                    )),
                    group: vec![MeasureReportGroup {
                        population: vec![count("denominator", r.denominator), count("numerator", r.numerator)],
                        measure_score: Some(Box::new(score)),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ));
        }
    }
    out
}

fn indicator_of(raw: &str) -> Option<IndicatorId> {
    let raw = raw.split('|').next().unwrap_or_default();
    let id = raw.strip_prefix(&format!("{CANONICAL}/Measure/")).unwrap_or(raw);
    IndicatorId::ALL.into_iter().find(|i| measure_id(*i) == id)
}

/// `GET /fhir/Measure/{id}` (no token: definitions).
pub async fn read_measure(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = indicator_of(&id).ok_or(ApiError::NotFound)?;
    respond(StatusCode::OK, &measure(id))
}

/// `GET /fhir/Measure?_id=&url=`.
pub async fn search_measures(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("Measure"))?;
    let all: Vec<(String, Resource)> = INDICATORS
        .iter()
        .filter(|d| query.get("_id").is_none_or(|v| v == measure_id(d.id)))
        .filter(|d| query.get("url").is_none_or(|v| v == measure_url(d.id)))
        .map(|d| (format!("/fhir/Measure/{}", measure_id(d.id)), Resource::Measure(Box::new(measure(d.id)))))
        .collect();
    let (total, page) = query.page_of(all);
    respond(StatusCode::OK, &searchset("/fhir/Measure", &query, total, page))
}

fn bad(name: &str, code: &str, message: &str) -> ApiError {
    ApiError::InvalidQuery(vec![domain::FieldError::new(name, code, message)])
}

/// The caller's slice of the latest published release of `year` (any year when `None`);
/// `None` when there is no published release.
async fn slice(
    state: &AppState,
    user: &AuthUser,
    year: Option<i32>,
    entity: Option<i64>,
) -> Result<Option<ReleaseSlice>, ApiError> {
    let caller = user.caller();
    let today = state.today();
    let found =
        state.run_reports_use_case(move |db| app::reports::published_slice(db, &caller, year, entity, today)).await?;
    Ok(found)
}

/// `GET /fhir/MeasureReport?...`: `period` (the year; default the latest published release),
/// `entity` (the legal entity whose slice, as in the download; required but for register
/// staff), `measure`, `subject` (an Organization in the slice).
pub async fn search_reports(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("MeasureReport"))?;
    let year = match query.get("period") {
        None => None,
        Some(raw) => {
            let raw = raw.strip_prefix("eq").unwrap_or(raw);
            Some(
                raw.parse::<i32>()
                    .ok()
                    .filter(|y| (2000..=9999).contains(y))
                    .ok_or_else(|| bad("period", "format", "is a year, 2000 to 9999"))?,
            )
        }
    };
    let entity = match query.get("entity") {
        None => None,
        Some(raw) => {
            let raw = raw.strip_prefix("Organization/").unwrap_or(raw);
            Some(raw.parse::<i64>().map_err(|_| bad("entity", "format", "is an Organization id"))?)
        }
    };
    let measure = match query.get("measure") {
        None => None,
        Some(raw) => Some(indicator_of(raw).ok_or_else(|| bad("measure", "code_list", "is a Measure's URL or id"))?),
    };
    let subject = match query.get("subject") {
        None => None,
        Some(raw) => {
            let raw = raw.strip_prefix("Organization/").unwrap_or(raw);
            Some(raw.parse::<i64>().map_err(|_| bad("subject", "format", "is an Organization id"))?)
        }
    };
    let all: Vec<(String, Resource)> = match slice(&state, &user, year, entity).await? {
        None => Vec::new(),
        Some(s) => reports(&s)
            .into_iter()
            .filter(|(_, r)| measure.is_none_or(|m| r.measure.value.as_deref() == Some(measure_url(m).as_str())))
            .filter(|(_, r)| {
                subject.is_none_or(|n| {
                    r.subject.as_ref().and_then(|s| s.reference.as_ref()).and_then(|s| s.value.as_deref())
                        == Some(format!("Organization/{n}").as_str())
                })
            })
            .map(|(_, r)| (String::new(), Resource::MeasureReport(Box::new(r))))
            .collect(),
    };
    let (total, page) = query.page_of(all);
    respond(StatusCode::OK, &searchset("/fhir/MeasureReport", &query, total, page))
}
