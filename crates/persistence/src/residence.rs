//! Residence reference data (docs/residence.md): areas with validity periods, catchment areas
//! and populations, and the population sums the rates are computed from.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, SmallInt};
use domain::residence::Area;

use crate::schema::{catchment_areas, populations, residence_areas};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = residence_areas, check_for_backend(diesel::pg::Pg))]
pub struct AreaRow {
    pub code: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub name: String,
    pub successor: Option<String>,
}

impl From<AreaRow> for Area {
    fn from(r: AreaRow) -> Self {
        Area { code: r.code, name: r.name, valid_from: r.valid_from, valid_to: r.valid_to, successor: r.successor }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = catchment_areas, check_for_backend(diesel::pg::Pg))]
pub struct CatchmentRow {
    pub area_code: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub trust_id: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = populations, check_for_backend(diesel::pg::Pg))]
pub struct PopulationRow {
    pub year: i16,
    pub area_code: String,
    pub sex: i16,
    pub age: i16,
    pub persons: i32,
    pub synthetic: bool,
}

/// Every period of an area code.
pub fn area_periods(conn: &mut PgConnection, code: &str) -> Result<Vec<Area>, RepoError> {
    let rows: Vec<AreaRow> = residence_areas::table
        .filter(residence_areas::code.eq(code))
        .order(residence_areas::valid_from)
        .select(AreaRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(Area::from).collect())
}

