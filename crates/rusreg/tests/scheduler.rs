//! The scheduler and the e-mail sender inside the server, with two real `rusreg serve` processes
//! against one database, both with the scheduler on (a tick a second) and both sending through a
//! real SMTP server (aiosmtpd, `AIOSMTPD_BIN`; `.ci/run` installs it, the test fails without it).
//! One event — a follow-up window that opens, an order with an e-mail address — gives exactly one
//! order, one letter and one delivered e-mail, however often both servers tick.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use managed_postgres::{Durability, LocalCluster};
use serde_json::{json, Value};

const PASSWORD: &str = "scheduler-test-password-0123";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.1 request (Connection: close): (status, body as JSON or Null).
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let json = out.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    (status, json)
}

fn ok(port: u16, method: &str, path: &str, token: &str, body: &Value) -> Value {
    let (status, res) = http(port, method, path, Some(token), Some(body));
    assert!((200..300).contains(&status), "{method} {path}: {status} {res}");
    res
}

fn days_ago(n: i64) -> String {
    (domain::clock::today() - chrono::Duration::days(n)).to_string()
}

fn block() -> Value {
    json!({"substances": [{"substance": 1, "frequency_30d": 4, "route": 3}],
           "main_substance": 1, "injected_30d": 2, "overdose_12m": 0})
}

/// A new patient with a pathway at `unit` started `start` days ago; returns the pathway.
fn pathway(port: u16, token: &str, unit: i64, (id, year): (&str, i32), start: i64) -> String {
    let patient =
        ok(port, "POST", "/api/v1/patients", token, &json!({"national_id": id, "sex": 2, "birth_year": year}));
    let body =
        json!({"patient_id": patient["id"], "unit_id": unit, "start_date": days_ago(start), "treatment_level": 1});
    ok(port, "POST", "/api/v1/pathways", token, &body)["id"].as_str().unwrap().to_owned()
}

