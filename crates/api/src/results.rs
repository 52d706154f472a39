//! The public results site under `/results` (no login), in Norwegian bokmål with English as a
//! second language (`?lang=en`): an overview, a page per indicator (charts of the nation and the
//! regions, of the legal entities and of the units — of the whole country or of one region,
//! `?region=` — with intervals, target bands and last year's value, and the same numbers as
//! tables) and a page per legal entity (its units, itself and the nation). Every page is built
//! from the latest published release through the same use case as `GET
//! /api/v1/public/indicators` (`app::reports::public_results_cached`): the same stored cells,
//! nothing recomputed, withheld cells shown as withheld. Charts are SVG drawn on the server
//! (`reporting::charts`), so the pages need no script and load nothing from elsewhere. The TSB
//! service directory's page, `/results/tjenester`, is in `crate::directory`.

use actix_web::{web, HttpResponse};
use askama::Template;
use domain::indicators::{IndicatorId, ReportLevel, TargetLevel};
use reporting::charts::{indicator_svg, ChartWords, ENGLISH, NORWEGIAN};
use reporting::exports::{DownloadRow, DownloadTable, ReleaseSlice, SUPPRESSED};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

/// The languages of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Norwegian,
    English,
}

impl Lang {
    /// `nb` (the default) or `en`; anything else is a 404 (a page that does not exist).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw {
            None | Some("nb") => Ok(Lang::Norwegian),
            Some("en") => Ok(Lang::English),
            Some(_) => Err(ApiError::NotFound),
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::Norwegian => &NB,
            Lang::English => &EN,
        }
    }

    /// A share as a percentage with one decimal: "62,5 %" in bokmål, "62.5 %" in English.
    pub fn percent(self, share: f64) -> String {
        let s = format!("{:.1}\u{a0}%", share * 100.0);
        match self {
            Lang::Norwegian => s.replace('.', ","),
            Lang::English => s,
        }
    }

    /// What to add to a link on the site to stay in this language (`""` or `lang=en`).
    fn query(self) -> &'static str {
        match self {
            Lang::Norwegian => "",
            Lang::English => "lang=en",
        }
    }
}

/// Every word the pages show, in one language.
pub struct Words {
    pub code: &'static str,
    pub chart: ChartWords,
    pub site: &'static str,
    pub results: &'static str,
    pub skip: &'static str,
    pub crumbs: &'static str,
    pub other_language: &'static str,
    pub other_language_code: &'static str,
    pub results_for: &'static str,
    pub intro: &'static str,
    pub indicators: &'static str,
    pub indicators_caption: &'static str,
    pub indicator: &'static str,
    pub nation_share: &'static str,
    pub target: &'static str,
    pub entities: &'static str,
    pub services: &'static str,
    pub services_intro: &'static str,
    pub target_levels: &'static str,
    pub high_at_least: &'static str,
    pub moderate_at_least: &'static str,
    pub low_below: &'static str,
    pub definition: &'static str,
    pub figcaption: &'static str,
    pub nation_and_regions: &'static str,
    pub units: &'static str,
    pub region: &'static str,
    pub whole_country: &'static str,
    pub show: &'static str,
    pub figures_in_chart: &'static str,
    pub col_name: &'static str,
    pub col_level: &'static str,
    pub col_numerator: &'static str,
    pub col_denominator: &'static str,
    pub col_share: &'static str,
    pub col_ci: &'static str,
    pub col_last_year: &'static str,
    pub entity_intro: &'static str,
    pub release: &'static str,
    pub release_for: &'static str,
    pub published: &'static str,
    pub withheld_rule: &'static str,
    pub withheld_never_zero: &'static str,
    pub download: &'static str,
    pub none_in_region: &'static str,
    levels: [&'static str; 4],
    targets: [&'static str; 3],
}

impl Words {
    pub fn level(&self, level: ReportLevel) -> &'static str {
        match level {
            ReportLevel::Unit => self.levels[0],
            ReportLevel::LegalEntity => self.levels[1],
            ReportLevel::Region => self.levels[2],
            ReportLevel::Nation => self.levels[3],
        }
    }

    pub fn target(&self, level: Option<TargetLevel>) -> &'static str {
        match level {
            Some(TargetLevel::High) => self.targets[0],
            Some(TargetLevel::Moderate) => self.targets[1],
            Some(TargetLevel::Low) => self.targets[2],
            None => "",
        }
    }
}