/// Whether a municipality has city districts valid on `day` (then a residence there is
/// recorded by district).
pub fn has_districts(conn: &mut PgConnection, municipality: &str, day: NaiveDate) -> Result<bool, RepoError> {
    let n: i64 = residence_areas::table
        .filter(residence_areas::code.like(format!("{municipality}__")))
        .filter(residence_areas::valid_from.le(day))
        .filter(residence_areas::valid_to.is_null().or(residence_areas::valid_to.gt(day)))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Every area period, by code and start.
pub fn all_areas(conn: &mut PgConnection) -> Result<Vec<AreaRow>, RepoError> {
    Ok(residence_areas::table
        .order((residence_areas::code, residence_areas::valid_from))
        .select(AreaRow::as_select())
        .load(conn)?)
}

/// Every catchment period, by area and start.
pub fn all_catchment(conn: &mut PgConnection) -> Result<Vec<CatchmentRow>, RepoError> {
    Ok(catchment_areas::table
        .order((catchment_areas::area_code, catchment_areas::valid_from))
        .select(CatchmentRow::as_select())
        .load(conn)?)
}

/// What an upsert of reference rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upserted {
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// Adds area periods, or corrects the name, end and successor of a period already there.
pub fn upsert_areas(conn: &mut PgConnection, rows: &[AreaRow]) -> Result<Upserted, RepoError> {
    let mut done = Upserted::default();
    for r in rows {
        let old: Option<AreaRow> =
            residence_areas::table.find((&r.code, r.valid_from)).select(AreaRow::as_select()).first(conn).optional()?;
        match old {
            None => {
                diesel::insert_into(residence_areas::table).values(r).execute(conn)?;
                done.created += 1;
            }
            Some(o) if o == *r => done.unchanged += 1,
            Some(_) => {
                diesel::update(residence_areas::table.find((&r.code, r.valid_from)))
                    .set((
                        residence_areas::name.eq(&r.name),
                        residence_areas::valid_to.eq(r.valid_to),
                        residence_areas::successor.eq(&r.successor),
                    ))
                    .execute(conn)?;
                done.changed += 1;
            }
        }
    }
    Ok(done)
}

/// Adds catchment periods, or corrects the trust and end of a period already there.
pub fn upsert_catchment(conn: &mut PgConnection, rows: &[CatchmentRow]) -> Result<Upserted, RepoError> {
    let mut done = Upserted::default();
    for r in rows {
        let old: Option<CatchmentRow> = catchment_areas::table
            .find((&r.area_code, r.valid_from))
            .select(CatchmentRow::as_select())
            .first(conn)
            .optional()?;
        match old {
            None => {
                diesel::insert_into(catchment_areas::table).values(r).execute(conn)?;
                done.created += 1;
            }
            Some(o) if o == *r => done.unchanged += 1,
            Some(_) => {
                diesel::update(catchment_areas::table.find((&r.area_code, r.valid_from)))
                    .set((catchment_areas::trust_id.eq(r.trust_id), catchment_areas::valid_to.eq(r.valid_to)))
                    .execute(conn)?;
                done.changed += 1;
            }
        }
    }
    Ok(done)
}

/// Adds or replaces population counts, in batches.
pub fn upsert_population(conn: &mut PgConnection, rows: &[PopulationRow]) -> Result<usize, RepoError> {
    use diesel::upsert::excluded;
    let mut n = 0;
    for chunk in rows.chunks(5_000) {
        n += diesel::insert_into(populations::table)
            .values(chunk)
            .on_conflict((populations::year, populations::area_code, populations::sex, populations::age))
            .do_update()
            .set((
                populations::persons.eq(excluded(populations::persons)),
                populations::synthetic.eq(excluded(populations::synthetic)),
            ))
            .execute(conn)?;
    }
    Ok(n)
}

/// Whether the population of `year` is all synthetic (the demo's); `None` without one.
pub fn population_is_synthetic(conn: &mut PgConnection, year: i16) -> Result<Option<bool>, RepoError> {
    let flags: Vec<bool> =
        populations::table.filter(populations::year.eq(year)).select(populations::synthetic).distinct().load(conn)?;
    Ok((!flags.is_empty()).then(|| flags.iter().all(|s| *s)))
}

/// Population aged 18 and over on 1 January of a year, by sex and the release's age group
/// (index into `domain::residence::ADULT_AGE_GROUPS`), for one health trust (`trust_id`) or
/// the nation (`None`).
#[derive(Debug, Clone, QueryableByName, PartialEq, Eq)]
pub struct PopulationSum {
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    pub trust_id: Option<i64>,
    #[diesel(sql_type = SmallInt)]
    pub sex: i16,
    #[diesel(sql_type = SmallInt)]
    pub age_group: i16,
    #[diesel(sql_type = BigInt)]
    pub persons: i64,
}

/// The adult population of `year` by catchment trust (the catchment valid on 1 January) and for
/// the nation (`trust_id` NULL), by sex and age group. A municipality counted by city district
/// is counted once: by its districts when the year has them, else as a whole.
pub fn adult_population(conn: &mut PgConnection, year: i16) -> Result<Vec<PopulationSum>, RepoError> {
    let bounds: Vec<i32> = domain::indicators::AGE_GROUP_BOUNDS.to_vec();
    Ok(diesel::sql_query(
        "WITH p AS ( \
             SELECT p.* FROM populations p \
             WHERE p.year = $1 AND p.age >= $2 \
               AND NOT (length(p.area_code) = 4 AND EXISTS ( \
                   SELECT 1 FROM populations d \
                   WHERE d.year = p.year AND length(d.area_code) = 6 AND left(d.area_code, 4) = p.area_code)) \
         ), g AS ( \
             SELECT p.area_code, p.sex, (width_bucket(p.age, $3::int[]))::smallint AS age_group, p.persons FROM p \
         ) \
         SELECT c.trust_id, g.sex, g.age_group, sum(g.persons)::bigint AS persons \
         FROM g JOIN catchment_areas c ON c.area_code = g.area_code \
              AND c.valid_from <= make_date($1, 1, 1) AND (c.valid_to IS NULL OR c.valid_to > make_date($1, 1, 1)) \
         GROUP BY 1, 2, 3 \
         UNION ALL \
         SELECT NULL::bigint, g.sex, g.age_group, sum(g.persons)::bigint FROM g GROUP BY 1, 2, 3 \
         ORDER BY 1, 2, 3",
    )
    .bind::<SmallInt, _>(year)
    .bind::<SmallInt, _>(domain::residence::ADULT_AGE as i16)
    .bind::<diesel::sql_types::Array<Integer>, _>(bounds)
    .load(conn)?)
}
