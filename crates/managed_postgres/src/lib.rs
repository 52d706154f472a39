//! The managed local PostgreSQL cluster: a private cluster under a data folder, started from the
//! machine's server binaries (initdb, pg_ctl), for `rusreg demo` and the test harness.
//!
//! - Binaries are found on PATH, via `pg_config --bindir`, or under /usr/lib/postgresql/*/bin.
//! - When this process runs as root, the server runs as an unprivileged user (`postgres` when it
//!   exists, else a system user `rusreg-pg` that is created) through `runuser`.
//! - The server listens on 127.0.0.1 only, on a free port, with password (SCRAM) authentication;
//!   the generated password is kept in `<dir>/superuser.password` (mode 0600).
//! - A cluster left behind by a killed run is recovered: a live server is reused, a stale
//!   postmaster.pid is removed before starting.
//! - `stop` (also run on drop of a cluster this process started) shuts the server down cleanly.
//! - Two login roles besides the bootstrap superuser: `rusreg_owner`, which owns the `rusreg`
//!   database and its objects (migrations, bulk loads), and `rusreg_server`, which the API server
//!   connects as and which holds only what the migrations grant it (`owner_url`, `server_url`).
//!   Their generated passwords are kept beside the superuser's.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rand::distributions::Alphanumeric;
use rand::Rng;

const SUPERUSER: &str = "rusreg";
const DATABASE: &str = "rusreg";
const UNPRIVILEGED_FALLBACK_USER: &str = "rusreg-pg";
/// The file in the data folder that holds the port and listen address (included by postgresql.conf).
const LISTEN_CONF: &str = "rusreg_listen.conf";
/// The role that owns the register's schema: it runs migrations and bulk loads.
pub const OWNER_ROLE: &str = "rusreg_owner";
/// The role the server connects as: not superuser, owner of nothing, only the granted privileges.
pub const SERVER_ROLE: &str = "rusreg_server";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install them with `apt-get install postgresql` \
         (Debian/Ubuntu), put them on PATH, or set DATABASE_URL to an existing server"
    )]
    BinariesMissing,
    #[error("{step} failed: {detail}")]
    Command { step: &'static str, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How the cluster is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on: the demo keeps its data across crashes.
    Durable,
    /// fsync and synchronous commit off: throwaway clusters for tests.
    Throwaway,
}

/// A running local cluster.
#[derive(Debug)]
pub struct LocalCluster {
    root: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<String>,
    port: u16,
    password: String,
    owner_password: String,
    server_password: String,
    /// Whether this process started the server (and so stops it on drop).
    started_here: bool,
}

impl LocalCluster {
    /// Starts (initialising if needed) the cluster under `root`, or reuses one that is running.
    pub fn start(root: &Path, durability: Durability) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir()?;
        fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let run_as = if running_as_root() { Some(unprivileged_user()?) } else { None };
        let pgdata = root.join("pgdata");
        let password_file = root.join("superuser.password");

        if !pgdata.join("PG_VERSION").exists() {
            let password = random_password();
            write_private(&password_file, &password)?;
            init_cluster(&bin_dir, run_as.as_deref(), &root, &pgdata, &password, durability)?;
        }
        let password = fs::read_to_string(&password_file)?.trim().to_owned();
        let owner_password = read_or_make_password(&root.join("owner.password"))?;
        let server_password = read_or_make_password(&root.join("server.password"))?;

