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
            let password: String = rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect();
            write_private(&password_file, &password)?;
            init_cluster(&bin_dir, run_as.as_deref(), &root, &pgdata, &password, durability)?;
        }
        let password = fs::read_to_string(&password_file)?.trim().to_owned();

        let mut cluster = Self { root, bin_dir, run_as, port: 0, password, started_here: false };
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            return Ok(cluster);
        }
        // Not running: a postmaster.pid left by a killed run is stale.
        let pid_file = pgdata.join("postmaster.pid");
        if pid_file.exists() {
            tracing::warn!("removing stale postmaster.pid left by an earlier run");
            fs::remove_file(&pid_file)?;
        }
        cluster.port = free_port()?;
        let log = cluster.root.join("postgres.log");
        cluster.ensure_owned(&log)?;
        let opts = format!("-p {} -c listen_addresses=127.0.0.1", cluster.port);
        cluster.pg_ctl(
            "pg_ctl start",
            &["start", "-w", "-t", "120", "-D", path_str(&pgdata)?, "-l", path_str(&log)?, "-o", &opts],
        )?;
        cluster.started_here = true;
        cluster.ensure_database()?;
        Ok(cluster)
    }

    /// The connection URL of the `rusreg` database.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The connection URL of another database of this cluster.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}", self.password, self.port)
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

    fn ensure_database(&self) -> Result<(), ClusterError> {
        use diesel::{Connection, RunQueryDsl};
        let fail = |e: &dyn std::fmt::Display| ClusterError::Command { step: "create database", detail: e.to_string() };
        let mut conn = diesel::PgConnection::establish(&self.url_for("postgres")).map_err(|e| fail(&e))?;
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
            diesel::sql_query(format!("CREATE DATABASE {DATABASE}")).execute(&mut conn).map_err(|e| fail(&e))?;
        }
        Ok(())
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
