//! Faults under concurrent writes, with the real binary on a durable managed cluster: PostgreSQL
//! killed with SIGKILL and started again, the server killed with SIGKILL and started again, and
//! the server stopped with SIGTERM and with SIGINT while requests are in flight. Afterwards every
//! write the API acknowledged is in the database, nothing is half-written (a patient, pathway or
//! form without its audit row, a pathway without its status history, a form without its history),
//! and while the database was down the server answered 503 problem+json at once and came back by
//! itself.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use managed_postgres::{Durability, LocalCluster};

const PASSWORD: &str = "fault-test-password-0123";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.1 request (Connection: close); `None` when the connection failed or closed
/// without a response.
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Option<(u16, String)> {
    http_typed(port, method, path, token, "application/json", body)
}

/// [`http`] with the body's content type.
fn http_typed(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let body = body.unwrap_or("");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    let status = out.get(9..12)?.parse().ok()?;
    Some((status, out))
}

fn json_field(response: &str, field: &str) -> Option<String> {
    json_body(response)?[field].as_str().map(str::to_owned)
}

fn json_body(response: &str) -> Option<serde_json::Value> {
    serde_json::from_str(response.split_once("\r\n\r\n")?.1).ok()
}

/// A valid fødselsnummer for a birth on day `n` after 1960-01-01 with individual number `i`
/// (000–499: born 1900–1999, so `n` stays below 10,000 days: births up to 1987).
fn national_id(n: u32, i: u32) -> Option<String> {
    let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1)?.checked_add_days(chrono::Days::new(u64::from(n)))?;
    let first9 = format!("{}{:03}", birth.format("%d%m%y"), i);
    let d: Vec<u32> = first9.chars().filter_map(|c| c.to_digit(10)).collect();
    let check = |digits: &[u32], weights: &[u32]| {
        let r = 11 - digits.iter().zip(weights).map(|(a, b)| a * b).sum::<u32>() % 11;
        match r {
            11 => Some(0),
            10 => None,
            r => Some(r),
        }
    };
    let k1 = check(&d, &[3, 7, 6, 1, 8, 9, 4, 5, 2])?;
    let mut d10 = d.clone();
    d10.push(k1);
    let k2 = check(&d10, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2])?;
    Some(format!("{first9}{k1}{k2}"))
}

fn birth_year(n: u32) -> i32 {
    let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap() + chrono::Days::new(u64::from(n));
    chrono::Datelike::year(&birth)
}

struct Register {
    dir: PathBuf,
    cluster: LocalCluster,
    /// The node id of the registrar's unit.
    unit: i64,
}

impl Register {
    /// A durable managed cluster (a SIGKILL of PostgreSQL must not lose a commit), migrated, with
    /// the reference data and a registrar at the demo unit.
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rusreg-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cluster = LocalCluster::start(&dir, Durability::Durable).unwrap();
        for args in [
            &["migrate"][..],
            &["seed-reference"],
            &["user", "add", "--username", "fault", "--role", "registrar", "--node", "9000008"],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_rusreg"))
                .args(args)
                .env_remove("DATABASE_URL")
                .env("RUSREG_DATA_DIR", &dir)
                .env("RUSREG_NEW_PASSWORD", PASSWORD)
                .env("RUSREG_LOG", "warn")
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let mut owner = PgConnection::establish(&cluster.owner_url()).unwrap();
        let unit = diesel::sql_query("SELECT id FROM org_nodes WHERE resh_id = 9000008")
            .get_result::<Id>(&mut owner)
            .unwrap()
            .id;
        Self { dir, cluster, unit }
    }

