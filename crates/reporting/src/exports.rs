//! Downloads and public results: slices of a stored release, rendered as CSV (UTF-8), XLSX
//! (a sheet per table and a sheet that explains the columns and the suppression) or JSON.
//!
//! Suppressed cells all look the same: empty in JSON (`null`), [`SUPPRESSED`] in CSV and XLSX,
//! whatever the reason (primary or secondary); a share, interval or complement is shown only
//! when both its numerator and its denominator are published. Nothing is re-suppressed here:
//! every value comes from the release as stored.

use chrono::{DateTime, NaiveDate, Utc};
use domain::indicators::{IndicatorId, ReportLevel, TargetLevel, AGE_GROUPS, INDICATORS, SEXES};
use rust_xlsxwriter::{
    Chart, ChartErrorBars, ChartErrorBarsType, ChartRange, ChartType, Format, Workbook, Worksheet, XlsxError,
};
use serde::Serialize;

use crate::indicators::{IndicatorResult, ACTIVITY};
use crate::releases::{AuditSummary, ReleaseView, RESIDENCE, RESIDENCE_UNKNOWN};
use crate::residence::{ResidenceStratum, ResidenceTable};
use crate::tree::OrgTree;

/// The columns of the residence tables' rates, per 1,000 (CSV and XLSX).
const RATE_COLUMNS: [&str; 6] = [
    "rate_per_1000",
    "rate_ci_low",
    "rate_ci_high",
    "standardised_per_1000",
    "standardised_ci_low",
    "standardised_ci_high",
];

/// How a suppressed cell is written in CSV and XLSX.
pub const SUPPRESSED: &str = "*";

/// What every download says about its release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseMeta {
    pub release_id: i64,
    pub year: i32,
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
    /// The suppression threshold k: counts from 1 to k − 1 are never shown.
    pub min_cell: i32,
    pub audit: AuditSummary,
    /// The legal entity the download is for (`None` for public results).
    pub entity_id: Option<i64>,
    pub suppressed_marker: &'static str,
}

/// A node in a slice.
#[derive(Debug, Clone, Serialize)]
pub struct SliceNode {
    pub level: ReportLevel,
    pub node_id: i64,
    pub name: String,
    /// The node's parent on the slice's day (a unit's legal entity, an entity's region, a
    /// region's nation; `None` for the nation).
    pub parent_id: Option<i64>,
}

impl SliceNode {
    fn new(tree: &OrgTree, level: ReportLevel, id: i64, day: NaiveDate) -> Self {
        SliceNode { level, node_id: id, name: tree.name(id).to_owned(), parent_id: tree.parent_on(id, day) }
    }
}

/// One indicator result in a download: the level, the complement (when derivable from
/// published counts) and the result.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadRow {
    pub level: ReportLevel,
    /// The node's parent in the tree the release is placed on (`None` for the nation).
    pub parent_id: Option<i64>,
    pub complement: Option<i64>,
    #[serde(flatten)]
    pub result: IndicatorResult,
}

/// One indicator table of a download.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadTable {
    pub id: IndicatorId,
    pub title_no: &'static str,
    pub title_en: &'static str,
    pub high: f64,
    pub moderate: f64,
    pub rows: Vec<DownloadRow>,
}

/// Pathways started at a node by sex and age group (`all` for the totals).
#[derive(Debug, Clone, Serialize)]
pub struct ActivityRow {
    pub level: ReportLevel,
    pub node_id: i64,
    pub name: String,
    pub sex: &'static str,
    pub age_group: &'static str,
    pub pathways_started: Option<i64>,
}

/// A slice of a release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSlice {
    pub metadata: ReleaseMeta,
    pub indicators: Vec<DownloadTable>,
    /// Empty in public results (indicators only).
    pub activity: Vec<ActivityRow>,
    /// Pathways started by where the patients lived, with rates (docs/residence.md): the same
    /// in every slice of a release (its cells are national); absent from a release made before
    /// the residence was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residence: Option<ResidenceTable>,
}

