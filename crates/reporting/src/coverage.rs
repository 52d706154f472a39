//! Coverage (dekningsgrad, docs/indicators.md): NPR reference counts per unit and year, imported as
//! CSV, against the pathways registered. This module parses and checks the CSV; the coverage
//! itself is part of the completeness report.
//!
//! The CSV has a header row with the columns `resh_id`, `year` and `pathways` (any order,
//! comma or semicolon separated, UTF-8). Every row must name a unit by its RESH-id, a year from
//! 2000 to this year and a count of zero or more; a unit and year may appear once. One bad row
//! refuses the whole file, and every bad row is reported with its line number.

use std::collections::HashSet;

use serde::Serialize;

/// A parsed row: the unit's node id, the year and the NPR count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NprRow {
    pub unit_id: i64,
    pub year: i16,
    pub pathways: i32,
}

/// What is wrong with one line of the file (line 1 is the header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl RowError {
    fn new(line: u64, field: &str, message: impl Into<String>) -> Self {
        RowError { line, field: field.to_owned(), message: message.into() }
    }
}

/// Parses an NPR file. `unit_of_resh` gives the node id of the unit with a RESH-id (`None`
/// when no unit has it).
pub fn parse_npr_csv(
    body: &[u8],
    this_year: i32,
    unit_of_resh: impl Fn(i64) -> Option<i64>,
) -> Result<Vec<NprRow>, Vec<RowError>> {
    let text = std::str::from_utf8(body).map_err(|_| vec![RowError::new(1, "body", "the file is not UTF-8")])?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains(';') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![RowError::new(1, "header", format!("unreadable header: {e}"))]),
    };
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(c_resh), Some(c_year), Some(c_count)) = (col("resh_id"), col("year"), col("pathways")) else {
        return Err(vec![RowError::new(1, "header", "the header must name the columns resh_id, year and pathways")]);
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let fallback_line = i as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(fallback_line, |p| p.line());
                errors.push(RowError::new(line, "row", "wrong number of columns"));
                continue;
            }
        };
        let line = record.position().map_or(fallback_line, |p| p.line());
        let field = |c: usize| record.get(c).unwrap_or("");
        let mut bad = |f: &str, m: &str| errors.push(RowError::new(line, f, m));
        let unit = match field(c_resh).parse::<i64>() {
            Ok(resh) => match unit_of_resh(resh) {
                Some(u) => Some(u),
                None => {
                    bad("resh_id", "no unit has this RESH-id");
                    None
                }
            },
            Err(_) => {
                bad("resh_id", "resh_id is a whole number");
                None
            }
        };
        let year = match field(c_year).parse::<i16>() {
            Ok(y) if (2000..=this_year).contains(&i32::from(y)) => Some(y),
            _ => {
                bad("year", &format!("year is between 2000 and {this_year}"));
                None
            }
        };
        let count = match field(c_count).parse::<i32>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                bad("pathways", "pathways is a whole number, 0 or more");
                None
            }
        };
        if let (Some(unit_id), Some(year), Some(pathways)) = (unit, year, count) {
            if seen.insert((unit_id, year)) {
                rows.push(NprRow { unit_id, year, pathways });
            } else {
                bad("resh_id", "this unit and year appear more than once in the file");
            }
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(RowError::new(2, "row", "the file has no rows"));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(resh: i64) -> Option<i64> {
        (resh == 4001 || resh == 4002).then_some(resh * 10)
    }

    #[test]
    fn parses_comma_and_semicolon_files() {
        let rows = parse_npr_csv(b"resh_id,year,pathways\n4001,2025,120\n4002, 2025 ,0\n", 2026, units);
        assert_eq!(
            rows,
            Ok(vec![
                NprRow { unit_id: 40010, year: 2025, pathways: 120 },
                NprRow { unit_id: 40020, year: 2025, pathways: 0 }
            ])
        );
        let rows = parse_npr_csv("\u{feff}year;pathways;resh_id\n2024;7;4001\n".as_bytes(), 2026, units);
        assert_eq!(rows, Ok(vec![NprRow { unit_id: 40010, year: 2024, pathways: 7 }]));
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let body = b"resh_id,year,pathways\n4001,2025,10\n9999,2025,5\n4002,1999,-1\n4001,2025,3\n4002,2025\n";
        let errors = parse_npr_csv(body, 2026, units).err().unwrap_or_default();
        let got: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(got, vec![(3, "resh_id"), (4, "year"), (4, "pathways"), (5, "resh_id"), (6, "row")]);
    }

    #[test]
    fn header_and_empty_files_are_refused() {
        assert_eq!(parse_npr_csv(b"unit,year,count\n1,2,3\n", 2026, units).err().map(|e| e[0].line), Some(1));
        assert_eq!(
            parse_npr_csv(b"resh_id,year,pathways\n", 2026, units).err().map(|e| e[0].field.clone()),
            Some("row".into())
        );
        assert!(parse_npr_csv(&[0xff, 0xfe], 2026, units).is_err());
    }
}
