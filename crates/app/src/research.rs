//! Research projects and their pseudonymised extracts (register staff; docs/research.md): record
//! a project, list and read them (with deliveries, the delivery deadline and the notices of
//! reservations made after a delivery, and mark one told), assess an extract's re-identification risk, and
//! deliver one: the approved variables of the approved period, pseudonymised with the project's
//! own key, dates shifted or coarsened, quasi-identifiers generalised until every class has k
//! patients, as an age-encrypted tar. The delivery, its patients and its audit row (which names
//! every patient, so it shows in their access log) are written in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::national_id::IdKey;
use domain::research::{self as rules, DateHandling, ExtractSettings, ProjectInput, ProjectKey, RiskReport, Variable};
use domain::FieldError;
use persistence::research::{
    self as repo, DeliveryRow, NewDeliveryPatientRow, NewDeliveryRow, NewProjectRow, NoticeRow, ProjectRow,
};
use persistence::{audit, in_transaction, PgConnection, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::paging::{PageRequest, Paged};
use crate::{Caller, Conflict, Error};

/// The most recipient keys a project may hold.
pub const MAX_RECIPIENT_KEYS: usize = 10;

/// A new project: the checked fields of [`ProjectInput`] and the recipient's age keys.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub input: ProjectInput,
    pub recipient_keys: Vec<String>,
}

/// A project with what the register shows about it.
#[derive(Debug, Clone)]
pub struct ProjectView {
    pub row: ProjectRow,
    /// 30 Norwegian working days after approval.
    pub delivery_deadline: NaiveDate,
    pub expired: bool,
    /// Deliveries, oldest first (only when one project is read).
    pub deliveries: Option<Vec<DeliveryRow>>,
    /// Reservations after a delivery that the recipient must be told of.
    pub notices: Option<Vec<NoticeRow>>,
}

impl ProjectView {
    fn new(row: ProjectRow, today: NaiveDate) -> Self {
        let delivery_deadline = rules::delivery_deadline(row.approved_on);
        let expired = today > row.expires_on;
        Self { row, delivery_deadline, expired, deliveries: None, notices: None }
    }
}

fn check_keys(keys: &[String], errors: &mut Vec<FieldError>) {
    if keys.is_empty() || keys.len() > MAX_RECIPIENT_KEYS {
        errors.push(FieldError::new(
            "recipient.public_keys",
            "count",
            format!("from 1 to {MAX_RECIPIENT_KEYS} age public keys"),
        ));
    }
    for (i, k) in keys.iter().enumerate() {
        if let Err(why) = reporting::research::parse_recipient(k) {
            errors.push(FieldError::new(
                format!("recipient.public_keys.{i}"),
                "invalid_key",
                format!("not an age x25519 public key (age1…): {why}"),
            ));
        }
    }
}

/// Records a project. Every field error at once; nothing is stored on any.
pub fn create(
    conn: &mut PgConnection,
    caller: &Caller,
    new: NewProject,
    today: NaiveDate,
) -> Result<ProjectView, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let mut errors = Vec::new();
    let spec = new.input.check(today).map_err(|mut e| errors.append(&mut e)).ok();
    check_keys(&new.recipient_keys, &mut errors);
    let Some(spec) = spec.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(errors)) };
    let i = &new.input;
    let (dates, shift_days) = match spec.dates {
        DateHandling::Shift { max_days } => ("shift", Some(max_days as i16)),
        DateHandling::Month => ("month", None),
    };
    let row = NewProjectRow {
        id: Uuid::now_v7(),
        title: i.title.trim().to_owned(),
        approval_ref: i.approval_ref.trim().to_owned(),
        legal_basis: i.legal_basis.trim().to_owned(),
        recipient_org: i.recipient_org.trim().to_owned(),
        recipient_contact: i.recipient_contact.trim().to_owned(),
        variables: spec.variables.iter().map(|v| v.as_str().to_owned()).collect(),
        period_from: i.period_from,
        period_to: i.period_to,
        approved_on: i.approved_on,
        expires_on: i.expires_on,
        recipient_keys: new.recipient_keys.iter().map(|k| k.trim().to_owned()).collect(),
        k: spec.k,
        dates: dates.into(),
        shift_days,
        age_groups: i.age_groups,
        max_suppressed_percent: spec.max_suppressed_percent,
        created_by: caller.actor.user_id,
    };
    in_transaction(conn, |conn| {
        let row = repo::insert_project(conn, &row)?;
        let entry = caller
            .audit(Action::CreateResearchProject, Outcome::Success)
            .role(Some("register_staff"))
            .target("research_project", row.id)
            .detail(json!({"approval_ref": row.approval_ref, "variables": row.variables}));
        audit::record(conn, &entry)?;
        let mut view = ProjectView::new(row, today);
        view.deliveries = Some(Vec::new());
        view.notices = Some(Vec::new());
        Ok(view)
    })
}