        let mut cluster =
            Self { root, bin_dir, run_as, port: 0, password, owner_password, server_password, started_here: false };
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            cluster.ensure_database()?;
            return Ok(cluster);
        }
        // Not running: a postmaster.pid left by a killed run is stale.
        let pid_file = pgdata.join("postmaster.pid");
        if pid_file.exists() {
            tracing::warn!("removing stale postmaster.pid left by an earlier run");
            fs::remove_file(&pid_file)?;
        }
        cluster.port = cluster.choose_port()?;
        cluster.write_listen_conf()?;
        let log = cluster.root.join("postgres.log");
        cluster.ensure_owned(&log)?;
        cluster
            .pg_ctl("pg_ctl start", &["start", "-w", "-t", "120", "-D", path_str(&pgdata)?, "-l", path_str(&log)?])?;
        cluster.started_here = true;
        cluster.ensure_database()?;
        Ok(cluster)
    }

    /// The connection URL of the `rusreg` database as the bootstrap superuser (maintenance only:
    /// creating databases and roles).
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The connection URL of another database of this cluster, as the bootstrap superuser.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}", self.password, self.port)
    }

    /// The `rusreg` database as its owner (`rusreg_owner`): migrations, reference data, bulk loads.
    pub fn owner_url(&self) -> String {
        self.owner_url_for(DATABASE)
    }

    /// Another database as `rusreg_owner`.
    pub fn owner_url_for(&self, database: &str) -> String {
        format!("postgres://{OWNER_ROLE}:{}@127.0.0.1:{}/{database}", self.owner_password, self.port)
    }

    /// The `rusreg` database as the server's role (`rusreg_server`).
    pub fn server_url(&self) -> String {
        self.server_url_for(DATABASE)
    }

    /// Another database as `rusreg_server`.
    pub fn server_url_for(&self, database: &str) -> String {
        format!("postgres://{SERVER_ROLE}:{}@127.0.0.1:{}/{database}", self.server_password, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pgdata(&self) -> PathBuf {
        self.root.join("pgdata")
    }

    /// A shell command that stops this cluster, for a watchdog that outlives this process.
    pub fn stop_command(&self) -> String {
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let base = format!("'{}' stop -D '{}' -m fast -w", pg_ctl.display(), self.pgdata().display());
        match &self.run_as {
            Some(user) => format!("runuser -u {user} -- {base}"),
            None => base,
        }
    }

    /// A hot standby of this cluster under `root`, streaming from it: a base backup
    /// (`pg_basebackup -R -X stream`, as the superuser) started on a port of its own. Its roles and
    /// passwords are the primary's (they are in the copied catalogue); it accepts reads only.
    pub fn start_standby(&self, root: &Path) -> Result<LocalCluster, ClusterError> {
        fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        for file in ["superuser.password", "owner.password", "server.password"] {
            write_private(&root.join(file), &fs::read_to_string(self.root.join(file))?)?;
        }
        if let Some(user) = &self.run_as {
            run("chown", Command::new("chown").arg(format!("{user}:")).arg(&root))?;
            let mut p = fs::metadata(&root)?.permissions();
            p.set_mode(0o700);
            fs::set_permissions(&root, p)?;
        }
        let pgdata = root.join("pgdata");
        let source = format!("host=127.0.0.1 port={} user={SUPERUSER} password={}", self.port, self.password);
        run(
            "pg_basebackup",
            &mut self.command(
                "pg_basebackup",
                &["-D", path_str(&pgdata)?, "-R", "-X", "stream", "-c", "fast", "-d", &source],
            ),
        )?;
        LocalCluster::start(&root, Durability::Throwaway)
    }

    /// A plain `pg_ctl start` of this cluster, without options: what an operator types after a
    /// crash. The port and listen address come from the cluster's own configuration.
    pub fn start_command(&self) -> String {
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let base = format!(
            "'{}' start -w -t 60 -D '{}' -l '{}'",
            pg_ctl.display(),
            self.pgdata().display(),
            self.root.join("postgres.log").display()
        );
        match &self.run_as {
            Some(user) => format!("runuser -u {user} -- {base}"),
            None => base,
        }
    }

    /// Leaves the server running when this value is dropped.
    pub fn detach(&mut self) {
        self.started_here = false;
    }

    /// Stops the server (fast shutdown: open sessions are ended, data is flushed).
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        self.started_here = false;
        if self.running_port().is_none() {
            return Ok(());
        }
        let pgdata = self.pgdata();
        self.pg_ctl("pg_ctl stop", &["stop", "-m", "fast", "-w", "-t", "60", "-D", path_str(&pgdata)?])
    }

    /// The port of the running server, read from postmaster.pid, when `pg_ctl status` says it runs.
    fn running_port(&self) -> Option<u16> {
        let pgdata = self.pgdata();
        let status = self.command("pg_ctl", &["status", "-D", pgdata.to_str()?]).output().ok()?;
        if !status.status.success() {
            return None;
        }
        let pid = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
        pid.lines().nth(3)?.trim().parse().ok()
    }

    /// Makes the two roles (and sets their passwords), the `rusreg` database owned by
    /// `rusreg_owner`, and hands to `rusreg_owner` any object of it that an older version of this
    /// cluster created as the superuser.
    fn ensure_database(&self) -> Result<(), ClusterError> {
        use diesel::{Connection, RunQueryDsl};
        let fail = |e: &dyn std::fmt::Display| ClusterError::Command { step: "create database", detail: e.to_string() };
        let mut conn = diesel::PgConnection::establish(&self.url_for("postgres")).map_err(|e| fail(&e))?;
        #[derive(diesel::QueryableByName)]
        struct Recovery {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            standby: bool,
        }
        let recovery: Recovery =
            diesel::sql_query("SELECT pg_is_in_recovery() AS standby").get_result(&mut conn).map_err(|e| fail(&e))?;
        if recovery.standby {
            return Ok(()); // a standby has the primary's roles and databases and cannot change them
        }
        ensure_roles(&mut conn, &self.owner_password, &self.server_password).map_err(|e| fail(&e))?;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let existing: Count =
            diesel::sql_query(format!("SELECT count(*) AS n FROM pg_database WHERE datname = '{DATABASE}'"))
                .get_result(&mut conn)
                .map_err(|e| fail(&e))?;
        if existing.n == 0 {
            diesel::sql_query(format!("CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}"))
                .execute(&mut conn)
                .map_err(|e| fail(&e))?;
            return Ok(());
        }
        diesel::sql_query(format!("ALTER DATABASE {DATABASE} OWNER TO {OWNER_ROLE}"))
            .execute(&mut conn)
            .map_err(|e| fail(&e))?;
        let mut db = diesel::PgConnection::establish(&self.url()).map_err(|e| fail(&e))?;
        diesel::sql_query(HAND_OVER_TO_OWNER).execute(&mut db).map_err(|e| fail(&e))?;
        Ok(())
    }

    /// The port recorded in the cluster's configuration when it is still free, else a free one.
    fn choose_port(&self) -> Result<u16, ClusterError> {
        let recorded = fs::read_to_string(self.pgdata().join(LISTEN_CONF)).ok().and_then(|conf| {
            conf.lines().find_map(|l| l.strip_prefix("port = ").and_then(|p| p.trim().parse::<u16>().ok()))
        });
        match recorded {
            Some(port) if TcpListener::bind(("127.0.0.1", port)).is_ok() => Ok(port),
            _ => free_port(),
        }
    }

    /// Writes the port and the listen address into the cluster's configuration (an included
    /// file), so that a plain `pg_ctl start` after a crash comes up where the clients look.
    fn write_listen_conf(&self) -> Result<(), ClusterError> {
        let pgdata = self.pgdata();
        let main_conf = pgdata.join("postgresql.conf");
        let include = format!("include_if_exists = '{LISTEN_CONF}'");
        if !fs::read_to_string(&main_conf)?.lines().any(|l| l.trim() == include) {
            writeln!(fs::OpenOptions::new().append(true).open(&main_conf)?, "{include}")?;
        }
        let conf = pgdata.join(LISTEN_CONF);
        fs::write(
            &conf,
            format!("# written by rusreg on each start\nport = {}\nlisten_addresses = '127.0.0.1'\n", self.port),
        )?;
        self.ensure_owned(&conf)
    }

    fn ensure_owned(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(user) = &self.run_as {
            if !path.exists() {
                fs::File::create(path)?;
            }
            run("chown", Command::new("chown").arg(format!("{user}:")).arg(path))?;
        }
        Ok(())
    }

    fn pg_ctl(&self, step: &'static str, args: &[&str]) -> Result<(), ClusterError> {
        run(step, &mut self.command("pg_ctl", args))
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        command_as(&self.bin_dir, self.run_as.as_deref(), program, args)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.started_here {
            if let Err(e) = self.stop() {
                tracing::error!(error = %e, "stopping the local PostgreSQL cluster failed");
            }
        }
    }
}