static NB: Words = Words {
    code: "nb",
    chart: NORWEGIAN,
    site: "Resultater, kvalitetsregister for TSB",
    results: "Resultater",
    skip: "Hopp til innholdet",
    crumbs: "Brødsmuler",
    other_language: "English",
    other_language_code: "en",
    results_for: "Resultater for",
    intro: "Kvalitetsindikatorene for behandling i pakkeforløp for tverrfaglig spesialisert rusbehandling (TSB), for hele landet, hver region, hvert helseforetak og hver enhet.",
    indicators: "Indikatorer",
    indicators_caption: "Landsresultat for hver indikator",
    indicator: "Indikator",
    nation_share: "Andel i landet",
    target: "Måloppnåelse",
    entities: "Helseforetak",
    services: "Tjenester i TSB",
    services_intro: "Kartet over TSB: hvilke tjenester hver enhet gir, og hvordan en henviser.",
    target_levels: "Målnivå",
    high_at_least: "høy: minst",
    moderate_at_least: "moderat: minst",
    low_below: "lav: under",
    definition: "Definisjon (på engelsk)",
    figcaption: "Andel med 95 % konfidensintervall (strek) og fjorårets andel (trekant), sortert etter andel; tilbakeholdte resultater står nederst som «* holdt tilbake».",
    nation_and_regions: "Landet og regionene",
    units: "Enheter",
    region: "Region",
    whole_country: "Hele landet",
    show: "Vis",
    figures_in_chart: "tallene i figuren",
    col_name: "Enhet",
    col_level: "Nivå",
    col_numerator: "Teller",
    col_denominator: "Nevner",
    col_share: "Andel",
    col_ci: "95 % KI",
    col_last_year: "I fjor",
    entity_intro: "Resultatene til helseforetaket og enhetene dets, med landet til sammenligning, for",
    release: "Utgivelse",
    release_for: "for",
    published: "publisert",
    withheld_rule: "og tall som de kan regnes ut fra, er holdt tilbake og vist som * for å verne personvernet (prikking med terskel k =",
    withheld_never_zero: "et tilbakeholdt tall er aldri null.",
    download: "Last ned tallene",
    none_in_region: "Ingen i denne regionen.",
    levels: ["enhet", "helseforetak", "region", "landet"],
    targets: ["høy", "moderat", "lav"],
};

static EN: Words = Words {
    code: "en",
    chart: ENGLISH,
    site: "Results, quality register for substance-use treatment",
    results: "Results",
    skip: "Skip to the content",
    crumbs: "Breadcrumbs",
    other_language: "Norsk (bokmål)",
    other_language_code: "nb",
    results_for: "Results for",
    intro: "The quality indicators of treatment in the national care pathway for interdisciplinary specialised substance-use treatment (TSB), for the whole country, each region, each health trust and each unit.",
    indicators: "Indicators",
    indicators_caption: "The national result of each indicator",
    indicator: "Indicator",
    nation_share: "Share in the country",
    target: "Target level",
    entities: "Health trusts",
    services: "TSB services",
    services_intro: "The map of TSB: which services each unit offers, and how to refer.",
    target_levels: "Target levels",
    high_at_least: "high: at least",
    moderate_at_least: "moderate: at least",
    low_below: "low: below",
    definition: "Definition",
    figcaption: "Share with its 95 % confidence interval (line) and last year's share (triangle), sorted by share; withheld results are listed last as \u{201c}* withheld\u{201d}.",
    nation_and_regions: "The country and the regions",
    units: "Units",
    region: "Region",
    whole_country: "The whole country",
    show: "Show",
    figures_in_chart: "the figures in the chart",
    col_name: "Name",
    col_level: "Level",
    col_numerator: "Numerator",
    col_denominator: "Denominator",
    col_share: "Share",
    col_ci: "95 % CI",
    col_last_year: "Last year",
    entity_intro: "The results of the health trust and its units, with the country for comparison, for",
    release: "Release",
    release_for: "of",
    published: "published",
    withheld_rule: "and counts they could be worked out from are withheld and shown as * to protect privacy (cell suppression with threshold k =",
    withheld_never_zero: "a withheld count is never zero.",
    download: "Download the figures",
    none_in_region: "None in this region.",
    levels: ["unit", "health trust", "region", "country"],
    targets: ["high", "moderate", "low"],
};