fn form(port: u16, token: &str, pathway: &str, kind: &str, body: &Value, complete: bool) -> String {
    let id = ok(port, "POST", &format!("/api/v1/pathways/{pathway}/forms/{kind}"), token, body)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    if complete {
        ok(port, "POST", &format!("/api/v1/forms/{id}/complete"), token, &Value::Null);
    }
    id
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Register {
    dir: PathBuf,
    cluster: LocalCluster,
}

impl Drop for Register {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Register {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("rusreg-scheduler-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cluster = LocalCluster::start(&dir, Durability::Throwaway).unwrap();
        for args in [
            &["migrate"][..],
            &["seed-reference"],
            &["user", "add", "--username", "sched", "--role", "registrar", "--node", "9000008"],
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
        Self { dir, cluster }
    }

    /// `rusreg serve` with the scheduler on (`interval` seconds) or off, sending e-mail through
    /// the SMTP server on `smtp_port`; its log goes to `log`.
    fn serve(&self, port: u16, interval: Option<u64>, smtp_port: u16, log: &Path) -> Killed {
        let file = std::fs::File::create(log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rusreg"));
        cmd.arg("serve")
            .env("DATABASE_URL", self.cluster.server_url())
            .env("RUSREG_BIND", format!("127.0.0.1:{port}"))
            .env("RUSREG_JWT_SECRET", "a-strong-secret-for-the-scheduler-test-0123456789")
            .env("RUSREG_ID_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .env("RUSREG_PUBLIC_URL", "https://rusreg.example")
            .env("RUSREG_LOG", "info")
            .env("RUSREG_LOG_FORMAT", "json")
            .env("RUSREG_DB_POOL_SIZE", "4")
            .env("RUSREG_SMTP_HOST", "127.0.0.1")
            .env("RUSREG_SMTP_PORT", smtp_port.to_string())
            .env("RUSREG_SMTP_TLS", "none")
            .env("RUSREG_SMTP_FROM", "noreply@example.no")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        match interval {
            Some(s) => cmd.env("RUSREG_SCHEDULER_INTERVAL_SECONDS", s.to_string()),
            None => cmd.env("RUSREG_SCHEDULER", "off"),
        };
        let child = Killed(cmd.spawn().unwrap());
        let start = Instant::now();
        while http_ready(port).is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "the server on {port} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut owner = PgConnection::establish(&self.cluster.owner_url()).unwrap();
        diesel::sql_query(sql).get_result::<N>(&mut owner).unwrap().n
    }
}

fn http_ready(port: u16) -> Option<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(b"GET /health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    out.starts_with("HTTP/1.1 200").then_some(())
}

fn maildir_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("new")).map(|d| d.count()).unwrap_or(0)
}

/// aiosmtpd: `AIOSMTPD_BIN` when set (`.ci/run` installs it), else a pinned virtual environment
/// made once under this test's target folder, so that `cargo test --workspace` alone runs it.
fn aiosmtpd_bin() -> std::ffi::OsString {
    if let Some(bin) = std::env::var_os("AIOSMTPD_BIN") {
        return bin;
    }
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("aiosmtpd-1.4.6");
    if !venv.join(".installed").exists() {
        let run = |cmd: &std::path::Path, args: &[&str]| {
            let ok = std::process::Command::new(cmd).args(args).status().map(|s| s.success()).unwrap_or(false);
            assert!(ok, "{} {args:?} failed (python3-venv installed, PyPI reachable?)", cmd.display());
        };
        run(std::path::Path::new("python3"), &["-m", "venv", &venv.to_string_lossy()]);
        run(&venv.join("bin/pip"), &["install", "--quiet", "aiosmtpd==1.4.6"]);
        std::fs::write(venv.join(".installed"), "aiosmtpd==1.4.6").expect("mark the venv");
    }
    venv.join("bin/aiosmtpd").into_os_string()
}

#[test]
fn two_servers_with_the_scheduler_on_make_one_order_and_send_one_message_per_event() {
    let aiosmtpd = aiosmtpd_bin();
    let register = Register::new();
    // aiosmtpd's Mailbox makes the maildir itself (it must not exist yet).
    let mailbox = register.dir.join("mailbox");
    let smtp_port = free_port();
    let _smtp = Killed(
        Command::new(aiosmtpd)
            .args(["-n", "-l", &format!("127.0.0.1:{smtp_port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&mailbox)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // The events, made through a server with the scheduler off: a pathway discharged 345 days
    // ago with ending 4 and consent (its follow-up window is open), and a baseline draft ordered
    // with an e-mail address.
    let port = free_port();
    let setup = register.serve(port, None, smtp_port, &register.dir.join("setup.log"));
    let (status, token) =
        http(port, "POST", "/api/v1/auth/token", None, Some(&json!({"username": "sched", "password": PASSWORD})));
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap().to_owned();
    let unit = register.count("SELECT id AS n FROM org_nodes WHERE resh_id = 9000008");
    let due = pathway(port, &token, unit, ("02029404855", 1994), 405);
    let baseline = json!({"event_date": days_ago(395), "referral_diagnosis": "F10.2", "substance_diagnoses": ["F10.2"],
        "psychiatric_diagnoses": [], "somatic_diagnoses": [], "somatic_health_assessed": 1, "mental_health_assessed": 1,
        "in_lar": 2, "individual_plan": 1, "responsibility_group": 2,
        "substance_use": {"substances": [{"substance": 1, "frequency_30d": 4, "route": 3, "debut_age": 15}],
                          "main_substance": 1, "injected_30d": 2, "overdose_12m": 0},
        "injected_ever": 2, "audit_score": 20, "self_rated_severity": 4, "self_rated_life_situation": 2, "housing": 2,
        "lives_with": 1, "children_under_18": 2, "occupation": 7});
    form(port, &token, &due, "baseline", &baseline, true);
    let discharge = json!({"event_date": days_ago(345), "ending": 4, "agreed_follow_up": [2], "substance_use": block(),
        "housing": 2, "occupation": 2, "satisfaction": 5, "contact_consent_1y": 1});
    form(port, &token, &due, "discharge", &discharge, true);
    let other = pathway(port, &token, unit, ("12106346508", 1963), 20);
    let draft = form(
        port,
        &token,
        &other,
        "baseline",
        &json!({"event_date": days_ago(10), "referral_diagnosis": "F10.2"}),
        false,
    );
    ok(port, "POST", "/api/v1/orders", &token, &json!({"form_id": draft, "email": "pasient@example.no"}));
    drop(setup);
    assert_eq!(register.count("SELECT count(*) AS n FROM orders WHERE questionnaire = 'follow_up'"), 0);

    // Two servers, both with the scheduler on, a tick a second.
    let logs = [register.dir.join("a.log"), register.dir.join("b.log")];
    let servers: Vec<_> = logs.iter().map(|log| register.serve(free_port(), Some(1), smtp_port, log)).collect();
    let start = Instant::now();
    while register.count("SELECT count(*) AS n FROM outbox_messages WHERE channel = 'email' AND status = 'sent'") < 1
        || register.count("SELECT count(*) AS n FROM orders WHERE questionnaire = 'follow_up'") < 1
    {
        assert!(start.elapsed() < Duration::from_secs(60), "nothing was ordered or sent in a minute");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let both tick several more times.
    std::thread::sleep(Duration::from_secs(4));
    drop(servers);

    assert_eq!(register.count("SELECT count(*) AS n FROM orders WHERE questionnaire = 'follow_up'"), 1);
    assert_eq!(
        register.count("SELECT count(*) AS n FROM outbox_messages WHERE channel = 'letter' AND purpose = 'invitation'"),
        1
    );
    assert_eq!(register.count("SELECT count(*) AS n FROM outbox_messages WHERE channel = 'email'"), 1);
    assert_eq!(maildir_count(&mailbox), 1, "the e-mail was delivered once");
    assert_eq!(register.count("SELECT count(*) AS n FROM orders WHERE status = 'notified'"), 1);
    // Both servers ran the scheduler (each logged passes).
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.matches("scheduler pass").count() >= 2, "{}: {text}", log.display());
    }
}
