//! Residence (docs/residence.md): the check of a pathway's residence code against the areas
//! valid on its start date, and the register staff's imports of the reference data — areas
//! with their validity periods, catchment areas and populations in Statistics Norway's table
//! layout. An import checks every line first and stores nothing when one is bad.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::organisations::NodeKind;
use domain::residence::{check_residence, is_area_code, label_code, municipality_of, Area};
use domain::FieldError;
use persistence::residence::{self as repo, AreaRow, CatchmentRow, PopulationRow, Upserted};
use persistence::{audit, in_transaction, PgConnection};
use reporting::tree::OrgTree;
use serde::Serialize;
use serde_json::json;

use crate::{Caller, Error};

/// Checks a residence code for a pathway starting on `start` (a field error on `field`).
pub fn check_code(conn: &mut PgConnection, field: &str, code: &str, start: NaiveDate) -> Result<(), Error> {
    let periods = repo::area_periods(conn, code)?;
    let districts = code.len() == 4 && repo::has_districts(conn, municipality_of(code), start)?;
    check_residence(field, code, start, &periods, districts).map_err(|e| Error::Invalid(vec![e]))
}

/// The reference tables an import fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Areas,
    Catchment,
    Population,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Areas => "areas",
            Table::Catchment => "catchment",
            Table::Population => "population",
        }
    }
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResidenceImport {
    pub table: Table,
    pub rows: usize,
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub dry_run: bool,
}

/// Imports one reference table from a CSV file (register staff). `synthetic` marks a made-up
/// population (the demo's); the API never sets it.
pub fn import(
    conn: &mut PgConnection,
    caller: &Caller,
    table: Table,
    body: &[u8],
    dry_run: bool,
    synthetic: bool,
) -> Result<ResidenceImport, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let text = std::str::from_utf8(body).map_err(|_| Error::invalid("body", "encoding", "the file is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = read_csv(text)?;
    let run = |conn: &mut PgConnection| -> Result<ResidenceImport, Run> {
        let (rows, done) = match table {
            Table::Areas => {
                let rows = parse_areas(&lines, &repo::all_areas(conn)?)?;
                (rows.len(), repo::upsert_areas(conn, &rows)?)
            }
            Table::Catchment => {
                let tree = OrgTree::load(conn)?;
                let areas = repo::all_areas(conn)?;
                let rows = parse_catchment(&lines, &tree, &areas, &repo::all_catchment(conn)?)?;
                (rows.len(), repo::upsert_catchment(conn, &rows)?)
            }
            Table::Population => {
                let rows = parse_population(&lines, synthetic)?;
                let n = repo::upsert_population(conn, &rows)?;
                (rows.len(), Upserted { created: n, changed: 0, unchanged: 0 })
            }
        };
        let result = ResidenceImport {
            table,
            rows,
            created: done.created,
            changed: done.changed,
            unchanged: done.unchanged,
            dry_run,
        };
        if dry_run {
            return Err(Run::Rehearsed(result));
        }
        let entry =
            caller.audit(Action::ImportResidence, Outcome::Success).role(Some("register_staff")).detail(json!({
                "table": table.as_str(), "rows": result.rows, "created": result.created,
                "changed": result.changed, "unchanged": result.unchanged, "synthetic": synthetic,
            }));
        audit::record(conn, &entry).map_err(|e| Run::Failed(e.into()))?;
        Ok(result)
    };
    match in_transaction(conn, run) {
        Ok(result) | Err(Run::Rehearsed(result)) => Ok(result),
        Err(Run::Failed(e)) => Err(e),
    }
}

/// How an import's transaction ends without committing: a failure, or a dry run's result.
enum Run {
    Failed(Error),
    Rehearsed(ResidenceImport),
}

impl From<persistence::RepoError> for Run {
    fn from(e: persistence::RepoError) -> Self {
        Run::Failed(e.into())
    }
}

impl From<Error> for Run {
    fn from(e: Error) -> Self {
        Run::Failed(e)
    }
}

/// A CSV file as (line number, column → value) with lower-case header names; `;` or `,`
/// separated, quotes removed.
struct Lines {
    header: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

impl Lines {
    fn column(&self, names: &[&str]) -> Option<usize> {
        self.header.iter().position(|h| names.contains(&h.as_str()))
    }
}

/// The most lines one import takes (a national population of one year is about 90,000).
const MAX_LINES: usize = 1_000_000;

fn read_csv(text: &str) -> Result<Lines, Error> {
    let first = text.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap_or("");
    let delimiter = if first.contains(';') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| Error::invalid("body", "csv", "the first line names the columns"))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::Invalid(vec![FieldError::new(format!("rows[{line}]"), "csv", "the line cannot be read as CSV")])
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|v| v.is_empty()) {
            continue;
        }
        if record.len() != header.len() {
            return Err(Error::Invalid(vec![FieldError::new(
                format!("rows[{line}]"),
                "csv_row",
                format!("the line has {} values, the header {} columns", record.len(), header.len()),
            )]));
        }
        rows.push((line, record.iter().map(str::to_owned).collect()));
        if rows.len() > MAX_LINES {
            return Err(Error::invalid("body", "too_large", format!("at most {MAX_LINES} lines per import")));
        }
    }
    if rows.is_empty() {
        return Err(Error::invalid("body", "empty", "the file has no lines after its header"));
    }
    Ok(Lines { header, rows })
}

