//! Bulk import from patient-record systems: a batch of patients, pathways and forms (NDJSON, one
//! object a line in the API's own shapes, or CSV of one kind with the columns of
//! [`csv_columns`]) becomes a job that runs every row through the registration use cases
//! (`patients::register`, `pathways::open`, `forms::create`/`update`/`complete`), so access,
//! validation, the status machine, history and audit are those of the API.
//!
//! Each object carries the sender's own key; `import_keys` maps (caller, kind, key) to rusreg's
//! id with a keyed hash of the object, so a repeated object is a no-op and a changed form updates
//! its draft. Rows run in chunks of [`CHUNK`] lines, one transaction each (the use cases' own
//! transactions nest as savepoints that undo a refused change; a row of two steps has a savepoint
//! of its own); the chunk's sender keys are read before its rows and written after them, and
//! the caller's scope is read once per chunk ([`Caller::fresh`]), and its audit and form history
//! rows are written in one statement per table before it commits ([`Deferred`]); the job's progress commits with
//! the chunk, so a worker that dies loses at most its open chunk and the next worker resumes at
//! the first line not committed. A dry run and an all-or-nothing job run in one transaction that a
//! dry run, or any rejected row, rolls back.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::forms::catalogue::{form_fields, FieldKind};
use domain::forms::{FormData, FormId, FormKind};
use domain::national_id::IdKey;
use domain::organisations::NodeId;
use domain::pathways::{OpenPathwayInput, PathwayId};
use domain::patients::{NewPatient, NewPatientInput, PatientId};
use domain::FieldError;
use persistence::deferred::Deferred;
use persistence::imports::{self, Counts, ImportErrorRow, ImportJobRow, ImportKeyRow, NewImportJobRow};
use persistence::{audit, in_transaction, PgConnection, RepoError};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::{actor_of, register_role};
use crate::json::{parse_json, parse_value};
use crate::{Caller, Conflict, Error};

/// Lines per transaction of a job that commits as it goes.
pub const CHUNK: usize = 500;
/// The most lines one batch may have.
pub const MAX_LINES: usize = 1_000_000;
/// A worker whose heartbeat is older than this has gone; its job is claimed again.
pub const LEASE_SECONDS: i32 = 15;
/// The longest sender key.
pub const KEY_MAX: usize = 200;

/// The format of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object a line (`type`: `patient`, `pathway` or `form`).
    Ndjson,
    /// A CSV file whose rows are all of one kind.
    Csv(CsvKind),
}

/// What each row of a CSV batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    /// A patient and a pathway of theirs, with the pathway's key.
    Pathway,
    /// One form of this kind.
    Form(FormKind),
}

impl CsvKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pathway" => Some(Self::Pathway),
            other => FormKind::parse(other).map(Self::Form),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pathway => "pathway",
            Self::Form(k) => k.as_str(),
        }
    }
}

/// A batch as a way in receives it.
pub struct NewImport {
    pub format: Format,
    pub dry_run: bool,
    pub all_or_nothing: bool,
    pub batch: Vec<u8>,
}

/// A job as the caller sees it, with the first of its rejected rows.
#[derive(Debug, Clone)]
pub struct ImportJob {
    pub row: ImportJobRow,
    pub errors: Vec<ImportErrorRow>,
}

/// What one row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Created,
    Updated,
    Unchanged,
}

/// One object of a batch: an NDJSON line's `type` says which.
#[derive(Debug)]
enum Record {
    Patient(PatientLine),
    Pathway(PathwayLine),
    Form(FormLine),
}

/// A patient: the fields of `POST /api/v1/patients` and the sender's key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatientLine {
    key: String,
    national_id: String,
    sex: i16,
    birth_year: i32,
}

/// A pathway: the fields of `POST /api/v1/pathways`, the patient by the sender's key or by id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathwayLine {
    key: String,
    #[serde(default)]
    patient_key: Option<String>,
    #[serde(default)]
    patient_id: Option<Uuid>,
    unit_id: i64,
    start_date: NaiveDate,
    treatment_level: i16,
    /// Optional: the residence on the start date (docs/residence.md).
    #[serde(default)]
    residence_code: Option<String>,
}

/// A form: its kind and fields (the body of `POST /api/v1/pathways/{id}/forms/{kind}`), the
/// pathway by the sender's key or by id, and whether it is to be completed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormLine {
    key: String,
    #[serde(default)]
    pathway_key: Option<String>,
    #[serde(default)]
    pathway_id: Option<Uuid>,
    kind: String,
    /// `draft` (the default) or `completed`.
    #[serde(default)]
    status: Option<String>,
    /// The version the sender last saw (like `If-Match`); must match when given.
    #[serde(default)]
    version: Option<i32>,
    #[serde(default)]
    data: Option<Value>,
}

/// Reads one NDJSON line: a JSON object whose `type` is `patient`, `pathway` or `form`.
fn read_line(text: &str) -> Result<Record, Error> {
    let mut value: Value = parse_json(text.as_bytes())?;
    let Some(object) = value.as_object_mut() else {
        return Err(Error::invalid("row", "type", "invalid type: expected a JSON object"));
    };
    let kind = object.remove("type");
    match kind.as_ref().and_then(Value::as_str) {
        Some("patient") => Ok(Record::Patient(parse_value(value, "")?)),
        Some("pathway") => Ok(Record::Pathway(parse_value(value, "")?)),
        Some("form") => Ok(Record::Form(parse_value(value, "")?)),
        Some(_) => Err(Error::invalid("type", "code_list", "must be patient, pathway or form")),
        None => Err(Error::invalid("type", "required", "is required (patient, pathway or form)")),
    }
}

