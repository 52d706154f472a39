//! The facts the worklist needs, for every pathway of a unit that can have a form due: active
//! pathways owned by the unit, and pathways it discharged (ending 3 or 4) recently enough for
//! the one-year follow-up. The facts are columns of `pathways`, kept right by database triggers
//! on `forms` and `discharge_forms` (migration worklist_facts), so this reads only the unit's
//! pathways: one index-only scan of `pathways_worklist_level`.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, SmallInt};
use domain::forms::CompletedDischarge;
use domain::pathways::{DischargeEnding, TreatmentLevel, TreatmentStatus};
use domain::worklist::PathwayFacts;
use uuid::Uuid;

use crate::RepoError;

#[derive(QueryableByName)]
struct FactsRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    patient_id: Uuid,
    #[diesel(sql_type = Date)]
    start_date: NaiveDate,
    #[diesel(sql_type = SmallInt)]
    treatment_level: i16,
    #[diesel(sql_type = SmallInt)]
    status: i16,
    #[diesel(sql_type = Nullable<Date>)]
    anchor_date: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    last_form_date: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    discharge_date: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    ending: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    contact_consent_1y: Option<i16>,
    #[diesel(sql_type = Bool)]
    follow_up_done: bool,
}

/// One pathway's facts, with its ids.
#[derive(Debug, Clone)]
pub struct PathwayWorkFacts {
    pub pathway_id: Uuid,
    pub patient_id: Uuid,
    pub facts: PathwayFacts,
}

const FACTS_SQL: &str = include_str!("worklist.sql");

/// The facts of every pathway of `unit` that can have a form due on `today`.
/// `follow_up_horizon_days`: how long after a discharge its follow-up can still be due.
pub fn facts_for_unit(
    conn: &mut PgConnection,
    unit: i64,
    today: NaiveDate,
    follow_up_horizon_days: i32,
) -> Result<Vec<PathwayWorkFacts>, RepoError> {
    let rows: Vec<FactsRow> = diesel::sql_query(FACTS_SQL)
        .bind::<BigInt, _>(unit)
        .bind::<Date, _>(today)
        .bind::<Integer, _>(follow_up_horizon_days)
        .load(conn)?;
    rows.into_iter().map(to_facts).collect()
}

fn to_facts(r: FactsRow) -> Result<PathwayWorkFacts, RepoError> {
    let bad = |what: &str| RepoError::Other(format!("stored {what} out of range"));
    let discharge = match (r.discharge_date, r.ending.and_then(DischargeEnding::from_code)) {
        (Some(date), Some(ending)) => {
            Some(CompletedDischarge { date, ending, contact_consent_1y: r.contact_consent_1y == Some(1) })
        }
        _ => None,
    };
    Ok(PathwayWorkFacts {
        pathway_id: r.id,
        patient_id: r.patient_id,
        facts: PathwayFacts {
            start_date: r.start_date,
            treatment_level: TreatmentLevel::from_code(r.treatment_level).ok_or_else(|| bad("treatment level"))?,
            status: TreatmentStatus::from_code(r.status).ok_or_else(|| bad("status"))?,
            anchor: r.anchor_date,
            last_form_date: r.last_form_date,
            discharge,
            follow_up_done: r.follow_up_done,
        },
    })
}