/// The nodes a legal entity's download covers: its units in the release, itself, its region
/// and the nation, placed as on `day` (the last day of the release's year, or today).
pub fn entity_nodes(tree: &OrgTree, view: &ReleaseView, entity: i64, year: i32, day: NaiveDate) -> Vec<SliceNode> {
    let node = |level, id: i64| SliceNode::new(tree, level, id, day);
    let mut out: Vec<SliceNode> = tree
        .units_in_year(year, day)
        .into_iter()
        .filter(|p| p.entity == Some(entity) && view.has_node(p.unit))
        .map(|p| node(ReportLevel::Unit, p.unit))
        .collect();
    out.push(node(ReportLevel::LegalEntity, entity));
    if let Some(region) = tree.parent_on(entity, day) {
        out.push(node(ReportLevel::Region, region));
    }
    out.push(node(ReportLevel::Nation, tree.nation()));
    out
}

/// The nodes of a level that a release has cells for.
pub fn level_nodes(
    tree: &OrgTree,
    view: &ReleaseView,
    year: i32,
    day: NaiveDate,
    level: ReportLevel,
) -> Vec<SliceNode> {
    tree.nodes_at(year, day, level)
        .into_iter()
        .filter(|n| view.has_node(*n))
        .map(|id| SliceNode::new(tree, level, id, day))
        .collect()
}

/// The nodes of public results: every unit, legal entity and region in the release, and the
/// nation. Every one of them is already in some legal entity's download (an entity's download
/// holds its units), so the public view adds no cell to what the threat model's coalition sees.
pub fn public_nodes(tree: &OrgTree, view: &ReleaseView, year: i32, day: NaiveDate) -> Vec<SliceNode> {
    ReportLevel::ALL.into_iter().flat_map(|level| level_nodes(tree, view, year, day, level)).collect()
}

/// Cuts a slice out of a release. `previous` is the latest published release of the year
/// before, for the trend (its published counts only).
pub fn slice(
    view: &ReleaseView,
    previous: Option<&ReleaseView>,
    metadata: ReleaseMeta,
    nodes: &[SliceNode],
    with_activity: bool,
) -> ReleaseSlice {
    let indicators = INDICATORS
        .iter()
        .map(|d| DownloadTable {
            id: d.id,
            title_no: d.title_no,
            title_en: d.title_en,
            high: d.high,
            moderate: d.moderate,
            rows: nodes
                .iter()
                .map(|n| {
                    let now = view.indicator(d.id, n.node_id);
                    let before = previous.map_or((None, None), |p| p.indicator(d.id, n.node_id));
                    let complement = match now {
                        (Some(y), Some(t)) => Some(t - y),
                        _ => None,
                    };
                    DownloadRow {
                        level: n.level,
                        parent_id: n.parent_id,
                        complement,
                        result: IndicatorResult::new(d.id, n.node_id, &n.name, now, before),
                    }
                })
                .collect(),
        })
        .collect();
    let mut activity = Vec::new();
    if with_activity {
        for n in nodes {
            for (s, sex) in std::iter::once((0i16, "all")).chain(SEXES.iter().copied()) {
                for (a, age) in std::iter::once("all").chain(AGE_GROUPS.iter().copied()).enumerate() {
                    activity.push(ActivityRow {
                        level: n.level,
                        node_id: n.node_id,
                        name: n.name.clone(),
                        sex,
                        age_group: age,
                        pathways_started: view.published(ACTIVITY, n.node_id, s, a as i16, "total"),
                    });
                }
            }
        }
    }
    ReleaseSlice { metadata, indicators, activity, residence: None }
}

fn opt_int(v: Option<i64>) -> String {
    v.map_or_else(|| SUPPRESSED.to_owned(), |v| v.to_string())
}

fn opt_share(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{:.1}", v * 100.0))
}

fn level_str(l: Option<TargetLevel>) -> &'static str {
    match l {
        Some(TargetLevel::High) => "high",
        Some(TargetLevel::Moderate) => "moderate",
        Some(TargetLevel::Low) => "low",
        None => "",
    }
}

