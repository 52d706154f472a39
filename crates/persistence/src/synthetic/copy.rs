//! COPY text: rows as PostgreSQL's COPY text format (tab-separated, `\N` for NULL), the typed
//! form rows' column lists, and the flush of a batch's buffers in one transaction.

use std::io::Write as _;

use chrono::NaiveDate;
use diesel::prelude::*;
use uuid::Uuid;

use crate::forms::{BaselineRow, DischargeRow, FollowUpRow, MeasurementRow};
use crate::RepoError;

/// Rows waiting to be copied, as PostgreSQL COPY text (tab-separated, `\N` for NULL).
#[derive(Default)]
pub(super) struct Buffers {
    pub(super) patients: Vec<u8>,
    pub(super) pathways: Vec<u8>,
    pub(super) transfers: Vec<u8>,
    pub(super) status_history: Vec<u8>,
    pub(super) forms: Vec<u8>,
    pub(super) baseline: Vec<u8>,
    pub(super) measurement: Vec<u8>,
    pub(super) discharge: Vec<u8>,
    pub(super) follow_up: Vec<u8>,
    pub(super) substances: Vec<u8>,
}

/// A COPY text field.
pub(super) trait CopyField {
    fn write_field(&self, out: &mut Vec<u8>);
}

macro_rules! display_field {
    ($($t:ty),*) => {$(
        impl CopyField for $t {
            fn write_field(&self, out: &mut Vec<u8>) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
display_field!(i16, i32, i64, usize, Uuid, NaiveDate, bool, &str, String);

impl<T: CopyField> CopyField for Option<T> {
    fn write_field(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.write_field(out),
            None => out.extend_from_slice(b"\\N"),
        }
    }
}

/// bytea as `\\x<hex>` (the backslash escaped for the text format).
pub(super) struct Bytes<'a>(pub(super) &'a [u8]);
impl CopyField for Bytes<'_> {
    fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\\\\x");
        for b in self.0 {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// Writes an array literal `{a,NULL,b}`; elements never contain commas, quotes or braces here.
pub(super) fn write_array<'a, T: std::fmt::Display + 'a>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = Option<&'a T>>,
) {
    out.push(b'{');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None => out.extend_from_slice(b"NULL"),
        }
    }
    out.push(b'}');
}

/// An optional array of values, as an array literal (or NULL).
pub(super) struct Array<'a, T>(pub(super) &'a Option<Vec<T>>);
impl<T: std::fmt::Display> CopyField for Array<'_, T> {
    fn write_field(&self, out: &mut Vec<u8>) {
        match self.0 {
            None => out.extend_from_slice(b"\\N"),
            Some(items) => write_array(out, items.iter().map(Some)),
        }
    }
}

/// An array of a typed row (elements may be NULL).
impl<T: std::fmt::Display> CopyField for Vec<Option<T>> {
    fn write_field(&self, out: &mut Vec<u8>) {
        write_array(out, self.iter().map(Option::as_ref));
    }
}

/// A typed form row written as one line of COPY text.
pub(super) trait CopyRow {
    fn write_row(&self, out: &mut Vec<u8>);
}

/// Implements [`CopyRow`] for a row struct of `crate::forms` and gives it `COPY_COLUMNS`, the
/// table's columns in the same order, both from one list of its fields (the mapping of the
/// form's fields to them is the struct's `of`, shared with the API's inserts).
macro_rules! copy_row {
    ($row:ident in $table:ident: $first:ident $(, $rest:ident)* $(,)?) => {
        impl CopyRow for $row {
            fn write_row(&self, out: &mut Vec<u8>) {
                self.$first.write_field(out);
                $( out.push(b'\t'); self.$rest.write_field(out); )*
                out.push(b'\n');
            }
        }
        impl $row {
            const COPY_COLUMNS: (crate::schema::$table::$first, $(crate::schema::$table::$rest),*) =
                (crate::schema::$table::$first, $(crate::schema::$table::$rest),*);
        }
    };
}

copy_row!(BaselineRow in baseline_forms: form_id, referral_diagnosis, substance_diagnoses, psychiatric_diagnoses,
    somatic_diagnoses, somatic_health_assessed, mental_health_assessed, in_lar, lar_medication, individual_plan,
    responsibility_group, substances_given, main_substance, injected_30d, overdose_12m, injected_ever, audit_score,
    dudit_score, self_rated_severity, self_rated_life_situation, housing, lives_with, children_under_18, occupation);
copy_row!(MeasurementRow in measurement_forms: form_id, treatment_level, treatment_plan, crisis_plan, benefit,
    feedback_tool_used, needs_followed_up, substances_given, main_substance, injected_30d, overdose_12m, housing,
    occupation);
