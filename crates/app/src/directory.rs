//! The TSB service directory: what each unit offers (treatment levels, beds, special functions),
//! where it is and how to refer, over periods. Anyone may read it (it holds no personal data) —
//! placed in the organisation tree of the day and with the unit's latest published indicators
//! beside it; register staff record a new period or import a CSV file of them (audited).

use std::collections::HashMap;

use chrono::NaiveDate;
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::directory::{ServiceFacts, ServiceFactsInput, SpecialFunction, TreatmentLevel};
use domain::indicators::ReportLevel;
use domain::organisations::NodeKind;
use domain::FieldError;
use persistence::directory::{self as repo, FactsRow, NewFacts};
use persistence::{audit, in_transaction, PgConnection};
use reporting::exports::DownloadRow;
use reporting::tree::OrgTree;
use serde::Deserialize;
use serde_json::json;

use crate::paging::{PageRequest, Paged};
use crate::reports::PublicCache;
use crate::{Caller, Error};

/// A node's id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef {
    pub id: i64,
    pub name: String,
}

/// One indicator of a unit in the latest published release (`None` where withheld).
#[derive(Debug, Clone)]
pub struct UnitIndicator {
    pub id: &'static str,
    pub title_no: &'static str,
    pub title_en: &'static str,
    pub row: DownloadRow,
}

/// A unit's services on a day, placed in the tree of that day.
#[derive(Debug, Clone)]
pub struct Service {
    pub unit: NodeRef,
    pub resh_id: Option<i64>,
    pub entity: Option<NodeRef>,
    pub region: Option<NodeRef>,
    pub facts: FactsRow,
    /// The unit's results in the latest published release (empty before any publication or when
    /// the unit is not in it); the release's id and year.
    pub indicators: Vec<UnitIndicator>,
    pub release: Option<(i64, i32)>,
}

/// Which services to list.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    /// Only units in this region (a region's node id).
    pub region: Option<i64>,
    /// Only units of this health trust or private institution (a legal entity's node id).
    pub entity: Option<i64>,
    /// Only units in this municipality (four digits).
    pub municipality: Option<String>,
    /// Only units offering this treatment level.
    pub level: Option<String>,
    /// Only units with this special function.
    pub function: Option<String>,
    /// The day (default today).
    pub on: Option<NaiveDate>,
}

/// The filters, checked: every bad one at once.
struct Filter {
    region: Option<i64>,
    entity: Option<i64>,
    municipality: Option<String>,
    level: Option<TreatmentLevel>,
    function: Option<SpecialFunction>,
}

