//! A made-up population for the demo (docs/residence.md), written in Statistics Norway's table
//! layout so that it is loaded through the same import as a real one. Every count is drawn from
//! a seeded generator: none is real.

use std::fmt::Write;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::residence::AreaRow;

/// The oldest age written (the source's open-ended top group, such as "100 years or older").
const TOP_AGE: i32 = 100;

/// The population on 1 January of each of `years` for every area valid that day, aged 18 and
/// over (the rates count no one younger), by sex and single year of age. A municipality with
/// city districts valid that day is written by district only.
pub fn demo_population_csv(areas: &[AreaRow], years: std::ops::RangeInclusive<i32>, seed: u64) -> String {
    let mut out =
        String::from("\"region\";\"kjønn\";\"alder\";\"år\";\"statistikkvariabel\";\"Befolkning (SYNTETISK, demo)\"\n");
    for year in years {
        let Some(day) = NaiveDate::from_ymd_opt(year, 1, 1) else { continue };
        let valid: Vec<&AreaRow> =
            areas.iter().filter(|a| a.valid_from <= day && a.valid_to.is_none_or(|t| t > day)).collect();
        for a in &valid {
            let has_districts =
                a.code.len() == 4 && valid.iter().any(|d| d.code.len() == 6 && d.code.starts_with(&a.code));
            if has_districts {
                continue;
            }
            // The same area keeps its size from year to year (seeded by its name), with a
            // small drift per year.
            let mut size = ChaCha8Rng::seed_from_u64(seed ^ fnv(&a.name));
            let adults: f64 = size.gen_range(4_000.0..120_000.0);
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv(&a.code) ^ (year as u64) << 32);
            let drift = 1.0 + 0.01 * f64::from(year - 2020);
            for sex in [1, 2] {
                for age in 18..=TOP_AGE {
                    // Flat to 60, then thinning out.
                    let shape = if age < 60 { 1.0 } else { (-(f64::from(age - 60)) / 12.0).exp() };
                    let mean = adults * drift / 2.0 * shape / 50.0;
                    let n = (mean * rng.gen_range(0.9..1.1)).round() as i64;
                    let label = if age == TOP_AGE {
                        format!("{age}+ {age} år eller eldre")
                    } else {
                        format!("{age:03} {age} år")
                    };
                    let sex_label = if sex == 1 { "1 Menn" } else { "2 Kvinner" };
                    let _ = writeln!(
                        out,
                        "\"{} {}\";\"{sex_label}\";\"{label}\";\"{year}\";\"Personer\";{n}",
                        a.code, a.name
                    );
                }
            }
        }
    }
    out
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn area(code: &str, from: &str, to: Option<&str>) -> AreaRow {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        AreaRow {
            code: code.into(),
            valid_from: d(from),
            valid_to: to.map(d),
            name: format!("A{code}"),
            successor: None,
        }
    }

    #[test]
    fn areas_valid_on_the_first_of_january_are_written_and_districts_replace_their_municipality() {
        let areas = [
            area("1201", "1977-01-01", Some("2020-01-01")),
            area("4601", "2020-01-01", None),
            area("0301", "1977-01-01", None),
            area("030101", "2004-01-01", None),
        ];
        let csv = demo_population_csv(&areas, 2020..=2020, 7);
        assert!(csv.contains("\"4601 A4601\";\"1 Menn\";\"018 18 år\";\"2020\""));
        assert!(csv.contains("\"030101 A030101\";\"2 Kvinner\";\"100+ 100 år eller eldre\""));
        assert!(!csv.contains("\"1201 "), "replaced in 2020");
        assert!(!csv.contains("\"0301 "), "by district");
        assert_eq!(csv, demo_population_csv(&areas, 2020..=2020, 7), "seeded");
        assert_eq!(csv.lines().count(), 1 + 2 * 2 * 83);
    }
}