copy_row!(DischargeRow in discharge_forms: form_id, ending, agreed_follow_up, municipality_informed, substances_given,
    main_substance, injected_30d, overdose_12m, housing, occupation, satisfaction, contact_consent_1y);
copy_row!(FollowUpRow in follow_up_forms: form_id, outcome, substances_given, main_substance, injected_30d,
    overdose_12m, housing, occupation, received_follow_up, self_rated_life_situation);

macro_rules! row {
    ($out:expr; $first:expr $(, $rest:expr)* $(,)?) => {{
        let out: &mut Vec<u8> = $out;
        $first.write_field(out);
        $( out.push(b'\t'); $rest.write_field(out); )*
        out.push(b'\n');
    }};
}

pub(super) use row;

/// Copies every buffer in one transaction, parents before children, and empties them.
pub(super) fn flush(conn: &mut PgConnection, b: &mut Buffers) -> Result<(), RepoError> {
    use crate::schema::*;
    let copy =
        |conn: &mut PgConnection, buf: &mut Vec<u8>, f: &dyn Fn(&mut PgConnection, &[u8]) -> QueryResult<usize>| {
            if !buf.is_empty() {
                f(conn, buf)?;
                buf.clear();
            }
            Ok::<_, diesel::result::Error>(())
        };
    macro_rules! copy_into {
        ($conn:expr, $buf:expr, $table:ident, ($($col:ident),+)) => {
            copy_into!($conn, $buf, $table, columns ($($table::$col),+))
        };
        ($conn:expr, $buf:expr, $table:ident, columns $columns:expr) => {
            copy($conn, &mut $buf, &|conn, data| {
                diesel::copy_from($table::table)
                    .from_raw_data($columns, |w| {
                        w.write_all(data).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
                    })
                    .execute(conn)
            })?
        };
    }
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        copy_into!(conn, b.patients, patients, (id, pseudonym, national_id_enc, sex, birth_year, registered_by));
        copy_into!(
            conn,
            b.pathways,
            pathways,
            (
                id,
                patient_id,
                unit_id,
                opened_unit_id,
                start_date,
                treatment_level,
                status,
                created_by,
                anchor_date,
                last_form_date,
                discharge_date,
                discharge_ending,
                discharge_contact_consent_1y,
                follow_up_done,
                patient_sex,
                patient_birth_year,
                baseline_unit_id,
                baseline_date,
                baseline_somatic_health_assessed,
                first_measurement_unit_id,
                first_measurement_date,
                first_measurement_treatment_plan,
                first_measurement_crisis_plan,
                first_measurement_benefit,
                discharge_unit_id,
                discharge_agreed_follow_up,
                follow_up_outcome,
                current_treatment_level,
                residence_code
            )
        );
        copy_into!(
            conn,
            b.transfers,
            pathway_transfers,
            (pathway_id, from_unit_id, to_unit_id, transfer_date, created_by)
        );
        copy_into!(
            conn,
            b.status_history,
            pathway_status_history,
            (pathway_id, from_status, to_status, event, form_id, changed_by)
        );
        copy_into!(
            conn,
            b.forms,
            forms,
            (
                id,
                pathway_id,
                kind,
                unit_id,
                event_date,
                status,
                version,
                created_by,
                updated_by,
                completed_by,
                completed_at,
                created_at,
                updated_at,
                previous_date,
                previous_treatment_level
            )
        );
        copy_into!(conn, b.baseline, baseline_forms, columns BaselineRow::COPY_COLUMNS);
        copy_into!(conn, b.measurement, measurement_forms, columns MeasurementRow::COPY_COLUMNS);
        copy_into!(conn, b.discharge, discharge_forms, columns DischargeRow::COPY_COLUMNS);
        copy_into!(conn, b.follow_up, follow_up_forms, columns FollowUpRow::COPY_COLUMNS);
        copy_into!(
            conn,
            b.substances,
            form_substances,
            (form_id, position, substance, frequency_30d, route, debut_age)
        );
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{baseline_forms, discharge_forms, follow_up_forms, measurement_forms};

    /// A column added to a table (and its row struct) but not to the row's `copy_row!` list
    /// would be left NULL by the loader: each list names every column of its table, in order.
    #[test]
    fn every_typed_row_copies_every_column_of_its_table() {
        macro_rules! same_columns {
            ($table:ident, $row:ident) => {{
                use diesel::{debug_query, pg::Pg};
                let copied = debug_query::<Pg, _>(&$table::table.select($row::COPY_COLUMNS)).to_string();
                let all = debug_query::<Pg, _>(&$table::table.select($table::all_columns)).to_string();
                assert_eq!(copied, all, stringify!($row));
            }};
        }
        same_columns!(baseline_forms, BaselineRow);
        same_columns!(measurement_forms, MeasurementRow);
        same_columns!(discharge_forms, DischargeRow);
        same_columns!(follow_up_forms, FollowUpRow);
    }
}
