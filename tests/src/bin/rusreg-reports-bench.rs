//! Reports benchmark (docs/benchmarks.md): times what the report endpoints run — indicators for
//! a year (with the year before, for the trend), completeness for a year, a full release (build,
//! suppress, audit, store) — next to a plain SQL GROUP BY over the same rows, on the same
//! database in the same run. Prints what it measured; memory is measured from outside
//! (`/usr/bin/time -v`, one process per task, see tests/bench/reports.sh).
//!
//! rusreg-reports-bench --database-url postgres://... --year 2025 --task indicators|completeness|
//!                      release|protected-completeness|price|over-time|residence|baseline-indicators|
//!                      baseline-completeness [--repeat 5] [--late 50]
//!
//! `over-time` builds the year's release from its counts (the first release), adds one late
//! registration to every `--late`-th count of pathways started (a pathway started in the year,
//! registered after the release), and builds the second release twice in one run, both tied to
//! the first by the rules of `reporting::history`: without the audit over time (the first
//! release's counts not kept: what rusreg did before) and with it (the two releases audited as
//! one model). Nothing is stored.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark tool: a failure aborts the run")]

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use domain::indicators::ReportLevel;
use integration_tests::bench::arg;
use persistence::reports::CountSettings;
use reporting::tree::OrgTree;

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    _n: i64,
}

/// The rows the indicator query reads, grouped plainly: completed forms of the years (and the
/// discharges whose follow-up window closes in them) with their typed rows, by unit and kind;
/// pathways started with their patients, by unit.
const BASELINE_INDICATORS: &str = "
SELECT count(*) AS _n FROM (
    SELECT f.unit_id, f.kind,
           count(*) FILTER (WHERE coalesce(m.treatment_plan, b.somatic_health_assessed, d.ending, u.outcome) = 1),
           count(*)
    FROM forms f
    LEFT JOIN measurement_forms m ON m.form_id = f.id
    LEFT JOIN baseline_forms b ON b.form_id = f.id
    LEFT JOIN discharge_forms d ON d.form_id = f.id
    LEFT JOIN follow_up_forms u ON u.form_id = f.id
    WHERE f.status = 'completed'
      AND f.event_date >= make_date($1, 1, 1) - interval '14 months' AND f.event_date < make_date($2 + 1, 1, 1)
    GROUP BY 1, 2
    UNION ALL
    SELECT p.opened_unit_id, 'start', count(*) FILTER (WHERE pt.sex = 1), count(*)
    FROM pathways p JOIN patients pt ON pt.id = p.patient_id
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($2 + 1, 1, 1)
    GROUP BY 1
) x";

fn settings() -> CountSettings {
    CountSettings { today: domain::clock::today(), as_of_today: false, limits: Default::default() }
}

fn time<T>(repeat: usize, mut f: impl FnMut() -> T) -> (Vec<Duration>, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times, last.unwrap())
}

fn report(task: &str, times: &[Duration], what: &str) {
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{task}: {} runs, min {:.0} ms, median {:.0} ms, max {:.0} ms; {what}",
        times.len(),
        ms(&times[0]),
        ms(&times[times.len() / 2]),
        ms(&times[times.len() - 1])
    );
}