/// Gives `rusreg_owner` the tables, views, free-standing sequences and functions of schema
/// `public` that the superuser owns (a cluster made before the role split).
const HAND_OVER_TO_OWNER: &str = r"
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relowner = current_user::regrole
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO rusreg_owner',
      CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
      r.name);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.proowner = current_user::regrole
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO rusreg_owner', r.name);
  END LOOP;
END
$$";

/// Creates the owner and the server roles when missing (LOGIN, not superuser, no CREATEDB or
/// CREATEROLE, the server's role without inheritance), and sets their passwords. Run as a
/// superuser; the test harness also uses it on a server it is given.
pub fn ensure_roles(
    conn: &mut diesel::PgConnection,
    owner_password: &str,
    server_password: &str,
) -> Result<(), diesel::result::Error> {
    use diesel::RunQueryDsl;
    for (role, password, extra) in [(OWNER_ROLE, owner_password, ""), (SERVER_ROLE, server_password, " NOINHERIT")] {
        let password = password.replace('\'', "''");
        diesel::sql_query(format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                 CREATE ROLE {role} LOGIN;
               END IF;
             END $$"
        ))
        .execute(conn)?;
        diesel::sql_query(format!(
            "ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS{extra} \
             PASSWORD '{password}'"
        ))
        .execute(conn)?;
    }
    Ok(())
}

