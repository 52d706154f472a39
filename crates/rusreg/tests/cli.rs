//! The real `rusreg` binary: `demo` on its managed cluster (Ctrl-C stops everything, a second
//! run reuses the data folder, a cluster left behind by a killed run is recovered), and `serve`
//! refusing a missing or weak secret or a privileged database role.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "demo-password-for-tests";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http(port: u16, request: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

fn get(port: u16, path: &str) -> Option<String> {
    http(port, &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
}

fn login(port: u16, user: &str) -> Option<String> {
    let body = format!(r#"{{"username":"{user}","password":"{PASSWORD}"}}"#);
    http(
        port,
        &format!(
            "POST /api/v1/auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn start_demo(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rusreg"))
        .arg("demo")
        .env_remove("DATABASE_URL")
        .env("RUSREG_DATA_DIR", dir)
        .env("RUSREG_BIND", format!("127.0.0.1:{port}"))
        .env("RUSREG_DEMO_PASSWORD", PASSWORD)
        .env("RUSREG_LOG", "warn")
        .env("RUSREG_DEMO_PATHWAYS", "300")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_ready(port: u16, child: &mut Child) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if let Some(res) = get(port, "/health/ready") {
            if res.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "rusreg demo exited early");
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("rusreg demo did not become ready");
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "rusreg did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn postmaster_pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("pgdata/postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rusreg-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn demo_serves_stops_on_ctrl_c_reuses_its_data_and_recovers_a_killed_run() {
    let dir = temp_dir("demo");
    // First run: serves, every demo user can log in, Ctrl-C stops server and cluster.
    let port = free_port();
    let mut demo = start_demo(&dir, port);
    wait_ready(port, &mut demo);
    for user in ["demo-registrar", "demo-unit-contact", "demo-register-contact", "demo-register-staff", "demo-admin"] {
        assert!(login(port, user).unwrap().starts_with("HTTP/1.1 200"), "{user} logs in");
    }
    let docs = get(port, "/docs/").unwrap();
    assert!(docs.starts_with("HTTP/1.1 200"));
    // The first run publishes a demo release of last year: the public results have data.
    let public = get(port, "/api/v1/public/indicators").unwrap();
    assert!(public.starts_with("HTTP/1.1 200"), "{public}");
    assert!(public.contains("\"release_id\""), "{public}");
    let pg = postmaster_pid(&dir).expect("the cluster runs");
    signal(demo.id(), "-INT");
    wait_exit(&mut demo);
    let start = Instant::now();
    while process_alive(pg) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!process_alive(pg), "Ctrl-C stops the cluster");
    assert!(postmaster_pid(&dir).is_none(), "a clean stop leaves no postmaster.pid");

    // Second run reuses the data folder; then it is killed hard (the cluster is left running).
    let port = free_port();
    let mut demo = start_demo(&dir, port);
    wait_ready(port, &mut demo);
    assert!(login(port, "demo-admin").unwrap().starts_with("HTTP/1.1 200"));
    signal(demo.id(), "-KILL");
    wait_exit(&mut demo);

    // Third run: the cluster left behind is reused. Then kill both, leaving a stale postmaster.pid.
    let port = free_port();
    let mut demo = start_demo(&dir, port);
    wait_ready(port, &mut demo);
    let pg = postmaster_pid(&dir).unwrap();
    signal(demo.id(), "-KILL");
    wait_exit(&mut demo);
    signal(pg, "-KILL");
    let start = Instant::now();
    while process_alive(pg) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Other server processes of the killed cluster exit on their own once the postmaster is gone.
    std::thread::sleep(Duration::from_secs(2));
    assert!(postmaster_pid(&dir).is_some(), "the stale postmaster.pid is there");

    // Fourth run recovers the stale cluster.
    let port = free_port();
    let mut demo = start_demo(&dir, port);
    wait_ready(port, &mut demo);
    assert!(login(port, "demo-registrar").unwrap().starts_with("HTTP/1.1 200"));
    signal(demo.id(), "-INT");
    wait_exit(&mut demo);
    assert!(postmaster_pid(&dir).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

fn serve_with(secret: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rusreg"));
    cmd.arg("serve")
        .env("DATABASE_URL", "postgres://nobody:nothing@127.0.0.1:1/none")
        .env("RUSREG_ID_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
        .env_remove("RUSREG_JWT_SECRET")
        .env_remove("RUSREG_JWT_SECRET_FILE");
    if let Some(s) = secret {
        cmd.env("RUSREG_JWT_SECRET", s);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn serve_refuses_to_start_without_a_strong_jwt_secret() {
    let (ok, err) = serve_with(None);
    assert!(!ok);
    assert!(err.contains("RUSREG_JWT_SECRET"), "{err}");
    let (ok, err) = serve_with(Some("short-secret"));
    assert!(!ok);
    assert!(err.contains("weak"), "{err}");
    let (ok, err) = serve_with(Some(&"x".repeat(64)));
    assert!(!ok);
    assert!(err.contains("weak"), "{err}");
}

#[test]
fn suppress_and_audit_run_on_a_reference_case() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reporting/tests/vectors/case01_ssbtools_example.json");
    let out = temp_dir("suppress").with_extension("json");
    let res = Command::new(env!("CARGO_BIN_EXE_rusreg"))
        .args(["suppress", "--input"])
        .arg(&case)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(res.status.success());
    let summary = String::from_utf8_lossy(&res.stderr);
    assert!(summary.contains("3 primary") && summary.contains("audit passed"), "{summary}");
    let res = Command::new(env!("CARGO_BIN_EXE_rusreg")).args(["audit", "--input"]).arg(&out).output().unwrap();
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stdout));
    let _ = std::fs::remove_file(&out);
}

/// `rusreg seed` on a fresh data folder brings its managed database up to date first (like
/// `rusreg demo`), instead of failing on missing tables.
#[test]
fn seed_on_a_fresh_managed_cluster_migrates_and_loads() {
    let dir = temp_dir("seed");
    let res = Command::new(env!("CARGO_BIN_EXE_rusreg"))
        .args(["seed", "--pathways", "20", "--seed", "3"])
        .env("RUSREG_DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .env("RUSREG_LOG", "warn")
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&res.stdout), String::from_utf8_lossy(&res.stderr));
    assert!(res.status.success(), "{out}");
    assert!(out.contains(" 20 pathways,"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `rusreg migrate` on the managed cluster runs as its owner role; `rusreg serve` refuses the
/// superuser and the owner (either could switch the audit log's triggers off) and serves as
/// `rusreg_server`. After a crash, a plain `pg_ctl start` brings the cluster up on its own port.
#[test]
fn serve_runs_only_as_the_server_role_and_the_cluster_keeps_its_port() {
    use managed_postgres::{Durability, LocalCluster};
    let dir = temp_dir("roles");
    let mut cluster = LocalCluster::start(&dir, Durability::Throwaway).unwrap();
    let res = Command::new(env!("CARGO_BIN_EXE_rusreg"))
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .env("RUSREG_DATA_DIR", &dir)
        .env("RUSREG_LOG", "warn")
        .output()
        .unwrap();
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let serve = |url: &str, port: u16| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rusreg"));
        cmd.arg("serve")
            .env("DATABASE_URL", url)
            .env("RUSREG_BIND", format!("127.0.0.1:{port}"))
            .env("RUSREG_JWT_SECRET", "a-strong-secret-for-the-cli-test-0123456789abcdef")
            .env("RUSREG_ID_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
            .env("RUSREG_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    for (url, why) in [(cluster.url(), "is a superuser"), (cluster.owner_url(), "owns")] {
        let out = serve(&url, free_port()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "serve started with a privileged role");
        assert!(err.contains(why) && err.contains("rusreg_server"), "{err}");
    }
    let port = free_port();
    let mut server = serve(&cluster.server_url(), port).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_ready(port, &mut server);
    signal(server.id(), "-TERM");
    wait_exit(&mut server);

    // A crash of the cluster, then a plain `pg_ctl start`: it comes up on the recorded port.
    let pg = postmaster_pid(&dir).unwrap();
    signal(pg, "-KILL");
    while process_alive(pg) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let out = Command::new("sh").args(["-c", &cluster.start_command()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_ok(), "PostgreSQL is back on its own port");
    cluster.stop().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `rusreg import` runs a batch through the import use case as the named user: the counts and
/// every rejected row (line, field, code; never the value) are printed, a rejected row makes the
/// exit status non-zero, and the same batch again changes nothing.
#[test]
fn import_runs_a_batch_as_a_user_and_a_second_run_changes_nothing() {
    let dir = temp_dir("import");
    let rusreg = |args: &[&str]| {
        let res = Command::new(env!("CARGO_BIN_EXE_rusreg"))
            .args(args)
            .env("RUSREG_DATA_DIR", &dir)
            .env_remove("DATABASE_URL")
            .env("RUSREG_NEW_PASSWORD", PASSWORD)
            .env("RUSREG_LOG", "warn")
            .output()
            .unwrap();
        (
            res.status.success(),
            String::from_utf8_lossy(&res.stdout).into_owned(),
            String::from_utf8_lossy(&res.stderr).into_owned(),
        )
    };
    for args in [
        &["migrate"][..],
        &["seed-reference"],
        &["user", "add", "--username", "epj", "--role", "registrar", "--node", "9000008"],
    ] {
        let (ok, out, err) = rusreg(args);
        assert!(ok, "{args:?}: {out}{err}");
    }
    let file = dir.join("batch.ndjson");
    std::fs::write(
        &file,
        "{\"type\":\"patient\",\"key\":\"A\",\"national_id\":\"02029404855\",\"sex\":2,\"birth_year\":1994}\n\
         {\"type\":\"patient\",\"key\":\"B\",\"national_id\":\"12106346508\",\"sex\":1,\"birth_year\":1963}\n\
         {\"type\":\"patient\",\"key\":\"C\",\"national_id\":\"12106346509\",\"sex\":1,\"birth_year\":1963}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (ok, out, err) = rusreg(&["import", path, "--user", "epj"]);
    assert!(!ok, "{out}{err}");
    assert!(out.contains("3 rows, 2 created, 0 updated, 0 unchanged, 1 rejected"), "{out}{err}");
    assert!(err.contains("line 3: national_id:"), "{err}");
    assert!(!err.contains("12106346509") && !out.contains("12106346509"), "{out}{err}");
    let (_, out, err) = rusreg(&["import", path, "--user", "epj"]);
    assert!(out.contains("3 rows, 0 created, 0 updated, 2 unchanged, 1 rejected"), "{out}{err}");
    let (ok, _, err) = rusreg(&["import", path, "--user", "nobody"]);
    assert!(!ok && err.contains("no user nobody"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
