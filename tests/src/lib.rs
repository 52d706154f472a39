//! Test harness: a real PostgreSQL database per test and the real app on a free port.
//!
//! `TestDb::new()` uses `TEST_DATABASE_URL` (or `DATABASE_URL`) when set, otherwise starts the
//! managed local cluster once per test process (a watchdog stops it and removes its folder when
//! the process ends). A template database is migrated and loaded with the reference data once;
//! each test gets `CREATE DATABASE test_<random> TEMPLATE ...`, dropped again on `Drop`.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test harness: a failure here is a failed test")]

use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

use diesel::{Connection, PgConnection, RunQueryDsl};
use domain::access::Role;
use domain::organisations::NodeId;
use managed_postgres::{Durability, LocalCluster};
use serde_json::Value;

pub mod bench;
pub mod oidc;

pub use reqwest;
pub use serde_json::json;

/// The JWT secret of test apps (tests forge tokens with it to test signature checks).
pub const TEST_JWT_SECRET: &[u8] = b"test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
/// The national-id key of test apps.
pub const TEST_ID_KEY: [u8; 32] = *b"rusreg-test-id-key-0123456789abc";
/// The password of every user made by `TestApp::user_with`.
pub const TEST_PASSWORD: &str = "correct horse battery staple";
/// RESH-ids of demo units in seeds/ (two under Helse Møre og Romsdal, one under St. Olavs).
pub const UNIT_MOLDE: i64 = 9_000_008;
pub const UNIT_ALESUND: i64 = 9_000_009;
pub const UNIT_ST_OLAV: i64 = 9_000_007;

struct Server {
    /// URL of the maintenance database (`postgres`) as a superuser: creates and drops test databases.
    admin_url: String,
    template: String,
    /// Any database URL of the server as the superuser (its database part is replaced).
    base: String,
    owner_password: String,
    server_password: String,
    _cluster: Option<LocalCluster>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static CREATE_LOCK: Mutex<()> = Mutex::new(());

fn replace_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    let query = url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{base}/{db}{query}")
}

/// `url` with another user and password.
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("database URL has a scheme");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

impl Server {
    /// Database `db` as the owner role (migrations, fixtures, bulk loads).
    fn owner_url(&self, db: &str) -> String {
        with_credentials(&replace_db(&self.base, db), managed_postgres::OWNER_ROLE, &self.owner_password)
    }

    /// Database `db` as the server's role (what the app connects as).
    fn server_url(&self, db: &str) -> String {
        with_credentials(&replace_db(&self.base, db), managed_postgres::SERVER_ROLE, &self.server_password)
    }
}

fn random_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let (base, cluster) = match std::env::var("TEST_DATABASE_URL").or_else(|_| std::env::var("DATABASE_URL")) {
            Ok(url) => (url, None),
            Err(_) => {
                let dir =
                    std::env::temp_dir().join(format!("rusreg-test-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
                let mut cluster =
                    LocalCluster::start(&dir, Durability::Throwaway).expect("start the managed test cluster");
                // The watchdog outlives this process: it stops the cluster and removes its folder.
                let script = format!(
                    "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
                    pid = std::process::id(),
                    stop = cluster.stop_command(),
                    dir = dir.display()
                );
                // Deliberately not waited for: it must outlive this process.
                #[expect(clippy::zombie_processes, reason = "the watchdog outlives the test process")]
                let _watchdog = std::process::Command::new("sh")
                    .args(["-c", &script])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("start the cluster watchdog");
                cluster.detach();
                (cluster.url(), Some(cluster))
            }
        };
        let admin_url = replace_db(&base, "postgres");
        let template = format!("rusreg_template_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url).expect("connect to the maintenance database");
        // The owner and server roles (the managed cluster has them; on a given server they are
        // made, and each test process sets their passwords).
        let (owner_password, server_password) = (random_password(), random_password());
        managed_postgres::ensure_roles(&mut admin, &owner_password, &server_password).expect("make the roles");
        diesel::sql_query(format!("CREATE DATABASE {template} OWNER {}", managed_postgres::OWNER_ROLE))
            .execute(&mut admin)
            .expect("create the template");
        let server = Server { admin_url, template, base, owner_password, server_password, _cluster: cluster };
        {
            let mut conn =
                PgConnection::establish(&server.owner_url(&server.template)).expect("connect to the template");
            persistence::migrations::run_pending(&mut conn).expect("migrate the template");
            persistence::seeds::load_reference(&mut conn).expect("load reference data into the template");
        }
        server
    })
}