/// The query of every results page: the language and, on an indicator page, a region. Other
/// parameters (a campaign tag on a shared link) are ignored, as a web page does.
#[derive(Debug, Deserialize, validator::Validate)]
pub struct PageQuery {
    pub lang: Option<String>,
    pub region: Option<i64>,
}

/// What the frame of every page needs: the words, the release, the links that keep the language.
pub struct Frame {
    pub w: &'static Words,
    /// `""` or `?lang=en`, to append to a link without a query.
    pub q: String,
    /// This page in the other language.
    pub other: String,
    /// The release the page shows (`None` on the directory page before any publication).
    pub release: Option<ReleaseLine>,
}

/// The footer's release line.
pub struct ReleaseLine {
    pub id: i64,
    pub year: i32,
    pub published: Option<String>,
    pub min_cell: i32,
    pub below: i32,
    pub download: String,
}

impl Frame {
    pub fn of(slice: &ReleaseSlice, lang: Lang, path: &str, extra: &[(&str, String)]) -> Self {
        let m = &slice.metadata;
        let release = ReleaseLine {
            id: m.release_id,
            year: m.year,
            published: m.published_at.map(|t| domain::clock::date_at(t).format("%d.%m.%Y").to_string()),
            min_cell: m.min_cell,
            below: m.min_cell - 1,
            download: format!("/api/v1/public/indicators?year={}", m.year),
        };
        Frame { release: Some(release), ..Frame::without_release(lang, path, extra) }
    }

    pub fn without_release(lang: Lang, path: &str, extra: &[(&str, String)]) -> Self {
        let q = if lang.query().is_empty() { String::new() } else { format!("?{}", lang.query()) };
        let other_lang = match lang {
            Lang::Norwegian => Some("en"),
            Lang::English => None,
        };
        let params: Vec<String> =
            extra.iter().map(|(k, v)| format!("{k}={v}")).chain(other_lang.map(|l| format!("lang={l}"))).collect();
        let other = if params.is_empty() { path.to_owned() } else { format!("{path}?{}", params.join("&")) };
        Frame { w: lang.words(), q, other, release: None }
    }

    /// The release's year (0 without one; pages that show results always have one).
    pub fn year(&self) -> i32 {
        self.release.as_ref().map_or(0, |r| r.year)
    }
}

/// One row of a table, formatted.
#[derive(Clone)]
pub struct RowView {
    pub node_id: i64,
    pub name: String,
    pub link: Option<String>,
    pub level: &'static str,
    pub numerator: String,
    pub denominator: String,
    pub share: String,
    pub ci: String,
    pub last_year: String,
    pub target: &'static str,
}

fn count(n: Option<i64>) -> String {
    n.map_or_else(|| SUPPRESSED.to_owned(), |n| n.to_string())
}

fn row_view(row: &DownloadRow, lang: Lang) -> RowView {
    let r = &row.result;
    let w = lang.words();
    let q = if lang.query().is_empty() { String::new() } else { format!("?{}", lang.query()) };
    RowView {
        node_id: r.node_id,
        name: r.name.clone(),
        link: (row.level == ReportLevel::LegalEntity).then(|| format!("/results/foretak/{}{q}", r.node_id)),
        level: w.level(row.level),
        numerator: count(r.numerator),
        denominator: count(r.denominator),
        share: r.share.map_or_else(|| SUPPRESSED.to_owned(), |s| lang.percent(s)),
        ci: match (r.ci_low, r.ci_high) {
            (Some(lo), Some(hi)) => format!("{}–{}", lang.percent(lo), lang.percent(hi)),
            _ => String::new(),
        },
        last_year: r.previous_share.map(|s| lang.percent(s)).unwrap_or_default(),
        target: w.target(r.target_level),
    }
}