fn check_query(q: &DirectoryQuery, tree: &OrgTree) -> Result<Filter, Error> {
    let mut errors = Vec::new();
    let mut node_of = |field: &str, id: Option<i64>, kind: NodeKind, what: &str| match id {
        Some(id) if tree.node(id).is_none_or(|n| n.kind != kind) => {
            errors.push(FieldError::new(field, "hierarchy", format!("{field} is {what}'s node id")));
            None
        }
        other => other,
    };
    let region = node_of("region", q.region, NodeKind::Region, "a region");
    let entity = node_of("entity", q.entity, NodeKind::LegalEntity, "a legal entity");
    let municipality = q.municipality.clone();
    if municipality.as_ref().is_some_and(|m| m.len() != 4 || !m.bytes().all(|b| b.is_ascii_digit())) {
        errors.push(FieldError::new("municipality", "format", "municipality is a four-digit municipality number"));
    }
    let level = match q.level.as_deref() {
        None => None,
        Some(raw) => TreatmentLevel::parse(raw).or_else(|| {
            let all = TreatmentLevel::ALL.map(TreatmentLevel::as_str).join(", ");
            errors.push(FieldError::new("level", "code_list", format!("level is one of {all}")));
            None
        }),
    };
    let function = match q.function.as_deref() {
        None => None,
        Some(raw) => SpecialFunction::parse(raw).or_else(|| {
            let all = SpecialFunction::ALL.map(SpecialFunction::as_str).join(", ");
            errors.push(FieldError::new("function", "code_list", format!("function is one of {all}")));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(Filter { region, entity, municipality, level, function })
}

/// Every unit's services on `day`, ordered by region, legal entity and unit name, each with its
/// results in the latest published release.
fn services_on(
    conn: &mut PgConnection,
    cache: &PublicCache,
    tree: &OrgTree,
    day: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<Service>, Error> {
    let slice = match crate::reports::public_results_cached(conn, cache, None, today) {
        Ok(slice) => Some(slice),
        Err(Error::NotFound) => None,
        Err(e) => return Err(e),
    };
    // Each unit's row of each indicator table, found once.
    let mut results: HashMap<i64, Vec<UnitIndicator>> = HashMap::new();
    if let Some(slice) = &slice {
        for t in &slice.indicators {
            for row in t.rows.iter().filter(|r| r.level == ReportLevel::Unit) {
                results.entry(row.result.node_id).or_default().push(UnitIndicator {
                    id: t.id.as_str(),
                    title_no: t.title_no,
                    title_en: t.title_en,
                    row: row.clone(),
                });
            }
        }
    }
    let release = slice.as_ref().map(|s| (s.metadata.release_id, s.metadata.year));
    let named = |id: Option<i64>| id.map(|id| NodeRef { id, name: tree.name(id).to_owned() });
    let mut services: Vec<Service> = repo::on_day(conn, day)?
        .into_iter()
        .filter_map(|facts| {
            let node = tree.node(facts.node_id)?;
            let place = tree.place_on(facts.node_id, day);
            // A unit no longer (or not yet) in the tree on the day is not listed.
            place.entity?;
            Some(Service {
                unit: NodeRef { id: node.id, name: node.name.clone() },
                resh_id: node.resh_id,
                entity: named(place.entity),
                region: named(place.region),
                indicators: results.remove(&node.id).unwrap_or_default(),
                release,
                facts,
            })
        })
        .collect();
    fn name(n: &Option<NodeRef>) -> &str {
        n.as_ref().map_or("", |n| n.name.as_str())
    }
    fn key(s: &Service) -> (&str, &str, &str) {
        (name(&s.region), name(&s.entity), s.unit.name.as_str())
    }
    services.sort_by(|a, b| key(a).cmp(&key(b)));
    Ok(services)
}

impl Filter {
    fn matches(&self, s: &Service) -> bool {
        let f = &s.facts;
        self.region.is_none_or(|r| s.region.as_ref().map(|x| x.id) == Some(r))
            && self.entity.is_none_or(|e| s.entity.as_ref().map(|x| x.id) == Some(e))
            && self.municipality.as_ref().is_none_or(|m| *m == f.municipality_number)
            && self.level.is_none_or(|l| f.treatment_levels.iter().any(|x| x == l.as_str()))
            && self.function.is_none_or(|x| f.special_functions.iter().any(|y| y == x.as_str()))
    }
}

/// The directory on a day, filtered, a page at a time, ordered by region, legal entity and unit
/// name; each unit with its latest published indicators. Public: no access check, not audited.
pub fn list(
    conn: &mut PgConnection,
    cache: &PublicCache,
    q: &DirectoryQuery,
    page: PageRequest,
    today: NaiveDate,
) -> Result<Paged<Service>, Error> {
    let tree = OrgTree::load(conn)?;
    let filter = check_query(q, &tree)?;
    let paging = page.paging()?;
    let mut services = services_on(conn, cache, &tree, q.on.unwrap_or(today), today)?;
    services.retain(|s| filter.matches(s));
    let total = services.len() as i64;
    let start = usize::try_from(paging.offset).unwrap_or(usize::MAX).min(services.len());
    let end = start.saturating_add(usize::try_from(paging.limit).unwrap_or(0)).min(services.len());
    Ok(Paged::new(services.drain(start..end).collect(), paging, total))
}

/// What the directory's page shows: every service of the day (for the filters' choices) and
/// the ones that match the filters.
#[derive(Debug, Clone)]
pub struct DirectoryView {
    pub all: Vec<Service>,
    pub matching: Vec<Service>,
}

/// The directory's page: every service of the day and those matching `q` (unpaged: a few hundred
/// units).
pub fn page_view(
    conn: &mut PgConnection,
    cache: &PublicCache,
    q: &DirectoryQuery,
    today: NaiveDate,
) -> Result<DirectoryView, Error> {
    let tree = OrgTree::load(conn)?;
    let filter = check_query(q, &tree)?;
    let all = services_on(conn, cache, &tree, q.on.unwrap_or(today), today)?;
    let matching = all.iter().filter(|s| filter.matches(s)).cloned().collect();
    Ok(DirectoryView { all, matching })
}

/// Every period of a unit's facts, oldest first (register staff).
pub fn history(conn: &mut PgConnection, caller: &Caller, unit: i64) -> Result<Vec<FactsRow>, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let tree = OrgTree::load(conn)?;
    match tree.node(unit) {
        Some(n) if n.kind == NodeKind::Unit => Ok(repo::history(conn, unit)?),
        _ => Err(Error::NotFound),
    }
}

/// What recording a period did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new period; the open one before it (if any) was closed.
    Created,
    /// The open period already holds exactly these facts from this day: nothing changed.
    Unchanged,
}

/// The facts as stored.
fn new_row(unit: i64, f: &ServiceFacts, by: uuid::Uuid) -> NewFacts {
    NewFacts {
        node_id: unit,
        valid_from: f.valid_from,
        treatment_levels: f.treatment_levels.iter().map(|l| l.as_str().to_owned()).collect(),
        beds: f.beds,
        special_functions: f.special_functions.iter().map(|x| x.as_str().to_owned()).collect(),
        municipality_number: f.municipality_number.clone(),
        municipality_name: f.municipality_name.clone(),
        address: f.address.clone(),
        postal_code: f.postal_code.clone(),
        postal_place: f.postal_place.clone(),
        phone: f.phone.clone(),
        referral: f.referral.clone(),
        demo: f.demo,
        recorded_by: by,
    }
}

fn same_facts(open: &FactsRow, new: &NewFacts) -> bool {
    open.valid_from == new.valid_from
        && open.treatment_levels == new.treatment_levels
        && open.beds == new.beds
        && open.special_functions == new.special_functions
        && open.municipality_number == new.municipality_number
        && open.municipality_name == new.municipality_name
        && open.address == new.address
        && open.postal_code == new.postal_code
        && open.postal_place == new.postal_place
        && open.phone == new.phone
        && open.referral == new.referral
        && open.demo == new.demo
}

/// Records `facts` for `unit` from their `valid_from`, in the caller's transaction: the open
/// period ends that day (a correction from the same day leaves the old row as an empty period),
/// and the change is audited. `field` names the input for errors (`valid_from` or
/// `rows[7].valid_from`).
fn record_in(
    conn: &mut PgConnection,
    caller: &Caller,
    unit: i64,
    facts: &ServiceFacts,
    field: &str,
) -> Result<(Recorded, Option<FactsRow>), Error> {
    repo::lock_unit(conn, unit)?;
    let row = new_row(unit, facts, caller.actor.user_id);
    let open = repo::open_period(conn, unit)?;
    if let Some(open) = &open {
        if same_facts(open, &row) {
            return Ok((Recorded::Unchanged, None));
        }
        if facts.valid_from < open.valid_from {
            return Err(Error::Invalid(vec![FieldError::new(
                field,
                "date_order",
                format!("valid_from is on or after the current period's first day ({})", open.valid_from),
            )]));
        }
        repo::close(conn, open.id, facts.valid_from)?;
    }
    let stored = repo::insert(conn, &row)?;
    let entry = caller
        .audit(Action::RecordServiceFacts, Outcome::Success)
        .role(Some("register_staff"))
        .target("service_facts", stored.id)
        .unit(Some(unit))
        .detail(json!({"valid_from": facts.valid_from, "closed": open.map(|o| o.id)}));
    audit::record(conn, &entry)?;
    Ok((Recorded::Created, Some(stored)))
}

/// Records a unit's facts from a day (register staff): a new period, audited. 404 for a node
/// that is not a unit.
pub fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    unit: i64,
    input: &ServiceFactsInput,
) -> Result<(Recorded, Option<FactsRow>), Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let tree = OrgTree::load(conn)?;
    if tree.node(unit).is_none_or(|n| n.kind != NodeKind::Unit) {
        return Err(Error::NotFound);
    }
    let facts = ServiceFacts::check(input, "").map_err(Error::Invalid)?;
    in_transaction(conn, |conn| record_in(conn, caller, unit, &facts, "valid_from"))
}

