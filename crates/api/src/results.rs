//! The public results site under `/results` (no login), in Norwegian bokmål: an overview, a page
//! per indicator (a chart of the nation, every region and every legal entity, with intervals,
//! target bands and last year's value, and the same numbers as a table) and a page per legal
//! entity. Every page is built from the latest published release through the same use case as
//! `GET /api/v1/public/indicators` (`app::reports::public_results_cached`): the same stored cells,
//! nothing recomputed, withheld cells shown as withheld. Charts are SVG drawn on the server
//! (`reporting::charts`), so the pages need no script and load nothing from elsewhere.

use actix_web::{web, HttpResponse};
use askama::Template;
use domain::indicators::{IndicatorId, ReportLevel, TargetLevel};
use reporting::charts::{indicator_svg, NORWEGIAN};
use reporting::exports::{DownloadRow, DownloadTable, ReleaseSlice, SUPPRESSED};

use crate::error::ApiError;
use crate::state::AppState;

/// What the footer of every page says about the release.
struct Meta {
    release_id: i64,
    year: i32,
    published: Option<String>,
    min_cell: i32,
    below: i32,
    json_url: String,
}

impl Meta {
    fn of(slice: &ReleaseSlice) -> Self {
        let m = &slice.metadata;
        Meta {
            release_id: m.release_id,
            year: m.year,
            published: m.published_at.map(|t| t.format("%d.%m.%Y").to_string()),
            min_cell: m.min_cell,
            below: m.min_cell - 1,
            json_url: format!("/api/v1/public/indicators?year={}", m.year),
        }
    }
}

/// One row of a table, formatted.
#[derive(Clone)]
struct RowView {
    node_id: i64,
    name: String,
    link: Option<String>,
    level: &'static str,
    numerator: String,
    denominator: String,
    share: String,
    ci: String,
    last_year: String,
    target: &'static str,
}

fn count(n: Option<i64>) -> String {
    n.map_or_else(|| SUPPRESSED.to_owned(), |n| n.to_string())
}

/// A share as a Norwegian percentage with one decimal and a no-break space ("62,5 %").
fn percent(share: f64) -> String {
    format!("{:.1}\u{a0}%", share * 100.0).replace('.', ",")
}

fn level_name(level: ReportLevel) -> &'static str {
    match level {
        ReportLevel::Unit => "enhet",
        ReportLevel::LegalEntity => "helseforetak",
        ReportLevel::Region => "region",
        ReportLevel::Nation => "landet",
    }
}

fn target_name(level: Option<TargetLevel>) -> &'static str {
    match level {
        Some(TargetLevel::High) => "høy",
        Some(TargetLevel::Moderate) => "moderat",
        Some(TargetLevel::Low) => "lav",
        None => "",
    }
}

fn row_view(row: &DownloadRow) -> RowView {
    let r = &row.result;
    RowView {
        node_id: r.node_id,
        name: r.name.clone(),
        link: (row.level == ReportLevel::LegalEntity).then(|| format!("/results/foretak/{}", r.node_id)),
        level: level_name(row.level),
        numerator: count(r.numerator),
        denominator: count(r.denominator),
        share: r.share.map_or_else(|| SUPPRESSED.to_owned(), percent),
        ci: match (r.ci_low, r.ci_high) {
            (Some(lo), Some(hi)) => format!("{}–{}", percent(lo), percent(hi)),
            _ => String::new(),
        },
        last_year: r.previous_share.map(percent).unwrap_or_default(),
        target: target_name(r.target_level),
    }
}

/// The rows of a table in chart order (the table under a chart lists what the chart shows).
fn rows_of(table: &DownloadTable) -> Vec<RowView> {
    reporting::charts::chart_order(table).into_iter().map(row_view).collect()
}

