//! Research projects, their deliveries, which patients went into each delivery (under the
//! project's pseudonym), and the notices of reservations recorded after a delivery. Projects,
//! deliveries and notices are append-only for the server; the patient links go with the patient.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Date, Int2, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::schema::{research_deliveries, research_delivery_patients, research_projects, research_reservation_notices};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = research_projects, check_for_backend(diesel::pg::Pg))]
pub struct ProjectRow {
    pub id: Uuid,
    pub title: String,
    pub approval_ref: String,
    pub legal_basis: String,
    pub recipient_org: String,
    pub recipient_contact: String,
    pub variables: Vec<String>,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub approved_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub recipient_keys: Vec<String>,
    pub k: i16,
    pub dates: String,
    pub shift_days: Option<i16>,
    pub age_groups: bool,
    pub max_suppressed_percent: i16,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = research_projects)]
pub struct NewProjectRow {
    pub id: Uuid,
    pub title: String,
    pub approval_ref: String,
    pub legal_basis: String,
    pub recipient_org: String,
    pub recipient_contact: String,
    pub variables: Vec<String>,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub approved_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub recipient_keys: Vec<String>,
    pub k: i16,
    pub dates: String,
    pub shift_days: Option<i16>,
    pub age_groups: bool,
    pub max_suppressed_percent: i16,
    pub created_by: Uuid,
}

pub fn insert_project(conn: &mut PgConnection, new: &NewProjectRow) -> Result<ProjectRow, RepoError> {
    Ok(diesel::insert_into(research_projects::table)
        .values(new)
        .returning(ProjectRow::as_returning())
        .get_result(conn)?)
}

pub fn find_project(conn: &mut PgConnection, id: Uuid) -> Result<ProjectRow, RepoError> {
    Ok(research_projects::table.find(id).select(ProjectRow::as_select()).first(conn)?)
}

/// Projects, newest first, with the total.
pub fn list_projects(conn: &mut PgConnection, limit: i64, offset: i64) -> Result<(Vec<ProjectRow>, i64), RepoError> {
    let total = research_projects::table.count().get_result(conn)?;
    let rows = research_projects::table
        .order((research_projects::created_at.desc(), research_projects::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(ProjectRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = research_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct DeliveryRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub delivered_by: Uuid,
    pub delivered_at: DateTime<Utc>,
    pub variables: Vec<String>,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub row_count: i32,
    pub patient_count: i32,
    pub suppressed_rows: i32,
    pub recipients: Vec<String>,
    pub files: serde_json::Value,
    pub container_sha256: String,
    pub risk: serde_json::Value,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = research_deliveries)]
pub struct NewDeliveryRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub delivered_by: Uuid,
    pub variables: Vec<String>,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub row_count: i32,
    pub patient_count: i32,
    pub suppressed_rows: i32,
    pub recipients: Vec<String>,
    pub files: serde_json::Value,
    pub container_sha256: String,
    pub risk: serde_json::Value,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = research_delivery_patients)]
pub struct NewDeliveryPatientRow {
    pub delivery_id: Uuid,
    pub patient_id: Uuid,
    pub project_pseudonym: String,
}

/// Writes a delivery and the link of each patient in it.
pub fn insert_delivery(
    conn: &mut PgConnection,
    new: &NewDeliveryRow,
    patients: &[NewDeliveryPatientRow],
) -> Result<DeliveryRow, RepoError> {
    let row = diesel::insert_into(research_deliveries::table)
        .values(new)
        .returning(DeliveryRow::as_returning())
        .get_result(conn)?;
    for chunk in patients.chunks(5000) {
        diesel::insert_into(research_delivery_patients::table).values(chunk).execute(conn)?;
    }
    Ok(row)
}

/// A project's deliveries, oldest first.
pub fn deliveries_of(conn: &mut PgConnection, project: Uuid) -> Result<Vec<DeliveryRow>, RepoError> {
    Ok(research_deliveries::table
        .filter(research_deliveries::project_id.eq(project))
        .order((research_deliveries::delivered_at.asc(), research_deliveries::id.asc()))
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = research_reservation_notices, check_for_backend(diesel::pg::Pg))]
pub struct NoticeRow {
    pub id: i64,
    pub project_id: Uuid,
    pub reservation_id: Uuid,
    pub project_pseudonym: String,
    pub last_delivery_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub told_at: Option<DateTime<Utc>>,
    pub told_by: Option<Uuid>,
}

/// Marks a project's notice told (once: a second call keeps the first time). `NotFound` when the
/// project has no such notice.
pub fn mark_notice_told(conn: &mut PgConnection, project: Uuid, id: i64, by: Uuid) -> Result<NoticeRow, RepoError> {
    let of_project = research_reservation_notices::table
        .filter(research_reservation_notices::project_id.eq(project))
        .filter(research_reservation_notices::id.eq(id));
    let updated: Option<NoticeRow> = diesel::update(of_project.filter(research_reservation_notices::told_at.is_null()))
        .set((research_reservation_notices::told_at.eq(diesel::dsl::now), research_reservation_notices::told_by.eq(by)))
        .returning(NoticeRow::as_returning())
        .get_result(conn)
        .optional()?;
    match updated {
        Some(r) => Ok(r),
        None => Ok(of_project.select(NoticeRow::as_select()).first(conn)?),
    }
}

/// A project's reservation notices, oldest first.
pub fn notices_of(conn: &mut PgConnection, project: Uuid) -> Result<Vec<NoticeRow>, RepoError> {
    Ok(research_reservation_notices::table
        .filter(research_reservation_notices::project_id.eq(project))
        .order(research_reservation_notices::id.asc())
        .select(NoticeRow::as_select())
        .load(conn)?)
}

