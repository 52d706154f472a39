//! Residence (docs/residence.md): the area a patient lived in when the pathway started, checked
//! against the areas valid on that day, and the rates of pathways started per 1,000 inhabitants
//! aged 18 and over — crude, and directly standardised for age and sex to the national
//! population of the year — with their 95 % intervals.

use chrono::NaiveDate;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::error::FieldError;
use crate::indicators::AGE_GROUPS;

/// The youngest age counted in the rates (inhabitants aged 18 and over).
pub const ADULT_AGE: i32 = 18;

/// The labels of the age groups of the residence tables: the release's age groups from 18 on.
pub const ADULT_AGE_GROUPS: [&str; 5] = ["18-24", "25-34", "35-44", "45-54", "55+"];

/// The sexes a population is counted by (1 male, 2 female).
pub const POPULATION_SEXES: [i16; 2] = [1, 2];

/// Whether `raw` has the form of an area code: a municipality number (four digits) or a city
/// district (six digits, the municipality's four first), never 0000.
pub fn is_area_code(raw: &str) -> bool {
    (raw.len() == 4 || raw.len() == 6) && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with("0000")
}

/// The municipality of an area code (a district's first four digits).
pub fn municipality_of(code: &str) -> &str {
    code.get(..4).unwrap_or(code)
}

/// An area as the reference data has it over one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Area {
    pub code: String,
    pub name: String,
    pub valid_from: NaiveDate,
    /// The first day it is no longer valid.
    pub valid_to: Option<NaiveDate>,
    /// The code that replaced it from `valid_to`.
    pub successor: Option<String>,
}

impl Area {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|t| day < t)
    }
}

/// Checks a residence code for a pathway starting on `start`: the code must be one of an area
/// valid on that day (`periods`: every period of the code, any order), and in a municipality
/// with city districts (Oslo) the district must be given (`has_districts`: the municipality has
/// districts valid on that day).
pub fn check_residence(
    field: &str,
    code: &str,
    start: NaiveDate,
    periods: &[Area],
    has_districts: bool,
) -> Result<(), FieldError> {
    if !is_area_code(code) {
        return Err(FieldError::new(field, "format", "a municipality number has four digits, a city district six"));
    }
    if periods.is_empty() {
        return Err(FieldError::new(field, "code_list", "not a municipality or city district in the reference data"));
    }
    if periods.iter().any(|a| a.valid_on(start)) {
        if code.len() == 4 && has_districts {
            return Err(FieldError::new(
                field,
                "district_required",
                "this municipality is recorded by city district: give the six-digit district code",
            ));
        }
        return Ok(());
    }
    let replaced = periods.iter().filter(|a| a.valid_to.is_some_and(|t| t <= start)).max_by_key(|a| a.valid_from);
    let message = match replaced {
        Some(Area { valid_to: Some(to), successor: Some(s), .. }) => {
            format!("not valid on the start date: replaced by {s} from {to}")
        }
        Some(Area { valid_to: Some(to), .. }) => format!("not valid on the start date: valid until {to}"),
        _ => "not valid on the start date: valid from a later date".to_owned(),
    };
    Err(FieldError::new(field, "validity", message))
}

const _: () = assert!(ADULT_AGE_GROUPS.len() == AGE_GROUPS.len());

/// A rate per 1,000 with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub per_1000: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

const ALPHA: f64 = 0.05;

fn chi2_quantile(p: f64, freedom: f64) -> Option<f64> {
    Some(ChiSquared::new(freedom).ok()?.inverse_cdf(p))
}

/// The crude rate of `cases` among `population` per 1,000, with the exact (Garwood) Poisson
/// interval. `None` without a population.
pub fn crude_rate(cases: i64, population: i64) -> Option<Rate> {
    if population <= 0 || cases < 0 {
        return None;
    }
    let (d, n) = (cases as f64, population as f64);
    let low = if cases == 0 { 0.0 } else { chi2_quantile(ALPHA / 2.0, 2.0 * d)? / 2.0 };
    let high = chi2_quantile(1.0 - ALPHA / 2.0, 2.0 * d + 2.0)? / 2.0;
    Some(Rate { per_1000: 1000.0 * d / n, ci_low: 1000.0 * low / n, ci_high: 1000.0 * high / n })
}

/// One stratum (sex × age group) of a directly standardised rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stratum {
    pub cases: i64,
    pub population: i64,
    /// The stratum's population in the standard (the nation in the year).
    pub standard: i64,
}

/// The directly standardised rate per 1,000 over `strata`, with the Fay–Feuer gamma interval
/// (the usual interval of a directly standardised rate). `None` when a stratum with cases has
/// no population or the standard is empty.
pub fn standardised_rate(strata: &[Stratum]) -> Option<Rate> {
    let total: i64 = strata.iter().map(|s| s.standard).sum();
    if total <= 0 || strata.iter().any(|s| s.cases < 0 || (s.population <= 0 && (s.cases > 0 || s.standard > 0))) {
        return None;
    }
    let (mut y, mut v, mut wm) = (0.0f64, 0.0f64, 0.0f64);
    for s in strata.iter().filter(|s| s.population > 0) {
        // The stratum's weight per person of its own population.
        let w = s.standard as f64 / total as f64 / s.population as f64;
        y += w * s.cases as f64;
        v += w * w * s.cases as f64;
        wm = wm.max(w);
    }
    let low = if y == 0.0 { 0.0 } else { v / (2.0 * y) * chi2_quantile(ALPHA / 2.0, 2.0 * y * y / v)? };
    let (vh, yh) = (v + wm * wm, y + wm);
    let high = vh / (2.0 * yh) * chi2_quantile(1.0 - ALPHA / 2.0, 2.0 * yh * yh / vh)?;
    Some(Rate { per_1000: 1000.0 * y, ci_low: 1000.0 * low, ci_high: 1000.0 * high })
}