fn random_password() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

/// The password kept in `path`, made (and kept, mode 0600) when the file does not exist yet.
fn read_or_make_password(path: &Path) -> Result<String, ClusterError> {
    if !path.exists() {
        write_private(path, &random_password())?;
    }
    Ok(fs::read_to_string(path)?.trim().to_owned())
}

fn init_cluster(
    bin_dir: &Path,
    run_as: Option<&str>,
    root: &Path,
    pgdata: &Path,
    password: &str,
    durability: Durability,
) -> Result<(), ClusterError> {
    if pgdata.exists() {
        fs::remove_dir_all(pgdata)?; // a half-made cluster from an interrupted initdb
    }
    let pwfile = root.join("initdb.pw");
    write_private(&pwfile, password)?;
    if let Some(user) = run_as {
        // The server's user needs to own the data folder and to read the password once.
        run("chown", Command::new("chown").arg(format!("{user}:")).arg(root).arg(&pwfile))?;
        let mut p = fs::metadata(root)?.permissions();
        p.set_mode(0o700);
        fs::set_permissions(root, p)?;
    }
    let result = run(
        "initdb",
        &mut command_as(
            bin_dir,
            run_as,
            "initdb",
            &[
                "-D",
                path_str(pgdata)?,
                "-U",
                SUPERUSER,
                "--pwfile",
                path_str(&pwfile)?,
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
            ],
        ),
    );
    fs::remove_file(&pwfile)?;
    result?;
    let mut conf = fs::OpenOptions::new().append(true).open(pgdata.join("postgresql.conf"))?;
    writeln!(conf, "\n# rusreg managed cluster")?;
    writeln!(conf, "unix_socket_directories = ''")?;
    writeln!(conf, "max_connections = 200")?;
    writeln!(conf, "shared_buffers = 256MB")?;
    writeln!(conf, "work_mem = 16MB")?;
    writeln!(conf, "maintenance_work_mem = 256MB")?;
    writeln!(conf, "max_wal_size = 4GB")?;
    // The planner overestimates the worklist's joins and JIT then costs more than it saves.
    writeln!(conf, "jit = off")?;
    if durability == Durability::Throwaway {
        writeln!(conf, "fsync = off\nsynchronous_commit = off\nfull_page_writes = off")?;
    }
    Ok(())
}