/// Records a notice for every project that received the patient's data (one per project, with
/// its latest delivery of the patient). Run it before the patient is deleted. Returns the
/// projects told.
pub fn record_notices(conn: &mut PgConnection, patient: Uuid, reservation: Uuid) -> Result<Vec<Uuid>, RepoError> {
    #[derive(QueryableByName)]
    struct Project {
        #[diesel(sql_type = SqlUuid)]
        project_id: Uuid,
    }
    let rows: Vec<Project> = diesel::sql_query(
        "INSERT INTO research_reservation_notices (project_id, reservation_id, project_pseudonym, last_delivery_id) \
         SELECT DISTINCT ON (d.project_id) d.project_id, $2, l.project_pseudonym, d.id \
           FROM research_delivery_patients l JOIN research_deliveries d ON d.id = l.delivery_id \
          WHERE l.patient_id = $1 \
          ORDER BY d.project_id, d.delivered_at DESC, d.id DESC \
         RETURNING project_id",
    )
    .bind::<SqlUuid, _>(patient)
    .bind::<SqlUuid, _>(reservation)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.project_id).collect())
}

/// One pathway as an extract reads it, with the patient, its completed baseline's date, main
/// substance and housing, and the trust and region of the unit
/// that opened it (as of the start; the nearest link when the tree has none then).
#[derive(Debug, Clone, QueryableByName)]
pub struct SourceRow {
    #[diesel(sql_type = SqlUuid)]
    pub patient_id: Uuid,
    #[diesel(sql_type = Bytea)]
    pub pseudonym: Vec<u8>,
    #[diesel(sql_type = Int2)]
    pub sex: i16,
    #[diesel(sql_type = Int2)]
    pub birth_year: i16,
    #[diesel(sql_type = Date)]
    pub start_date: NaiveDate,
    #[diesel(sql_type = Nullable<Date>)]
    pub discharge_date: Option<NaiveDate>,
    #[diesel(sql_type = Int2)]
    pub treatment_level: i16,
    #[diesel(sql_type = Int2)]
    pub status: i16,
    #[diesel(sql_type = Nullable<Int2>)]
    pub discharge_ending: Option<i16>,
    #[diesel(sql_type = Nullable<Date>)]
    pub baseline_date: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Int2>)]
    pub main_substance: Option<i16>,
    #[diesel(sql_type = Nullable<Int2>)]
    pub housing: Option<i16>,
    #[diesel(sql_type = Nullable<Text>)]
    pub trust_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub region_name: Option<String>,
    /// The residence on the start date, and the names of its catchment trust and region then.
    #[diesel(sql_type = Nullable<diesel::sql_types::Text>)]
    pub residence_code: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Text>)]
    pub residence_trust: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Text>)]
    pub residence_region: Option<String>,
}

/// Every pathway that started in `from..=to` (reserved patients are gone: a reservation deletes
/// them), in no meaningful order.
pub fn source_rows(conn: &mut PgConnection, from: NaiveDate, to: NaiveDate) -> Result<Vec<SourceRow>, RepoError> {
    Ok(diesel::sql_query(
        "SELECT p.id AS patient_id, p.pseudonym, w.patient_sex AS sex, w.patient_birth_year AS birth_year, \
                w.start_date, w.discharge_date, w.treatment_level, w.status, w.discharge_ending, \
                base.event_date AS baseline_date, base.main_substance, base.housing, \
                trust.name AS trust_name, region.name AS region_name, \
                w.residence_code, rtrust.name AS residence_trust, rregion.name AS residence_region \
           FROM pathways w JOIN patients p ON p.id = w.patient_id \
           LEFT JOIN LATERAL (SELECT f.event_date, b.main_substance, b.housing \
                                FROM forms f JOIN baseline_forms b ON b.form_id = f.id \
                               WHERE f.pathway_id = w.id AND f.kind = 'baseline' AND f.status = 'completed' \
                               ORDER BY f.created_at LIMIT 1) base ON true \
           LEFT JOIN LATERAL (SELECT n.id, n.name FROM org_links l JOIN org_nodes n ON n.id = l.parent_id \
                               WHERE l.child_id = w.opened_unit_id \
                               ORDER BY (l.valid_from <= w.start_date AND (l.valid_to IS NULL OR l.valid_to > w.start_date)) DESC, \
                                        abs(l.valid_from - w.start_date), l.id LIMIT 1) trust ON true \
           LEFT JOIN LATERAL (SELECT n.name FROM org_links l JOIN org_nodes n ON n.id = l.parent_id \
                               WHERE l.child_id = trust.id \
                               ORDER BY (l.valid_from <= w.start_date AND (l.valid_to IS NULL OR l.valid_to > w.start_date)) DESC, \
                                        abs(l.valid_from - w.start_date), l.id LIMIT 1) region ON true \
           LEFT JOIN LATERAL (SELECT n.id, n.name FROM catchment_areas c JOIN org_nodes n ON n.id = c.trust_id \
                               WHERE c.area_code = w.residence_code AND c.valid_from <= w.start_date \
                                 AND (c.valid_to IS NULL OR c.valid_to > w.start_date) \
                               ORDER BY c.valid_from DESC LIMIT 1) rtrust ON true \
           LEFT JOIN LATERAL (SELECT n.name FROM org_links l JOIN org_nodes n ON n.id = l.parent_id \
                               WHERE l.child_id = rtrust.id AND l.valid_from <= w.start_date \
                                 AND (l.valid_to IS NULL OR l.valid_to > w.start_date) LIMIT 1) rregion ON true \
          WHERE w.start_date BETWEEN $1 AND $2",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)?)
}