/// The columns `names` (in order) of a file, or a field error naming the first one missing.
fn columns(lines: &Lines, names: &[&str]) -> Result<Vec<usize>, Error> {
    names
        .iter()
        .map(|n| {
            lines.column(&[n]).ok_or_else(|| {
                Error::invalid("body", "columns", format!("the header names the columns {}", names.join(";")))
            })
        })
        .collect()
}

fn date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

/// Rows of a file checked one by one: the errors of every line, or the rows.
struct Checked<T> {
    rows: Vec<T>,
    errors: Vec<FieldError>,
}

impl<T> Checked<T> {
    fn new() -> Self {
        Checked { rows: Vec::new(), errors: Vec::new() }
    }

    fn bad(&mut self, line: u64, field: &str, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(format!("rows[{line}].{field}"), code, message));
    }

    /// A line's period `[valid_from, valid_to)` (`valid_to` empty: still valid), each date
    /// checked and the end after the start: `None` for a date that is not one.
    fn period(&mut self, line: u64, from: &str, to: &str) -> (Option<NaiveDate>, Option<Option<NaiveDate>>) {
        let valid_from = date(from);
        if valid_from.is_none() {
            self.bad(line, "valid_from", "format", "valid_from is a date (YYYY-MM-DD)");
        }
        let valid_to = if to.is_empty() { Some(None) } else { date(to).map(Some) };
        if valid_to.is_none() {
            self.bad(line, "valid_to", "format", "valid_to is a date (YYYY-MM-DD) or empty");
        }
        if let (Some(f), Some(Some(t))) = (valid_from, valid_to) {
            if t <= f {
                self.bad(line, "valid_to", "date_order", "valid_to is after valid_from");
            }
        }
        (valid_from, valid_to)
    }

    fn finish(self) -> Result<Vec<T>, Error> {
        if self.errors.is_empty() {
            Ok(self.rows)
        } else {
            Err(Error::Invalid(self.errors))
        }
    }
}

/// Periods of one key that overlap, after the file's rows replace the stored ones with the same
/// start: the line of each overlapping file row.
fn overlaps<K: Ord + Clone>(
    stored: impl Iterator<Item = (K, NaiveDate, Option<NaiveDate>)>,
    file: &[(u64, K, NaiveDate, Option<NaiveDate>)],
) -> Vec<u64> {
    let mut periods: BTreeMap<(K, NaiveDate), (Option<NaiveDate>, Option<u64>)> =
        stored.map(|(k, from, to)| ((k, from), (to, None))).collect();
    for (line, k, from, to) in file {
        periods.insert((k.clone(), *from), (*to, Some(*line)));
    }
    let mut out = Vec::new();
    let list: Vec<_> = periods.into_iter().collect();
    for w in list.windows(2) {
        let (((k1, _), (to1, l1)), ((k2, from2), (_, l2))) = (&w[0], &w[1]);
        if k1 == k2 && to1.is_none_or(|t| t > *from2) {
            out.extend(l2.or(*l1));
        }
    }
    out
}