/// A text alternative of a chart: every row's name and share (or withheld).
fn describe(table: &DownloadTable) -> String {
    reporting::charts::chart_order(table)
        .iter()
        .map(|r| match r.result.share {
            Some(s) => format!("{}: {}", r.result.name, percent(s)),
            None => format!("{}: holdt tilbake", r.result.name),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

struct IndicatorLink {
    id: &'static str,
    title: &'static str,
    nation_share: String,
    nation_target: &'static str,
}

struct EntityLink {
    id: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "results/index.html")]
struct IndexPage {
    meta: Meta,
    indicators: Vec<IndicatorLink>,
    entities: Vec<EntityLink>,
}

#[derive(Template)]
#[template(path = "results/indicator.html")]
struct IndicatorPage {
    meta: Meta,
    title: &'static str,
    definition: String,
    high: String,
    moderate: String,
    chart: String,
    rows: Vec<RowView>,
}

struct Section {
    id: &'static str,
    title: &'static str,
    chart: String,
    rows: Vec<RowView>,
}

#[derive(Template)]
#[template(path = "results/entity.html")]
struct EntityPage {
    meta: Meta,
    name: String,
    sections: Vec<Section>,
}

fn html(page: &impl Template) -> Result<HttpResponse, ApiError> {
    let body = page.render().map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}

/// The latest published release's public slice (built once per publication and day).
async fn slice(state: &AppState) -> Result<std::sync::Arc<ReleaseSlice>, ApiError> {
    let today = state.today();
    let cache = state.public_cache.clone();
    state.run_reports(move |conn| Ok(app::reports::public_results_cached(conn, &cache, None, today)?)).await
}

async fn index(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let slice = slice(&state).await?;
    let indicators = slice
        .indicators
        .iter()
        .map(|t| {
            let nation = t.rows.iter().find(|r| r.level == ReportLevel::Nation);
            IndicatorLink {
                id: t.id.as_str(),
                title: t.title_no,
                nation_share: nation.and_then(|r| r.result.share).map_or_else(|| SUPPRESSED.to_owned(), percent),
                nation_target: target_name(nation.and_then(|r| r.result.target_level)),
            }
        })
        .collect();
    let mut entities: Vec<EntityLink> = slice
        .indicators
        .first()
        .map(|t| {
            t.rows
                .iter()
                .filter(|r| r.level == ReportLevel::LegalEntity)
                .map(|r| EntityLink { id: r.result.node_id, name: r.result.name.clone() })
                .collect()
        })
        .unwrap_or_default();
    entities.sort_by(|a, b| a.name.cmp(&b.name));
    html(&IndexPage { meta: Meta::of(&slice), indicators, entities })
}

async fn indicator(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = IndicatorId::parse(&id).ok_or(ApiError::NotFound)?;
    let slice = slice(&state).await?;
    let table = slice.indicators.iter().find(|t| t.id == id).ok_or(ApiError::NotFound)?;
    let def = id.definition();
    let chart = indicator_svg(table, table.title_no, &describe(table), NORWEGIAN);
    html(&IndicatorPage {
        meta: Meta::of(&slice),
        title: table.title_no,
        definition: format!("{}; numerator: {}; denominator: {}.", def.population, def.numerator, def.denominator),
        high: percent(table.high),
        moderate: percent(table.moderate),
        chart,
        rows: rows_of(table),
    })
}

async fn entity(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let slice = slice(&state).await?;
    let mut name = None;
    let sections = slice
        .indicators
        .iter()
        .map(|t| {
            let rows: Vec<DownloadRow> = t
                .rows
                .iter()
                .filter(|r| {
                    (r.level == ReportLevel::LegalEntity && r.result.node_id == id) || r.level == ReportLevel::Nation
                })
                .cloned()
                .collect();
            if let Some(r) = rows.iter().find(|r| r.level == ReportLevel::LegalEntity) {
                name = Some(r.result.name.clone());
            }
            let table = DownloadTable { rows, ..t.clone() };
            Section {
                id: t.id.as_str(),
                title: t.title_no,
                chart: indicator_svg(&table, t.title_no, &describe(&table), NORWEGIAN),
                rows: rows_of(&table),
            }
        })
        .collect();
    let name = name.ok_or(ApiError::NotFound)?;
    html(&EntityPage { meta: Meta::of(&slice), name, sections })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/results", web::get().to(index))
        .route("/results/indikator/{id}", web::get().to(indicator))
        .route("/results/foretak/{id}", web::get().to(entity));
}
