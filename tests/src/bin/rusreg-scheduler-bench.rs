//! Order scheduler benchmark (docs/benchmarks.md, "Order scheduler at national scale"): on a
//! seeded register (`rusreg seed --pathways 1000000 --tree realistic`), times the daily passes
//! of `app::scheduler::run_pass` — the first pass (every follow-up window open that day gets its
//! order and letter: orders created per second), the same pass again (nothing to do), the next
//! day's pass, the pass that sends the reminders and the pass that expires the orders and orders
//! the second attempts — next to the worklist query of every unit in the same run (the facts
//! read and the due-date rules, `app::worklist::counts_for_unit`, as the digest step reads it).
//! One unit contact with an e-mail address per unit is added first, so each pass also writes
//! the day's digests. Everything the run writes (orders, messages, the bench's grants) is deleted
//! at the start and at the end; the bench's users are disabled.
//!
//! rusreg-scheduler-bench --database-url postgres://... [--day 2026-12-05] [--batch 1000]

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark tool: a failure aborts the run")]

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use domain::orders::OrderConfig;
use domain::worklist::WorklistConfig;
use integration_tests::bench::arg;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}

/// Removes what a run writes: every order with its history, codes and messages, the days of
/// digests, and the grants of the bench's users (who are disabled).
fn clean(conn: &mut PgConnection) {
    for sql in [
        "DELETE FROM outbox_messages",
        "DELETE FROM digest_days",
        "DELETE FROM order_status_history",
        "DELETE FROM order_access_codes",
        "DELETE FROM orders",
        "DELETE FROM grants WHERE user_id IN (SELECT id FROM users WHERE username LIKE 'bench-digest-%')",
        // Kept and disabled rather than deleted: deleting a user checks every table that names
        // users (forms, history, audit) without an index on those columns, minutes at 1,000,000
        // pathways. The next run enables them again.
        "UPDATE users SET disabled = true WHERE username LIKE 'bench-digest-%'",
    ] {
        diesel::sql_query(sql).execute(conn).unwrap();
    }
}

/// One unit contact with an e-mail address per unit (no password: the digest needs none).
fn add_contacts(conn: &mut PgConnection) -> i64 {
    diesel::sql_query(
        "INSERT INTO users (id, username, display_name, password_hash, email)
         SELECT gen_random_uuid(), 'bench-digest-' || n.id, 'Bench contact ' || n.id, '!', 'unit' || n.id || '@example.no'
         FROM org_nodes n WHERE n.kind = 'unit'
         ON CONFLICT (username) DO UPDATE SET disabled = false",
    )
    .execute(conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO grants (user_id, role, node_id, valid_from)
         SELECT u.id, 'unit_contact', substr(u.username, 14)::bigint, now()
         FROM users u WHERE u.username LIKE 'bench-digest-%'",
    )
    .execute(conn)
    .unwrap() as i64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let url = arg("--database-url", None);
    let day: NaiveDate = arg("--day", Some(&domain::clock::today().to_string())).parse().expect("--day is YYYY-MM-DD");
    let batch: i64 = arg("--batch", Some("1000")).parse().unwrap();
    let mut conn = PgConnection::establish(&url).expect("database");
    let (config, window) = (OrderConfig::default(), WorklistConfig::default());
    let url_public = "https://rusreg.example";

    clean(&mut conn);
    let pathways = count(&mut conn, "SELECT count(*) AS n FROM pathways");
    let contacts = add_contacts(&mut conn);
    println!("register: {pathways} pathways; {contacts} unit contacts with an address added; day {day}");

    // The worklist query of every unit, twice (the first warms the cache); the second is reported.
    let units: Vec<i64> = diesel::sql_query("SELECT id FROM org_nodes WHERE kind = 'unit' ORDER BY id")
        .load::<Id>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut per_unit = Vec::new();
    for round in 0..2 {
        per_unit.clear();
        let mut items = (0, 0);
        let started = Instant::now();
        for unit in &units {
            let t = Instant::now();
            let (due, overdue) = app::worklist::counts_for_unit(&mut conn, *unit, day, &window).unwrap();
            per_unit.push(t.elapsed());
            items.0 += due;
            items.1 += overdue;
        }
        if round == 1 {
            per_unit.sort();
            println!(
                "worklist of all {} units: {:.0} ms ({} due, {} overdue items); per unit p50 {:.1} ms, max {:.1} ms",
                units.len(),
                ms(started.elapsed()),
                items.0,
                items.1,
                ms(per_unit[per_unit.len() / 2]),
                ms(*per_unit.last().unwrap())
            );
        }
    }

    let mut run = |label: &str, on: NaiveDate| {
        let started = Instant::now();
        let r = app::scheduler::run_pass(&mut conn, config, window, url_public, on, batch).unwrap();
        let took = started.elapsed();
        let per_s = r.follow_ups_ordered as f64 / took.as_secs_f64();
        println!(
            "{label} ({on}): {:.0} ms; {} follow-up orders ({per_s:.0}/s), {} reminders, {} expired, {} digests",
            ms(took),
            r.follow_ups_ordered,
            r.reminded,
            r.expired,
            r.digests
        );
    };
    run("first pass", day);
    run("the same pass again", day);
    run("next day", day + Days::new(1));
    run("reminders (day + 15)", day + Days::new(u64::from(config.remind_days)));
    run("expiry and second attempts (day + 31)", day + Days::new(u64::from(config.expire_days) + 1));
    let orders = count(&mut conn, "SELECT count(*) AS n FROM orders");
    let messages = count(&mut conn, "SELECT count(*) AS n FROM outbox_messages");
    println!("written: {orders} orders, {messages} outbox messages");
    clean(&mut conn);
}