/// Projects, newest first.
pub fn list(
    conn: &mut PgConnection,
    caller: &Caller,
    page: PageRequest,
    today: NaiveDate,
) -> Result<Paged<ProjectView>, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let paging = page.paging()?;
    let (rows, total) = repo::list_projects(conn, paging.limit, paging.offset)?;
    audit::record(conn, &caller.audit(Action::ListResearchProjects, Outcome::Success).role(Some("register_staff")))?;
    Ok(Paged::new(rows.into_iter().map(|r| ProjectView::new(r, today)).collect(), paging, total))
}

fn load(conn: &mut PgConnection, id: Uuid) -> Result<ProjectRow, Error> {
    repo::find_project(conn, id).map_err(|e| match e {
        RepoError::NotFound => Error::NotFound,
        e => e.into(),
    })
}

/// One project with its deliveries and reservation notices.
pub fn read(conn: &mut PgConnection, caller: &Caller, id: Uuid, today: NaiveDate) -> Result<ProjectView, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let row = load(conn, id)?;
    let deliveries = repo::deliveries_of(conn, id)?;
    let notices = repo::notices_of(conn, id)?;
    let entry = caller
        .audit(Action::ReadResearchProject, Outcome::Success)
        .role(Some("register_staff"))
        .target("research_project", id);
    audit::record(conn, &entry)?;
    let mut view = ProjectView::new(row, today);
    view.deliveries = Some(deliveries);
    view.notices = Some(notices);
    Ok(view)
}

/// A delivered extract: the encrypted container, its record and the risk report.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub delivery: DeliveryRow,
    pub encrypted: Vec<u8>,
    pub risk: RiskReport,
}

/// What an extract request gives back.
#[derive(Debug, Clone)]
pub enum ExtractOutcome {
    /// `dry_run`: the risk report of what would be delivered, and the row count.
    Assessed {
        risk: RiskReport,
        rows: usize,
        patients: usize,
    },
    Delivered(Box<Delivered>),
}

/// The project's settings as the extract needs them.
fn settings_of(row: &ProjectRow) -> Result<ExtractSettings, Error> {
    let variables = row
        .variables
        .iter()
        .map(|v| Variable::parse(v).ok_or_else(|| Error::inconsistent("a project with an unknown variable")))
        .collect::<Result<Vec<_>, _>>()?;
    let dates = match (row.dates.as_str(), row.shift_days) {
        ("shift", Some(d)) => DateHandling::Shift { max_days: d.max(1) as u16 },
        _ => DateHandling::Month,
    };
    Ok(ExtractSettings {
        variables,
        dates,
        age_groups: row.age_groups,
        k: row.k.max(1) as usize,
        max_suppressed_percent: row.max_suppressed_percent.max(0) as usize,
    })
}