/// The leading code of a label in Statistics Norway's table layout ("0301 Oslo", "2 Kvinner",
/// "018 18 år", "105+ 105 år eller eldre"): the text before the first space.
pub fn label_code(label: &str) -> &str {
    let label = label.trim();
    label.split_once(' ').map_or(label, |(code, _)| code)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn area(code: &str, from: &str, to: Option<&str>, successor: Option<&str>) -> Area {
        Area {
            code: code.into(),
            name: "x".into(),
            valid_from: d(from),
            valid_to: to.map(d),
            successor: successor.map(Into::into),
        }
    }

    #[test]
    fn codes_have_four_or_six_digits() {
        for ok in ["0301", "030101", "4601"] {
            assert!(is_area_code(ok), "{ok}");
        }
        for bad in ["301", "03010", "0000", "000012", "46O1", "4601 ", ""] {
            assert!(!is_area_code(bad), "{bad}");
        }
        assert_eq!(municipality_of("030101"), "0301");
    }

    #[test]
    fn a_residence_must_be_valid_on_the_start_date() {
        let bergen_old = [area("1201", "1977-01-01", Some("2020-01-01"), Some("4601"))];
        assert!(check_residence("r", "1201", d("2019-12-31"), &bergen_old, false).is_ok());
        let e = check_residence("r", "1201", d("2020-01-01"), &bergen_old, false).unwrap_err();
        assert_eq!(e.code, "validity");
        assert!(e.message.contains("replaced by 4601 from 2020-01-01"), "{}", e.message);
        let bergen = [area("4601", "2020-01-01", None, None)];
        assert_eq!(check_residence("r", "4601", d("2019-06-01"), &bergen, false).unwrap_err().code, "validity");
        assert_eq!(check_residence("r", "9999", d("2020-06-01"), &[], false).unwrap_err().code, "code_list");
        assert_eq!(check_residence("r", "99", d("2020-06-01"), &[], false).unwrap_err().code, "format");
        let oslo = [area("0301", "1977-01-01", None, None)];
        assert_eq!(check_residence("r", "0301", d("2020-06-01"), &oslo, true).unwrap_err().code, "district_required");
        assert!(check_residence("r", "0301", d("2020-06-01"), &oslo, false).is_ok());
    }

    #[test]
    fn crude_rates_have_exact_poisson_intervals() {
        // 10 cases in 1,000 people: 10 per 1,000, exact 95 % interval 4.795..18.390.
        let r = crude_rate(10, 1000).unwrap();
        assert!((r.per_1000 - 10.0).abs() < 1e-9);
        assert!((r.ci_low - 4.7954).abs() < 1e-3, "{r:?}");
        assert!((r.ci_high - 18.3904).abs() < 1e-3, "{r:?}");
        let zero = crude_rate(0, 1000).unwrap();
        assert_eq!(zero.ci_low, 0.0);
        assert!((zero.ci_high - 3.6889).abs() < 1e-3, "{zero:?}");
        assert!(crude_rate(1, 0).is_none());
    }

    #[test]
    fn a_standardised_rate_of_the_standard_itself_is_the_crude_rate() {
        // When the population has the standard's structure, the standardised rate equals the
        // crude rate.
        let strata = [
            Stratum { cases: 30, population: 10_000, standard: 100_000 },
            Stratum { cases: 10, population: 20_000, standard: 200_000 },
        ];
        let r = standardised_rate(&strata).unwrap();
        let crude = crude_rate(40, 30_000).unwrap();
        assert!((r.per_1000 - crude.per_1000).abs() < 1e-9);
        assert!(r.ci_low < r.per_1000 && r.per_1000 < r.ci_high);
        // Fay–Feuer is conservative: at least as wide as the exact interval of the crude rate here.
        assert!(r.ci_low <= crude.ci_low + 1e-9 && r.ci_high >= crude.ci_high - 1e-9, "{r:?} {crude:?}");
    }

    #[test]
    fn standardisation_removes_the_difference_in_age_structure() {
        // Two areas with the same age-specific rates but different age structures: the crude
        // rates differ, the standardised rates do not.
        let young = [
            Stratum { cases: 80, population: 8_000, standard: 50_000 },
            Stratum { cases: 4, population: 2_000, standard: 50_000 },
        ];
        let old = [
            Stratum { cases: 20, population: 2_000, standard: 50_000 },
            Stratum { cases: 16, population: 8_000, standard: 50_000 },
        ];
        assert!((crude_rate(84, 10_000).unwrap().per_1000 - crude_rate(36, 10_000).unwrap().per_1000).abs() > 4.0);
        let (a, b) = (standardised_rate(&young).unwrap(), standardised_rate(&old).unwrap());
        assert!((a.per_1000 - b.per_1000).abs() < 1e-9);
        assert!((a.per_1000 - 6.0).abs() < 1e-9);
    }

    #[test]
    fn standardised_rates_need_a_population_where_there_are_cases() {
        assert!(standardised_rate(&[Stratum { cases: 1, population: 0, standard: 10 }]).is_none());
        assert!(standardised_rate(&[]).is_none());
        let zero = standardised_rate(&[Stratum { cases: 0, population: 100, standard: 10 }]).unwrap();
        assert_eq!(zero.per_1000, 0.0);
        assert!(zero.ci_high > 0.0);
    }

    #[test]
    fn labels_start_with_their_code() {
        assert_eq!(label_code("0301 Oslo"), "0301");
        assert_eq!(label_code("105+ 105 år eller eldre"), "105+");
        assert_eq!(label_code("2024"), "2024");
    }
}