/// CSV (UTF-8, comma separated, one header row): one row per published figure, long format,
/// with the release's metadata in the first columns of every row.
pub fn to_csv(s: &ReleaseSlice) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(
        [
            "release_id",
            "year",
            "min_cell",
            "audit",
            "table",
            "level",
            "node_id",
            "name",
            "sex",
            "age_group",
            "numerator",
            "complement",
            "denominator",
            "percent",
            "ci_low_percent",
            "ci_high_percent",
            "target_level",
        ]
        .into_iter()
        .chain(RATE_COLUMNS),
    )?;
    let m = &s.metadata;
    let head = [m.release_id.to_string(), m.year.to_string(), m.min_cell.to_string(), m.audit.line()];
    const NO_RATES: [&str; 6] = [""; 6];
    for t in &s.indicators {
        for r in &t.rows {
            let mut rec: Vec<String> = head.to_vec();
            rec.extend([
                t.id.as_str().to_owned(),
                r.level.as_str().to_owned(),
                r.result.node_id.to_string(),
                r.result.name.clone(),
                "all".into(),
                "all".into(),
                opt_int(r.result.numerator),
                opt_int(r.complement),
                opt_int(r.result.denominator),
                opt_share(r.result.share),
                opt_share(r.result.ci_low),
                opt_share(r.result.ci_high),
                level_str(r.result.target_level).to_owned(),
            ]);
            rec.extend(NO_RATES.map(String::from));
            w.write_record(&rec)?;
        }
    }
    for a in &s.activity {
        let mut rec: Vec<String> = head.to_vec();
        rec.extend([
            ACTIVITY.to_owned(),
            a.level.as_str().to_owned(),
            a.node_id.to_string(),
            a.name.clone(),
            a.sex.to_owned(),
            a.age_group.to_owned(),
            String::new(),
            String::new(),
            opt_int(a.pathways_started),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        rec.extend(NO_RATES.map(String::from));
        w.write_record(&rec)?;
    }
    if let Some(res) = &s.residence {
        // The residence tables: the count as numerator, the adult population as denominator,
        // rates per 1,000 (the standardised rate on the row of both sexes and all ages).
        let rate = |r: Option<domain::residence::Rate>| -> [String; 3] {
            r.map_or_else(Default::default, |r| {
                [format!("{:.2}", r.per_1000), format!("{:.2}", r.ci_low), format!("{:.2}", r.ci_high)]
            })
        };
        let mut write =
            |table: &str, level: &str, node: String, name: &str, st: &ResidenceStratum, std: [String; 3]| {
                let mut rec: Vec<String> = head.to_vec();
                rec.extend([
                    table.to_owned(),
                    level.to_owned(),
                    node,
                    name.to_owned(),
                    st.sex.to_owned(),
                    st.age_group.to_owned(),
                    opt_int(st.pathways_started),
                    String::new(),
                    st.population.map(|p| p.to_string()).unwrap_or_default(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                rec.extend(rate(st.rate));
                rec.extend(std);
                w.write_record(&rec)
            };
        for r in &res.rows {
            for (i, st) in r.strata.iter().enumerate() {
                let std = if i == 0 { rate(r.standardised) } else { Default::default() };
                write(RESIDENCE, r.level.as_str(), r.node_id.to_string(), &r.name, st, std)?;
            }
        }
        for st in &res.without_residence {
            write(RESIDENCE_UNKNOWN, "nation", res.nation_id.to_string(), "", st, Default::default())?;
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// JSON: the slice as it is.
pub fn to_json(s: &ReleaseSlice) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec_pretty(s)
}

/// XLSX: an "Om tallene" (about) sheet, one sheet per indicator and one for activity.
/// The readme sheet's explanations in bokmål (the values — ids, years, the audit line — are the
/// same in both languages).
const ABOUT_NO: [(&str, &str); 9] = [
    ("level", "unit (enhet), legal_entity (helseforetak), region eller nation (landet); et nivå summerer tallene under seg"),
    ("numerator", "tilfeller som oppfyller indikatoren (se arket for hver indikator)"),
    ("complement", "nevner − teller, vist bare når begge er publisert"),
    ("denominator", "tilfeller i indikatorens populasjon i året"),
    ("percent, ci_low, ci_high", "andel i prosent med Wilsons 95 % konfidensintervall"),
    ("target_level", "høy / moderat / lav målt mot indikatorens målnivåer"),
    (
        "previous_percent, trend",
        "fjorårets andel (fra fjorårets siste publiserte utgivelse) og endringen: bedre / uendret / verre (minst ett prosentpoeng)",
    ),
    ("activity", "forløp startet i året, etter kjønn og aldersgruppe ved start"),
    (
        "residence",
        "forløp startet av voksne etter opptaksområdet (helseforetak, region, landet) pasienten bodde i ved start, med befolkningen 18 år og eldre og rater per 1 000: råe og direkte standardiserte for alder og kjønn til landets befolkning, med 95 % intervall; en rate vises bare når alle tallene den regnes fra er publisert",
    ),
];

/// Columns of an indicator sheet that only the chart reads (right of the table, after a gap):
/// the bar's label (the name, with `*` when withheld), the interval's arms in percentage points,
/// and the two target levels in percent.
const CHART_COLUMNS: [&str; 5] =
    ["chart: label", "chart: ci_plus", "chart: ci_minus", "chart: high target", "chart: moderate target"];
const CHART_FIRST_COLUMN: u16 = 13;

/// A native Excel chart beside an indicator's table: a column per row of the table (its percent,
/// with the 95 % interval as error bars), the high and moderate target levels as lines, and
/// a withheld row's label marked with `*` (its bar is absent, its label says why).
fn indicator_chart(ws: &mut Worksheet, t: &DownloadTable) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let c0 = CHART_FIRST_COLUMN;
    for (i, h) in CHART_COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c0 + i as u16, *h, &bold)?;
    }
    for (i, r) in t.rows.iter().enumerate() {
        let row = i as u32 + 1;
        let label = match r.result.share {
            Some(_) => r.result.name.clone(),
            None => format!("{} ({SUPPRESSED})", r.result.name),
        };
        ws.write_string(row, c0, label)?;
        if let (Some(share), Some(lo), Some(hi)) = (r.result.share, r.result.ci_low, r.result.ci_high) {
            ws.write_number(row, c0 + 1, ((hi - share) * 1000.0).round() / 10.0)?;
            ws.write_number(row, c0 + 2, ((share - lo) * 1000.0).round() / 10.0)?;
        }
        ws.write_number(row, c0 + 3, t.high * 100.0)?;
        ws.write_number(row, c0 + 4, t.moderate * 100.0)?;
    }
    let last = t.rows.len().max(1) as u32;
    let sheet = sheet_name(t.id.as_str());
    let range = |col: u16| ChartRange::new_from_range(&sheet, 1, col, last, col);
    let mut chart = Chart::new(ChartType::Column);
    chart.title().set_name(t.title_no);
    chart.y_axis().set_name("%").set_min(0).set_max(100);
    chart
        .add_series()
        .set_name("percent")
        .set_categories(&range(c0))
        .set_values(&range(6))
        .set_y_error_bars(ChartErrorBars::new().set_type(ChartErrorBarsType::Custom(range(c0 + 1), range(c0 + 2))));
    let mut targets = Chart::new(ChartType::Line);
    targets.add_series().set_name("high target").set_categories(&range(c0)).set_values(&range(c0 + 3));
    targets.add_series().set_name("moderate target").set_categories(&range(c0)).set_values(&range(c0 + 4));
    chart.combine(&targets);
    chart.set_width(720).set_height(360);
    ws.insert_chart(last + 3, 2, &chart)?;
    Ok(())
}

pub fn to_xlsx(s: &ReleaseSlice) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let m = &s.metadata;
    {
        let ws = wb.add_worksheet();
        ws.set_name("Om tallene")?;
        ws.set_column_width(0, 28)?;
        ws.set_column_width(1, 110)?;
        let about: Vec<(String, String)> = vec![
            ("release_id".into(), m.release_id.to_string()),
            ("year".into(), m.year.to_string()),
            ("status".into(), m.status.clone()),
            ("published_at".into(), m.published_at.map(|t| t.to_rfc3339()).unwrap_or_default()),
            ("min_cell (k)".into(), m.min_cell.to_string()),
            ("audit".into(), m.audit.line()),
            (
                "suppression".into(),
                format!(
                    "Counts from 1 to {} are never shown, nor any count from which one can be worked out; such cells \
                     show \"{SUPPRESSED}\". All suppressed cells look the same. Zeros are shown. The tables of the \
                     release were suppressed together as one linked table and checked by an independent auditor; \
                     every download is a slice of the same stored release.",
                    m.min_cell - 1
                ),
            ),
            ("level".into(), "unit, legal_entity, region or nation; a level sums the counts below it".into()),
            ("numerator".into(), "cases meeting the indicator (see the sheet of each indicator)".into()),
            ("complement".into(), "denominator − numerator, shown only when both are published".into()),
            ("denominator".into(), "cases in the indicator's population in the year".into()),
            ("percent, ci_low, ci_high".into(), "share in percent with its Wilson 95 % interval".into()),
            ("target_level".into(), "high / moderate / low against the indicator's target levels".into()),
            ("previous_percent, trend".into(), "last year's share (from its latest published release) and the change: better / unchanged / worse (at least one percentage point)".into()),
            ("activity".into(), "pathways started in the year, by sex and age group at the start".into()),
            ("residence".into(), "pathways started by adults, by the catchment area (health trust, region, nation) the patient lived in at the start, with the population aged 18 and over and rates per 1,000: crude, and directly standardised for age and sex to the nation's population, with 95 % intervals; a rate is shown only when every count it is computed from is published".into()),
        ];
        ws.set_column_width(2, 110)?;
        ws.write_string_with_format(0, 0, "field", &bold)?;
        ws.write_string_with_format(0, 1, "meaning / value", &bold)?;
        ws.write_string_with_format(0, 2, "betydning / verdi (bokmål)", &bold)?;
        for (i, (k, v)) in about.iter().enumerate() {
            ws.write_string(i as u32 + 1, 0, k)?;
            ws.write_string(i as u32 + 1, 1, v)?;
            let norwegian = match k.as_str() {
                "suppression" => format!(
                    "Tall fra 1 til {} vises aldri, heller ikke tall som de kan regnes ut fra; slike celler viser \
                     \"{SUPPRESSED}\". Alle tilbakeholdte celler ser like ut. Null vises. Tabellene i utgivelsen ble \
                     prikket samlet som én sammenhengende tabell og kontrollert av en uavhengig revisor; hver \
                     nedlasting er et utsnitt av den samme lagrede utgivelsen.",
                    m.min_cell - 1
                ),
                other => {
                    ABOUT_NO.iter().find(|(key, _)| *key == other).map_or_else(|| v.clone(), |(_, no)| (*no).to_owned())
                }
            };
            ws.write_string(i as u32 + 1, 2, norwegian)?;
        }
        for (i, t) in s.indicators.iter().enumerate() {
            let row = about.len() as u32 + 2 + i as u32;
            let d = t.id.definition();
            ws.write_string(row, 0, t.id.as_str())?;
            ws.write_string(
                row,
                1,
                format!(
                    "{} / {}: {} — numerator: {}; high ≥ {:.0} %, moderate ≥ {:.0} %",
                    d.title_no,
                    d.title_en,
                    d.population,
                    d.numerator,
                    d.high * 100.0,
                    d.moderate * 100.0
                ),
            )?;
        }
    }
    let header = [
        "level",
        "node_id",
        "name",
        "numerator",
        "complement",
        "denominator",
        "percent",
        "ci_low",
        "ci_high",
        "target_level",
        "previous_percent",
        "trend",
    ];
    for t in &s.indicators {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(t.id.as_str()))?;
        ws.set_column_width(2, 40)?;
        for (c, h) in header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (i, r) in t.rows.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, r.level.as_str())?;
            ws.write_number(row, 1, r.result.node_id as f64)?;
            ws.write_string(row, 2, &r.result.name)?;
            for (c, v) in [(3u16, r.result.numerator), (4, r.complement), (5, r.result.denominator)] {
                match v {
                    Some(v) => ws.write_number(row, c, v as f64)?,
                    None => ws.write_string(row, c, SUPPRESSED)?,
                };
            }
            for (c, v) in
                [(6u16, r.result.share), (7, r.result.ci_low), (8, r.result.ci_high), (10, r.result.previous_share)]
            {
                if let Some(v) = v {
                    ws.write_number(row, c, (v * 1000.0).round() / 10.0)?;
                }
            }
            ws.write_string(row, 9, level_str(r.result.target_level))?;
            if let Some(trend) = r.result.trend {
                ws.write_string(
                    row,
                    11,
                    serde_json::to_value(trend).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                )?;
            }
        }
        indicator_chart(ws, t)?;
    }
    if !s.activity.is_empty() {
        let ws = wb.add_worksheet();
        ws.set_name(ACTIVITY)?;
        ws.set_column_width(2, 40)?;
        for (c, h) in ["level", "node_id", "name", "sex", "age_group", "pathways_started"].iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (i, a) in s.activity.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, a.level.as_str())?;
            ws.write_number(row, 1, a.node_id as f64)?;
            ws.write_string(row, 2, &a.name)?;
            ws.write_string(row, 3, a.sex)?;
            ws.write_string(row, 4, a.age_group)?;
            match a.pathways_started {
                Some(v) => ws.write_number(row, 5, v as f64)?,
                None => ws.write_string(row, 5, SUPPRESSED)?,
            };
        }
    }
    if let Some(res) = &s.residence {
        let ws = wb.add_worksheet();
        ws.set_name(RESIDENCE)?;
        ws.set_column_width(2, 40)?;
        let header = ["level", "node_id", "name", "sex", "age_group", "pathways_started", "population_18_plus"];
        for (c, h) in header.iter().chain(&RATE_COLUMNS).enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        let mut row = 0u32;
        let rows =
            res.rows.iter().map(|r| (r.level.as_str(), Some(r.node_id), r.name.as_str(), &r.strata, r.standardised));
        let unknown = std::iter::once((
            "nation",
            Some(res.nation_id),
            "(no residence in a catchment area)",
            &res.without_residence,
            None,
        ));
        for (level, node, name, strata, standardised) in rows.chain(unknown) {
            for (i, st) in strata.iter().enumerate() {
                row += 1;
                ws.write_string(row, 0, level)?;
                if let Some(n) = node {
                    ws.write_number(row, 1, n as f64)?;
                }
                ws.write_string(row, 2, name)?;
                ws.write_string(row, 3, st.sex)?;
                ws.write_string(row, 4, st.age_group)?;
                match st.pathways_started {
                    Some(v) => ws.write_number(row, 5, v as f64)?,
                    None => ws.write_string(row, 5, SUPPRESSED)?,
                };
                if let Some(p) = st.population {
                    ws.write_number(row, 6, p as f64)?;
                }
                let std = if i == 0 { standardised } else { None };
                for (c, r) in [(7u16, st.rate), (10, std)] {
                    if let Some(r) = r {
                        ws.write_number(row, c, (r.per_1000 * 100.0).round() / 100.0)?;
                        ws.write_number(row, c + 1, (r.ci_low * 100.0).round() / 100.0)?;
                        ws.write_number(row, c + 2, (r.ci_high * 100.0).round() / 100.0)?;
                    }
                }
            }
        }
    }
    wb.save_to_buffer()
}

/// Sheet names are at most 31 characters.
fn sheet_name(id: &str) -> String {
    id.chars().take(31).collect()
}
