//! The TSB service directory's rows (`service_facts`): a unit's service facts over periods. Rows
//! are never changed but for closing a period (`valid_to`); nothing is deleted.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::service_facts;
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_facts)]
pub struct FactsRow {
    pub id: i64,
    pub node_id: i64,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub treatment_levels: Vec<String>,
    pub beds: Option<i32>,
    pub special_functions: Vec<String>,
    pub municipality_number: String,
    pub municipality_name: String,
    pub address: String,
    pub postal_code: Option<String>,
    pub postal_place: Option<String>,
    pub phone: Option<String>,
    pub referral: String,
    pub demo: bool,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = service_facts)]
pub struct NewFacts {
    pub node_id: i64,
    pub valid_from: NaiveDate,
    pub treatment_levels: Vec<String>,
    pub beds: Option<i32>,
    pub special_functions: Vec<String>,
    pub municipality_number: String,
    pub municipality_name: String,
    pub address: String,
    pub postal_code: Option<String>,
    pub postal_place: Option<String>,
    pub phone: Option<String>,
    pub referral: String,
    pub demo: bool,
    pub recorded_by: Uuid,
}

/// Serialises changes of one unit's facts until the end of the transaction.
pub fn lock_unit(conn: &mut PgConnection, node: i64) -> Result<(), RepoError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        _locked: bool,
    }
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('service_facts', $1)) IS NOT NULL AS _locked")
        .bind::<diesel::sql_types::BigInt, _>(node)
        .load::<Locked>(conn)?;
    Ok(())
}

/// The unit's open period, if any.
pub fn open_period(conn: &mut PgConnection, node: i64) -> Result<Option<FactsRow>, RepoError> {
    Ok(service_facts::table
        .filter(service_facts::node_id.eq(node))
        .filter(service_facts::valid_to.is_null())
        .select(FactsRow::as_select())
        .first(conn)
        .optional()?)
}

/// Closes a period on `valid_to` (the next period's first day).
pub fn close(conn: &mut PgConnection, id: i64, valid_to: NaiveDate) -> Result<(), RepoError> {
    diesel::update(service_facts::table.find(id)).set(service_facts::valid_to.eq(Some(valid_to))).execute(conn)?;
    Ok(())
}

pub fn insert(conn: &mut PgConnection, row: &NewFacts) -> Result<FactsRow, RepoError> {
    Ok(diesel::insert_into(service_facts::table).values(row).returning(FactsRow::as_returning()).get_result(conn)?)
}

/// Every unit's facts valid on `day`.
pub fn on_day(conn: &mut PgConnection, day: NaiveDate) -> Result<Vec<FactsRow>, RepoError> {
    Ok(service_facts::table
        .filter(service_facts::valid_from.le(day))
        .filter(service_facts::valid_to.is_null().or(service_facts::valid_to.gt(day)))
        .order(service_facts::node_id)
        .select(FactsRow::as_select())
        .load(conn)?)
}

/// Every period of a unit, oldest first (corrected periods, empty, included).
pub fn history(conn: &mut PgConnection, node: i64) -> Result<Vec<FactsRow>, RepoError> {
    Ok(service_facts::table
        .filter(service_facts::node_id.eq(node))
        .order((service_facts::valid_from, service_facts::id))
        .select(FactsRow::as_select())
        .load(conn)?)
}

/// Whether any unit has facts.
pub fn is_empty(conn: &mut PgConnection) -> Result<bool, RepoError> {
    use diesel::dsl::exists;
    Ok(!diesel::select(exists(service_facts::table.select(service_facts::id))).get_result::<bool>(conn)?)
}
