//! The `rusreg` binary: parses the command line, loads `Settings`, starts logging, and calls
//! into the libraries. Commands: serve, demo, migrate, seed-reference, seed, import, suppress, audit, user add.

mod commands;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "rusreg", version, about = "National medical quality register for substance-use treatment (TSB)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API in production: needs DATABASE_URL and a strong RUSREG_JWT_SECRET.
    Serve,
    /// Run the register on its managed local PostgreSQL (RUSREG_DATA_DIR) with reference data
    /// and one demo user per role; Ctrl-C stops the server and the cluster.
    Demo,
    /// Apply pending database migrations (DATABASE_URL, or the managed cluster when unset).
    Migrate {
        /// Revert every migration instead (runs each down.sql, newest first).
        #[arg(long)]
        revert_all: bool,
    },
    /// Load the reference data of seeds/ (regions, health trusts, demo units); idempotent.
    SeedReference,
    /// Run one pass of the questionnaire-order scheduler as of today (follow-up orders, reminders,
    /// expiry; docs/patient-channel.md). Safe to run on several hosts at once; run it daily.
    Schedule {
        /// The address of the patient pages as patients reach it, for the letters.
        #[arg(long)]
        public_url: String,
    },
    /// Send the patient channel's e-mail that is due (RUSREG_SMTP_*; docs/patient-channel.md,
    /// Senders), once, and print what became of it. Safe to run on several hosts at once.
    SendMail,
    /// Generate and load a synthetic population (made-up patients, pathways and forms) in bulk;
    /// the same --seed gives the same population. Needs the reference data (`--tree realistic`
    /// loads it).
    Seed {
        /// Number of pathways to generate.
        #[arg(long, default_value_t = 20_000)]
        pathways: usize,
        /// Seed of the random generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Database connections that COPY batches in parallel (the data does not depend on it).
        #[arg(long, default_value_t = 2)]
        writers: usize,
        /// Pathways per batch (one transaction each).
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// The organisation tree the pathways are spread over.
        #[arg(long, value_enum, default_value_t = TreeArg::Demo)]
        tree: TreeArg,
    },
    /// Suppress a table in the JSON case format of the suppression vectors, audit the result,
    /// and write it (to --output or standard output). Prints a one-line summary to stderr.
    Suppress {
        #[arg(long)]
        input: std::path::PathBuf,
        /// Primary iff 0 < n < K (overrides the file's parameters).
        #[arg(long)]
        min_cell: Option<u32>,
        #[arg(long)]
        output: Option<std::path::PathBuf>,
        /// The strict policy of releases (no group disclosure).
        #[arg(long)]
        strict: bool,
    },
    /// Audit the suppression pattern given in a case file; exits non-zero on a disclosure.
    Audit {
        #[arg(long)]
        input: std::path::PathBuf,
        #[arg(long)]
        min_cell: Option<u32>,
    },
    /// Import a batch of patients, pathways and forms from a patient-record system (NDJSON, or
    /// CSV of one --kind; docs/api.md, Imports) as --user, through the same use cases as
    /// `POST /api/v1/imports`, in this process, with a progress bar. Prints the counts and the
    /// rejected rows (line, field, code, message); exits non-zero when a row was rejected.
    Import {
        /// The batch: `.ndjson`/`.jsonl`, or `.csv` with --kind.
        file: std::path::PathBuf,
        /// The user the rows are registered as: their grants decide what is allowed.
        #[arg(long)]
        user: String,
        /// For CSV: pathway, baseline, measurement, discharge or follow-up.
        #[arg(long)]
        kind: Option<String>,
        /// Check every row and store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Store nothing unless every row is accepted.
        #[arg(long)]
        all_or_nothing: bool,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

/// `rusreg seed --tree`.
#[derive(Clone, Copy, ValueEnum)]
enum TreeArg {
    /// The units in the register (the 29 demo units of seeds/organisations.json).
    Demo,
    /// First add a made-up tree of about 250 units, 20 trusts and 40 private institutions
    /// (seeds/synthetic.json, `realistic_tree`; idempotent, drawn from --seed), with unit sizes
    /// skewed so that many units stay small.
    Realistic,
}

impl From<TreeArg> for persistence::synthetic::Tree {
    fn from(tree: TreeArg) -> Self {
        match tree {
            TreeArg::Demo => Self::Demo,
            TreeArg::Realistic => Self::Realistic,
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with one grant (bootstraps the first admin). The password is read from
    /// RUSREG_NEW_PASSWORD, or from standard input with --password-stdin, or generated and printed.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// registrar, unit_contact, register_contact, register_staff or admin.
        #[arg(long)]
        role: String,
        /// Where the role is held: an organisation number, a RESH-id, or `nation` (default for
        /// register_staff and admin).
        #[arg(long)]
        node: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = api::config::Settings::from_env()?;
    commands::init_logging(&settings);
    match cli.command {
        Command::Serve => commands::serve(settings),
        Command::Demo => commands::demo(settings),
        Command::Migrate { revert_all } => commands::migrate(&settings, revert_all),
        Command::SeedReference => commands::seed_reference(&settings),
        Command::Schedule { public_url } => commands::schedule(&settings, &public_url),
        Command::SendMail => commands::send_mail(&settings),
        Command::Seed { pathways, seed, writers, batch, tree } => {
            let options = persistence::synthetic::LoadOptions { writers, batch_pathways: batch };
            commands::seed(&settings, pathways, seed, tree.into(), &options)
        }
        Command::Suppress { input, min_cell, output, strict } => {
            commands::suppress(&input, min_cell, output.as_deref(), strict)
        }
        Command::Audit { input, min_cell } => commands::audit(&input, min_cell),
        Command::Import { file, user, kind, dry_run, all_or_nothing } => {
            commands::import(&settings, &file, &user, kind.as_deref(), dry_run, all_or_nothing)
        }
        Command::User { command: UserCommand::Add { username, display_name, role, node, password_stdin } } => {
            commands::user_add(&settings, &username, display_name.as_deref(), &role, node.as_deref(), password_stdin)
        }
    }
}
