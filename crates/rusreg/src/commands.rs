//! The commands of the binary. Each loads what it needs and calls into the libraries.

use std::io::Read;
use std::net::TcpListener;

use anyhow::{bail, Context};
use api::config::{LogFormat, Settings};
use domain::access::Role;
use domain::national_id::IdKey;
use domain::organisations::NodeId;
use managed_postgres::{Durability, LocalCluster};
use persistence::{organisations, PgConnection};
use rand::distributions::Alphanumeric;
use rand::Rng;

/// The demo unit the demo registrar and unit contact work at (made-up RESH-id, see seeds/).
pub const DEMO_UNIT_RESH: i64 = 9_000_008;

pub fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A log that cannot be written (a full disk) must not cost an answer: tracing's own report
    // of the failed write would go to standard error and panic the request's thread when that
    // fails too. Lost lines are lost; the monitoring of the disk has to catch it.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).log_internal_errors(false);
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

fn random_secret(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Where a command connects: as the schema's owner (migrations, reference data, bulk loads) or
/// as the server's role; the managed cluster's two roles, or DATABASE_URL (the server's) and
/// RUSREG_OWNER_DATABASE_URL (default DATABASE_URL).
struct Database {
    owner: String,
    server: String,
    cluster: Option<LocalCluster>,
}

/// The database to use: DATABASE_URL, or the managed cluster under RUSREG_DATA_DIR.
fn database(settings: &Settings) -> anyhow::Result<Database> {
    match &settings.database_url {
        Some(url) => Ok(Database {
            owner: settings.owner_database_url.clone().unwrap_or_else(|| url.clone()),
            server: url.clone(),
            cluster: None,
        }),
        None => {
            let cluster = LocalCluster::start(&settings.data_dir, Durability::Durable)?;
            Ok(Database { owner: cluster.owner_url(), server: cluster.server_url(), cluster: Some(cluster) })
        }
    }
}

fn connect(url: &str) -> anyhow::Result<PgConnection> {
    use diesel::Connection;
    PgConnection::establish(url).context("cannot connect to the database")
}

pub fn migrate(settings: &Settings, revert_all: bool) -> anyhow::Result<()> {
    let db = database(settings)?;
    let mut conn = connect(&db.owner)?;
    let done = if revert_all {
        persistence::migrations::revert_all(&mut conn)?
    } else {
        persistence::migrations::run_pending(&mut conn)?
    };
    println!("{} migration(s) {}: {}", done.len(), if revert_all { "reverted" } else { "applied" }, done.join(", "));
    Ok(())
}

pub fn seed_reference(settings: &Settings) -> anyhow::Result<()> {
    let db = database(settings)?;
    let mut conn = connect(&db.owner)?;
    let s = persistence::seeds::load_reference(&mut conn)?;
    println!("reference data: {} inserted, {} already present", s.inserted, s.existing);
    Ok(())
}

/// One pass of the order scheduler as the server's role, printing what it did.
pub fn schedule(settings: &Settings, public_url: &str) -> anyhow::Result<()> {
    let db = database(settings)?;
    let mut conn = connect(&db.server)?;
    let today = domain::clock::today();
    let public_url = public_url.trim_end_matches('/');
    let started = std::time::Instant::now();
    let report = app::scheduler::run_pass(&mut conn, settings.orders, settings.worklist, public_url, today, 1000)
        .map_err(|e| anyhow::anyhow!("scheduler: {}", describe_app_error(&e)))?;
    println!(
        "scheduler pass of {today}: {} follow-up orders, {} reminders, {} expired, {} follow-ups not reached, {} unit digests, {} orders notified ({:.1} s)",
        report.follow_ups_ordered,
        report.reminded,
        report.expired,
        report.not_reached,
        report.digests,
        report.notified,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One run of the e-mail sender as the server's role, printing what it did.
pub fn send_mail(settings: &Settings) -> anyhow::Result<()> {
    let smtp = settings.smtp.as_ref().ok_or_else(|| anyhow::anyhow!("RUSREG_SMTP_HOST is not set"))?;
    let mailer = app::outbox::Mailer::new(smtp).map_err(|e| anyhow::anyhow!("SMTP: {e}"))?;
    let db = database(settings)?;
    let mut conn = connect(&db.server)?;
    let report = app::outbox::send_email(&mut conn, &mailer, settings.smtp_retry, chrono::Utc::now(), 100)
        .map_err(|e| anyhow::anyhow!("e-mail sender: {}", describe_app_error(&e)))?;
    println!(
        "e-mail: {} sent, {} to try again later, {} failed, {} interrupted earlier (marked failed)",
        report.sent, report.retried, report.failed, report.interrupted
    );
    Ok(())
}

/// The national-id key for commands that write patients: RUSREG_ID_KEY, or (with the managed
/// cluster) the demo's key in the data folder.
fn id_key_for(settings: &Settings) -> anyhow::Result<IdKey> {
    match (&settings.id_key, &settings.database_url) {
        (Some(raw), _) => {
            IdKey::parse(raw).map_err(|_| anyhow::anyhow!("RUSREG_ID_KEY must be 32 bytes in hex or base64"))
        }
        (None, None) => demo_id_key(settings),
        (None, Some(_)) => bail!("RUSREG_ID_KEY (or RUSREG_ID_KEY_FILE) is required with DATABASE_URL"),
    }
}

/// Loads `pathways` synthetic pathways over `tree` with a progress bar; prints what was loaded
/// and how fast.
fn load_synthetic(
    url: &str,
    key: &IdKey,
    pathways: usize,
    seed: u64,
    tree: persistence::synthetic::Tree,
    options: &persistence::synthetic::LoadOptions,
) -> anyhow::Result<()> {
    let mut settings = persistence::synthetic::SyntheticSettings::builtin()?;
    settings.tree = tree;
    let bar = indicatif::ProgressBar::new(pathways as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} pathways ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let s = persistence::synthetic::load(url, key, pathways, seed, &settings, options, |n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    if tree == persistence::synthetic::Tree::Realistic {
        println!("realistic organisation tree: {} made-up nodes added", s.org_nodes_added);
    }
    println!(
        "synthetic data: {} patients, {} pathways, {} forms ({} completed), {} substance rows, {} transfers in {:.1} s ({:.0} pathways/s, {} writers)",
        s.patients,
        s.pathways,
        s.forms,
        s.completed_forms,
        s.substances,
        s.transfers,
        s.elapsed.as_secs_f64(),
        s.pathways as f64 / s.elapsed.as_secs_f64().max(1e-9),
        options.writers.max(1)
    );
    Ok(())
}

pub fn seed(
    settings: &Settings,
    pathways: usize,
    seed: u64,
    tree: persistence::synthetic::Tree,
    options: &persistence::synthetic::LoadOptions,
) -> anyhow::Result<()> {
    let key = id_key_for(settings)?;
    let db = database(settings)?;
    if db.cluster.is_some() {
        // The managed database is brought up to date first, as `rusreg demo` does; with
        // DATABASE_URL the operator runs `rusreg migrate` (and `seed-reference`) themselves.
        let mut conn = connect(&db.owner)?;
        persistence::migrations::run_pending(&mut conn)?;
        persistence::seeds::load_reference(&mut conn)?;
    }
    // A bulk load switches the facts triggers off, which only the owner may.
    load_synthetic(&db.owner, &key, pathways, seed, tree, options)?;
    let mut conn = connect(&db.owner)?;
    use diesel::RunQueryDsl;
    // VACUUM sets the visibility map of the new pathway pages, so the worklist's index-only
    // scan needs no heap visits from the start; the rest only needs statistics.
    diesel::sql_query("VACUUM (ANALYZE) pathways").execute(&mut conn)?;
    diesel::sql_query("ANALYZE").execute(&mut conn)?;
    Ok(())
}

/// `rusreg import`: runs a batch through `app::imports` as `username`, connected as the server's
/// role, with a progress bar of rows.
pub fn import(
    settings: &Settings,
    file: &std::path::Path,
    username: &str,
    kind: Option<&str>,
    dry_run: bool,
    all_or_nothing: bool,
) -> anyhow::Result<()> {
    use app::imports::{CsvKind, Format, NewImport, Submitted};
    let csv = kind.is_some() || file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let format = match (csv, kind) {
        (false, _) => Format::Ndjson,
        (true, None) => bail!("a CSV batch needs --kind (pathway, baseline, measurement, discharge or follow-up)"),
        (true, Some(k)) => Format::Csv(CsvKind::parse(k).with_context(|| format!("--kind {k} is not a kind"))?),
    };
    let batch = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let key = id_key_for(settings)?;
    let db = database(settings)?;
    let mut conn = connect(&db.server)?;
    let user =
        persistence::users::find_by_username(&mut conn, username)?.with_context(|| format!("no user {username}"))?;
    let actor = app::access::actor_of(&mut conn, user.id, None)?
        .map_err(|why| anyhow::anyhow!("the user cannot act ({why:?})"))?;
    let caller = app::Caller::new(actor, Some("rusreg-import".into()));
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let new = NewImport { format, dry_run, all_or_nothing, batch };
    let today = domain::clock::today();
    let submitted = app::imports::submit(&mut conn, &caller, &key, new, today, usize::MAX, &mut |done, total| {
        bar.set_length(u64::try_from(total).unwrap_or(0));
        bar.set_position(u64::try_from(done).unwrap_or(0));
    });
    bar.finish_and_clear();
    let job = match submitted {
        Ok(Submitted::Done(job)) => job,
        Ok(Submitted::Queued(_)) => bail!("the import was queued instead of run"),
        Err(app::Error::Invalid(errors)) => {
            for e in errors {
                eprintln!("{}: {} ({})", e.field, e.message, e.code);
            }
            bail!("the batch was refused");
        }
        Err(e) => bail!("the import failed: {e}"),
    };
    let r = &job.row;
    println!(
        "import {}: {}{} — {} rows, {} created, {} updated, {} unchanged, {} rejected",
        r.id,
        r.status,
        if r.dry_run { " (dry run, nothing stored)" } else { "" },
        r.total_lines,
        r.created_count,
        r.updated_count,
        r.unchanged_count,
        r.rejected_count
    );
    for e in &job.errors {
        eprintln!("line {}: {}: {} ({})", e.line, e.field, e.message, e.code);
    }
    if r.rejected_count > 0 || r.status != "completed" {
        bail!("{} rows rejected", r.rejected_count);
    }
    Ok(())
}

/// Resolves `nation`, an organisation number (9 digits) or a RESH-id to a node.
fn resolve_node(conn: &mut PgConnection, node: Option<&str>, role: Role) -> anyhow::Result<NodeId> {
    match node {
        None | Some("nation") => {
            if !matches!(role, Role::RegisterStaff | Role::Admin) && node.is_none() {
                bail!("--node is required for {}", role.as_str());
            }
            Ok(organisations::nation_id(conn).context("no nation node: run `rusreg seed-reference` first")?)
        }
        Some(raw) if raw.len() == 9 => organisations::find_by_org_number(conn, raw)?
            .map(|n| NodeId(n.id))
            .with_context(|| format!("no organisation with number {raw}")),
        Some(raw) => {
            let resh: i64 = raw.parse().context("--node is `nation`, an organisation number or a RESH-id")?;
            organisations::find_by_resh_id(conn, resh)?
                .map(|n| NodeId(n.id))
                .with_context(|| format!("no unit with RESH-id {resh}"))
        }
    }
}

pub fn user_add(
    settings: &Settings,
    username: &str,
    display_name: Option<&str>,
    role: &str,
    node: Option<&str>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let role = Role::parse(role)
        .context("--role is one of registrar, unit_contact, register_contact, register_staff, admin")?;
    let (password, generated) = if password_stdin {
        let mut buf = String::new();
        std::io::stdin().read_to_string(&mut buf)?;
        (buf.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else if let Ok(p) = std::env::var("RUSREG_NEW_PASSWORD") {
        (p, false)
    } else {
        (random_secret(20), true)
    };
    let db = database(settings)?;
    let mut conn = connect(&db.server)?;
    let node = resolve_node(&mut conn, node, role)?;
    let id = app::users::ensure_user_with_grant(
        &mut conn,
        username,
        display_name.unwrap_or(username),
        &password,
        role,
        node,
    )
    .map_err(|e| anyhow::anyhow!("{e}: {}", describe_app_error(&e)))?;
    println!("user {username} ({id}) holds {} at node {}", role.as_str(), node.0);
    if generated {
        println!("generated password: {password}");
    }
    Ok(())
}

fn describe_app_error(e: &app::Error) -> String {
    match e {
        app::Error::Invalid(fields) => fields.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

fn run_server(settings: Settings, url: &str, jwt_secret: &[u8], id_key: IdKey) -> anyhow::Result<()> {
    let pool = persistence::build_pool(url, settings.pool_size)?;
    // The server never runs as a superuser or as the owner of the register's tables: either
    // could switch the append-only triggers off (docs/operations.md, Database roles).
    if let Some(problem) = persistence::roles::privileged(&mut *pool.get()?)? {
        bail!("the database role of DATABASE_URL {problem}: connect as the server's role (rusreg_server)");
    }
    let reports_url = settings.reports_database_url.clone().unwrap_or_else(|| url.to_owned());
    let reports_pool = persistence::build_pool(&reports_url, settings.reports_pool_size)?;
    let listener = TcpListener::bind(&settings.bind).with_context(|| format!("cannot listen on {}", settings.bind))?;
    let workers = settings.workers;
    // The order scheduler and the e-mail sender on their interval (RUSREG_SCHEDULER), on a
    // thread of their own with a connection of the primary pool.
    if let Some(job) = api::background::SchedulerJob::of(&settings) {
        tracing::info!(interval_seconds = job.interval.as_secs(), "scheduler on");
        job.spawn(pool.clone()).context("cannot start the scheduler's thread")?;
    }
    let state =
        api::build_state(settings, pool, reports_pool, jwt_secret, id_key).map_err(|e| anyhow::anyhow!("{e}"))?;
    actix_web::rt::System::new().block_on(async move {
        let server = api::serve(state, listener, workers)?;
        let handle = server.handle();
        actix_web::rt::spawn(async move {
            let signal = stop_signal().await;
            tracing::info!(signal, "stopping: finishing the requests in flight (at most 30 s)");
            handle.stop(true).await;
        });
        server.await
    })?;
    Ok(())
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM; both mean a graceful stop.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => {
            // No signal handling: only Ctrl-C through tokio's portable handler.
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

pub fn serve(settings: Settings) -> anyhow::Result<()> {
    let url = settings
        .database_url
        .clone()
        .context("DATABASE_URL is required for `rusreg serve` (use `rusreg demo` to try it)")?;
    let secret = settings.require_strong_jwt_secret()?.to_vec();
    let raw_key =
        settings.id_key.clone().context("RUSREG_ID_KEY (or RUSREG_ID_KEY_FILE) is required for `rusreg serve`")?;
    let id_key =
        IdKey::parse(&raw_key).map_err(|_| anyhow::anyhow!("RUSREG_ID_KEY must be 32 bytes in hex or base64"))?;
    tracing::info!(bind = %settings.bind, "rusreg serving");
    run_server(settings, &url, &secret, id_key)
}

/// The five demo users, one per role, with where they hold it.
const DEMO_USERS: [(&str, &str, Role); 5] = [
    ("demo-registrar", "Demo registrar (Molde behandlingssenter)", Role::Registrar),
    ("demo-unit-contact", "Demo unit contact (Molde behandlingssenter)", Role::UnitContact),
    ("demo-register-contact", "Demo register contact (Helse Møre og Romsdal)", Role::RegisterContact),
    ("demo-register-staff", "Demo register staff", Role::RegisterStaff),
    ("demo-admin", "Demo administrator", Role::Admin),
];

pub fn demo(mut settings: Settings) -> anyhow::Result<()> {
    let Database { owner, server, cluster } = database(&settings)?;
    let mut conn = connect(&owner)?;
    let applied = persistence::migrations::run_pending(&mut conn)?;
    let seeded = persistence::seeds::load_reference(&mut conn)?;
    let unit =
        organisations::find_by_resh_id(&mut conn, DEMO_UNIT_RESH)?.context("the demo unit is missing from seeds/")?;
    let today = domain::clock::today();
    let entity =
        organisations::find_node(&mut conn, unit.id, today)?.parent_id.context("the demo unit has no legal entity")?;
    let nation = organisations::nation_id(&mut conn)?;
    let (password, generated) = match settings.demo_password.clone() {
        Some(p) => (p, false),
        None => (random_secret(16), true),
    };
    let mut staff = None;
    for (username, display, role) in DEMO_USERS {
        let node = match role {
            Role::Registrar | Role::UnitContact => NodeId(unit.id),
            Role::RegisterContact => NodeId(entity),
            Role::RegisterStaff | Role::Admin => nation,
        };
        let id = app::users::ensure_user_with_grant(&mut conn, username, display, &password, role, node)
            .map_err(|e| anyhow::anyhow!("demo user {username}: {e}: {}", describe_app_error(&e)))?;
        if role == Role::RegisterStaff {
            staff = Some(id);
        }
    }
    let id_key = demo_id_key(&settings)?;
    // The residence reference data first: the synthetic pathways draw their residences from it.
    if let Some(id) = staff {
        if persistence::residence::all_areas(&mut conn)?.is_empty() {
            match import_demo_residence(&server, id, chrono::Datelike::year(&today)) {
                Ok(n) => println!(
                    "imported the demo residence areas, catchment areas and a SYNTHETIC population ({n} counts)"
                ),
                Err(e) => println!("no demo residence data: {e}"),
            }
        }
    }
    if persistence::synthetic::pathway_count(&mut conn)? == 0 && settings.demo_pathways > 0 {
        println!("loading the demo population ({} synthetic pathways) ...", settings.demo_pathways);
        load_synthetic(&owner, &id_key, settings.demo_pathways, 1, Default::default(), &Default::default())?;
        if let Some(id) = staff {
            let year = chrono::Datelike::year(&today) - 1;
            match publish_demo_release(&server, &settings, year, id) {
                Ok(release) => println!("published demo release {release} of {year} (public results and downloads)"),
                Err(e) => println!("no demo release of {year}: {e}"),
            }
        }
    }
    if let Some(id) = staff {
        if persistence::directory::is_empty(&mut conn)? {
            match import_demo_directory(&server, id) {
                Ok(n) => println!("imported the demo service directory ({n} units, made-up facts)"),
                Err(e) => println!("no demo service directory: {e}"),
            }
        }
    }
    drop(conn);
    let secret = match settings.jwt_secret.clone() {
        Some(s) => s,
        None => random_secret(48).into_bytes(),
    };
    settings.jwt_secret = Some(secret.clone());
    println!("rusreg demo");
    println!("  database: {}", if cluster.is_some() { "managed local cluster" } else { "DATABASE_URL" });
    if cluster.is_some() {
        println!("  data folder: {}", settings.data_dir.display());
    }
    println!("  migrations applied now: {}; reference nodes added now: {}", applied.len(), seeded.inserted);
    println!("  users: {}", DEMO_USERS.map(|u| u.0).join(", "));
    if generated {
        println!("  password (generated; set RUSREG_DEMO_PASSWORD to choose one): {password}");
    } else {
        println!("  password: from RUSREG_DEMO_PASSWORD");
    }
    println!(
        "  API: http://{}/api/v1   docs: http://{}/docs   Ctrl-C stops the server and the database",
        settings.bind, settings.bind
    );
    let result = run_server(settings, &server, &secret, id_key);
    drop(cluster); // stops the managed cluster
    result
}

/// Builds and publishes a release of `year` as demo register staff, so the public results and
/// the downloads have data from the first run: the same use cases (`app::releases`) and audit
/// rows as a release made and published over the API.
fn publish_demo_release(url: &str, settings: &Settings, year: i32, staff: uuid::Uuid) -> anyhow::Result<i64> {
    let pool = persistence::pool::build_pool(url, 2)?;
    let mut conn = pool.get()?;
    let actor = app::access::actor_of(&mut conn, staff, None)?
        .map_err(|why| anyhow::anyhow!("the demo register staff user cannot act ({why:?})"))?;
    let caller = app::Caller::new(actor, Some("rusreg-demo".into()));
    let today = domain::clock::today();
    let release_settings = app::releases::ReleaseSettings {
        default_min_cell: settings.min_cell,
        counts: persistence::reports::CountSettings { today, as_of_today: false, limits: settings.worklist },
    };
    let db = app::releases::Databases { primary: &pool, reports: &pool };
    let input = app::releases::ReleaseInput { year, min_cell: None };
    let created = app::releases::create(db, &caller, input, &release_settings)?;
    app::releases::publish(&mut conn, &caller, created.id)?;
    Ok(created.id)
}

/// Imports seeds/directory-demo.csv as the demo's register staff, through the same use case as
/// `POST /api/v1/directory/import`.
fn import_demo_directory(url: &str, staff: uuid::Uuid) -> anyhow::Result<usize> {
    let mut conn = connect(url)?;
    let actor = app::access::actor_of(&mut conn, staff, None)?
        .map_err(|why| anyhow::anyhow!("the demo register staff user cannot act ({why:?})"))?;
    let caller = app::Caller::new(actor, Some("rusreg-demo".into()));
    let csv = persistence::seeds::DIRECTORY_DEMO_CSV.as_bytes();
    let done = app::directory::import(&mut conn, &caller, csv, true, false)
        .map_err(|e| anyhow::anyhow!("{e}: {}", describe_app_error(&e)))?;
    Ok(done.rows)
}

/// Imports the demo's residence areas and catchment areas (seeds/) and a made-up population of
/// the last three years as the demo's register staff, through the same use case as
/// `POST /api/v1/residence/...`; the population is marked synthetic.
fn import_demo_residence(url: &str, staff: uuid::Uuid, year: i32) -> anyhow::Result<usize> {
    use app::residence::{import, Table};
    let mut conn = connect(url)?;
    let actor = app::access::actor_of(&mut conn, staff, None)?
        .map_err(|why| anyhow::anyhow!("the demo register staff user cannot act ({why:?})"))?;
    let caller = app::Caller::new(actor, Some("rusreg-demo".into()));
    let fail = |e: app::Error| anyhow::anyhow!("{e}: {}", describe_app_error(&e));
    import(&mut conn, &caller, Table::Areas, persistence::seeds::RESIDENCE_AREAS_DEMO_CSV.as_bytes(), false, false)
        .map_err(fail)?;
    import(&mut conn, &caller, Table::Catchment, persistence::seeds::CATCHMENT_DEMO_CSV.as_bytes(), false, false)
        .map_err(fail)?;
    let areas = persistence::residence::all_areas(&mut conn)?;
    let csv = persistence::synthetic::population::demo_population_csv(&areas, year - 2..=year, 2026);
    let done = import(&mut conn, &caller, Table::Population, csv.as_bytes(), false, true).map_err(fail)?;
    Ok(done.created)
}

/// The demo's national-id key: RUSREG_ID_KEY, else one generated once and kept in the data
/// folder (`id.key`, mode 0600) so that a second run can still read the first run's patients.
fn demo_id_key(settings: &Settings) -> anyhow::Result<IdKey> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(raw) = &settings.id_key {
        return IdKey::parse(raw).map_err(|_| anyhow::anyhow!("RUSREG_ID_KEY must be 32 bytes in hex or base64"));
    }
    let path = settings.data_dir.join("id.key");
    if !path.exists() {
        std::fs::create_dir_all(&settings.data_dir)?;
        let bytes: [u8; 32] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&path, hex)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let raw = std::fs::read_to_string(&path)?;
    IdKey::parse(raw.trim()).map_err(|_| anyhow::anyhow!("{} does not hold a valid key", path.display()))
}

/// `rusreg suppress`: the output JSON goes to --output or standard output, the summary line to
/// standard error (so the JSON can be piped).
pub fn suppress(
    input: &std::path::Path,
    min_cell: Option<u32>,
    output: Option<&std::path::Path>,
    strict: bool,
) -> anyhow::Result<()> {
    let summary = reporting::suppression::cli::suppress_file(input, min_cell, output, strict)?;
    if let Some(json) = &summary.json {
        println!("{json}");
    }
    eprintln!("{summary}");
    Ok(())
}

/// `rusreg audit`: prints the summary; exits with status 1 when a disclosure is found.
pub fn audit(input: &std::path::Path, min_cell: Option<u32>) -> anyhow::Result<()> {
    let summary = reporting::suppression::cli::audit_file(input, min_cell)?;
    println!("{summary}");
    if summary.has_disclosure() {
        std::process::exit(1);
    }
    Ok(())
}
