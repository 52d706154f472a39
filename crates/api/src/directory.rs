//! The TSB service directory over HTTP: `GET /directory` (public), `PUT /directory/{unit}`,
//! `GET /directory/{unit}/history` and `POST /directory/import` (register staff), and the public
//! page `/results/tjenester`. The use cases are `app::directory`.

use actix_web::{web, HttpRequest, HttpResponse};
use app::directory::{DirectoryImport, DirectoryQuery, Recorded, Service};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use domain::directory::{ServiceFactsInput, SpecialFunction, TreatmentLevel};
use persistence::directory::FactsRow;
use reporting::exports::SUPPRESSED;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::pagination::{Page, PageParams};
use crate::results::{html, Frame, Lang};
use crate::state::AppState;

/// A unit's service facts for one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactsResponse {
    pub valid_from: NaiveDate,
    /// The first day the period no longer holds (`null` while it does).
    pub valid_to: Option<NaiveDate>,
    /// Among outpatient, day, inpatient, ambulatory, detoxification, assessment.
    pub treatment_levels: Vec<String>,
    pub beds: Option<i32>,
    /// Among lar, youth, prison, overdose_follow_up, family.
    pub special_functions: Vec<String>,
    pub municipality_number: String,
    pub municipality_name: String,
    pub address: String,
    pub postal_code: Option<String>,
    pub postal_place: Option<String>,
    pub phone: Option<String>,
    /// How to refer.
    pub referral: String,
    /// Made-up values (the demo's), not a real service.
    pub demo: bool,
}