/// The columns of a CSV batch of `kind`, in order. A form's come from the field catalogue
/// (`domain::forms::catalogue::form_fields`): every field by its JSON name (nested ones dotted),
/// a list of objects as one column of JSON; lists of codes are `;`-separated.
pub fn csv_columns(kind: CsvKind) -> Vec<String> {
    match kind {
        CsvKind::Pathway => {
            ["key", "national_id", "sex", "birth_year", "unit_id", "start_date", "treatment_level", "residence_code"]
                .map(String::from)
                .to_vec()
        }
        CsvKind::Form(k) => ["key", "pathway_key", "pathway_id", "status", "version"]
            .into_iter()
            .map(String::from)
            .chain(form_fields(k).into_iter().filter(|f| !f.name.contains("[]")).map(|f| f.name.to_owned()))
            .collect(),
    }
}

/// What became of a submitted batch.
#[derive(Debug, Clone)]
pub enum Submitted {
    /// Run to its end at once (a batch of at most `inline_max` rows).
    Done(ImportJob),
    /// Queued for a worker ([`run_next`]).
    Queued(ImportJobRow),
}

/// Stores a batch as a job of the caller, and runs it at once when it has at most `inline_max`
/// rows (`progress` is told the rows done), or queues it for a worker. The batch is checked for
/// shape only here (readable, not empty, a CSV header of known columns); every row is checked
/// when the job runs. The batch is stored sealed with the national-id key until the job ends, so
/// a job that a crash interrupts is resumed by a worker.
pub fn submit(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    new: NewImport,
    today: NaiveDate,
    inline_max: usize,
    progress: &mut dyn FnMut(i32, i32),
) -> Result<Submitted, Error> {
    let role = register_role(&caller.actor, Error::Forbidden)?;
    let lines = split(&new.format, &new.batch)?;
    if lines.is_empty() {
        return Err(Error::invalid("batch", "required", "the batch has no rows"));
    }
    if lines.len() > MAX_LINES {
        return Err(Error::invalid("batch", "length", format!("a batch may have at most {MAX_LINES} rows")));
    }
    let (format, csv_kind) = match new.format {
        Format::Ndjson => ("ndjson", None),
        Format::Csv(k) => ("csv", Some(k.as_str().to_owned())),
    };
    let now = lines.len() <= inline_max;
    let claim = Uuid::now_v7();
    let row = NewImportJobRow {
        status: if now { "running" } else { "queued" }.into(),
        claim: now.then_some(claim),
        heartbeat_at: now.then(chrono::Utc::now),
        id: Uuid::now_v7(),
        created_by: caller.actor.user_id,
        format: format.into(),
        csv_kind,
        dry_run: new.dry_run,
        all_or_nothing: new.all_or_nothing,
        total_lines: i32::try_from(lines.len()).map_err(Error::internal)?,
        batch: key.seal_batch(&new.batch)?,
        owner_nodes: caller.actor.nodes_for(Permission::Register).iter().map(|n| n.0).collect(),
    };
    drop(lines);
    let job = in_transaction(conn, |conn| {
        let job = imports::insert_job(conn, &row)?;
        let detail = json!({"format": format, "csv_kind": job.csv_kind, "rows": job.total_lines,
            "dry_run": job.dry_run, "all_or_nothing": job.all_or_nothing});
        let entry = caller.audit(Action::CreateImport, Outcome::Success).role(Some(role.as_str()));
        audit::record(conn, &entry.target("import", job.id).detail(detail))?;
        Ok::<_, Error>(job)
    })?;
    if !now {
        return Ok(Submitted::Queued(job));
    }
    let id = job.id;
    finish_run(conn, key, today, job, claim, progress)?;
    Ok(Submitted::Done(read(conn, caller, id, i64::MAX)?))
}

