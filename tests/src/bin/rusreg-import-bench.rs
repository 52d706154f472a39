//! Import benchmark (docs/benchmarks.md): N pathways, each with its patient, a completed
//! baseline and a draft measurement point, as one NDJSON batch run through `app::imports` (every
//! row validated, access-checked, with history and audit, as `POST /api/v1/imports` and
//! `rusreg import` run it), and beside it `rusreg seed`'s bulk COPY load
//! (`persistence::synthetic::load`, the same function) of N pathways into the same database in
//! the same run. Prints pathways per second of both. The database is a fresh one of the managed
//! test cluster (or `TEST_DATABASE_URL`'s server).
//!
//! With `--statements`, every statement the import sends is counted (diesel's connection
//! instrumentation: each query, and each BEGIN, SAVEPOINT, RELEASE and COMMIT) with the time
//! from sending it to its answer, and the statements per pathway are printed by their SQL text
//! (no bound values), most time first.
//!
//! With `--row-facts`, the down.sql of migration `2026-12-09-000130_deferred_facts` is run first
//! (as the owner; the later migrations stay, as they touch no facts trigger): the facts triggers
//! recompute a pathway's facts at every form row written, as before it — the same run's
//! baseline for it.
//!
//! rusreg-import-bench [--pathways 20000] [--statements] [--row-facts]

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark tool: a failure aborts the run")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::{Connection, PgConnection};
use domain::access::Role;
use domain::national_id::IdKey;
use domain::organisations::NodeId;
use integration_tests::bench::arg;
use integration_tests::{TestDb, TEST_ID_KEY, UNIT_MOLDE};
use serde_json::json;

/// A valid fødselsnummer for a birth on day `n` after 1960-01-01 with individual number `i`
/// (000–499: born in the 1900s), or `None` when the check digits do not exist.
fn national_id(n: u32, i: u32) -> Option<(String, i32)> {
    let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1)?.checked_add_days(chrono::Days::new(u64::from(n)))?;
    let first9 = format!("{}{:03}", birth.format("%d%m%y"), i);
    let d: Vec<u32> = first9.chars().filter_map(|c| c.to_digit(10)).collect();
    let check =
        |digits: &[u32], weights: &[u32]| match 11 - digits.iter().zip(weights).map(|(a, b)| a * b).sum::<u32>() % 11 {
            11 => Some(0),
            10 => None,
            r => Some(r),
        };
    let k1 = check(&d, &[3, 7, 6, 1, 8, 9, 4, 5, 2])?;
    let mut d10 = d.clone();
    d10.push(k1);
    let k2 = check(&d10, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2])?;
    Some((format!("{first9}{k1}{k2}"), chrono::Datelike::year(&birth)))
}

fn batch(pathways: usize, unit: i64) -> String {
    let today = domain::clock::today();
    let start = today - chrono::Days::new(60);
    let (b_date, m_date) = (start + chrono::Days::new(1), start + chrono::Days::new(30));
    let block = |baseline: bool| {
        let debut = if baseline { json!(15) } else { serde_json::Value::Null };
        let mut b = json!({"substances": [{"substance": 1, "frequency_30d": 4, "route": 3}],
                           "main_substance": 1, "injected_30d": 2, "overdose_12m": 0});
        if baseline {
            b["substances"][0]["debut_age"] = debut;
        }
        b
    };
    let baseline = json!({"event_date": b_date, "referral_diagnosis": "F10.2", "substance_diagnoses": ["F10.2"],
        "psychiatric_diagnoses": [], "somatic_diagnoses": [], "somatic_health_assessed": 1,
        "mental_health_assessed": 3, "in_lar": 2, "individual_plan": 1, "responsibility_group": 2,
        "substance_use": block(true), "injected_ever": 2, "self_rated_severity": 4,
        "self_rated_life_situation": 2, "housing": 2, "lives_with": 1, "children_under_18": 2, "occupation": 7});
    let measurement = json!({"event_date": m_date, "treatment_level": 1, "treatment_plan": 1, "crisis_plan": 3,
        "benefit": 4, "feedback_tool_used": 2, "needs_followed_up": 2, "substance_use": block(false),
        "housing": 2, "occupation": 2});
    let mut out = String::new();
    let ids = (0..10_000u32).flat_map(|n| (100..500u32).map(move |i| (n, i))).filter_map(|(n, i)| national_id(n, i));
    for (k, (id, year)) in ids.take(pathways).enumerate() {
        for line in [
            json!({"type": "patient", "key": format!("P{k}"), "national_id": id, "sex": 1 + (k % 2), "birth_year": year}),
            json!({"type": "pathway", "key": format!("W{k}"), "patient_key": format!("P{k}"), "unit_id": unit,
                   "start_date": start, "treatment_level": 1}),
            json!({"type": "form", "key": format!("B{k}"), "pathway_key": format!("W{k}"), "kind": "baseline",
                   "status": "completed", "data": baseline}),
            json!({"type": "form", "key": format!("M{k}"), "pathway_key": format!("W{k}"), "kind": "measurement",
                   "data": measurement}),
        ] {
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    out
}

/// Statements by their SQL text: how many, and the time from sending each to its answer.
#[derive(Default)]
struct Profile {
    by_text: HashMap<String, (u64, Duration)>,
    open: Option<(String, Instant)>,
}

impl Profile {
    fn start(&mut self, text: String) {
        self.open = Some((text, Instant::now()));
    }

    fn finish(&mut self) {
        if let Some((text, at)) = self.open.take() {
            let e = self.by_text.entry(text).or_default();
            e.0 += 1;
            e.1 += at.elapsed();
        }
    }
}

/// The statement's SQL without its bound values (diesel prints them after `-- binds:`).
fn sql_text(query: &dyn std::fmt::Display) -> String {
    let text = query.to_string();
    let text = text.split(" -- binds:").next().unwrap_or_default();
    // Savepoints are numbered by depth: one line for all of them.
    let text = text.trim_end_matches(|c: char| c.is_ascii_digit());
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

struct Counter(Arc<Mutex<Profile>>);

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let mut p = self.0.lock().unwrap();
        match event {
            InstrumentationEvent::StartQuery { query, .. } => p.start(sql_text(query)),
            InstrumentationEvent::FinishQuery { .. } => p.finish(),
            _ => {}
        }
    }
}

fn print_profile(profile: &Profile, pathways: usize, import_secs: f64) {
    let mut rows: Vec<(&String, &(u64, Duration))> = profile.by_text.iter().collect();
    rows.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(b.1 .0.cmp(&a.1 .0)));
    let total: u64 = rows.iter().map(|r| r.1 .0).sum();
    let timed: Duration = rows.iter().map(|r| r.1 .1).sum();
    println!(
        "statements: {total} ({:.1} per pathway); queries answered in {:.1} s of the import's {import_secs:.1} s",
        total as f64 / pathways as f64,
        timed.as_secs_f64()
    );
    println!("{:>8} {:>9} {:>9}  statement", "per pw", "ms total", "us each");
    for (text, (n, t)) in rows {
        let short: String = text.chars().take(150).collect();
        println!(
            "{:>8.2} {:>9.0} {:>9.0}  {short}",
            *n as f64 / pathways as f64,
            t.as_secs_f64() * 1000.0,
            t.as_secs_f64() * 1e6 / *n as f64
        );
    }
}