/// One line of a directory CSV file (docs/results.md, "Importing the directory"). Lists are
/// separated by `|`.
#[derive(Debug, Deserialize)]
struct CsvRow {
    resh_id: String,
    valid_from: String,
    treatment_levels: String,
    #[serde(default)]
    beds: String,
    #[serde(default)]
    special_functions: String,
    municipality_number: String,
    municipality_name: String,
    address: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    postal_place: String,
    #[serde(default)]
    phone: String,
    referral: String,
    #[serde(default)]
    demo: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryImport {
    pub rows: usize,
    pub created: usize,
    pub unchanged: usize,
    pub dry_run: bool,
}

fn list_of(raw: &str) -> Vec<String> {
    raw.split('|').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn optional(raw: &str) -> Option<String> {
    Some(raw.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Reads a directory CSV file: each line's unit and checked facts, or every bad line's fields
/// (`rows[<line>].<column>`), never the submitted value.
fn parse_csv(body: &[u8], tree: &OrgTree) -> Result<Vec<(i64, ServiceFacts, String)>, Error> {
    let text = std::str::from_utf8(body).map_err(|_| Error::invalid("body", "encoding", "the file is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let delimiter = if text.lines().next().unwrap_or("").contains(';') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, record) in reader.deserialize::<CsvRow>().enumerate() {
        let fallback = i as u64 + 2;
        let r = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(fallback, |p| p.line());
                let field = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.field().map_or("row".to_owned(), |f| f.to_string()),
                    _ => "row".to_owned(),
                };
                let message = if line == 1 {
                    "the header names the columns of docs/results.md (resh_id, valid_from, treatment_levels, …)"
                } else {
                    "the line does not have the file's columns"
                };
                errors.push(FieldError::new(format!("rows[{line}].{field}"), "csv_row", message));
                continue;
            }
        };
        let line = fallback;
        let prefix = format!("rows[{line}].");
        let mut bad = |field: &str, code: &str, message: &str| {
            errors.push(FieldError::new(format!("{prefix}{field}"), code, message));
        };
        let unit = match r.resh_id.parse::<i64>() {
            Ok(resh) => match tree.unit_by_resh(resh) {
                Some(u) => Some(u),
                None => {
                    bad("resh_id", "unknown", "no unit has this RESH-id");
                    None
                }
            },
            Err(_) => {
                bad("resh_id", "format", "resh_id is a number");
                None
            }
        };
        let valid_from = NaiveDate::parse_from_str(&r.valid_from, "%Y-%m-%d")
            .map_err(|_| bad("valid_from", "format", "valid_from is a date (YYYY-MM-DD)"))
            .ok();
        let beds = match r.beds.trim() {
            "" => Some(None),
            b => b.parse::<i32>().map(Some).map_err(|_| bad("beds", "format", "beds is a whole number")).ok(),
        };
        let demo = match r.demo.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "0" => Some(false),
            "true" | "yes" | "1" => Some(true),
            _ => {
                bad("demo", "format", "demo is true or false");
                None
            }
        };
        if let Some(u) = unit {
            if !seen.insert((u, valid_from)) {
                bad("resh_id", "duplicate", "the file has this unit from this day twice");
            }
        }
        let (Some(unit), Some(valid_from), Some(beds), Some(demo)) = (unit, valid_from, beds, demo) else { continue };
        let input = ServiceFactsInput {
            valid_from,
            treatment_levels: list_of(&r.treatment_levels),
            beds,
            special_functions: list_of(&r.special_functions),
            municipality_number: r.municipality_number,
            municipality_name: r.municipality_name,
            address: r.address,
            postal_code: optional(&r.postal_code),
            postal_place: optional(&r.postal_place),
            phone: optional(&r.phone),
            referral: r.referral,
            demo,
        };
        match ServiceFacts::check(&input, &prefix) {
            Ok(f) => rows.push((unit, f, format!("{prefix}valid_from"))),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    if rows.is_empty() {
        return Err(Error::invalid("body", "required", "the file has no rows"));
    }
    // Periods of one unit in date order, so a file may carry a unit's history.
    rows.sort_by_key(|(unit, f, _)| (*unit, f.valid_from));
    Ok(rows)
}

/// Imports a directory CSV file (register staff): every line checked first, one bad line refuses
/// the file (every bad line reported); then each line is recorded as [`record`] does, in one
/// transaction; a line equal to the unit's open period changes nothing. A dry run checks
/// everything, the periods' order included, and stores nothing.
pub fn import(
    conn: &mut PgConnection,
    caller: &Caller,
    body: &[u8],
    is_csv: bool,
    dry_run: bool,
) -> Result<DirectoryImport, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    if !is_csv {
        return Err(Error::UnsupportedFormat);
    }
    let tree = OrgTree::load(conn)?;
    let rows = parse_csv(body, &tree)?;
    let run = |conn: &mut PgConnection| -> Result<DirectoryImport, Run> {
        let mut result = DirectoryImport { rows: rows.len(), created: 0, unchanged: 0, dry_run };
        let mut errors = Vec::new();
        for (unit, facts, field) in &rows {
            match record_in(conn, caller, *unit, facts, field) {
                Ok((Recorded::Created, _)) => result.created += 1,
                Ok((Recorded::Unchanged, _)) => result.unchanged += 1,
                Err(Error::Invalid(mut e)) => errors.append(&mut e),
                Err(e) => return Err(Run::Failed(e)),
            }
        }
        if !errors.is_empty() {
            return Err(Run::Failed(Error::Invalid(errors)));
        }
        if dry_run {
            // Everything checked against the stored periods; the transaction rolls back.
            return Err(Run::Rehearsed(result));
        }
        let entry = caller
            .audit(Action::ImportServiceFacts, Outcome::Success)
            .role(Some("register_staff"))
            .detail(json!({"rows": result.rows, "created": result.created, "unchanged": result.unchanged}));
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
    Rehearsed(DirectoryImport),
}

impl From<persistence::RepoError> for Run {
    fn from(e: persistence::RepoError) -> Self {
        Run::Failed(e.into())
    }
}