/// Builds the project's extract and, unless `dry_run`, delivers it: a 409 `project_expired`
/// after the project's expiry; 404 for an unknown project.
pub fn extract(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    id: Uuid,
    dry_run: bool,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<ExtractOutcome, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    in_transaction(conn, |conn| {
        let project = load(conn, id)?;
        if today > project.expires_on {
            return Err(Conflict::Rule {
                code: "project_expired",
                message: format!("the project expired on {}; nothing is delivered after that", project.expires_on),
            }
            .into());
        }
        let settings = settings_of(&project)?;
        let project_key = ProjectKey::derive(key, project.id);
        let source = repo::source_rows(conn, project.period_from, project.period_to)?;
        let mut persons: HashMap<Uuid, u64> = HashMap::new();
        let rows: Vec<rules::SourceRow> = source
            .iter()
            .map(|s| {
                let next = persons.len() as u64;
                let person = *persons.entry(s.patient_id).or_insert(next);
                rules::SourceRow {
                    registry_pseudonym: s.pseudonym.clone(),
                    person,
                    sex: s.sex,
                    birth_year: s.birth_year,
                    start_date: s.start_date,
                    discharge_date: s.discharge_date,
                    treatment_level: s.treatment_level,
                    treatment_status: s.status,
                    discharge_ending: s.discharge_ending,
                    baseline_date: s.baseline_date,
                    main_substance: s.main_substance,
                    housing: s.housing,
                    trust_path: s.trust_name.iter().chain(s.region_name.iter()).cloned().collect(),
                    // Each level only under the one before it: a residence without a catchment
                    // is generalised straight to empty.
                    residence_path: s
                        .residence_code
                        .iter()
                        .chain(s.residence_trust.iter())
                        .chain(s.residence_region.iter().filter(|_| s.residence_trust.is_some()))
                        .cloned()
                        .collect(),
                }
            })
            .collect();
        let (table, delivered, risk) = rules::build_extract(&rows, &settings, &project_key);
        // The patients whose data is delivered, each once: (id, registry pseudonym, project pseudonym).
        let mut patients: Vec<(Uuid, Vec<u8>, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for i in &delivered {
            if seen.insert(source[*i].patient_id) {
                patients.push((
                    source[*i].patient_id,
                    source[*i].pseudonym.clone(),
                    project_key.pseudonym(&source[*i].pseudonym),
                ));
            }
        }
        let base = caller.audit(Action::AssessResearchExtract, Outcome::Success).role(Some("register_staff"));
        if dry_run {
            let entry = base.target("research_project", project.id).detail(json!({
                "rows": table.rows.len(), "patients": patients.len(), "risk": risk,
            }));
            audit::record(conn, &entry)?;
            return Ok(ExtractOutcome::Assessed { risk, rows: table.rows.len(), patients: patients.len() });
        }
        let delivery_id = Uuid::now_v7();
        let suppressed = rows.len() - table.rows.len();
        let manifest = json!({
            "register": "rusreg",
            "project": {
                "id": project.id, "title": project.title, "approval_ref": project.approval_ref,
                "recipient": project.recipient_org,
            },
            "delivery_id": delivery_id,
            "created_at": now,
            "variables": project.variables,
            "period": {"from": project.period_from, "to": project.period_to},
            "rows": table.rows.len(),
            "patients": patients.len(),
            "dates": match settings.dates {
                DateHandling::Shift { max_days } => json!({"handling": "shift", "max_days": max_days}),
                DateHandling::Month => json!({"handling": "month"}),
            },
            "age_groups": project.age_groups,
            "risk": risk,
        });
        let package =
            reporting::research::package(&table, manifest, &project.recipient_keys, now.timestamp().max(0) as u64)
                .map_err(Error::internal)?;
        let new = NewDeliveryRow {
            id: delivery_id,
            project_id: project.id,
            delivered_by: caller.actor.user_id,
            variables: project.variables.clone(),
            period_from: project.period_from,
            period_to: project.period_to,
            row_count: table.rows.len() as i32,
            patient_count: patients.len() as i32,
            suppressed_rows: suppressed as i32,
            recipients: project.recipient_keys.clone(),
            files: serde_json::to_value(&package.files).map_err(Error::internal)?,
            container_sha256: package.container_sha256.clone(),
            risk: serde_json::to_value(&risk).map_err(Error::internal)?,
        };
        let links: Vec<NewDeliveryPatientRow> = patients
            .iter()
            .map(|(p, _, pseudonym)| NewDeliveryPatientRow {
                delivery_id,
                patient_id: *p,
                project_pseudonym: pseudonym.clone(),
            })
            .collect();
        let delivery = repo::insert_delivery(conn, &new, &links)?;
        let listed: Vec<(Uuid, Vec<u8>)> = patients.iter().map(|(p, s, _)| (*p, s.clone())).collect();
        let entry = caller
            .audit(Action::DeliverResearchExtract, Outcome::Success)
            .role(Some("register_staff"))
            .target("research_project", project.id)
            .patients(&listed)
            .detail(json!({
                "delivery_id": delivery_id,
                "project_title": project.title,
                "approval_ref": project.approval_ref,
                "recipient": project.recipient_org,
                "variables": project.variables,
                "period": {"from": project.period_from, "to": project.period_to},
                "rows": delivery.row_count,
                "patients": delivery.patient_count,
                "files": package.files,
                "container_sha256": package.container_sha256,
            }));
        audit::record(conn, &entry)?;
        Ok(ExtractOutcome::Delivered(Box::new(Delivered { delivery, encrypted: package.encrypted, risk })))
    })
}

/// Records that the recipient was told of a reservation notice (idempotent: the first time is
/// kept). 404 when the project has no such notice.
pub fn mark_notice_told(
    conn: &mut PgConnection,
    caller: &Caller,
    project: Uuid,
    notice: i64,
) -> Result<NoticeRow, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    in_transaction(conn, |conn| {
        let row = repo::mark_notice_told(conn, project, notice, caller.actor.user_id).map_err(|e| match e {
            RepoError::NotFound => Error::NotFound,
            e => e.into(),
        })?;
        let entry = caller
            .audit(Action::RecordResearchNoticeTold, Outcome::Success)
            .role(Some("register_staff"))
            .target("research_project", project)
            .detail(json!({"notice_id": row.id, "project_pseudonym": row.project_pseudonym}));
        audit::record(conn, &entry)?;
        Ok(row)
    })
}

/// Records a notice on every project that received the patient's data (called by the
/// reservation, in its transaction, before the patient's rows are deleted).
pub fn record_reservation_notices(
    conn: &mut PgConnection,
    patient: Uuid,
    reservation: Uuid,
) -> Result<Vec<Uuid>, Error> {
    Ok(repo::record_notices(conn, patient, reservation)?)
}