fn main() {
    let pathways: usize = arg("--pathways", Some("20000")).parse().expect("--pathways is a number");
    let statements = std::env::args().any(|a| a == "--statements");
    let row_facts = std::env::args().any(|a| a == "--row-facts");
    // A job that fails logs why (never a row's values).
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter("warn").init();
    let db = TestDb::new();
    let key = IdKey::from_bytes(&TEST_ID_KEY);
    let mut owner = PgConnection::establish(&db.url).unwrap();
    if row_facts {
        // Only that migration's own down.sql: the later migrations (the system user, e-mail
        // addresses, digest days) are columns and rows the code of today reads, and touch no
        // facts trigger, so they stay.
        diesel::connection::SimpleConnection::batch_execute(
            &mut owner,
            include_str!("../../../migrations/2026-12-09-000130_deferred_facts/down.sql"),
        )
        .unwrap();
    }
    let unit = persistence::organisations::find_by_resh_id(&mut owner, UNIT_MOLDE).unwrap().unwrap().id;
    let user = app::users::ensure_user_with_grant(
        &mut owner,
        "import-bench",
        "import-bench",
        integration_tests::TEST_PASSWORD,
        Role::Registrar,
        NodeId(unit),
    )
    .unwrap();
    let text = batch(pathways, unit);
    let rows = text.lines().count();
    // As the server's role, as the API and `rusreg import` run it.
    let mut conn = PgConnection::establish(&db.server_url).unwrap();
    let actor = app::access::actor_of(&mut conn, user, None).unwrap().unwrap();
    let profile = Arc::new(Mutex::new(Profile::default()));
    if statements {
        conn.set_instrumentation(Counter(profile.clone()));
    }
    let caller = app::Caller::new(actor, Some("import-bench".into()));
    let today = domain::clock::today();
    let new = app::imports::NewImport {
        format: app::imports::Format::Ndjson,
        dry_run: false,
        all_or_nothing: false,
        batch: text.into_bytes(),
    };
    let started = Instant::now();
    let done = app::imports::submit(&mut conn, &caller, &key, new, today, usize::MAX, &mut |_, _| {}).unwrap();
    let import_secs = started.elapsed().as_secs_f64();
    let app::imports::Submitted::Done(job) = done else { panic!("the import was queued") };
    let r = &job.row;
    assert_eq!(
        (r.created_count, r.rejected_count),
        (i32::try_from(rows).unwrap(), 0),
        "{} {:?}",
        r.status,
        job.errors.first()
    );
    println!(
        "facts: {}",
        if row_facts { "recomputed at every form row (before 000130)" } else { "once per pathway at commit" }
    );
    println!(
        "import: {pathways} pathways ({rows} rows: patient, pathway, completed baseline, draft measurement) in {import_secs:.1} s: {:.0} pathways/s, {:.0} rows/s",
        pathways as f64 / import_secs,
        rows as f64 / import_secs
    );
    if statements {
        print_profile(&profile.lock().unwrap(), pathways, import_secs);
    }
    // `rusreg seed`'s load of the same number of pathways, into the same database.
    let mut settings = persistence::synthetic::SyntheticSettings::builtin().unwrap();
    settings.tree = persistence::synthetic::Tree::Demo;
    let options = persistence::synthetic::LoadOptions::default();
    let s = persistence::synthetic::load(&db.url, &key, pathways, 1, &settings, &options, |_| {}).unwrap();
    let copy_secs = s.elapsed.as_secs_f64();
    println!(
        "seed (COPY): {} pathways, {} forms ({} completed) in {copy_secs:.1} s: {:.0} pathways/s ({} writers)",
        s.pathways,
        s.forms,
        s.completed_forms,
        s.pathways as f64 / copy_secs,
        options.writers
    );
    println!("import / COPY: {:.1} %", 100.0 * (pathways as f64 / import_secs) / (s.pathways as f64 / copy_secs));
}