/// A hot standby of the managed test cluster, streaming from it (`None` when the tests run on a
/// server given by `TEST_DATABASE_URL`); stopped and removed on drop.
pub struct Standby {
    pub cluster: LocalCluster,
    dir: std::path::PathBuf,
}

impl Standby {
    pub fn start() -> Option<Self> {
        let primary = server()._cluster.as_ref()?;
        let dir = std::env::temp_dir().join(format!("rusreg-standby-{}", uuid::Uuid::new_v4().simple()));
        let cluster = primary.start_standby(&dir).expect("start a standby of the test cluster");
        Some(Self { cluster, dir })
    }

    /// Database `db` on the standby as the server's role.
    pub fn server_url(&self, db: &str) -> String {
        // The harness set the role's password on the primary; the standby has the same catalogue.
        with_credentials(&self.cluster.url_for(db), managed_postgres::SERVER_ROLE, &server().server_password)
    }

    /// A superuser connection to the standby's database `db` (to pause replay, read its position).
    pub fn admin_conn(&self, db: &str) -> PgConnection {
        PgConnection::establish(&self.cluster.url_for(db)).expect("connect to the standby")
    }

    /// Waits until the standby has replayed everything the primary has written so far.
    pub fn catch_up(&self, db: &str) {
        #[derive(diesel::QueryableByName)]
        struct Caught {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            caught: bool,
        }
        let mut primary = PgConnection::establish(&server().admin_url).expect("connect to the primary");
        // The insert position, not the write position (`pg_current_wal_lsn`): the test cluster
        // commits asynchronously, so a commit just made may not be written out yet, and waiting
        // for the write position once let a report read the standby before the commit arrived.
        let lsn: Lsn =
            diesel::sql_query("SELECT pg_current_wal_insert_lsn()::text AS lsn").get_result(&mut primary).unwrap();
        let start = std::time::Instant::now();
        loop {
            if let Ok(mut standby) = PgConnection::establish(&self.cluster.url_for(db)) {
                let caught: Caught = diesel::sql_query(format!(
                    "SELECT coalesce(pg_last_wal_replay_lsn() >= '{}'::pg_lsn, false) AS caught",
                    lsn.lsn
                ))
                .get_result(&mut standby)
                .unwrap();
                if caught.caught {
                    return;
                }
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(60), "the standby did not catch up");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Stops the standby (it stays on disk until drop).
    pub fn stop(&mut self) {
        self.cluster.stop().expect("stop the standby");
    }
}

#[derive(diesel::QueryableByName)]
struct Lsn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    lsn: String,
}

impl Drop for Standby {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder of the PostgreSQL server binaries (pg_dump, pg_restore).
pub fn bin_dir() -> std::path::PathBuf {
    managed_postgres::find_bin_dir().expect("PostgreSQL binaries")
}

/// A fresh database for one test, dropped at the end.
pub struct TestDb {
    pub name: String,
    /// As the owner role: for migrations, fixtures and bulk loads.
    pub url: String,
    /// As the server's role: what the app connects as.
    pub server_url: String,
}

impl TestDb {
    pub fn new() -> Self {
        let server = server();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        {
            let _guard = CREATE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            let mut admin = PgConnection::establish(&server.admin_url).expect("connect to the maintenance database");
            diesel::sql_query(format!(
                "CREATE DATABASE {name} TEMPLATE {} OWNER {}",
                server.template,
                managed_postgres::OWNER_ROLE
            ))
            .execute(&mut admin)
            .expect("create the test database");
        }
        Self { url: server.owner_url(&name), server_url: server.server_url(&name), name }
    }

    /// An empty database (no schema), owned by the owner role: the target of a restore.
    pub fn empty() -> Self {
        let server = server();
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&server.admin_url).expect("connect to the maintenance database");
        diesel::sql_query(format!("CREATE DATABASE {name} OWNER {}", managed_postgres::OWNER_ROLE))
            .execute(&mut admin)
            .expect("create the empty database");
        Self { url: server.owner_url(&name), server_url: server.server_url(&name), name }
    }

    /// A connection as the owner role (fixtures).
    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }

    /// A connection as the server's role.
    pub fn server_conn(&self) -> PgConnection {
        PgConnection::establish(&self.server_url).expect("connect to the test database as the server's role")
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(server) = SERVER.get() {
            if let Ok(mut admin) = PgConnection::establish(&server.admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                    .execute(&mut admin);
            }
        }
    }
}

