//! The FHIR R4 (4.0.1) facade under `/fhir` (docs/fhir.md): the same use cases as the JSON API
//! (crates/app), translated to and from FHIR resources built with `fhirbolt`'s R4 model.
//!
//! - `GET /fhir/metadata`: the CapabilityStatement, generated from [`capability::RESOURCES`],
//!   the same table the search handlers check their parameters against.
//! - Every answer is `application/fhir+json`; every error is an OperationOutcome ([`outcome`]),
//!   whether a handler, an extractor (a missing token) or actix-web itself (405, 413) made it.
//! - A search parameter the facade does not support is refused (400), never ignored: a client
//!   must not read a narrower search as a wider one.

pub mod capability;
pub mod episode;
pub mod measure;
pub mod organization;
pub mod outcome;
pub mod patient;
pub mod questionnaire;
pub mod response;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse};
use fhirbolt::model::r4::resources::{Bundle, BundleEntry, BundleLink};
use fhirbolt::model::r4::types::{UnsignedInt, Uri};
use fhirbolt::model::r4::Resource;
use fhirbolt::serde::SerializeResource;

use crate::error::ApiError;

/// The media type of every answer (and of bodies sent to the facade; `application/json` is
/// accepted too).
pub const FHIR_JSON: &str = "application/fhir+json";

/// The canonical base of the register's own definitions (Questionnaire, CodeSystem, ValueSet,
/// Measure, extensions). Canonical URLs are names, not addresses: the same everywhere the
/// register runs.
pub const CANONICAL: &str = "https://rusreg.example/fhir";

/// The extension that marks the items of a Questionnaire that the patient answers.
pub const PATIENT_PART_EXTENSION: &str = "https://rusreg.example/fhir/StructureDefinition/patient-part";

/// The default and largest `_count` of a search page.
pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 200;

/// Serialises a resource as `application/fhir+json`.
pub fn respond<T: SerializeResource>(status: StatusCode, resource: &T) -> Result<HttpResponse, ApiError> {
    let body = fhirbolt::json::to_vec(resource, None).map_err(|e| ApiError::Internal(e.to_string().into()))?;
    Ok(HttpResponse::build(status).content_type(FHIR_JSON).body(body))
}

/// The search parameters of one request: the pairs of the query string, refused (400) when a
/// name is not one of `allowed` (plus `_count` and `_format`) or is given twice.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pairs: Vec<(String, String)>,
    /// The page size asked for (`_count`, 1 to [`MAX_COUNT`]).
    pub count: usize,
    /// The page (`_page`, from 1), set by the `next`/`previous` links.
    pub page: usize,
}

impl SearchQuery {
    pub fn parse(query: &str, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut count = DEFAULT_COUNT;
        let mut page = 1;
        let bad = |name: &str, code: &str, message: &str| {
            ApiError::InvalidQuery(vec![domain::FieldError::new(name, code, message)])
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let name = name.into_owned();
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(bad(&name, "repeated", "is given more than once"));
            }
            match name.as_str() {
                "_format" => {}
                "_count" => {
                    count = value
                        .parse::<usize>()
                        .ok()
                        .filter(|c| (1..=MAX_COUNT).contains(c))
                        .ok_or_else(|| bad("_count", "range", "must be an integer from 1 to 200"))?;
                }
                "_page" => {
                    page = value
                        .parse::<usize>()
                        .ok()
                        .filter(|p| (1..=1_000_000).contains(p))
                        .ok_or_else(|| bad("_page", "range", "must be an integer from 1 to 1000000"))?;
                }
                n if allowed.contains(&n) => {}
                // The name is the client's own text: it is not echoed.
                _ => {
                    return Err(bad(
                        "query",
                        "unsupported_parameter",
                        "a search parameter this server does not support",
                    ))
                }
            }
            pairs.push((name, value.into_owned()));
        }
        Ok(Self { pairs, count, page })
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The parameters to repeat in paging links (not `_page`, `_count`, `_format`).
    fn criteria(&self) -> impl Iterator<Item = &(String, String)> {
        self.pairs.iter().filter(|(n, _)| !matches!(n.as_str(), "_page" | "_count" | "_format"))
    }

    /// The link to page `page` of this search on `path` (`/fhir/Patient`).
    pub fn link(&self, path: &str, page: usize) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (n, v) in self.criteria() {
            q.append_pair(n, v);
        }
        q.append_pair("_count", &self.count.to_string());
        q.append_pair("_page", &page.to_string());
        format!("{path}?{}", q.finish())
    }

    /// The slice of `all` on this page.
    pub fn page_of<T>(&self, all: Vec<T>) -> (usize, Vec<T>) {
        let total = all.len();
        let skip = (self.page - 1).saturating_mul(self.count);
        (total, all.into_iter().skip(skip).take(self.count).collect())
    }
}