/// A chart and its table: the rows of `table` in chart order (the table lists what the chart
/// shows), the chart's text alternative naming every row's share or that it is withheld.
pub struct Section {
    pub id: String,
    pub title: String,
    pub link: Option<String>,
    pub chart: String,
    pub rows: Vec<RowView>,
}

impl Section {
    fn new(table: &DownloadTable, id: String, title: String, link: Option<String>, lang: Lang) -> Self {
        let w = lang.words();
        let order = reporting::charts::chart_order(table);
        let description = order
            .iter()
            .map(|r| match r.result.share {
                Some(s) => format!("{}: {}", r.result.name, lang.percent(s)),
                None => format!("{}: {}", r.result.name, w.chart.withheld),
            })
            .collect::<Vec<_>>()
            .join("; ");
        let chart = if table.rows.is_empty() {
            String::new()
        } else {
            indicator_svg(table, &id, &title, &description, w.chart)
        };
        Section { rows: order.into_iter().map(|r| row_view(r, lang)).collect(), id, title, link, chart }
    }
}

/// `table` with only the rows `keep` accepts.
fn filtered(table: &DownloadTable, keep: impl Fn(&DownloadRow) -> bool) -> DownloadTable {
    DownloadTable { rows: table.rows.iter().filter(|r| keep(r)).cloned().collect(), ..table.clone() }
}

fn title(table: &DownloadTable, lang: Lang) -> &'static str {
    match lang {
        Lang::Norwegian => table.title_no,
        Lang::English => table.title_en,
    }
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

struct RegionOption {
    id: i64,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "results/index.html")]
struct IndexPage {
    f: Frame,
    indicators: Vec<IndicatorLink>,
    entities: Vec<EntityLink>,
}

#[derive(Template)]
#[template(path = "results/indicator.html")]
struct IndicatorPage {
    f: Frame,
    id: &'static str,
    title: &'static str,
    definition: String,
    high: String,
    moderate: String,
    regions: Vec<RegionOption>,
    sections: Vec<Section>,
}

#[derive(Template)]
#[template(path = "results/entity.html")]
struct EntityPage {
    f: Frame,
    name: String,
    sections: Vec<Section>,
}

pub fn html(page: &impl Template) -> Result<HttpResponse, ApiError> {
    let body = page.render().map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}

/// The latest published release's public slice (built once per publication and day).
pub async fn slice(state: &AppState) -> Result<std::sync::Arc<ReleaseSlice>, ApiError> {
    let today = state.today();
    let cache = state.public_cache.clone();
    state.run_reports(move |conn| Ok(app::reports::public_results_cached(conn, &cache, None, today)?)).await
}