fn parse_areas(lines: &Lines, stored: &[AreaRow]) -> Result<Vec<AreaRow>, Error> {
    let c = columns(lines, &["code", "name", "valid_from", "valid_to", "successor"])?;
    let mut out = Checked::new();
    let mut seen = HashSet::new();
    for (line, v) in &lines.rows {
        let line = *line;
        let (code, name, from, to, successor) = (&v[c[0]], &v[c[1]], &v[c[2]], &v[c[3]], &v[c[4]]);
        if !is_area_code(code) {
            out.bad(line, "code", "format", "a municipality number has four digits, a city district six");
        }
        if name.is_empty() || name.chars().count() > 200 {
            out.bad(line, "name", "length", "the name has 1 to 200 characters");
        }
        let (valid_from, valid_to) = out.period(line, from, to);
        if !successor.is_empty() {
            if !is_area_code(successor) || successor == code {
                out.bad(line, "successor", "format", "the successor is another area's code");
            } else if to.is_empty() {
                out.bad(line, "successor", "required_with", "an area with a successor has a valid_to");
            }
        }
        if let (Some(f), Some(t)) = (valid_from, valid_to) {
            if !seen.insert((code.clone(), f)) {
                out.bad(line, "valid_from", "duplicate", "the file has this code and valid_from twice");
            }
            out.rows.push(AreaRow {
                code: code.clone(),
                valid_from: f,
                valid_to: t,
                name: name.clone(),
                successor: (!successor.is_empty()).then(|| successor.clone()),
            });
        }
    }
    if out.errors.is_empty() {
        let file: Vec<_> = lines
            .rows
            .iter()
            .zip(&out.rows)
            .map(|((line, _), r)| (*line, r.code.clone(), r.valid_from, r.valid_to))
            .collect();
        for line in overlaps(stored.iter().map(|a| (a.code.clone(), a.valid_from, a.valid_to)), &file) {
            out.bad(line, "valid_from", "overlap", "the code's periods overlap");
        }
    }
    out.finish()
}

fn parse_catchment(
    lines: &Lines,
    tree: &OrgTree,
    areas: &[AreaRow],
    stored: &[CatchmentRow],
) -> Result<Vec<CatchmentRow>, Error> {
    let c = columns(lines, &["area_code", "trust_org_number", "valid_from", "valid_to"])?;
    let trusts: HashMap<&str, i64> = tree
        .nodes()
        .filter(|n| n.kind == NodeKind::LegalEntity)
        .filter_map(|n| n.org_number.as_deref().map(|o| (o, n.id)))
        .collect();
    let known: HashMap<&str, Vec<Area>> = areas.iter().fold(HashMap::new(), |mut m, a| {
        m.entry(a.code.as_str()).or_default().push(Area::from(a.clone()));
        m
    });
    let mut out = Checked::new();
    let mut seen = HashSet::new();
    let mut file = Vec::new();
    for (line, v) in &lines.rows {
        let line = *line;
        let (code, org, from, to) = (&v[c[0]], &v[c[1]], &v[c[2]], &v[c[3]]);
        let (valid_from, valid_to) = out.period(line, from, to);
        match known.get(code.as_str()) {
            None => out.bad(line, "area_code", "unknown", "not an area of the reference data (import the areas first)"),
            Some(periods) => {
                if let Some(f) = valid_from {
                    if !periods.iter().any(|a| a.valid_on(f)) {
                        out.bad(line, "valid_from", "validity", "the area is not valid on valid_from");
                    }
                }
            }
        }
        let trust = trusts.get(org.as_str()).copied();
        if trust.is_none() {
            out.bad(line, "trust_org_number", "unknown", "no legal entity of the tree has this organisation number");
        }
        if let (Some(f), Some(t), Some(trust)) = (valid_from, valid_to, trust) {
            if !seen.insert((code.clone(), f)) {
                out.bad(line, "valid_from", "duplicate", "the file has this area and valid_from twice");
            }
            file.push((line, code.clone(), f, t));
            out.rows.push(CatchmentRow { area_code: code.clone(), valid_from: f, valid_to: t, trust_id: trust });
        }
    }
    if out.errors.is_empty() {
        for line in overlaps(stored.iter().map(|c| (c.area_code.clone(), c.valid_from, c.valid_to)), &file) {
            out.bad(line, "valid_from", "overlap", "the area's catchment periods overlap");
        }
    }
    out.finish()
}

