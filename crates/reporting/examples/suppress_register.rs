//! Suppresses and audits a synthetic register-shaped table and prints one line of figures.
//!
//! `cargo run --release -p reporting --example suppress_register -- UNITS REGIONS ENTITIES
//! YEARS FORMULA [engine|audit|both] [strict]`, FORMULA `full` or `linked` or a crossing
//! formula; a 7th argument `strict`, or `write=PATH` to write the table as a case file
//! instead. Run it under `/usr/bin/time -v` for peak memory.

use std::time::Instant;

use reporting::suppression::synthetic::{register_table, RegisterShape, FULL_CROSS, LINKED};
use reporting::suppression::{audit, suppress, AuditOptions, PrimaryRule, SuppressOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let mut shape = RegisterShape::reference(num(0, 30), num(1, 1));
    shape.entities = num(2, 0);
    shape.years = num(3, 10);
    let formula = match args.get(4).map(String::as_str) {
        None | Some("full") => FULL_CROSS.to_owned(),
        Some("linked") => LINKED.to_owned(),
        Some(f) => f.to_owned(),
    };
    let what = args.get(5).map(String::as_str).unwrap_or("both");
    let strict = args.get(6).map(String::as_str) == Some("strict");
    let t = Instant::now();
    let model = match register_table(&shape, &formula) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let build = t.elapsed();
    if let Some(path) = args.get(6).and_then(|a| a.strip_prefix("write=")) {
        let case =
            reporting::suppression::format::Case::from_model("register", &model, PrimaryRule::from_max_n(4, false));
        let text = case.to_json(&model, None, None, serde_json::Value::Null);
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
        println!("wrote {path}: {} inner cells, {} published cells", model.inner().len(), model.ncells());
        return;
    }
    let rule = PrimaryRule::from_max_n(4, false);
    let zero_propagation = std::env::var("SUPP_NO_ZP").is_err();
    let opts = SuppressOptions { rule, strict, zero_propagation, ..Default::default() };
    let t = Instant::now();
    let pattern = match suppress(&model, &opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let engine = t.elapsed();
    let mut line = format!(
        "units {} regions {} entities {} years {} formula '{}': inner {} published {} nnz {} | build {:.2} s | primary {} secondary {} | engine {:.2} s (rows {}, columns {}, pivots {}, zero rows {}, promotions {}/{}, basis entries {}, primary entries {})",
        shape.units,
        shape.regions,
        shape.entities,
        shape.years,
        formula,
        model.inner().len(),
        model.ncells(),
        model.matrix().nnz(),
        build.as_secs_f64(),
        pattern.n_primary(),
        pattern.n_secondary(),
        engine.as_secs_f64(),
        pattern.stats.rows,
        pattern.stats.columns,
        pattern.stats.pivots,
        pattern.stats.zero_rows,
        pattern.stats.promotions.to_i128,
        pattern.stats.promotions.to_bigint,
        pattern.stats.basis_entries,
        pattern.stats.primary_entries,
    );
    if what != "engine" {
        let report = audit(&model, &pattern, AuditOptions { rule, strict, ..Default::default() });
        line.push_str(&format!(
            " | audit {:.2} s: {} disclosures, {} group, {} insider, {} known inner cells",
            report.elapsed.as_secs_f64(),
            report.disclosures.len(),
            report.group_disclosures.len(),
            report.insider.len(),
            report.known_inner_cells
        ));
    }
    println!("{line}");
}
