//! `calcweb manage ...`: the operator's commands. Each returns Err(sentence) on failure, which
//! main prints and turns into exit code 1.

#[macro_use]
pub mod out;

mod check;
mod check_pam;
mod collectstatic;
mod createsuperuser;
mod createuser;
mod email;
mod groups;
pub mod maintenance;
mod migrate;
mod nginx_config;
mod purge;
pub mod seed_bench;
mod setup_link;
mod users;

use std::path::PathBuf;

use clap::Subcommand;

use crate::config::Config;
use crate::db::{DatabaseUrl, DbConn};

#[derive(Subcommand)]
pub enum ManageCommand {
    /// Schedule, end or show the maintenance window (shared by every server process)
    Maintenance {
        #[command(subcommand)]
        command: maintenance::MaintenanceCommand,
    },
    /// Print a ready nginx site for calcweb (TLS, static files, proxy headers, maintenance page)
    NginxConfig(nginx_config::NginxArgs),
    /// Apply database migrations (prints each one applied; safe to run again)
    Migrate,
    /// Create a superuser, interactively or from CALCWEB_SUPERUSER_USERNAME/_EMAIL/_PASSWORD
    Createsuperuser {
        /// Read CALCWEB_SUPERUSER_USERNAME, CALCWEB_SUPERUSER_EMAIL and CALCWEB_SUPERUSER_PASSWORD instead of asking
        #[arg(long)]
        noinput: bool,
    },
    /// Print a new one-time link that creates the first superuser (while there is none)
    SetupLink,
    /// Write the static files, with content-hashed names and a manifest, to the static root for nginx
    Collectstatic {
        /// Also remove files in the static root that are no longer part of calcweb
        #[arg(long)]
        clear: bool,
    },
    /// Print the effective configuration (secrets hidden) and check the database; exit 1 on problems
    Check,
    /// Create an account (missing groups are created); without --password-stdin it cannot log in until a password is set
    Createuser(createuser::CreateUserArgs),
    /// Set a user's password (asked twice on a terminal, or one line from --password-stdin) and end their sessions
    Changepassword {
        username: String,
        /// Read the password from the first line of standard input instead of asking
        #[arg(long)]
        password_stdin: bool,
    },
    /// List groups, or add and remove members
    Groups {
        #[command(subcommand)]
        command: groups::GroupsCommand,
    },
    /// List users
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Send a test email to ADDRESS now (not through the outbox) and say whether it worked
    Sendtestemail { address: String },
    /// Invite EMAIL by email to create an account, optionally into --group G (created when missing)
    Invite(email::InviteArgs),
    /// Apply the retention policy now: remove the calculations due and tell owners of those soon due
    Purge {
        /// List what would be removed (with sizes) and whose owners would be told; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Try a PAM login of USER (password: one line on standard input) and explain what fails; exit 1 if it does
    CheckPam { username: String },
    /// Fill a fresh database with benchmark data (bench/seed, bench/run); not for production
    #[command(hide = true)]
    SeedBench(seed_bench::SeedArgs),
}

pub fn run(command: ManageCommand, config: Config, file: Option<PathBuf>) -> Result<(), String> {
    match command {
        ManageCommand::Migrate => migrate::run(&config),
        ManageCommand::Sendtestemail { address } => email::sendtestemail(&config, &address),
        ManageCommand::Invite(args) => email::invite(&config, args),
        ManageCommand::Maintenance { command } => maintenance::run(&config, command),
        ManageCommand::NginxConfig(args) => nginx_config::run(&config, args),
        ManageCommand::Createsuperuser { noinput } => createsuperuser::run(&config, noinput),
        ManageCommand::SetupLink => setup_link::run(&config),
        ManageCommand::Collectstatic { clear } => collectstatic::run(&config, clear),
        ManageCommand::Check => check::run(&config, file),
        ManageCommand::Createuser(args) => createuser::run(&config, args),
        ManageCommand::Changepassword {
            username,
            password_stdin,
        } => users::changepassword(&config, &username, password_stdin),
        ManageCommand::Groups { command } => groups::run(&config, command),
        ManageCommand::Users { command } => users::run(&config, command),
        ManageCommand::Purge { dry_run } => purge::run(&config, dry_run),
        ManageCommand::CheckPam { username } => check_pam::run(&config, &username),
        ManageCommand::SeedBench(args) => seed_bench::run(&config, args),
    }
}

/// One direct connection for a command (no pool).
pub fn connect(config: &Config) -> Result<DbConn, String> {
    let url =
        DatabaseUrl::parse(&config.database_url()).map_err(|e| format!("database.url: {e}"))?;
    url.connect().map_err(|e| {
        format!(
            "Cannot connect to the database {}: {}. Check [database] url and that the server is running.",
            crate::config::redact_url_password(&config.database_url()),
            e.to_string().trim_end()
        )
    })
}

/// Like [`connect`], and refuses a database with unapplied migrations.
pub fn connect_migrated(config: &Config) -> Result<DbConn, String> {
    let mut conn = connect(config)?;
    let pending = crate::db::migrations::pending(&mut conn).map_err(|e| e.to_string())?;
    if !pending.is_empty() {
        return Err(format!(
            "The database has {} unapplied migration(s); run `calcweb manage migrate` first.",
            pending.len()
        ));
    }
    Ok(conn)
}