impl From<&FactsRow> for FactsResponse {
    fn from(f: &FactsRow) -> Self {
        FactsResponse {
            valid_from: f.valid_from,
            valid_to: f.valid_to,
            treatment_levels: f.treatment_levels.clone(),
            beds: f.beds,
            special_functions: f.special_functions.clone(),
            municipality_number: f.municipality_number.clone(),
            municipality_name: f.municipality_name.clone(),
            address: f.address.clone(),
            postal_code: f.postal_code.clone(),
            postal_place: f.postal_place.clone(),
            phone: f.phone.clone(),
            referral: f.referral.clone(),
            demo: f.demo,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeRefResponse {
    pub id: i64,
    pub name: String,
}

/// One indicator of the unit in the latest published release: counts and share `null` where
/// withheld.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitIndicatorResponse {
    pub id: String,
    pub title_no: String,
    pub title_en: String,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub share: Option<f64>,
    pub target_level: Option<String>,
}

/// A unit of the directory with its services on the day asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceResponse {
    pub unit: NodeRefResponse,
    pub resh_id: Option<i64>,
    pub legal_entity: Option<NodeRefResponse>,
    pub region: Option<NodeRefResponse>,
    pub facts: FactsResponse,
    /// The release the indicators are from (`null` before any publication).
    pub release_id: Option<i64>,
    pub release_year: Option<i32>,
    pub indicators: Vec<UnitIndicatorResponse>,
}

fn node_ref(n: Option<app::directory::NodeRef>) -> Option<NodeRefResponse> {
    n.map(|n| NodeRefResponse { id: n.id, name: n.name })
}

impl From<Service> for ServiceResponse {
    fn from(s: Service) -> Self {
        ServiceResponse {
            unit: NodeRefResponse { id: s.unit.id, name: s.unit.name },
            resh_id: s.resh_id,
            legal_entity: node_ref(s.entity),
            region: node_ref(s.region),
            facts: FactsResponse::from(&s.facts),
            release_id: s.release.map(|r| r.0),
            release_year: s.release.map(|r| r.1),
            indicators: s
                .indicators
                .into_iter()
                .map(|i| UnitIndicatorResponse {
                    id: i.id.to_owned(),
                    title_no: i.title_no.to_owned(),
                    title_en: i.title_en.to_owned(),
                    numerator: i.row.result.numerator,
                    denominator: i.row.result.denominator,
                    share: i.row.result.share,
                    target_level: i.row.result.target_level.map(|t| format!("{t:?}").to_ascii_lowercase()),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct DirectoryParams {
    /// Only units in this region (node id).
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub region: Option<i64>,
    /// Only units of this health trust or private institution (node id).
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub entity: Option<i64>,
    /// Only units in this municipality (four digits).
    #[param(pattern = "^[0-9]{4}$")]
    pub municipality: Option<String>,
    /// Only units offering this treatment level.
    #[param(pattern = "^(outpatient|day|inpatient|ambulatory|detoxification|assessment)$")]
    pub level: Option<String>,
    /// Only units with this special function.
    #[param(pattern = "^(lar|youth|prison|overdose_follow_up|family)$")]
    pub function: Option<String>,
    /// The day (default today).
    pub on: Option<NaiveDate>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

async fn list(
    state: &AppState,
    q: DirectoryQuery,
    page: app::paging::PageRequest,
) -> Result<app::paging::Paged<Service>, ApiError> {
    let today = state.today();
    let cache = state.public_cache.clone();
    state.run_reports(move |conn| Ok(app::directory::list(conn, &cache, &q, page, today)?)).await
}

/// The TSB service directory: every unit's services on a day, with its place in the tree and its
/// latest published indicators; no login.
#[utoipa::path(get, path = "/api/v1/directory", tag = "public", params(DirectoryParams),
    responses((status = 200, body = Page<ServiceResponse>), (status = 400, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_directory(
    state: web::Data<AppState>,
    query: Query<DirectoryParams>,
) -> Result<HttpResponse, ApiError> {
    let p = query.into_inner();
    let page = PageParams { page: p.page, per_page: p.per_page }.request();
    let q = DirectoryQuery {
        region: p.region,
        entity: p.entity,
        municipality: p.municipality,
        level: p.level,
        function: p.function,
        on: p.on,
    };
    let listed = list(&state, q, page).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(ServiceResponse::from))))
}

/// A unit's service facts from a day.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactsRequest {
    /// The first day these facts hold (default today); on or after the current period's first
    /// day.
    pub valid_from: Option<NaiveDate>,
    /// At least one of outpatient, day, inpatient, ambulatory, detoxification, assessment.
    pub treatment_levels: Vec<String>,
    /// Required with inpatient treatment; only with inpatient treatment or detoxification.
    pub beds: Option<i32>,
    /// Any of lar, youth, prison, overdose_follow_up, family.
    #[serde(default)]
    pub special_functions: Vec<String>,
    /// Four digits.
    pub municipality_number: String,
    pub municipality_name: String,
    pub address: String,
    pub postal_code: Option<String>,
    pub postal_place: Option<String>,
    pub phone: Option<String>,
    /// How to refer.
    pub referral: String,
    /// Made-up values for a demonstration (default false).
    #[serde(default)]
    pub demo: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedResponse {
    /// `created` (a new period) or `unchanged` (the open period already holds these facts).
    pub result: String,
    pub facts: Option<FactsResponse>,
}

/// Records a unit's service facts from a day (register staff): a new period; the current one
/// ends that day. Audited.
#[utoipa::path(put, path = "/api/v1/directory/{unit}", tag = "directory", security(("bearer" = [])),
    request_body = FactsRequest,
    responses((status = 201, body = RecordedResponse), (status = 200, body = RecordedResponse),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn put_facts(
    state: web::Data<AppState>,
    user: AuthUser,
    unit: web::Path<i64>,
    body: JsonBody<FactsRequest>,
) -> Result<HttpResponse, ApiError> {
    let unit = unit.into_inner();
    let b = body.into_inner();
    let input = ServiceFactsInput {
        valid_from: b.valid_from.unwrap_or_else(|| state.today()),
        treatment_levels: b.treatment_levels,
        beds: b.beds,
        special_functions: b.special_functions,
        municipality_number: b.municipality_number,
        municipality_name: b.municipality_name,
        address: b.address,
        postal_code: b.postal_code,
        postal_place: b.postal_place,
        phone: b.phone,
        referral: b.referral,
        demo: b.demo,
    };
    let caller = user.caller();
    let (recorded, row) = state.run_db(move |conn| Ok(app::directory::record(conn, &caller, unit, &input)?)).await?;
    let body = RecordedResponse {
        result: match recorded {
            Recorded::Created => "created",
            Recorded::Unchanged => "unchanged",
        }
        .to_owned(),
        facts: row.as_ref().map(FactsResponse::from),
    };
    Ok(match recorded {
        Recorded::Created => HttpResponse::Created().json(body),
        Recorded::Unchanged => HttpResponse::Ok().json(body),
    })
}

/// One period of a unit's facts, with who recorded it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactsHistoryResponse {
    #[serde(flatten)]
    pub facts: FactsResponse,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// Every period of a unit's facts, oldest first; a period corrected on its first day is empty
/// (`valid_to` = `valid_from`). Register staff.
#[utoipa::path(get, path = "/api/v1/directory/{unit}/history", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<FactsHistoryResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_history(
    state: web::Data<AppState>,
    user: AuthUser,
    unit: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let unit = unit.into_inner();
    let caller = user.caller();
    let rows = state.run_db(move |conn| Ok(app::directory::history(conn, &caller, unit)?)).await?;
    let body: Vec<FactsHistoryResponse> = rows
        .iter()
        .map(|r| FactsHistoryResponse { facts: r.into(), recorded_by: r.recorded_by, recorded_at: r.recorded_at })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// Check everything and store nothing.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryImportResponse {
    pub rows: usize,
    pub created: usize,
    pub unchanged: usize,
    pub dry_run: bool,
}

/// Imports the directory from a CSV file (register staff; columns in docs/results.md): one bad
/// line refuses the file, with every bad line as `rows[<line>].<column>`; a line equal to the
/// unit's open period changes nothing.
#[utoipa::path(post, path = "/api/v1/directory/import", tag = "directory", security(("bearer" = [])),
    params(ImportParams), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = DirectoryImportResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn import_directory(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: Query<ImportParams>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let is_csv = crate::extract::is_csv(&req);
    let dry_run = query.dry_run.unwrap_or(false);
    let caller = user.caller();
    let DirectoryImport { rows, created, unchanged, dry_run } =
        state.run_db(move |conn| Ok(app::directory::import(conn, &caller, &body, is_csv, dry_run)?)).await?;
    Ok(HttpResponse::Ok().json(DirectoryImportResponse { rows, created, unchanged, dry_run }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/directory", web::get().to(get_directory))
        .route("/directory/import", web::post().to(import_directory))
        .route("/directory/{unit}", web::put().to(put_facts))
        .route("/directory/{unit}/history", web::get().to(get_history));
}

// ---------------------------------------------------------------------------------------------
// The public page

/// The page's query: the directory's filters and the language.
#[derive(Debug, Deserialize, Validate)]
pub struct PageQuery {
    pub lang: Option<String>,
    pub region: Option<String>,
    pub entity: Option<String>,
    pub municipality: Option<String>,
    pub level: Option<String>,
    pub function: Option<String>,
}

struct Choice {
    value: String,
    name: String,
    selected: bool,
}

struct IndicatorCell {
    title: &'static str,
    share: String,
}

struct UnitCard {
    id: i64,
    name: String,
    levels: String,
    beds: Option<i32>,
    functions: String,
    place: String,
    address: String,
    phone: Option<String>,
    referral: String,
    demo: bool,
    indicators: Vec<IndicatorCell>,
}

struct EntityGroup {
    name: String,
    units: Vec<UnitCard>,
}

struct RegionGroup {
    name: String,
    entities: Vec<EntityGroup>,
}

#[derive(Template)]
#[template(path = "results/services.html")]
struct ServicesPage {
    f: Frame,
    t: &'static ServiceWords,
    regions: Vec<Choice>,
    entities: Vec<Choice>,
    municipalities: Vec<Choice>,
    levels: Vec<Choice>,
    functions: Vec<Choice>,
    groups: Vec<RegionGroup>,
    count: usize,
    release_year: Option<i32>,
}

/// The words of the directory page.
pub struct ServiceWords {
    title: &'static str,
    intro: &'static str,
    demo_note: &'static str,
    any: &'static str,
    region: &'static str,
    entity: &'static str,
    municipality: &'static str,
    level: &'static str,
    function: &'static str,
    show: &'static str,
    found: &'static str,
    none: &'static str,
    levels_label: &'static str,
    beds: &'static str,
    functions_label: &'static str,
    address: &'static str,
    phone: &'static str,
    referral: &'static str,
    results_of: &'static str,
    no_results: &'static str,
    made_up: &'static str,
}

static NB: ServiceWords = ServiceWords {
    title: "Tjenester i TSB",
    intro: "Enhetene i tverrfaglig spesialisert rusbehandling: behandlingsnivåer, sengeplasser, særskilte funksjoner, hvor de er og hvordan en henviser, med enhetens siste publiserte resultater.",
    demo_note: "Opplysninger merket «oppdiktet» er laget for demonstrasjon og gjelder ingen virkelig tjeneste.",
    any: "Alle",
    region: "Region",
    entity: "Helseforetak eller institusjon",
    municipality: "Kommune",
    level: "Behandlingsnivå",
    function: "Særskilt funksjon",
    show: "Vis",
    found: "tjenester",
    none: "Ingen tjenester passer til utvalget.",
    levels_label: "Behandlingsnivåer",
    beds: "Sengeplasser",
    functions_label: "Særskilte funksjoner",
    address: "Adresse",
    phone: "Telefon",
    referral: "Henvisning",
    results_of: "Resultater",
    no_results: "Ingen publiserte resultater for enheten.",
    made_up: "oppdiktet",
};

static EN: ServiceWords = ServiceWords {
    title: "TSB services",
    intro: "The units of interdisciplinary specialised substance-use treatment: treatment levels, beds, special functions, where they are and how to refer, with each unit's latest published results.",
    demo_note: "Facts marked \u{201c}made up\u{201d} are for demonstration and describe no real service.",
    any: "All",
    region: "Region",
    entity: "Health trust or institution",
    municipality: "Municipality",
    level: "Treatment level",
    function: "Special function",
    show: "Show",
    found: "services",
    none: "No service matches the selection.",
    levels_label: "Treatment levels",
    beds: "Beds",
    functions_label: "Special functions",
    address: "Address",
    phone: "Phone",
    referral: "Referral",
    results_of: "Results",
    no_results: "No published results for the unit.",
    made_up: "made up",
};

/// A page filter: empty means none; anything else must parse (a bad value is the API's 422).
fn filter_id(raw: &Option<String>, field: &str) -> Result<Option<i64>, ApiError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| app::Error::invalid(field, "format", format!("{field} is a node id")).into()),
    }
}

fn filter_text(raw: &Option<String>) -> Option<String> {
    raw.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// The directory page: every service of today, filtered by the form's choices, grouped by region
/// and legal entity, each with the unit's latest published indicators.
async fn services_page(state: web::Data<AppState>, query: Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let p = query.into_inner();
    let lang = Lang::parse(p.lang.as_deref())?;
    let t = match lang {
        Lang::Norwegian => &NB,
        Lang::English => &EN,
    };
    let q = DirectoryQuery {
        region: filter_id(&p.region, "region")?,
        entity: filter_id(&p.entity, "entity")?,
        municipality: filter_text(&p.municipality),
        level: filter_text(&p.level),
        function: filter_text(&p.function),
        on: None,
    };
    let today = state.today();
    let cache = state.public_cache.clone();
    // The form's choices come from every service of the day; the list from the matching ones.
    let query = q.clone();
    let view = state.run_reports(move |conn| Ok(app::directory::page_view(conn, &cache, &query, today)?)).await?;
    let (everything, listed) = (view.all, view.matching);
    let choices = |items: Vec<(String, String)>, chosen: Option<String>| {
        let mut items = items;
        items.sort_by(|a, b| a.1.cmp(&b.1));
        items.dedup();
        items
            .into_iter()
            .map(|(value, name)| Choice { selected: chosen.as_deref() == Some(value.as_str()), value, name })
            .collect::<Vec<_>>()
    };
    let regions = choices(
        everything.iter().filter_map(|s| s.region.as_ref().map(|r| (r.id.to_string(), r.name.clone()))).collect(),
        q.region.map(|r| r.to_string()),
    );
    let entities = choices(
        everything.iter().filter_map(|s| s.entity.as_ref().map(|e| (e.id.to_string(), e.name.clone()))).collect(),
        q.entity.map(|e| e.to_string()),
    );
    let municipalities = choices(
        everything
            .iter()
            .map(|s| {
                (
                    s.facts.municipality_number.clone(),
                    format!("{} ({})", s.facts.municipality_name, s.facts.municipality_number),
                )
            })
            .collect(),
        q.municipality.clone(),
    );
    let level_name = |l: TreatmentLevel| if lang == Lang::English { l.name_en() } else { l.name_no() };
    let function_name = |f: SpecialFunction| if lang == Lang::English { f.name_en() } else { f.name_no() };
    let levels = TreatmentLevel::ALL
        .into_iter()
        .map(|l| Choice {
            value: l.as_str().into(),
            name: level_name(l).into(),
            selected: q.level.as_deref() == Some(l.as_str()),
        })
        .collect();
    let functions = SpecialFunction::ALL
        .into_iter()
        .map(|f| Choice {
            value: f.as_str().into(),
            name: function_name(f).into(),
            selected: q.function.as_deref() == Some(f.as_str()),
        })
        .collect();
    let count = listed.len();
    let release_year = listed.iter().find_map(|s| s.release.map(|r| r.1));
    let mut groups: Vec<RegionGroup> = Vec::new();
    for s in listed {
        let region = s.region.as_ref().map_or_else(String::new, |r| r.name.clone());
        let entity = s.entity.as_ref().map_or_else(String::new, |e| e.name.clone());
        if groups.last().is_none_or(|g| g.name != region) {
            groups.push(RegionGroup { name: region, entities: Vec::new() });
        }
        let Some(group) = groups.last_mut() else { continue };
        if group.entities.last().is_none_or(|g| g.name != entity) {
            group.entities.push(EntityGroup { name: entity, units: Vec::new() });
        }
        let Some(entity_group) = group.entities.last_mut() else { continue };
        let f = &s.facts;
        let names = |codes: &[String], name: &dyn Fn(&str) -> Option<&'static str>| {
            codes.iter().filter_map(|c| name(c)).collect::<Vec<_>>().join(", ")
        };
        entity_group.units.push(UnitCard {
            id: s.unit.id,
            name: s.unit.name.clone(),
            levels: names(&f.treatment_levels, &|c| TreatmentLevel::parse(c).map(level_name)),
            beds: f.beds,
            functions: names(&f.special_functions, &|c| SpecialFunction::parse(c).map(function_name)),
            place: format!("{} ({})", f.municipality_name, f.municipality_number),
            address: [Some(f.address.clone()), f.postal_code.clone(), f.postal_place.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            phone: f.phone.clone(),
            referral: f.referral.clone(),
            demo: f.demo,
            indicators: s
                .indicators
                .iter()
                .map(|i| IndicatorCell {
                    title: if lang == Lang::English { i.title_en } else { i.title_no },
                    share: i.row.result.share.map_or_else(|| SUPPRESSED.to_owned(), |v| lang.percent(v)),
                })
                .collect(),
        });
    }
    // The frame's release line needs the public slice; without a publication, the page still
    // lists the services.
    let slice = crate::results::slice(&state).await.ok();
    let frame = match &slice {
        Some(slice) => Frame::of(slice, lang, "/results/tjenester", &[]),
        None => Frame::without_release(lang, "/results/tjenester", &[]),
    };
    html(&ServicesPage {
        f: frame,
        t,
        regions,
        entities,
        municipalities,
        levels,
        functions,
        groups,
        count,
        release_year,
    })
}

pub fn configure_page(cfg: &mut web::ServiceConfig) {
    cfg.route("/results/tjenester", web::get().to(services_page));
}
