//! The audit-log writer and reader. The table is append-only: a trigger refuses UPDATE, DELETE
//! and TRUNCATE. Entries are written in the same transaction as the action they record.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::audit::{Action, Outcome};
use uuid::Uuid;

use crate::schema::audit_log;
use crate::RepoError;

/// One entry to write. Never put a national id, a name or a password in any field.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub unit_id: Option<i64>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub patient_pseudonym: Option<Vec<u8>>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
    /// Every patient a list read showed (one row per request): internal ids and pseudonyms.
    pub patient_ids: Option<Vec<Option<Uuid>>>,
    pub patient_pseudonyms: Option<Vec<Option<Vec<u8>>>>,
}

impl AuditEntry {
    /// An entry with the required fields; the rest can be set with the builder methods.
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            user_id: None,
            username: None,
            role: None,
            unit_id: None,
            action: action.as_str().to_owned(),
            target_kind: None,
            target_id: None,
            patient_id: None,
            patient_pseudonym: None,
            outcome: outcome.as_str().to_owned(),
            request_id: None,
            detail: serde_json::Value::Object(Default::default()),
            patient_ids: None,
            patient_pseudonyms: None,
        }
    }

    /// People a list read showed by pseudonym only (reservations: no patient row is left).
    pub fn pseudonyms(mut self, listed: Vec<Vec<u8>>) -> Self {
        self.patient_pseudonyms = Some(listed.into_iter().map(Some).collect());
        self
    }

    /// The patients a list read showed, as `(id, pseudonym)`, each once (in the order given).
    pub fn patients(mut self, listed: &[(Uuid, Vec<u8>)]) -> Self {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&(Uuid, Vec<u8>)> = listed.iter().filter(|(id, _)| seen.insert(*id)).collect();
        self.patient_ids = Some(unique.iter().map(|(id, _)| Some(*id)).collect());
        self.patient_pseudonyms = Some(unique.iter().map(|(_, p)| Some(p.clone())).collect());
        self
    }

    pub fn by(mut self, user_id: Uuid, username: &str) -> Self {
        self.user_id = Some(user_id);
        self.username = Some(username.to_owned());
        self
    }

    pub fn role(mut self, role: Option<&str>) -> Self {
        self.role = role.map(str::to_owned);
        self
    }

    pub fn unit(mut self, unit: Option<i64>) -> Self {
        self.unit_id = unit;
        self
    }

    pub fn target(mut self, kind: &str, id: impl ToString) -> Self {
        self.target_kind = Some(kind.to_owned());
        self.target_id = Some(id.to_string());
        self
    }

    pub fn patient(mut self, id: Option<Uuid>, pseudonym: Option<Vec<u8>>) -> Self {
        self.patient_id = id;
        self.patient_pseudonym = pseudonym;
        self
    }

    pub fn request(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub unit_id: Option<i64>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
    /// The patients of a list read.
    pub patient_ids: Option<Vec<Option<Uuid>>>,
}

/// Writes one entry (kept for one multi-row insert while a [`crate::deferred::Deferred`]
/// collection is open on `conn`).
pub fn record(conn: &mut PgConnection, entry: &AuditEntry) -> Result<(), RepoError> {
    if crate::deferred::audit(conn, entry) {
        return Ok(());
    }
    diesel::insert_into(audit_log::table).values(entry).execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<Uuid>,
    pub patient: Option<Uuid>,
    pub pseudonym: Option<Vec<u8>>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Entries whose `detail` contains this JSON object (`@>`).
    pub detail: Option<serde_json::Value>,
    pub limit: i64,
    pub offset: i64,
}

/// Lists entries newest first, with the total count for the filter.
pub fn list(conn: &mut PgConnection, f: &AuditFilter) -> Result<(Vec<AuditRow>, i64), RepoError> {
    let build = || {
        let mut q = audit_log::table.into_boxed();
        if let Some(u) = f.user {
            q = q.filter(audit_log::user_id.eq(u));
        }
        // A patient is found on the rows about them and on the list reads that showed them.
        if let Some(p) = f.patient {
            q = q.filter(audit_log::patient_id.eq(p).or(audit_log::patient_ids.contains(vec![Some(p)])));
        }
        if let Some(p) = &f.pseudonym {
            q = q.filter(
                audit_log::patient_pseudonym
                    .eq(p.clone())
                    .or(audit_log::patient_pseudonyms.contains(vec![Some(p.clone())])),
            );
        }
        if let Some(a) = &f.action {
            q = q.filter(audit_log::action.eq(a.clone()));
        }
        if let Some(from) = f.from {
            q = q.filter(audit_log::at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(audit_log::at.lt(to));
        }
        if let Some(d) = &f.detail {
            q = q.filter(audit_log::detail.contains(d.clone()));
        }
        q
    };
    let total = build().count().get_result(conn)?;
    let rows = build()
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(f.limit)
        .offset(f.offset)
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}