async fn index(state: web::Data<AppState>, query: Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if q.region.is_some() {
        return Err(ApiError::NotFound);
    }
    let lang = Lang::parse(q.lang.as_deref())?;
    let slice = slice(&state).await?;
    let w = lang.words();
    let indicators = slice
        .indicators
        .iter()
        .map(|t| {
            let nation = t.rows.iter().find(|r| r.level == ReportLevel::Nation);
            IndicatorLink {
                id: t.id.as_str(),
                title: title(t, lang),
                nation_share: nation
                    .and_then(|r| r.result.share)
                    .map_or_else(|| SUPPRESSED.to_owned(), |s| lang.percent(s)),
                nation_target: w.target(nation.and_then(|r| r.result.target_level)),
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
    html(&IndexPage { f: Frame::of(&slice, lang, "/results", &[]), indicators, entities })
}

async fn indicator(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let lang = Lang::parse(q.lang.as_deref())?;
    let id = IndicatorId::parse(&id).ok_or(ApiError::NotFound)?;
    let slice = slice(&state).await?;
    let table = slice.indicators.iter().find(|t| t.id == id).ok_or(ApiError::NotFound)?;
    let w = lang.words();
    let regions: Vec<&DownloadRow> = table.rows.iter().filter(|r| r.level == ReportLevel::Region).collect();
    // A region that is not one of the release's is a page that does not exist.
    if let Some(region) = q.region {
        if !regions.iter().any(|r| r.result.node_id == region) {
            return Err(ApiError::NotFound);
        }
    }
    let entity_region = |entity: Option<i64>| {
        entity.and_then(|e| table.rows.iter().find(|r| r.result.node_id == e)).and_then(|r| r.parent_id)
    };
    let in_region = |row: &DownloadRow| match (q.region, row.level) {
        (None, _) => true,
        (Some(region), ReportLevel::Region) => row.result.node_id == region,
        (Some(region), ReportLevel::LegalEntity) => row.parent_id == Some(region),
        (Some(region), ReportLevel::Unit) => entity_region(row.parent_id) == Some(region),
        (Some(_), ReportLevel::Nation) => true,
    };
    let section = |key: &str, heading: &str, levels: &[ReportLevel]| {
        let part = filtered(table, |r| levels.contains(&r.level) && in_region(r));
        Section::new(&part, format!("chart-{key}"), heading.to_owned(), None, lang)
    };
    let sections = vec![
        section("regions", w.nation_and_regions, &[ReportLevel::Nation, ReportLevel::Region]),
        section("entities", w.entities, &[ReportLevel::LegalEntity]),
        section("units", w.units, &[ReportLevel::Unit]),
    ];
    let mut regions: Vec<RegionOption> = regions
        .iter()
        .map(|r| RegionOption {
            id: r.result.node_id,
            name: r.result.name.clone(),
            selected: q.region == Some(r.result.node_id),
        })
        .collect();
    regions.sort_by(|a, b| a.name.cmp(&b.name));
    let def = id.definition();
    let path = format!("/results/indikator/{}", id.as_str());
    let extra: Vec<(&str, String)> = q.region.map(|r| ("region", r.to_string())).into_iter().collect();
    html(&IndicatorPage {
        f: Frame::of(&slice, lang, &path, &extra),
        id: id.as_str(),
        title: title(table, lang),
        definition: format!("{}; numerator: {}; denominator: {}.", def.population, def.numerator, def.denominator),
        high: lang.percent(table.high),
        moderate: lang.percent(table.moderate),
        regions,
        sections,
    })
}

async fn entity(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if q.region.is_some() {
        return Err(ApiError::NotFound);
    }
    let lang = Lang::parse(q.lang.as_deref())?;
    let id = id.into_inner();
    let slice = slice(&state).await?;
    let name = slice
        .indicators
        .first()
        .and_then(|t| t.rows.iter().find(|r| r.level == ReportLevel::LegalEntity && r.result.node_id == id))
        .map(|r| r.result.name.clone())
        .ok_or(ApiError::NotFound)?;
    let sq = if lang.query().is_empty() { String::new() } else { format!("?{}", lang.query()) };
    let sections = slice
        .indicators
        .iter()
        .map(|t| {
            let part = filtered(t, |r| {
                r.result.node_id == id
                    || r.level == ReportLevel::Nation
                    || (r.level == ReportLevel::Unit && r.parent_id == Some(id))
            });
            let link = Some(format!("/results/indikator/{}{sq}", t.id.as_str()));
            Section::new(&part, format!("chart-{}", t.id.as_str()), title(t, lang).to_owned(), link, lang)
        })
        .collect();
    html(&EntityPage { f: Frame::of(&slice, lang, &format!("/results/foretak/{id}"), &[]), name, sections })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/results", web::get().to(index))
        .route("/results/indikator/{id}", web::get().to(indicator))
        .route("/results/foretak/{id}", web::get().to(entity));
}