/// A `searchset` Bundle of one page: `total` matches in all, `self`, and `next`/`previous`
/// links when there are such pages. `path` is the search's path (`/fhir/Patient`).
pub fn searchset(path: &str, query: &SearchQuery, total: usize, resources: Vec<(String, Resource)>) -> Bundle {
    let link = |relation: &str, page: usize| BundleLink {
        relation: relation.into(),
        url: Uri::from(query.link(path, page)),
        ..Default::default()
    };
    let mut links = vec![link("self", query.page)];
    if query.page.saturating_mul(query.count) < total {
        links.push(link("next", query.page + 1));
    }
    if query.page > 1 {
        links.push(link("previous", query.page - 1));
    }
    Bundle {
        r#type: "searchset".into(),
        total: Some(UnsignedInt::from(u32::try_from(total).unwrap_or(u32::MAX))),
        link: links,
        entry: resources
            .into_iter()
            .map(|(full_url, resource)| BundleEntry {
                // Entries that cannot be read on their own (MeasureReport) have no fullUrl.
                full_url: (!full_url.is_empty()).then(|| Uri::from(full_url)),
                resource: Some(resource),
                search: Some(fhirbolt::model::r4::resources::BundleEntrySearch {
                    mode: Some("match".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Whether the client accepts FHIR JSON: no `Accept`, or one naming `*/*`, `application/*`,
/// `application/json` or `application/fhir+json`; and no `_format`, or a JSON one.
fn accepts_json(req: &ServiceRequest) -> bool {
    let json = |t: &str| {
        let t = t.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        matches!(t.as_str(), "*/*" | "application/*" | "application/json" | "application/fhir+json" | "json")
    };
    let accept_ok = match req.headers().get(header::ACCEPT).map(|v| v.to_str()) {
        None => true,
        Some(Ok(v)) => v.split(',').any(json),
        Some(Err(_)) => false,
    };
    let format_ok =
        form_urlencoded::parse(req.query_string().as_bytes()).filter(|(n, _)| n == "_format").all(|(_, v)| json(&v));
    accept_ok && format_ok
}

/// The facade's middleware: refuses a client that does not accept FHIR JSON (406), and turns
/// every error answer that is not yet an OperationOutcome into one ([`outcome::from_response`]).
async fn outcomes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !accepts_json(&req) {
        let res = outcome::response(
            StatusCode::NOT_ACCEPTABLE,
            "not-supported",
            "not_acceptable",
            "this server answers in application/fhir+json only",
            Vec::new(),
        );
        return Ok(req.into_response(res));
    }
    let res = next.call(req).await?;
    Ok(outcome::from_response(res).await)
}

/// Anything no route takes: an interaction a served resource type does not support (another
/// method on `/fhir/{type}` or `/fhir/{type}/{id}`) is 405; any other path 404.
async fn unknown(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let rest = req.path().strip_prefix("/fhir/").unwrap_or_default();
    let mut parts = rest.split('/');
    let served = match (parts.next(), parts.next(), parts.next()) {
        (Some("metadata"), None, None) => true,
        (Some(ty), id, None) => capability::RESOURCES.iter().any(|r| r.type_ == ty) && id.is_none_or(|i| !i.is_empty()),
        _ => false,
    };
    if !served {
        return Err(ApiError::NotFound);
    }
    Ok(outcome::response(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        "method_not_allowed",
        "this interaction is not supported on this resource (see /fhir/metadata)",
        Vec::new(),
    ))
}

/// Mounts the facade under `/fhir`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/fhir")
            .wrap(from_fn(outcomes))
            .route("/metadata", web::get().to(capability::metadata))
            .configure(questionnaire::configure)
            .route("/Organization", web::get().to(organization::search))
            .route("/Organization/{id}", web::get().to(organization::read))
            .route("/Patient", web::get().to(patient::search))
            .route("/Patient/{id}", web::get().to(patient::read))
            .route("/EpisodeOfCare", web::get().to(episode::search))
            .route("/EpisodeOfCare/{id}", web::get().to(episode::read))
            .route("/Measure", web::get().to(measure::search_measures))
            .route("/Measure/{id}", web::get().to(measure::read_measure))
            .route("/MeasureReport", web::get().to(measure::search_reports))
            .route("/QuestionnaireResponse", web::get().to(response::search))
            .route("/QuestionnaireResponse", web::post().to(response::create))
            .route("/QuestionnaireResponse/{id}", web::get().to(response::read))
            .route("/QuestionnaireResponse/{id}", web::put().to(response::update))
            .default_service(web::to(unknown)),
    );
}

/// Every route pattern of the facade (for the security-level classification test).
pub const ROUTES: &[&str] = &[
    "/fhir/metadata",
    "/fhir/Questionnaire",
    "/fhir/Questionnaire/{id}",
    "/fhir/CodeSystem",
    "/fhir/CodeSystem/{id}",
    "/fhir/ValueSet",
    "/fhir/ValueSet/{id}",
    "/fhir/Organization",
    "/fhir/Organization/{id}",
    "/fhir/Patient",
    "/fhir/Patient/{id}",
    "/fhir/EpisodeOfCare",
    "/fhir/EpisodeOfCare/{id}",
    "/fhir/QuestionnaireResponse",
    "/fhir/QuestionnaireResponse/{id}",
    "/fhir/Measure",
    "/fhir/Measure/{id}",
    "/fhir/MeasureReport",
];