/// A job the caller may read: one they sent, or one of their organisation — every unit the
/// job's sender registered for when sending it is one the caller registers for (a registrar of
/// the same unit, or of the legal entity a record system's client sent for). `Hidden` otherwise.
fn readable_job(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> Result<ImportJobRow, Error> {
    let job = imports::find_job(conn, id).map_err(crate::access::hide_missing)?;
    if job.created_by == caller.actor.user_id {
        return Ok(job);
    }
    if caller.actor.register_role().is_none() || job.owner_nodes.is_empty() {
        return Err(Error::Hidden);
    }
    let theirs = persistence::pathways::units_under(conn, &job.owner_nodes, domain::clock::today())?;
    let mine = crate::access::register_units(conn, caller)?;
    if theirs.is_empty() || !theirs.iter().all(|u| mine.contains(u)) {
        return Err(Error::Hidden);
    }
    Ok(job)
}

/// A job of the caller or their organisation with its first `error_limit` rejected rows
/// (`Hidden` for anyone else's).
pub fn read(conn: &mut PgConnection, caller: &Caller, id: Uuid, error_limit: i64) -> Result<ImportJob, Error> {
    let job = readable_job(conn, caller, id)?;
    let errors = imports::errors(conn, id, error_limit, 0)?;
    Ok(ImportJob { row: job, errors })
}

/// The error report of a job of the caller or their organisation as CSV:
/// `line,field,code,message`, in line order.
pub fn error_report(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> Result<Vec<u8>, Error> {
    readable_job(conn, caller, id)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["line", "field", "code", "message"]).map_err(Error::internal)?;
    let mut offset = 0;
    loop {
        let page = imports::errors(conn, id, 10_000, offset)?;
        for e in &page {
            out.write_record([e.line.to_string().as_str(), &e.field, &e.code, &e.message]).map_err(Error::internal)?;
        }
        if page.len() < 10_000 {
            break;
        }
        offset += 10_000;
    }
    out.into_inner().map_err(|e| Error::internal(e.into_error()))
}

/// Deletes the jobs that ended more than `retention_days` days ago, with their error reports
/// (run by the import worker when it is idle). Returns how many.
pub fn delete_finished(conn: &mut PgConnection, retention_days: u32) -> Result<usize, Error> {
    let before = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
    Ok(imports::delete_finished(conn, before)?)
}

/// Claims one job (`only` that one when given) and runs it to its end. Returns the job as it
/// ended, or `None` when there was nothing to claim. `progress` is told the lines done so far.
pub fn run_next(
    conn: &mut PgConnection,
    key: &IdKey,
    today: NaiveDate,
    only: Option<Uuid>,
    progress: &mut dyn FnMut(i32, i32),
) -> Result<Option<ImportJobRow>, Error> {
    let claim = Uuid::now_v7();
    let Some(job) = in_transaction(conn, |conn| imports::claim_job(conn, claim, LEASE_SECONDS, only))? else {
        return Ok(None);
    };
    let id = job.id;
    finish_run(conn, key, today, job, claim, progress)?;
    Ok(Some(imports::find_job(conn, id)?))
}

/// Runs a claimed job; a job that fails on a bug or a broken batch ends `failed` (logged, never
/// shown), one that loses its database is left for the next worker.
fn finish_run(
    conn: &mut PgConnection,
    key: &IdKey,
    today: NaiveDate,
    job: ImportJobRow,
    claim: Uuid,
    progress: &mut dyn FnMut(i32, i32),
) -> Result<(), Error> {
    let id = job.id;
    match run(conn, key, today, job, claim, progress) {
        Ok(()) => Ok(()),
        Err(Error::Internal(e)) => {
            tracing::error!(job = %id, error = %e, "an import job failed");
            in_transaction(conn, |conn| imports::finish(conn, id, claim, "failed"))?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Why a run stops early: the claim was lost to another worker.
fn lost() -> Error {
    Error::Internal("the import job was claimed by another worker".into())
}

fn run(
    conn: &mut PgConnection,
    key: &IdKey,
    today: NaiveDate,
    job: ImportJobRow,
    claim: Uuid,
    progress: &mut dyn FnMut(i32, i32),
) -> Result<(), Error> {
    let batch =
        key.open_batch(job.batch.as_deref().ok_or_else(|| Error::inconsistent("a running job without a batch"))?)?;
    let format = match job.csv_kind.as_deref() {
        None => Format::Ndjson,
        Some(k) => Format::Csv(CsvKind::parse(k).ok_or_else(|| Error::inconsistent("an unknown csv kind"))?),
    };
    let lines = split(&format, &batch)?;
    let total = job.total_lines;
    // The job's owner as they are now: grants are read again, a disabled user's job stops.
    let caller = match actor_of(conn, job.created_by, None)? {
        Ok(actor) => Caller::new(actor, Some(format!("import:{}", job.id))),
        Err(_) => {
            let errors = vec![ImportErrorRow {
                job_id: job.id,
                line: 1,
                field: String::new(),
                code: "forbidden".into(),
                message: "the job's owner may no longer register".into(),
            }];
            return in_transaction(conn, |conn| {
                imports::add_errors(conn, &errors)?;
                imports::finish(conn, job.id, claim, "failed")?;
                Ok(())
            });
        }
    };
    let owner = job.created_by;
    let whole = job.dry_run || job.all_or_nothing;
    if whole {
        // One transaction that holds the job's row (a worker's claim skips it while it lives);
        // the rows run in a savepoint inside it, rolled back for a dry run or any rejected row,
        // and the counts and errors are written after it, in the same transaction.
        let mut counts = Counts::default();
        let mut errors = Vec::new();
        return in_transaction(conn, |conn| {
            imports::lock_job(conn, job.id)?;
            let rows = in_transaction(conn, |conn| {
                let mut keys = Keys::new(owner);
                for (n, chunk) in lines.chunks(CHUNK).enumerate() {
                    let logs = Deferred::open(conn);
                    let (c, e) = run_chunk(conn, &caller.fresh(), key, today, &mut keys, job.id, chunk, &format)?;
                    logs.flush(conn)?;
                    counts.add(c);
                    errors.extend(e);
                    progress(i32::try_from((n + 1) * CHUNK).unwrap_or(total).min(total), total);
                }
                keys.flush(conn)?;
                if job.dry_run || !errors.is_empty() {
                    return Err(Stop::RollBack);
                }
                Ok(())
            });
            let status = match rows {
                Ok(()) => "completed",
                Err(Stop::RollBack) if job.dry_run => "completed",
                Err(Stop::RollBack) => "rolled_back",
                Err(Stop::Fail(e)) => return Err(e),
            };
            imports::add_errors(conn, &errors)?;
            imports::set_counts(conn, job.id, total, counts)?;
            if !imports::finish(conn, job.id, claim, status)? {
                return Err(lost());
            }
            progress(total, total);
            Ok(())
        });
    }
    let start = usize::try_from(job.next_line).unwrap_or(0).min(lines.len());
    let mut done = start;
    for chunk in lines[start..].chunks(CHUNK) {
        let next = i32::try_from(done + chunk.len()).map_err(Error::internal)?;
        in_transaction(conn, |conn| {
            imports::lock_job(conn, job.id)?;
            let mut keys = Keys::new(owner);
            let logs = Deferred::open(conn);
            let (counts, errors) = run_chunk(conn, &caller.fresh(), key, today, &mut keys, job.id, chunk, &format)?;
            logs.flush(conn)?;
            keys.flush(conn)?;
            imports::add_errors(conn, &errors)?;
            if !imports::advance(conn, job.id, claim, next, counts)? {
                return Err(lost());
            }
            Ok(())
        })?;
        done += chunk.len();
        progress(next, total);
    }
    in_transaction(conn, |conn| {
        if !imports::finish(conn, job.id, claim, "completed")? {
            return Err(lost());
        }
        Ok(())
    })?;
    progress(total, total);
    Ok(())
}

/// How a run in one transaction ends early.
enum Stop {
    /// Roll every row back (a dry run, or a rejected row of an all-or-nothing job).
    RollBack,
    Fail(Error),
}

impl From<RepoError> for Stop {
    fn from(e: RepoError) -> Self {
        Stop::Fail(e.into())
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Fail(e)
    }
}

/// Runs the rows of one chunk in order, with the sender keys they name read first (one
/// statement per kind) and the caller's scope read once ([`Caller::fresh`] for each chunk).
/// Only an infrastructure failure is an `Err`.
#[expect(clippy::too_many_arguments, reason = "the chunk's whole context")]
fn run_chunk(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    today: NaiveDate,
    keys: &mut Keys,
    job: Uuid,
    chunk: &[(usize, String)],
    format: &Format,
) -> Result<(Counts, Vec<ImportErrorRow>), Error> {
    let rows: Vec<(usize, Result<Vec<Record>, Error>)> =
        chunk.iter().map(|(line, text)| (*line, read_row(format, text))).collect();
    keys.prefetch(conn, rows.iter().filter_map(|(_, r)| r.as_ref().ok()).flatten())?;
    let mut counts = Counts::default();
    let mut errors = Vec::new();
    for (line, records) in rows {
        let (c, e) = one_row(conn, caller, key, today, keys, job, line, records)?;
        counts.add(c);
        errors.extend(e);
    }
    Ok((counts, errors))
}

/// Runs one row; a rejected row's changes are rolled back to its savepoint and its errors
/// returned. Only an infrastructure failure is an `Err`.
#[expect(clippy::too_many_arguments, reason = "the row's whole context")]
fn one_row(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    today: NaiveDate,
    keys: &mut Keys,
    job: Uuid,
    line: usize,
    records: Result<Vec<Record>, Error>,
) -> Result<(Counts, Vec<ImportErrorRow>), Error> {
    let line_no = i32::try_from(line).map_err(Error::internal)?;
    let records = match records {
        Ok(r) => r,
        Err(e) => return rejected(job, line_no, e),
    };
    let mut counts = Counts::default();
    // A record is applied by use cases whose own transactions (savepoints here) undo a refused
    // change, keeping what they record on purpose (a refusal's audit row, as through the API);
    // a record of two steps (a form created or updated, then completed) undoes its first step
    // itself. A row of two records (a CSV pathway row: its patient and the pathway) is both or
    // neither: the second's refusal rolls the first back with the row's savepoint.
    let outcome = if records.len() == 1 {
        let mut done = Vec::new();
        for record in records {
            match apply(conn, caller, key, today, keys, record)? {
                Ok(d) => done.push(d),
                Err(e) => return finish_rejected(keys, job, line_no, e),
            }
        }
        Ok(done)
    } else {
        in_transaction(conn, |conn| {
            let mut done = Vec::new();
            for record in records {
                match apply(conn, caller, key, today, keys, record)? {
                    Ok(d) => done.push(d),
                    Err(e) if done.is_empty() => return Ok(Err(e)),
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, Error>(Ok(done))
        })
        .and_then(|o| o)
    };
    match outcome {
        Ok(done) => {
            keys.accept_row();
            // A CSV pathway row counts as its pathway.
            match done.last() {
                Some(Done::Created) => counts.created += 1,
                Some(Done::Updated) => counts.updated += 1,
                _ => counts.unchanged += 1,
            }
            Ok((counts, Vec::new()))
        }
        Err(e) => finish_rejected(keys, job, line_no, e),
    }
}

/// A rejected row: its staged keys are dropped and its errors returned (an infrastructure
/// failure is passed on).
fn finish_rejected(keys: &mut Keys, job: Uuid, line: i32, e: Error) -> Result<(Counts, Vec<ImportErrorRow>), Error> {
    match e {
        e @ (Error::Internal(_) | Error::Unavailable) => Err(e),
        e => {
            keys.reject_row();
            rejected(job, line, e)
        }
    }
}

/// The sender keys of one owner as a job's rows see them: the keys a chunk names are read in
/// one statement per kind before its rows run; a row's new keys are staged while it runs, kept
/// when it is accepted (dropped with its savepoint when it is rejected), and written in one
/// statement when the chunk ends ([`Keys::flush`], in the chunk's transaction).
struct Keys {
    owner: Uuid,
    known: std::collections::HashMap<(&'static str, String), Option<ImportKeyRow>>,
    staged: Vec<ImportKeyRow>,
    pending: BTreeMap<(String, String), ImportKeyRow>,
}

impl Keys {
    fn new(owner: Uuid) -> Self {
        Self { owner, known: Default::default(), staged: Vec::new(), pending: BTreeMap::new() }
    }

    /// Reads every key the records define or name that is not known yet.
    fn prefetch<'a>(
        &mut self,
        conn: &mut PgConnection,
        records: impl Iterator<Item = &'a Record>,
    ) -> Result<(), Error> {
        let mut wanted: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        let mut want = |kind: &'static str, k: &str| {
            if !self.known.contains_key(&(kind, k.to_owned())) {
                wanted.entry(kind).or_default().push(k.to_owned());
            }
        };
        for r in records {
            match r {
                Record::Patient(p) => want("patient", &p.key),
                Record::Pathway(p) => {
                    want("pathway", &p.key);
                    if let Some(k) = &p.patient_key {
                        want("patient", k);
                    }
                }
                Record::Form(f) => {
                    want("form", &f.key);
                    if let Some(k) = &f.pathway_key {
                        want("pathway", k);
                    }
                }
            }
        }
        for (kind, mut list) in wanted {
            list.sort();
            list.dedup();
            for k in &list {
                self.known.insert((kind, k.clone()), None);
            }
            for row in imports::find_keys(conn, self.owner, kind, &list)? {
                self.known.insert((kind, row.sender_key.clone()), Some(row));
            }
        }
        Ok(())
    }

    /// The key of `kind` as the running row sees it.
    fn find(&mut self, conn: &mut PgConnection, kind: &'static str, k: &str) -> Result<Option<ImportKeyRow>, Error> {
        if let Some(row) = self.staged.iter().rev().find(|r| r.kind == kind && r.sender_key == k) {
            return Ok(Some(row.clone()));
        }
        if let Some(known) = self.known.get(&(kind, k.to_owned())) {
            return Ok(known.clone());
        }
        let found = imports::find_key(conn, self.owner, kind, k)?;
        self.known.insert((kind, k.to_owned()), found.clone());
        Ok(found)
    }

    /// Stages a key of the running row.
    fn put(&mut self, kind: &'static str, k: &str, target: Uuid, content: Vec<u8>) {
        self.staged.push(ImportKeyRow {
            owner: self.owner,
            kind: kind.into(),
            sender_key: k.into(),
            target_id: target,
            content_hash: content,
        });
    }

    fn accept_row(&mut self) {
        for row in self.staged.drain(..) {
            let kind = match row.kind.as_str() {
                "patient" => "patient",
                "pathway" => "pathway",
                _ => "form",
            };
            self.known.insert((kind, row.sender_key.clone()), Some(row.clone()));
            self.pending.insert((row.kind.clone(), row.sender_key.clone()), row);
        }
    }

    fn reject_row(&mut self) {
        self.staged.clear();
    }

    /// Writes the accepted rows' keys.
    fn flush(&mut self, conn: &mut PgConnection) -> Result<(), Error> {
        let rows: Vec<ImportKeyRow> = std::mem::take(&mut self.pending).into_values().collect();
        for part in rows.chunks(5_000) {
            imports::put_keys(conn, part)?;
        }
        Ok(())
    }
}

fn rejected(job: Uuid, line: i32, e: Error) -> Result<(Counts, Vec<ImportErrorRow>), Error> {
    let row = |field: &str, code: &str, message: String| ImportErrorRow {
        job_id: job,
        line,
        field: field.into(),
        code: code.into(),
        message,
    };
    let errors = match e {
        Error::Invalid(fields) => fields.into_iter().map(|f| row(&f.field, &f.code, f.message)).collect(),
        Error::Forbidden => {
            vec![row("", "forbidden", "you may not register at this unit or change this pathway".into())]
        }
        Error::Refused { code, message } => vec![row("", code, message.into())],
        Error::Hidden | Error::NotFound => vec![row("", "not_found", "no such pathway, form or patient".into())],
        Error::Conflict(c) => vec![row("", c.code(), c.message())],
        Error::Unreadable { code, message } => vec![row("", code, message)],
        Error::UnsupportedFormat => vec![row("", "unsupported_format", "not a row of this batch's format".into())],
        Error::VersionRequired => vec![row("version", "required", "the form's version is required".into())],
        e @ (Error::Internal(_) | Error::Unavailable) => return Err(e),
    };
    Ok((Counts { rejected: 1, ..Counts::default() }, errors))
}

/// Splits a batch into its rows, numbered by line (1-based; a CSV's header is line 1). Blank
/// lines are left out. A CSV batch's header must name known columns.
fn split(format: &Format, batch: &[u8]) -> Result<Vec<(usize, String)>, Error> {
    let text = std::str::from_utf8(batch)
        .map_err(|_| Error::Unreadable { code: "not_utf8", message: "the batch is not UTF-8 text".into() })?;
    match format {
        Format::Ndjson => Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| (n + 1, l.to_owned()))
            .collect()),
        Format::Csv(kind) => {
            let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
            let Some((_, header)) = lines.next() else { return Ok(Vec::new()) };
            let known = csv_columns(*kind);
            let columns = csv_record(header)?;
            let mut errors = Vec::new();
            for (i, c) in columns.iter().enumerate() {
                if !known.contains(c) {
                    errors.push(FieldError::new(
                        format!("column {}", i + 1),
                        "unknown_field",
                        "not a column of this kind",
                    ));
                }
            }
            if !columns.iter().any(|c| c == "key") {
                errors.push(FieldError::new("key", "required", "the header must have a key column"));
            }
            if !errors.is_empty() {
                return Err(Error::Invalid(errors));
            }
            // Each row is stored with the header, so that it reads on its own.
            Ok(lines.map(|(n, l)| (n + 1, format!("{header}\n{l}"))).collect())
        }
    }
}

fn csv_record(line: &str) -> Result<Vec<String>, Error> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
    let record = reader
        .records()
        .next()
        .transpose()
        .map_err(|_| Error::Unreadable { code: "malformed_csv", message: "the row is not valid CSV".into() })?
        .unwrap_or_default();
    Ok(record.iter().map(|c| c.trim().to_owned()).collect())
}

/// One row as records: an NDJSON line is one; a CSV pathway row is its patient and its pathway.
fn read_row(format: &Format, text: &str) -> Result<Vec<Record>, Error> {
    match format {
        Format::Ndjson => Ok(vec![read_line(text)?]),
        Format::Csv(kind) => {
            let (header, row) = text.split_once('\n').unwrap_or((text, ""));
            let (header, row) = (csv_record(header)?, csv_record(row)?);
            if row.len() != header.len() {
                return Err(Error::invalid("row", "length", "the row does not have the header's number of columns"));
            }
            let cells: BTreeMap<&str, &str> = header
                .iter()
                .map(String::as_str)
                .zip(row.iter().map(String::as_str))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            csv_records(*kind, &cells)
        }
    }
}

fn integer(cells: &BTreeMap<&str, &str>, name: &str) -> Result<Option<i64>, FieldError> {
    cells
        .get(name)
        .map(|v| v.parse::<i64>().map_err(|_| FieldError::new(name, "type", "invalid type: expected an integer")))
        .transpose()
}

/// The columns of a pathway CSV batch that may be left out.
const OPTIONAL_PATHWAY_COLUMNS: [&str; 1] = ["residence_code"];

fn csv_records(kind: CsvKind, cells: &BTreeMap<&str, &str>) -> Result<Vec<Record>, Error> {
    let text = |name: &str| cells.get(name).map(|v| (*v).to_owned());
    let mut errors = Vec::new();
    let mut required = |name: &str| {
        if !cells.contains_key(name) {
            errors.push(FieldError::new(name, "required", "is required"));
        }
    };
    match kind {
        CsvKind::Pathway => {
            for name in csv_columns(kind).iter().filter(|c| !OPTIONAL_PATHWAY_COLUMNS.contains(&c.as_str())) {
                required(name);
            }
            let mut int = |name: &str| match integer(cells, name) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
            let (sex, birth_year, unit, level) =
                (int("sex"), int("birth_year"), int("unit_id"), int("treatment_level"));
            let start = match cells.get("start_date").map(|v| v.parse::<NaiveDate>()) {
                Some(Ok(d)) => Some(d),
                Some(Err(_)) => {
                    errors.push(FieldError::new("start_date", "type", "invalid type: expected a date YYYY-MM-DD"));
                    None
                }
                None => None,
            };
            let small = |v: Option<i64>| v.and_then(|v| i16::try_from(v).ok());
            let (
                Some(key),
                Some(national_id),
                Some(sex),
                Some(birth_year),
                Some(unit_id),
                Some(start_date),
                Some(level),
                true,
            ) = (
                text("key"),
                text("national_id"),
                small(sex),
                birth_year.and_then(|v| i32::try_from(v).ok()),
                unit,
                start,
                small(level),
                errors.is_empty(),
            )
            else {
                if errors.is_empty() {
                    errors.push(FieldError::new("row", "range", "a number is out of range"));
                }
                return Err(Error::Invalid(errors));
            };
            Ok(vec![
                Record::Patient(PatientLine { key: key.clone(), national_id, sex, birth_year }),
                Record::Pathway(PathwayLine {
                    key: key.clone(),
                    patient_key: Some(key),
                    patient_id: None,
                    unit_id,
                    start_date,
                    treatment_level: level,
                    residence_code: text("residence_code").filter(|c| !c.is_empty()),
                }),
            ])
        }
        CsvKind::Form(form) => {
            required("key");
            let mut data = Map::new();
            for field in form_fields(form).into_iter().filter(|f| !f.name.contains("[]")) {
                let Some(raw) = cells.get(field.name) else { continue };
                let value = match field.kind {
                    FieldKind::Code | FieldKind::Year | FieldKind::Integer(_) => match raw.parse::<i64>() {
                        Ok(v) => json!(v),
                        Err(_) => {
                            errors.push(FieldError::new(field.name, "type", "invalid type: expected an integer"));
                            continue;
                        }
                    },
                    FieldKind::CodeSet | FieldKind::Icd10List(_) if *raw == "[]" => json!([]),
                    FieldKind::CodeSet => {
                        let codes: Result<Vec<i64>, _> =
                            raw.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::parse::<i64>).collect();
                        match codes {
                            Ok(c) => json!(c),
                            Err(_) => {
                                errors.push(FieldError::new(
                                    field.name,
                                    "type",
                                    "invalid type: expected codes separated by ;",
                                ));
                                continue;
                            }
                        }
                    }
                    FieldKind::Icd10List(_) => {
                        json!(raw.split(';').map(str::trim).filter(|c| !c.is_empty()).collect::<Vec<_>>())
                    }
                    FieldKind::List => match serde_json::from_str::<Value>(raw) {
                        Ok(v) => v,
                        Err(_) => {
                            errors.push(FieldError::new(field.name, "type", "invalid type: expected a JSON list"));
                            continue;
                        }
                    },
                    FieldKind::Date | FieldKind::NationalId | FieldKind::Icd10(_) | FieldKind::AreaCode => json!(raw),
                };
                // Dotted names are nested objects.
                let mut at = &mut data;
                let mut parts = field.name.split('.').peekable();
                while let Some(part) = parts.next() {
                    if parts.peek().is_none() {
                        at.insert(part.to_owned(), value.clone());
                    } else {
                        let next = at.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
                        match next {
                            Value::Object(m) => at = m,
                            _ => break,
                        }
                    }
                }
            }
            let version = match integer(cells, "version") {
                Ok(v) => v.and_then(|v| i32::try_from(v).ok()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
            let pathway_id = match cells.get("pathway_id").map(|v| v.parse::<Uuid>()) {
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    errors.push(FieldError::new("pathway_id", "type", "invalid type: expected a UUID"));
                    None
                }
                None => None,
            };
            let Some(key) = text("key").filter(|_| errors.is_empty()) else { return Err(Error::Invalid(errors)) };
            Ok(vec![Record::Form(FormLine {
                key,
                pathway_key: text("pathway_key"),
                pathway_id,
                kind: form.as_str().to_owned(),
                status: text("status"),
                version,
                data: Some(Value::Object(data)),
            })])
        }
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.trim().is_empty() || key.chars().count() > KEY_MAX {
        return Err(Error::invalid("key", "length", format!("must have 1 to {KEY_MAX} characters")));
    }
    Ok(())
}

fn hash(parts: &Value) -> Vec<u8> {
    Sha256::digest(parts.to_string().as_bytes()).to_vec()
}

/// The rusreg id behind one of the owner's keys of `kind`, or a field error on `field`.
fn resolve(
    conn: &mut PgConnection,
    keys: &mut Keys,
    kind: &'static str,
    key: &str,
    field: &str,
) -> Result<Uuid, Error> {
    match keys.find(conn, kind, key)? {
        Some(k) => Ok(k.target_id),
        None => Err(Error::invalid(field, "not_found", format!("no {kind} with this key was imported by you"))),
    }
}

/// Applies one record through the use cases. `Ok(Err(e))`: the record was rejected (its
/// savepoint is rolled back by the caller's transaction), `Err`: infrastructure.
fn apply(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    today: NaiveDate,
    keys: &mut Keys,
    record: Record,
) -> Result<Result<Done, Error>, Error> {
    let result = match record {
        Record::Patient(PatientLine { key: k, national_id, sex, birth_year }) => {
            apply_patient(conn, caller, key, today, keys, &k, NewPatientInput { national_id, sex, birth_year })
        }
        Record::Pathway(PathwayLine {
            key: k,
            patient_key,
            patient_id,
            unit_id,
            start_date,
            treatment_level,
            residence_code,
        }) => apply_pathway(
            conn,
            caller,
            today,
            keys,
            &k,
            patient_key,
            patient_id,
            (unit_id, start_date, treatment_level, residence_code),
        ),
        Record::Form(FormLine { key: k, pathway_key, pathway_id, kind, status, version, data }) => {
            apply_form(conn, caller, today, keys, &k, pathway_key, pathway_id, &kind, status, version, data)
        }
    };
    match result {
        Ok(d) => Ok(Ok(d)),
        Err(e @ (Error::Internal(_) | Error::Unavailable)) => Err(e),
        Err(e) => Ok(Err(e)),
    }
}

fn apply_patient(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    today: NaiveDate,
    keys: &mut Keys,
    k: &str,
    input: NewPatientInput,
) -> Result<Done, Error> {
    check_key(k)?;
    // The content's hash is keyed: the object holds a national id.
    let content = NewPatient::parse(&input, &crate::patients::ID_RULES, today).ok().map(|p| {
        let mut bytes = key.pseudonym(&p.national_id).to_vec();
        bytes.extend_from_slice(&p.sex.code().to_be_bytes());
        bytes.extend_from_slice(&p.birth_year.get().to_be_bytes());
        key.import_tag(&bytes).to_vec()
    });
    let known = keys.find(conn, "patient", k)?;
    if let (Some(known), Some(content)) = (&known, &content) {
        if &known.content_hash == content {
            return Ok(Done::Unchanged);
        }
    }
    // A refused registration keeps its own audit row (as through the API); a person stored with
    // other facts is refused with nothing written (`register_exact`).
    let registered = crate::patients::register_exact(conn, caller, key, input, today)?;
    let content = content.ok_or_else(|| Error::inconsistent("a registered patient whose input did not parse"))?;
    keys.put("patient", k, registered.id, content);
    Ok(if registered.created { Done::Created } else { Done::Unchanged })
}

#[expect(clippy::too_many_arguments, reason = "the fields of a pathway line")]
fn apply_pathway(
    conn: &mut PgConnection,
    caller: &Caller,
    today: NaiveDate,
    keys: &mut Keys,
    k: &str,
    patient_key: Option<String>,
    patient_id: Option<Uuid>,
    (unit_id, start_date, treatment_level, residence_code): (i64, NaiveDate, i16, Option<String>),
) -> Result<Done, Error> {
    check_key(k)?;
    let patient = match (patient_key, patient_id) {
        (Some(pk), None) => resolve(conn, keys, "patient", &pk, "patient_key")?,
        (None, Some(id)) => id,
        _ => return Err(Error::invalid("patient_key", "required", "give either patient_key or patient_id")),
    };
    // A line without a residence hashes as before the field existed.
    let content = match &residence_code {
        None => hash(&json!([patient, unit_id, start_date, treatment_level])),
        Some(r) => hash(&json!([patient, unit_id, start_date, treatment_level, r])),
    };
    if let Some(known) = keys.find(conn, "pathway", k)? {
        if known.content_hash == content {
            return Ok(Done::Unchanged);
        }
        return Err(Conflict::Rule {
            code: "pathway_changed",
            message: "a pathway's patient, unit, start date, treatment level and residence are set when it is \
                      opened; they cannot be changed by import"
                .into(),
        }
        .into());
    }
    let input = OpenPathwayInput {
        patient_id: PatientId(patient),
        unit_id: NodeId(unit_id),
        start_date,
        treatment_level,
        residence_code,
    };
    let opened = crate::pathways::open(conn, caller, &input, today)?;
    keys.put("pathway", k, opened.row.id, content);
    Ok(Done::Created)
}

#[expect(clippy::too_many_arguments, reason = "the fields of a form line")]
fn apply_form(
    conn: &mut PgConnection,
    caller: &Caller,
    today: NaiveDate,
    keys: &mut Keys,
    k: &str,
    pathway_key: Option<String>,
    pathway_id: Option<Uuid>,
    kind: &str,
    status: Option<String>,
    version: Option<i32>,
    data: Option<Value>,
) -> Result<Done, Error> {
    check_key(k)?;
    let pathway = match (pathway_key, pathway_id) {
        (Some(pk), None) => resolve(conn, keys, "pathway", &pk, "pathway_key")?,
        (None, Some(id)) => id,
        _ => return Err(Error::invalid("pathway_key", "required", "give either pathway_key or pathway_id")),
    };
    let kind = FormKind::parse(kind)
        .ok_or_else(|| Error::invalid("kind", "code_list", "must be baseline, measurement, discharge or follow-up"))?;
    let complete = match status.as_deref() {
        None | Some("draft") => false,
        Some("completed") => true,
        Some(_) => return Err(Error::invalid("status", "code_list", "must be draft or completed")),
    };
    let data = data.unwrap_or_else(|| Value::Object(Map::new()));
    let content = hash(&json!([pathway, kind.as_str(), complete, data]));
    let fields = ImportedForm(data);
    match keys.find(conn, "form", k)? {
        Some(known) if known.content_hash == content => Ok(Done::Unchanged),
        Some(known) => {
            let id = FormId(known.target_id);
            let form = persistence::forms::find(conn, id).map_err(crate::access::hide_missing)?;
            if form.pathway_id != pathway {
                return Err(Error::invalid("pathway_key", "immutable", "a form cannot move to another pathway"));
            }
            if version.is_some_and(|v| v != form.version) {
                return Err(Conflict::StaleVersion.into());
            }
            if form.is_completed() {
                return Err(Conflict::FormCompleted.into());
            }
            // Updated and completed, or neither.
            if complete {
                crate::forms::update_completed(conn, caller, id, Some(form.version), fields, today)?;
            } else {
                crate::forms::update(conn, caller, id, Some(form.version), fields)?;
            }
            keys.put("form", k, id.0, content);
            Ok(Done::Updated)
        }
        None => {
            let view = if complete {
                // Created and completed, or neither.
                crate::forms::create_completed(conn, caller, PathwayId(pathway), kind, fields, today)?
            } else {
                crate::forms::create(conn, caller, PathwayId(pathway), kind, fields)?
            };
            keys.put("form", k, view.row.id, content);
            Ok(Done::Created)
        }
    }
}

/// A form's fields as an import line carries them, read once the use case knows the kind (after
/// its access checks), with field paths under `data`.
struct ImportedForm(Value);

impl crate::forms::FormInput for ImportedForm {
    fn read(self, kind: FormKind) -> Result<FormData, Error> {
        let data = match kind {
            FormKind::Baseline => FormData::Baseline(parse_value(self.0, "data")?),
            FormKind::Measurement => FormData::Measurement(parse_value(self.0, "data")?),
            FormKind::Discharge => FormData::Discharge(parse_value(self.0, "data")?),
            FormKind::FollowUp => FormData::FollowUp(parse_value(self.0, "data")?),
        };
        crate::forms::FormInput::read(data, kind).map_err(|e| match e {
            Error::Invalid(fields) => Error::Invalid(
                fields.into_iter().map(|f| FieldError::new(format!("data.{}", f.field), f.code, f.message)).collect(),
            ),
            e => e,
        })
    }
}

/// Lines of `text`, numbered from 1, for a caller that checks a batch before sending it.
pub fn count_rows(format: &Format, batch: &[u8]) -> Result<usize, Error> {
    Ok(split(format, batch)?.len())
}

/// The CSV columns of every kind as Markdown, one line each (docs/api.md shows this text; a
/// test checks that it does).
pub fn csv_columns_markdown() -> String {
    let kinds = [CsvKind::Pathway].into_iter().chain(FormKind::ALL.map(CsvKind::Form));
    kinds
        .map(|k| {
            let columns: Vec<String> = csv_columns(k).iter().map(|c| format!("`{c}`")).collect();
            format!("- `kind={}`: {}\n", k.as_str(), columns.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_api_md_lists_the_csv_columns_of_the_catalogue() {
        let docs = include_str!("../../../docs/api.md");
        let listed = csv_columns_markdown();
        assert!(docs.contains(&listed), "docs/api.md must contain:\n{listed}");
    }

    #[test]
    #[ignore = "prints the CSV columns for docs/api.md"]
    fn print_csv_columns() {
        print!("{}", csv_columns_markdown());
    }

    #[test]
    fn form_columns_are_the_catalogues_fields() {
        let columns = csv_columns(CsvKind::Form(FormKind::Baseline));
        assert!(columns.contains(&"substance_use.main_substance".to_owned()));
        assert!(columns.contains(&"substance_use.substances".to_owned()));
        assert!(!columns.iter().any(|c| c.contains("[]")));
    }
}
