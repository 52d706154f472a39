//! Suppresses and audits a synthetic register-shaped table and prints one line of figures.
//!
//! `cargo run --release -p reporting --example suppress_register -- UNITS REGIONS ENTITIES
//! YEARS FORMULA [engine|audit|both] [strict]`, FORMULA `full` or `linked` or a crossing
//! formula; a 7th argument `strict`, or `write=PATH` to write the table as a case file
//! instead. Further arguments anywhere after the 6th: `insiders` (every unit is an insider
//! group: all its inner cells), `dump=PATH` (writes the suppressed cells, one index a line).
//! The line printed ends with a fingerprint of the pattern (FNV-1a of every cell's status), to
//! compare two builds. Threads: `RAYON_NUM_THREADS`. Run it under `/usr/bin/time -v` for peak
//! memory.

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
    let insiders_on = args.iter().skip(6).any(|a| a == "insiders");
    let dump = args.iter().skip(6).find_map(|a| a.strip_prefix("dump="));
    let t = Instant::now();
    let model = match register_table(&shape, &formula) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let build = t.elapsed();
    let peak_build = peak_mb();
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
    let insiders: Vec<Vec<u32>> = if insiders_on {
        // One group per unit (leaf of `org`): all its inner cells.
        let mut by_unit: std::collections::BTreeMap<usize, Vec<u32>> = std::collections::BTreeMap::new();
        for r in 0..model.inner().len() {
            by_unit.entry(model.inner().codes(r)[0] as usize).or_default().push(r as u32);
        }
        by_unit.into_values().collect()
    } else {
        Vec::new()
    };
    let n_groups = insiders.len();
    let opts = SuppressOptions { rule, strict, zero_propagation, insiders: insiders.clone(), ..Default::default() };
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
        "units {} regions {} entities {} years {} formula '{}': inner {} published {} nnz {} | build {:.2} s (peak so far {} MB) | primary {} secondary {} | engine {:.2} s (rows {}, columns {}, pivots {}, zero rows {}, promotions {}/{}, basis entries {}, primary entries {})",
        shape.units,
        shape.regions,
        shape.entities,
        shape.years,
        formula,
        model.inner().len(),
        model.ncells(),
        model.matrix().nnz(),
        build.as_secs_f64(),
        peak_build,
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
    if n_groups > 0 {
        line.push_str(&format!(
            " | insider groups {}: fixed {}, secondaries added {}",
            n_groups, pattern.stats.insider_groups_fixed, pattern.stats.insider_secondaries
        ));
    }
    if what != "engine" {
        let report = audit(&model, &pattern, AuditOptions { rule, strict, insiders, ..Default::default() });
        line.push_str(&format!(
            " | audit {:.2} s: {} disclosures, {} group, {} insider, {} unit-insider findings, {} known inner cells",
            report.elapsed.as_secs_f64(),
            report.disclosures.len(),
            report.group_disclosures.len(),
            report.insider.len(),
            report.unit_insider.len(),
            report.known_inner_cells
        ));
    }
    let mut fp: u64 = 0xcbf2_9ce4_8422_2325;
    for s in &pattern.status {
        fp = (fp ^ (*s as u64 + 1)).wrapping_mul(0x0100_0000_01b3);
    }
    line.push_str(&format!(" | pattern {fp:016x}"));
    println!("{line}");
    if let Some(path) = dump {
        let text: String =
            (0..model.ncells()).filter(|&j| pattern.is_suppressed(j)).map(|j| format!("{j}\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    }
}

/// Peak resident memory of this process so far (`VmHWM`), MB; 0 where unknown.
fn peak_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb / 1024)
}