/// The real app served on a free port of 127.0.0.1 over the database at `server_url` (as the
/// server's role), with the test settings changed by `f`: its base URL.
fn serve_over(server_url: &str, f: impl FnOnce(&mut api::config::Settings)) -> (String, Served) {
    let mut settings = api::config::Settings::defaults();
    settings.jwt_secret = Some(TEST_JWT_SECRET.to_vec());
    f(&mut settings);
    let pool = persistence::build_pool(server_url, 4).expect("pool");
    let reports_url = settings.reports_database_url.clone().unwrap_or_else(|| server_url.to_owned());
    let reports_pool = persistence::build_pool(&reports_url, 2).expect("reports pool");
    let id_key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
    let state = api::build_state(settings, pool, reports_pool, TEST_JWT_SECRET, id_key).expect("state");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    (addr, Served::start(state, listener))
}

/// A test server running on a thread of its own: dropping it stops the server (not gracefully)
/// and waits for its thread, after which its workers let go of the app's state as they stop, and
/// the import and release workers end once the state is gone (a job they are running finishes
/// first; the test's database is dropped `WITH (FORCE)` regardless). A server left running went
/// on polling a dropped database until the test process exited, and the process once crashed at
/// exit inside a connect.
pub struct Served {
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    pub fn start(state: api::state::AppState, listener: TcpListener) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = api::serve(state, listener, Some(2)).expect("serve");
                    tx.send(server.handle()).expect("the test waits for the handle");
                    let _ = server.await;
                })
            })
            .expect("a thread for the test server");
        let handle = rx.recv().expect("the test server started");
        Self { handle, thread: Some(thread) }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the server's own thread runs it.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The real app served on a free port of 127.0.0.1 over a fresh `TestDb`.
pub struct TestApp {
    /// The servers over `db`, stopped when the app is dropped: first, as fields drop in order.
    servers: std::sync::Mutex<Vec<Served>>,
    pub db: TestDb,
    pub addr: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with settings changed by `f` (for example the body limit).
    pub async fn spawn_with(f: impl FnOnce(&mut api::config::Settings)) -> Self {
        Self::spawn_on(TestDb::new(), f).await
    }

    /// Spawns over the database `db` (for example a restored one).
    pub async fn spawn_on(db: TestDb, f: impl FnOnce(&mut api::config::Settings)) -> Self {
        let (addr, served) = serve_over(&db.server_url, f);
        // Idle connections are dropped well before the server's keep-alive (5 s) closes them, so
        // that a request after a pause never goes out on a connection the server is closing
        // (hyper's IncompleteMessage, seen on a loaded machine).
        let client = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        Self { servers: std::sync::Mutex::new(vec![served]), db, addr, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// Another rusreg server over the same database, as a second instance behind one address
    /// would be, with settings changed by `f`: its base URL.
    pub fn serve_another(&self, f: impl FnOnce(&mut api::config::Settings)) -> String {
        let (addr, served) = serve_over(&self.db.server_url, f);
        self.servers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(served);
        addr
    }

    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).json(body)
    }

    pub fn patch(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).json(body)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// The node id of the unit with this RESH-id.
    pub fn unit(&self, resh: i64) -> NodeId {
        let mut conn = self.conn();
        NodeId(persistence::organisations::find_by_resh_id(&mut conn, resh).unwrap().expect("unit in seeds").id)
    }

    /// The legal entity a unit belongs to today.
    pub fn entity_of(&self, unit: NodeId) -> NodeId {
        let mut conn = self.conn();
        let today = domain::clock::today();
        NodeId(persistence::organisations::find_node(&mut conn, unit.0, today).unwrap().parent_id.expect("parent"))
    }

    pub fn nation(&self) -> NodeId {
        persistence::organisations::nation_id(&mut self.conn()).unwrap()
    }

    /// Creates a user holding `role` at `node` (password `TEST_PASSWORD`); returns its id.
    pub fn user_with(&self, username: &str, role: Role, node: NodeId) -> uuid::Uuid {
        let mut conn = self.conn();
        app::users::ensure_user_with_grant(&mut conn, username, username, TEST_PASSWORD, role, node).expect("user")
    }