fn command_as(bin_dir: &Path, run_as: Option<&str>, program: &str, args: &[&str]) -> Command {
    let exe = bin_dir.join(program);
    let mut cmd = match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args(args).stdin(Stdio::null());
    cmd
}

fn run(step: &'static str, cmd: &mut Command) -> Result<(), ClusterError> {
    let out = cmd.output().map_err(|e| ClusterError::Command { step, detail: e.to_string() })?;
    if out.status.success() {
        Ok(())
    } else {
        let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        }
        Err(ClusterError::Command { step, detail })
    }
}

fn write_private(path: &Path, content: &str) -> Result<(), ClusterError> {
    fs::write(path, content)?;
    let mut p = fs::metadata(path)?.permissions();
    p.set_mode(0o600);
    fs::set_permissions(path, p)?;
    Ok(())
}

fn path_str(p: &Path) -> Result<&str, ClusterError> {
    p.to_str()
        .ok_or_else(|| ClusterError::Command { step: "path", detail: "the data folder's path is not UTF-8".into() })
}

fn running_as_root() -> bool {
    // /proc/self belongs to the process's effective user.
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn unprivileged_user() -> Result<String, ClusterError> {
    for user in ["postgres", UNPRIVILEGED_FALLBACK_USER] {
        if Command::new("id").arg("-u").arg(user).stdout(Stdio::null()).stderr(Stdio::null()).status()?.success() {
            return Ok(user.to_owned());
        }
    }
    run(
        "useradd",
        Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            UNPRIVILEGED_FALLBACK_USER,
        ]),
    )?;
    Ok(UNPRIVILEGED_FALLBACK_USER.to_owned())
}

fn free_port() -> Result<u16, ClusterError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds the folder with initdb and pg_ctl: PATH, then `pg_config --bindir`, then the newest
/// /usr/lib/postgresql/*/bin.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    let pg_config_dir = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    find_bin_dir_in(std::env::var_os("PATH").as_deref(), pg_config_dir.as_deref(), Path::new("/usr/lib/postgresql"))
}

/// The search of `find_bin_dir` over explicit places (so it can be tested).
pub fn find_bin_dir_in(
    path_var: Option<&std::ffi::OsStr>,
    pg_config_dir: Option<&Path>,
    versions_root: &Path,
) -> Result<PathBuf, ClusterError> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(path) = path_var {
        for dir in std::env::split_paths(path) {
            if has_both(&dir) {
                // Resolve symlinks so the sibling binaries (postgres) are found too.
                let resolved =
                    fs::canonicalize(dir.join("initdb")).ok().and_then(|p| p.parent().map(Path::to_path_buf));
                return Ok(resolved.filter(|d| has_both(d)).unwrap_or(dir));
            }
        }
    }
    if let Some(dir) = pg_config_dir.filter(|d| has_both(d)) {
        return Ok(dir.to_path_buf());
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir(versions_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let dir = e.path().join("bin");
            has_both(&dir).then_some((version, dir))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, d)| d).ok_or(ClusterError::BinariesMissing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_give_a_one_line_error_that_says_how_to_install_them() {
        let empty = std::env::temp_dir().join(format!("rusreg-no-pg-{}", std::process::id()));
        let err = find_bin_dir_in(Some(std::ffi::OsStr::new("/nonexistent")), None, &empty).err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert_eq!(message.lines().count(), 1);
    }

    #[test]
    fn the_newest_version_under_the_versions_root_is_found() -> Result<(), ClusterError> {
        let root = std::env::temp_dir().join(format!("rusreg-pg-versions-{}", std::process::id()));
        for v in ["13", "16"] {
            let bin = root.join(v).join("bin");
            fs::create_dir_all(&bin)?;
            fs::write(bin.join("initdb"), "")?;
            fs::write(bin.join("pg_ctl"), "")?;
        }
        let found = find_bin_dir_in(None, None, &root)?;
        fs::remove_dir_all(&root)?;
        assert_eq!(found, root.join("16").join("bin"));
        Ok(())
    }
}