fn main() {
    let url = arg("--database-url", None);
    let year: i32 = arg("--year", None).parse().unwrap();
    let task = arg("--task", None);
    let repeat: usize = arg("--repeat", Some("5")).parse().unwrap();
    let mut conn = PgConnection::establish(&url).expect("connect");
    let s = settings();
    match task.as_str() {
        "indicators" => {
            let (t, tables) = time(repeat, || {
                let tree = OrgTree::load(&mut conn).unwrap();
                let counts = reporting::indicators::load_counts(&mut conn, &tree, year - 1, year, &s).unwrap();
                reporting::indicators::results(&counts, &tree, year, ReportLevel::Unit, s.today, |_| true)
            });
            let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
            let den: i64 = tables.iter().flat_map(|t| &t.rows).filter_map(|r| r.denominator).sum();
            report(&task, &t, &format!("{rows} unit rows, denominators summing to {den}"));
        }
        "completeness" => {
            let (t, rows) = time(repeat, || {
                let tree = OrgTree::load(&mut conn).unwrap();
                reporting::completeness::completeness(&mut conn, &tree, year, ReportLevel::Unit, &s, |_| true).unwrap()
            });
            let started: i64 = rows.iter().filter_map(|r| r.pathways_started.get()).sum();
            report(&task, &t, &format!("{} unit rows, {started} pathways started", rows.len()));
        }
        "protected-completeness" => {
            // What a register contact's completeness request adds: both reports' counts and the
            // protection of their small counts (linked table, suppression, audit).
            let (t, withheld) = time(repeat, || {
                let tree = OrgTree::load(&mut conn).unwrap();
                let c = reporting::completeness::CompletenessCounts::load(&mut conn, &tree, year, &s).unwrap();
                let v = reporting::completeness::VariableCounts::load(&mut conn, &tree, year, None, &s).unwrap();
                let history = reporting::history::History::default();
                let how = reporting::small_counts::How {
                    k: 5,
                    history: &history,
                    protection: reporting::releases::Protection::InsiderSafe,
                };
                reporting::small_counts::protect(&tree, year, s.today, &c, &v, &how).unwrap()
            });
            report(
                &task,
                &t,
                &format!(
                    "{} counts withheld at units and legal entities; audit {}",
                    withheld.withheld.len(),
                    withheld.audit.line()
                ),
            );
        }
        "price" => {
            // The price of insider safety: the same counts protected the old way (outsider only)
            // and as rusreg publishes (insider-safe), in the same run.
            let tree = OrgTree::load(&mut conn).unwrap();
            let counts = reporting::indicators::load_counts(&mut conn, &tree, year, year, &s).unwrap();
            let c = reporting::completeness::CompletenessCounts::load(&mut conn, &tree, year, &s).unwrap();
            let v = reporting::completeness::VariableCounts::load(&mut conn, &tree, year, None, &s).unwrap();
            let units: std::collections::HashSet<i64> =
                tree.units_in_year(year, s.today).iter().map(|p| p.unit).collect();
            for protection in
                [reporting::releases::Protection::OutsiderOnly, reporting::releases::Protection::InsiderSafe]
            {
                let (t, built) = time(repeat, || {
                    reporting::releases::build_release_with(
                        &counts,
                        &tree,
                        year,
                        s.today,
                        5,
                        &reporting::releases::Previous::default(),
                        protection,
                    )
                    .unwrap()
                });
                // The cells a release publishes or withholds (numerators, denominators, activity);
                // complements are never published.
                let shown = |c: &&persistence::releases::ReleaseCellRow| c.outcome != "no";
                let all: Vec<_> = built.cells.iter().filter(shown).collect();
                let at_units: Vec<_> = all.iter().filter(|c| units.contains(&c.node_id)).collect();
                let published = all.iter().filter(|c| c.status == "published").count();
                let published_units = at_units.iter().filter(|c| c.status == "published").count();
                let primary_shown = all.iter().filter(|c| c.status == "primary").count();
                let secondary_shown = all.iter().filter(|c| c.status == "secondary").count();
                report(
                    &format!("price {protection:?} release"),
                    &t,
                    &format!(
                        "{} publishable cells: {} published ({:.1} %), {} withheld ({} primary, {} secondary of them; {} primary, {} secondary in all, complements included) ({:.1} %); unit level {} cells, {:.1} % published; stats {}",
                        all.len(),
                        published,
                        100.0 * published as f64 / all.len() as f64,
                        all.len() - published,
                        primary_shown,
                        secondary_shown,
                        built.primary,
                        built.secondary,
                        100.0 * (all.len() - published) as f64 / all.len() as f64,
                        at_units.len(),
                        100.0 * published_units as f64 / at_units.len().max(1) as f64,
                        built.stats
                    ),
                );
                let history = reporting::history::History::default();
                let how = reporting::small_counts::How { k: 5, history: &history, protection };
                let (t, protected) =
                    time(repeat, || reporting::small_counts::protect(&tree, year, s.today, &c, &v, &how).unwrap());
                let shown = protected.cells.len();
                report(
                    &format!("price {protection:?} completeness"),
                    &t,
                    &format!(
                        "{shown} counts shown to register contacts, {} withheld ({:.1} %); audit {}",
                        protected.withheld.len(),
                        100.0 * protected.withheld.len() as f64 / shown.max(1) as f64,
                        protected.audit.line()
                    ),
                );
            }
        }
        "residence" => {
            // The price of the residence tables (docs/residence.md): the insider-safe release of
            // the year from the same counts, without the residence split (every count as a
            // release made before residence was recorded: the baseline) and with it, in one run.
            let tree = OrgTree::load(&mut conn).unwrap();
            let counts = reporting::indicators::load_counts(&mut conn, &tree, year, year, &s).unwrap();
            let without: Vec<_> = counts
                .iter()
                .map(|c| reporting::indicators::PlacedCount { residence: Default::default(), ..c.clone() })
                .collect();
            let (t0, rows0) = time(1, || {
                let tree = OrgTree::load(&mut conn).unwrap();
                reporting::indicators::load_counts(&mut conn, &tree, year, year, &s).unwrap().len()
            });
            report("residence counts query", &t0, &format!("{rows0} grouped rows (with residence)"));
            for (label, counts) in [("without residence", &without), ("with residence", &counts)] {
                let (t, built) = time(repeat, || {
                    reporting::releases::build_release(
                        counts,
                        &tree,
                        year,
                        s.today,
                        5,
                        &reporting::releases::Previous::default(),
                    )
                    .unwrap()
                });
                let shown = |c: &&persistence::releases::ReleaseCellRow| c.outcome != "no";
                let all: Vec<_> = built.cells.iter().filter(shown).collect();
                let published = all.iter().filter(|c| c.status == "published").count();
                let residence: Vec<_> = all.iter().filter(|c| c.measure.starts_with("residence")).collect();
                let residence_published = residence.iter().filter(|c| c.status == "published").count();
                let other = all.len() - residence.len();
                let other_published = published - residence_published;
                report(
                    &format!("residence release {label}"),
                    &t,
                    &format!(
                        "{} publishable cells, {} published; besides residence {} cells, {} published ({:.1} %); residence {} cells, {} published; stats {}",
                        all.len(),
                        published,
                        other,
                        other_published,
                        100.0 * other_published as f64 / other.max(1) as f64,
                        residence.len(),
                        residence_published,
                        built.stats
                    ),
                );
            }
        }
        "baseline-indicators" | "baseline-completeness" => {
            let first = if task == "baseline-indicators" { year - 1 } else { year };
            // The report queries' session settings (work_mem, parallel plans), the same here.
            let (t, n) = time(repeat, || {
                conn.transaction::<_, diesel::result::Error, _>(|conn| {
                    for setting in persistence::reports::REPORT_SETTINGS {
                        diesel::sql_query(setting).execute(conn)?;
                    }
                    diesel::sql_query(BASELINE_INDICATORS)
                        .bind::<diesel::sql_types::Integer, _>(first)
                        .bind::<diesel::sql_types::Integer, _>(year)
                        .get_result::<Row>(conn)
                })
                .unwrap()
                ._n
            });
            report(&task, &t, &format!("{n} groups"));
        }
        "release" => {
            let user = uuid::Uuid::new_v4();
            diesel::sql_query(format!(
                "INSERT INTO users (id, username, display_name, password_hash) VALUES ('{user}', 'bench-{}', 'Benchmark', '-')",
                user.simple()
            ))
            .execute(&mut conn)
            .unwrap();
            let t0 = Instant::now();
            let tree = OrgTree::load(&mut conn).unwrap();
            let counts = reporting::indicators::load_counts(&mut conn, &tree, year, year, &s).unwrap();
            let t_counts = t0.elapsed();
            let built = reporting::releases::build_release(
                &counts,
                &tree,
                year,
                s.today,
                5,
                &reporting::releases::Previous::default(),
            )
            .unwrap();
            let t_built = t0.elapsed();
            let row = conn
                .transaction::<_, diesel::result::Error, _>(|conn| {
                    Ok(reporting::releases::store(conn, &tree, year, &s, 5, &built, None, user).unwrap())
                })
                .unwrap();
            let total = t0.elapsed();
            println!(
                "release: total {:.2} s (counts {:.2} s, build+suppress+audit {:.2} s, store {:.2} s); release {} with {} cells: {} published, {} primary, {} secondary; audit {}; stats {}",
                total.as_secs_f64(),
                t_counts.as_secs_f64(),
                (t_built - t_counts).as_secs_f64(),
                (total - t_built).as_secs_f64(),
                row.id,
                built.cells.len(),
                built.published,
                built.primary,
                built.secondary,
                built.audit.line(),
                built.stats
            );
        }
        "over-time" => {
            let every: usize = arg("--late", Some("50")).parse().unwrap();
            let tree = OrgTree::load(&mut conn).unwrap();
            let counts = reporting::indicators::load_counts(&mut conn, &tree, year, year, &s).unwrap();
            let previous = reporting::releases::Previous::default();
            let first = reporting::releases::build_release(&counts, &tree, year, s.today, 5, &previous).unwrap();
            let mut later = first.counts.clone();
            let mut late = 0;
            for (i, c) in
                later.iter_mut().filter(|c| c.population == domain::indicators::Population::Started).enumerate()
            {
                if i % every == 0 {
                    c.n += 1;
                    late += 1;
                }
            }
            let history =
                reporting::releases::Previous::new(Some(1), &[reporting::releases::Publication::Release(&first.cells)]);
            let earlier = reporting::over_time::EarlierRelease {
                id: 1,
                cells: first.cells.clone(),
                counts: first.counts.clone(),
            };
            let with = reporting::releases::Previous { earlier: vec![earlier], ..history.clone() };
            println!(
                "first release: {} cells, {} published, {} primary, {} secondary; {late} late registrations (every {every}th started count + 1)",
                first.cells.len(),
                first.published,
                first.primary,
                first.secondary
            );
            for _ in 0..repeat {
                for (what, previous) in [("rules only (before)", &history), ("with the audit over time (now)", &with)] {
                    let t = Instant::now();
                    let second = reporting::releases::build_release(&later, &tree, year, s.today, 5, previous);
                    let elapsed = t.elapsed();
                    match second {
                        Ok(b) => println!(
                            "second release, {what}: {:.2} s; {} published, {} primary, {} secondary; audit {}; over time: {} releases, {} findings, {} cells withheld after it, {} rounds, {} ms",
                            elapsed.as_secs_f64(),
                            b.published,
                            b.primary,
                            b.secondary,
                            b.audit.line(),
                            b.audit.over_time_releases,
                            b.audit.over_time_findings,
                            b.stats["withheld_after_the_audit_over_time"],
                            b.stats["over_time_rounds"],
                            b.stats["audit_over_time_ms"]
                        ),
                        Err(e) => println!("second release, {what}: {:.2} s; refused: {e:?}", elapsed.as_secs_f64()),
                    }
                }
            }
        }
        other => panic!("unknown task {other}"),
    }
}