    /// `rusreg serve` as the server's role; with `full_log` its log (standard output and error)
    /// goes to /dev/full, where every write fails as on a full disk.
    fn serve(&self, port: u16, full_log: bool) -> Child {
        let log = || {
            if full_log {
                Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
            } else {
                Stdio::null()
            }
        };
        Command::new(env!("CARGO_BIN_EXE_rusreg"))
            .arg("serve")
            .env("DATABASE_URL", self.cluster.server_url())
            .env("RUSREG_BIND", format!("127.0.0.1:{port}"))
            .env("RUSREG_JWT_SECRET", "a-strong-secret-for-the-fault-test-0123456789abcdef")
            .env("RUSREG_ID_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .env("RUSREG_LOG", "info")
            .env("RUSREG_DB_POOL_SIZE", "8")
            .stdin(Stdio::null())
            .stdout(log())
            .stderr(log())
            .spawn()
            .unwrap()
    }

    fn owner(&self) -> PgConnection {
        PgConnection::establish(&self.cluster.owner_url()).unwrap()
    }

    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("pgdata/postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
    }
}

impl Drop for Register {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_status(port: u16, path: &str, want: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if http(port, "GET", path, None, None).map(|(s, _)| s) == Some(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn wait_gone(pid: u32) {
    let start = Instant::now();
    while process_alive(pid) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!process_alive(pid), "process {pid} did not end");
}

fn login(port: u16) -> String {
    let body = format!(r#"{{"username":"fault","password":"{PASSWORD}"}}"#);
    let (status, res) = http(port, "POST", "/api/v1/auth/token", None, Some(&body)).unwrap();
    assert_eq!(status, 200, "{res}");
    json_field(&res, "access_token").unwrap()
}

/// What the writers were told was stored.
#[derive(Default)]
struct Acknowledged {
    patients: Vec<String>,
    pathways: Vec<String>,
    forms: Vec<String>,
    /// Answers that were neither a success nor a problem+json 503/500 (e.g. no response at all).
    other: Vec<String>,
}

/// Writers that register a patient, open a pathway and create a baseline draft, again and
/// again, until `stop`; the port is read on each request (the server may move).
fn writers(
    unit: i64,
    port: Arc<AtomicU32>,
    token: String,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Acknowledged>>,
    next: Arc<AtomicU32>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..4)
        .map(|_| {
            let (port, token, stop, ack, next) =
                (port.clone(), token.clone(), stop.clone(), acknowledged.clone(), next.clone());
            std::thread::spawn(move || {
                let today = domain::clock::today();
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = national_id(n % 10_000, 100 + (n / 10_000) % 400) else { continue };
                    let p = port.load(Ordering::Relaxed) as u16;
                    let body = format!(r#"{{"national_id":"{id}","sex":1,"birth_year":{}}}"#, birth_year(n % 10_000));
                    let note = |ack: &Mutex<Acknowledged>, what: &str, res: Option<(u16, String)>| match res {
                        // Refused while the database or the server is down: nothing was promised.
                        Some((503, r)) | Some((500, r)) if r.contains("application/problem+json") => {}
                        None => {}
                        Some((s, r)) => {
                            ack.lock().unwrap().other.push(format!("{what}: {s} {}", r.lines().next().unwrap_or("")))
                        }
                    };
                    let res = http(p, "POST", "/api/v1/patients", Some(&token), Some(&body));
                    let Some(patient) = res.as_ref().filter(|(s, _)| *s == 201).and_then(|(_, r)| json_field(r, "id"))
                    else {
                        note(&ack, "patient", res);
                        continue;
                    };
                    ack.lock().unwrap().patients.push(patient.clone());
                    let body = format!(
                        r#"{{"patient_id":"{patient}","unit_id":{unit},"start_date":"{}","treatment_level":1}}"#,
                        today - chrono::Days::new(3)
                    );
                    let res = http(p, "POST", "/api/v1/pathways", Some(&token), Some(&body));
                    let Some(pathway) = res.as_ref().filter(|(s, _)| *s == 201).and_then(|(_, r)| json_field(r, "id"))
                    else {
                        note(&ack, "pathway", res);
                        continue;
                    };
                    ack.lock().unwrap().pathways.push(pathway.clone());
                    let body = format!(r#"{{"event_date":"{}"}}"#, today - chrono::Days::new(2));
                    let res = http(
                        p,
                        "POST",
                        &format!("/api/v1/pathways/{pathway}/forms/baseline"),
                        Some(&token),
                        Some(&body),
                    );
                    match res.as_ref().filter(|(s, _)| *s == 201).and_then(|(_, r)| json_field(r, "id")) {
                        Some(form) => ack.lock().unwrap().forms.push(form),
                        None => note(&ack, "form", res),
                    }
                }
            })
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

fn lines(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql).load::<Line>(conn).unwrap().into_iter().map(|l| l.line).collect()
}

/// Every acknowledged row is there; nothing is half-written.
fn check_database(conn: &mut PgConnection, ack: &Acknowledged) {
    for (table, ids) in [("patients", &ack.patients), ("pathways", &ack.pathways), ("forms", &ack.forms)] {
        let stored = lines(conn, &format!("SELECT id::text AS line FROM {table}"));
        let missing: Vec<_> = ids.iter().filter(|id| !stored.contains(id)).collect();
        assert!(missing.is_empty(), "{} acknowledged {table} missing: {missing:?}", missing.len());
    }
    let half_written = lines(
        conn,
        "SELECT 'patient without audit row ' || p.id AS line FROM patients p \
           WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.patient_id = p.id AND a.action = 'patient.register') \
         UNION ALL SELECT 'pathway without status history ' || w.id FROM pathways w \
           WHERE NOT EXISTS (SELECT 1 FROM pathway_status_history h WHERE h.pathway_id = w.id) \
         UNION ALL SELECT 'pathway without audit row ' || w.id FROM pathways w \
           WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target_id = w.id::text) \
         UNION ALL SELECT 'form without history ' || f.id FROM forms f \
           WHERE NOT EXISTS (SELECT 1 FROM form_history h WHERE h.form_id = f.id) \
         UNION ALL SELECT 'form without audit row ' || f.id FROM forms f \
           WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target_id = f.id::text) \
         UNION ALL SELECT 'form without its typed row ' || f.id FROM forms f \
           WHERE f.kind = 'baseline' AND NOT EXISTS (SELECT 1 FROM baseline_forms b WHERE b.form_id = f.id)",
    );
    assert!(half_written.is_empty(), "{half_written:#?}");
}

#[test]
fn acknowledged_writes_survive_kills_of_the_database_and_the_server() {
    let register = Register::new("kill");
    let port = free_port();
    let mut server = register.serve(port, false);
    assert!(wait_status(port, "/health/ready", 200, Duration::from_secs(60)));
    let token = login(port);
    let shared_port = Arc::new(AtomicU32::new(u32::from(port)));
    let stop = Arc::new(AtomicBool::new(false));
    let ack = Arc::new(Mutex::new(Acknowledged::default()));
    let next = Arc::new(AtomicU32::new(0));
    let threads = writers(register.unit, shared_port.clone(), token, stop.clone(), ack.clone(), next);
    std::thread::sleep(Duration::from_secs(3));

    // 1. PostgreSQL killed: readiness says 503, a write gets a 503 problem+json at once (not a
    //    hang), and after `pg_ctl start` the same server process serves again.
    let pg = register.postmaster_pid().unwrap();
    signal(pg, "-KILL");
    wait_gone(pg);
    assert!(
        wait_status(port, "/health/ready", 503, Duration::from_secs(20)),
        "ready says 503 while the database is down"
    );
    let started = Instant::now();
    let body = r#"{"username":"fault","password":"x"}"#;
    let (status, response) =
        http(port, "POST", "/api/v1/auth/token", None, Some(body)).expect("an answer, not a closed connection");
    assert_eq!(status, 503, "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(15), "the 503 took {:?}", started.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    let out = Command::new("sh").args(["-c", &register.cluster.start_command()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(wait_status(port, "/health/ready", 200, Duration::from_secs(60)), "the server serves again by itself");
    std::thread::sleep(Duration::from_secs(3));

    // 2. The server killed under writes, then started again.
    signal(server.id(), "-KILL");
    server.wait().unwrap();
    let port2 = free_port();
    shared_port.store(u32::from(port2), Ordering::Relaxed);
    server = register.serve(port2, false);
    assert!(wait_status(port2, "/health/ready", 200, Duration::from_secs(60)));
    std::thread::sleep(Duration::from_secs(3));

    // 3. SIGTERM under writes: the server finishes what it has and exits cleanly.
    signal(server.id(), "-TERM");
    let status = server.wait().unwrap();
    assert!(status.success(), "SIGTERM ends the server cleanly: {status:?}");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let ack = ack.lock().unwrap();
    assert!(ack.patients.len() > 20 && ack.forms.len() > 10, "the writers wrote: {} patients", ack.patients.len());
    assert!(ack.other.is_empty(), "unexpected answers: {:#?}", ack.other);
    check_database(&mut register.owner(), &ack);
}

/// SIGINT and SIGTERM both stop gracefully: a request whose body is still arriving when the
/// signal comes is answered.
#[test]
fn sigint_and_sigterm_let_requests_in_flight_finish() {
    let register = Register::new("signals");
    for sig in ["-INT", "-TERM"] {
        let port = free_port();
        let mut server = register.serve(port, false);
        assert!(wait_status(port, "/health/ready", 200, Duration::from_secs(60)));
        let body = format!(r#"{{"username":"fault","password":"{PASSWORD}"}}"#);
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "POST /api/v1/auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body.as_bytes()[..5]).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        signal(server.id(), sig);
        std::thread::sleep(Duration::from_millis(500));
        stream.write_all(&body.as_bytes()[5..]).unwrap();
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 200"), "{sig}: the request in flight got {out:?}");
        let status = server.wait().unwrap();
        assert!(status.success(), "{sig}: {status:?}");
    }
}

/// With the server's log on a full disk (stderr on /dev/full), a request that fails inside
/// still gets its 500 problem+json: the error path does not depend on the log.
#[test]
fn a_full_log_disk_does_not_cost_the_answer() {
    let register = Register::new("full-log");
    let port = free_port();
    let mut server = register.serve(port, true);
    assert!(wait_status(port, "/health/ready", 200, Duration::from_secs(60)));
    let token = login(port);
    // A database failure the server cannot foresee: its role loses a privilege it needs.
    diesel::sql_query("REVOKE SELECT ON patients FROM rusreg_server").execute(&mut register.owner()).unwrap();
    let id = national_id(100, 200).unwrap();
    let body = format!(r#"{{"national_id":"{id}","sex":1,"birth_year":{}}}"#, birth_year(100));
    let res = http(port, "POST", "/api/v1/patients", Some(&token), Some(&body));
    let (status, response) = res.expect("an answer, not a closed connection");
    assert_eq!(status, 500, "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(!response.contains(&id));
    signal(server.id(), "-TERM");
    server.wait().unwrap();
}

/// The number of rows `sql` (a `SELECT count(*) AS n ...`) counts.
fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}

#[test]
fn an_import_job_killed_midway_resumes_after_restart_and_does_every_row_once() {
    let register = Register::new("import");
    let port = free_port();
    let mut server = register.serve(port, false);
    assert!(wait_status(port, "/health/ready", 200, Duration::from_secs(60)), "server did not start");
    let token = login(port);
    // Patients, each with a pathway and a baseline draft: more rows than run in the request.
    let today = domain::clock::today();
    let start = today - chrono::Days::new(30);
    let mut batch = String::new();
    let mut people = 0;
    for n in 0..2000 {
        let Some(id) = national_id(n, 300) else { continue };
        people += 1;
        batch.push_str(&format!(
            "{{\"type\":\"patient\",\"key\":\"P{n}\",\"national_id\":\"{id}\",\"sex\":1,\"birth_year\":{}}}\n\
             {{\"type\":\"pathway\",\"key\":\"W{n}\",\"patient_key\":\"P{n}\",\"unit_id\":{},\"start_date\":\"{start}\",\"treatment_level\":1}}\n\
             {{\"type\":\"form\",\"key\":\"B{n}\",\"pathway_key\":\"W{n}\",\"kind\":\"baseline\",\"data\":{{\"event_date\":\"{today}\"}}}}\n",
            birth_year(n),
            register.unit
        ));
    }
    let rows = people * 3;
    let (status, res) =
        http_typed(port, "POST", "/api/v1/imports", Some(&token), "application/x-ndjson", Some(&batch)).unwrap();
    assert_eq!(status, 202, "{res}");
    let job = json_field(&res, "id").unwrap();
    // Kill the server once some chunks are committed and before the end.
    let started = Instant::now();
    let done_at_kill = loop {
        let (_, res) = http(port, "GET", &format!("/api/v1/imports/{job}"), Some(&token), None).unwrap();
        let done = json_body(&res).unwrap()["rows_done"].as_i64().unwrap();
        if done > 0 {
            assert!(done < rows, "the job ended before the kill: make the batch larger");
            server.kill().unwrap(); // SIGKILL
            break done;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the job did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    server.wait().unwrap();
    let mut owner = register.owner();
    let running =
        count(&mut owner, &format!("SELECT count(*) AS n FROM import_jobs WHERE id = '{job}' AND status = 'running'"));
    assert_eq!(running, 1, "the killed job is left running");
    // Started again, the server's worker takes the job up when its heartbeat is stale.
    let port = free_port();
    let mut server = register.serve(port, false);
    assert!(wait_status(port, "/health/ready", 200, Duration::from_secs(60)), "server did not restart");
    let token = login(port);
    let started = Instant::now();
    let job_now = loop {
        let (_, res) = http(port, "GET", &format!("/api/v1/imports/{job}"), Some(&token), None).unwrap();
        let body = json_body(&res).unwrap();
        if body["status"] != "running" && body["status"] != "queued" {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the job was not resumed: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(job_now["status"], "completed", "{job_now}");
    assert_eq!(job_now["rows_done"].as_i64(), Some(rows));
    assert_eq!((job_now["created"].as_i64(), job_now["rejected"].as_i64()), (Some(rows), Some(0)), "{job_now}");
    // Every row exactly once: one patient, pathway and form per person, each with one audit row.
    for (sql, want) in [
        ("SELECT count(*) AS n FROM patients", people),
        ("SELECT count(*) AS n FROM pathways", people),
        ("SELECT count(*) AS n FROM forms", people),
        ("SELECT count(*) AS n FROM import_keys", rows),
        ("SELECT count(*) AS n FROM audit_log WHERE action = 'patient.register'", people),
        ("SELECT count(*) AS n FROM audit_log WHERE action = 'pathway.open'", people),
        ("SELECT count(*) AS n FROM audit_log WHERE action = 'form.create'", people),
    ] {
        assert_eq!(count(&mut owner, sql), want, "{sql} (killed at {done_at_kill} of {rows} rows)");
    }
    assert_eq!(count(&mut owner, "SELECT count(*) AS n FROM import_jobs WHERE batch IS NOT NULL"), 0);
    signal(server.id(), "-TERM");
    let _ = server.wait();
}