    /// Logs in over HTTP and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let res = self
            .post("/api/v1/auth/token", &json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login request");
        assert_eq!(res.status(), 200, "login of {username} failed");
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    /// A token of a new user holding `role` at `node`.
    pub async fn token_for(&self, role: Role, node: NodeId) -> String {
        let username =
            format!("u-{}-{}", role.as_str().replace('_', "-"), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        self.user_with(&username, role, node);
        self.login(&username, TEST_PASSWORD).await
    }

    /// Tokens for every role at its home node around `unit`: (role, token).
    pub async fn tokens_around(&self, unit: NodeId) -> Vec<(Role, String)> {
        let entity = self.entity_of(unit);
        let nation = self.nation();
        let mut out = Vec::new();
        for role in Role::ALL {
            let node = match role {
                Role::Registrar | Role::UnitContact => unit,
                Role::RegisterContact => entity,
                Role::RegisterStaff | Role::Admin => nation,
            };
            out.push((role, self.token_for(role, node).await));
        }
        out
    }

    /// Number of rows in a table of the test database.
    pub fn count(&self, table: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N =
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table}")).get_result(&mut self.conn()).unwrap();
        n.n
    }

    /// Number of audit rows with this action.
    pub fn audit_count(&self, action: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N = diesel::sql_query("SELECT count(*) AS n FROM audit_log WHERE action = $1")
            .bind::<diesel::sql_types::Text, _>(action)
            .get_result(&mut self.conn())
            .unwrap();
        n.n
    }
}

/// Pathways whose worklist facts (the columns of migration worklist_facts) differ from a
/// recomputation from their forms, written here independently of the database's own function.
pub fn worklist_facts_mismatches(conn: &mut PgConnection) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Mismatch {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    diesel::sql_query(
        "SELECT format('%s: stored %s, from forms %s', p.id, \
                (p.anchor_date, p.last_form_date, p.discharge_date, p.discharge_ending, \
                 p.discharge_contact_consent_1y, p.follow_up_done), x) AS line \
         FROM pathways p \
         CROSS JOIN LATERAL ( \
             SELECT (SELECT max(f.event_date) FROM forms f WHERE f.pathway_id = p.id AND f.status = 'completed' \
                       AND f.kind IN ('baseline', 'measurement')) AS anchor_date, \
                    (SELECT max(f.event_date) FROM forms f WHERE f.pathway_id = p.id) AS last_form_date, \
                    d.event_date AS discharge_date, dd.ending AS discharge_ending, \
                    dd.contact_consent_1y AS discharge_contact_consent_1y, \
                    EXISTS (SELECT 1 FROM forms f WHERE f.pathway_id = p.id AND f.kind = 'follow-up' \
                              AND f.status = 'completed') AS follow_up_done \
             FROM (SELECT 1) one \
             LEFT JOIN forms d ON d.pathway_id = p.id AND d.kind = 'discharge' AND d.status = 'completed' \
             LEFT JOIN discharge_forms dd ON dd.form_id = d.id \
         ) x \
         WHERE (p.anchor_date, p.last_form_date, p.discharge_date, p.discharge_ending, \
                p.discharge_contact_consent_1y, p.follow_up_done) \
               IS DISTINCT FROM (x.anchor_date, x.last_form_date, x.discharge_date, x.discharge_ending, \
                                 x.discharge_contact_consent_1y, x.follow_up_done) \
         ORDER BY 1",
    )
    .load::<Mismatch>(conn)
    .unwrap()
    .into_iter()
    .map(|m| m.line)
    .collect()
}

/// Pathways whose report facts (the columns of migrations report_facts and
/// current_treatment_level) differ from a recomputation from their patients and forms, and
/// measurements whose `previous_date` or `previous_treatment_level` does, written here
/// independently of the database's own functions.
pub fn report_facts_mismatches(conn: &mut PgConnection) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Mismatch {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    const STORED: &str = "(p.patient_sex, p.patient_birth_year, p.baseline_unit_id, p.baseline_date, \
        p.baseline_somatic_health_assessed, p.first_measurement_unit_id, p.first_measurement_date, \
        p.first_measurement_treatment_plan, p.first_measurement_crisis_plan, p.first_measurement_benefit, \
        p.discharge_unit_id, p.discharge_agreed_follow_up, p.follow_up_outcome, p.current_treatment_level)";
    let pathways = format!(
        "SELECT format('%s: stored %s, from forms %s', p.id, {STORED}, x) AS line \
         FROM pathways p \
         JOIN patients pt ON pt.id = p.patient_id \
         CROSS JOIN LATERAL ( \
             SELECT pt.sex, pt.birth_year, b.unit_id AS b_unit, b.event_date AS b_date, \
                    (SELECT bb.somatic_health_assessed FROM baseline_forms bb WHERE bb.form_id = b.id) AS b_somatic, \
                    m.unit_id AS m_unit, m.event_date AS m_date, mm.treatment_plan, mm.crisis_plan, mm.benefit, \
                    d.unit_id AS d_unit, \
                    (SELECT dd.agreed_follow_up FROM discharge_forms dd WHERE dd.form_id = d.id) AS d_agreed, \
                    (SELECT uu.outcome FROM follow_up_forms uu WHERE uu.form_id = u.id) AS outcome, \
                    (SELECT ll.treatment_level FROM measurement_forms ll WHERE ll.form_id = l.id) AS level \
             FROM (SELECT 1) one \
             LEFT JOIN forms b ON b.pathway_id = p.id AND b.kind = 'baseline' AND b.status = 'completed' \
             LEFT JOIN forms m ON m.id = ( \
                 SELECT f.id FROM forms f WHERE f.pathway_id = p.id AND f.kind = 'measurement' \
                   AND f.status = 'completed' \
                   AND NOT EXISTS (SELECT 1 FROM forms e WHERE e.pathway_id = p.id AND e.kind = 'measurement' \
                                     AND e.status = 'completed' \
                                     AND (e.event_date, e.id) < (f.event_date, f.id))) \
             LEFT JOIN measurement_forms mm ON mm.form_id = m.id \
             LEFT JOIN forms d ON d.pathway_id = p.id AND d.kind = 'discharge' AND d.status = 'completed' \
             LEFT JOIN forms u ON u.pathway_id = p.id AND u.kind = 'follow-up' AND u.status = 'completed' \
             LEFT JOIN forms l ON l.id = ( \
                 SELECT f.id FROM forms f WHERE f.pathway_id = p.id AND f.kind = 'measurement' \
                   AND f.status = 'completed' \
                   AND NOT EXISTS (SELECT 1 FROM forms e WHERE e.pathway_id = p.id AND e.kind = 'measurement' \
                                     AND e.status = 'completed' \
                                     AND (e.event_date, e.id) > (f.event_date, f.id))) \
         ) x \
         WHERE {STORED} IS DISTINCT FROM \
               (x.sex, x.birth_year, x.b_unit, x.b_date, x.b_somatic, x.m_unit, x.m_date, x.treatment_plan, \
                x.crisis_plan, x.benefit, x.d_unit, x.d_agreed, x.outcome, x.level)"
    );
    let measurements = "SELECT format('measurement %s: stored previous date and level %s, from forms %s', f.id, \
             (f.previous_date, f.previous_treatment_level), (x.previous, y.level)) AS line \
         FROM forms f \
         CROSS JOIN LATERAL ( \
             SELECT max(a.event_date) AS previous FROM forms a \
             WHERE a.pathway_id = f.pathway_id AND a.id <> f.id AND a.status = 'completed' \
               AND a.kind IN ('baseline', 'measurement') AND a.event_date <= f.event_date) x \
         LEFT JOIN LATERAL ( \
             SELECT aa.treatment_level AS level FROM forms a LEFT JOIN measurement_forms aa ON aa.form_id = a.id \
             WHERE a.pathway_id = f.pathway_id AND a.id <> f.id AND a.status = 'completed' \
               AND a.kind = 'measurement' AND a.event_date <= f.event_date \
               AND NOT EXISTS (SELECT 1 FROM forms e WHERE e.pathway_id = f.pathway_id AND e.id <> f.id \
                                 AND e.status = 'completed' AND e.kind = 'measurement' \
                                 AND e.event_date <= f.event_date AND (e.event_date, e.id) > (a.event_date, a.id))) y \
           ON true \
         WHERE f.kind = 'measurement' \
           AND (f.previous_date, f.previous_treatment_level) IS DISTINCT FROM (x.previous, y.level)";
    diesel::sql_query(format!("{pathways} UNION ALL {measurements} ORDER BY 1"))
        .load::<Mismatch>(conn)
        .unwrap()
        .into_iter()
        .map(|m| m.line)
        .collect()
}

/// A Python tool from PyPI that some tests drive (aiosmtpd, fhir.resources): `env` names its
/// executable when set (`.ci/run` installs the tools and sets it); otherwise a virtual
/// environment `venv` under `dir` (the test's `CARGO_TARGET_TMPDIR`) is made once with the pinned
/// `packages`, so that `cargo test --workspace` alone runs every test. Returns `bin/<exe>` of it.
pub fn python_tool(env: &str, dir: &std::path::Path, venv: &str, packages: &[&str], exe: &str) -> std::path::PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(bin) = std::env::var_os(env) {
        return bin.into();
    }
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let venv = dir.join(venv);
    let bin = venv.join("bin").join(exe);
    let ready = venv.join(".installed");
    if !ready.exists() {
        let ok = std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap().success();
        assert!(ok, "python3 -m venv failed (apt-get install python3-venv)");
        let ok = std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .args(packages)
            .status()
            .unwrap()
            .success();
        assert!(ok, "pip install {packages:?} failed (is PyPI reachable?)");
        std::fs::write(&ready, packages.join("\n")).unwrap();
    }
    bin
}