/// A population file in Statistics Norway's table layout: columns `region`, `kjønn`, `alder`,
/// `år` (English headers `region`, `sex`, `age`, `year` are read too), any others (such as
/// `statistikkvariabel`) ignored, and the count in the last column. Labels start with their code
/// (`0301 Oslo`, `2 Kvinner`, `018 18 år`, `105+ 105 år eller eldre`); `-` is zero.
fn parse_population(lines: &Lines, synthetic: bool) -> Result<Vec<PopulationRow>, Error> {
    let find = |names: &[&str]| {
        lines.column(names).ok_or_else(|| {
            Error::invalid(
                "body",
                "columns",
                "the header names the columns region, kjønn, alder and år (Statistics Norway's layout), the count last",
            )
        })
    };
    let (region, sex, age, year) = (
        find(&["region"])?,
        find(&["kjønn", "kjonn", "sex"])?,
        find(&["alder", "age"])?,
        find(&["år", "year", "tid"])?,
    );
    let value = lines.header.len() - 1;
    if [region, sex, age, year].contains(&value) {
        return Err(Error::invalid("body", "columns", "the count is the last column"));
    }
    let mut out = Checked::new();
    let mut seen = HashSet::new();
    for (line, v) in &lines.rows {
        let line = *line;
        let code = label_code(&v[region]);
        let code = code.strip_prefix("K-").unwrap_or(code);
        if !is_area_code(code) {
            out.bad(line, "region", "format", "the region starts with a municipality or city district number");
        }
        let s = match label_code(&v[sex]) {
            "1" => Some(1i16),
            "2" => Some(2),
            _ => {
                out.bad(line, "kjønn", "code_list", "sex is 1 (men) or 2 (women)");
                None
            }
        };
        let a = label_code(&v[age]).trim_end_matches('+').parse::<i16>().ok().filter(|a| (0..=130).contains(a));
        if a.is_none() {
            out.bad(line, "alder", "format", "the age starts with a whole number of years (0 to 130)");
        }
        let y = label_code(&v[year]).parse::<i16>().ok().filter(|y| (1990..=2200).contains(y));
        if y.is_none() {
            out.bad(line, "år", "format", "the year is a year from 1990 to 2200");
        }
        let persons = match v[value].trim() {
            "-" => Some(0),
            raw => raw.replace(' ', "").parse::<i32>().ok().filter(|n| *n >= 0),
        };
        if persons.is_none() {
            out.bad(line, "value", "format", "the count is a whole number of persons (`-` for none)");
        }
        if let (Some(s), Some(a), Some(y), Some(persons)) = (s, a, y, persons) {
            if !seen.insert((y, code.to_owned(), s, a)) {
                out.bad(line, "region", "duplicate", "the file has this region, sex, age and year twice");
            }
            out.rows.push(PopulationRow { year: y, area_code: code.to_owned(), sex: s, age: a, persons, synthetic });
        }
        if out.errors.len() > 100 {
            break;
        }
    }
    out.finish()
}
