use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use calcweb::manage::ManageCommand;

/// calcweb: a web server for running calculations and sharing their results.
#[derive(Parser)]
#[command(name = "calcweb", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Config file (default: ./calcweb.toml, else /etc/calcweb/calcweb.toml, else built-in defaults)
    #[arg(long, global = true, value_name = "FILE", env = "CALCWEB_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server
    Serve,
    /// Administration commands: migrate, check, accounts, groups, maintenance, email, nginx...
    Manage {
        #[command(subcommand)]
        command: ManageCommand,
    },
    /// Run and watch one calculation (started by the server; not for people)
    #[command(hide = true)]
    Supervise {
        id: i64,
        /// The configuration as JSON in a file, removed once read (Slurm batch jobs)
        #[arg(long, value_name = "FILE")]
        config_json: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Supervise { id, config_json } = cli.command {
        return supervise(cli.config, id, config_json);
    }
    let config = match calcweb::config::find_config_file(cli.config.as_deref())
        .and_then(|file| Ok((calcweb::Config::load(file.as_deref())?, file)))
    {
        Ok(loaded) => loaded,
        Err(e) => {
            // `manage check` reports config problems itself, in the same words.
            eprintln!("calcweb: the configuration has problems:\n{e}");
            return ExitCode::from(1);
        }
    };
    let result = match cli.command {
        Command::Serve => calcweb::serve::run(config.0, config.1),
        Command::Manage { command } => calcweb::manage::run(command, config.0, config.1),
        Command::Supervise { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("calcweb: {message}");
            ExitCode::from(1)
        }
    }
}

/// The supervisor takes the configuration of the server that started it, when there is one.
fn supervise(file: Option<PathBuf>, id: i64, config_json: Option<PathBuf>) -> ExitCode {
    let config = match (
        config_json,
        std::env::var(calcweb::calcs::supervisor::CONFIG_ENV),
    ) {
        // Under Slurm: written by the server next to the batch script; it holds the
        // database URL, so it does not stay on the shared filesystem.
        (Some(path), _) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|json| {
                let _ = std::fs::remove_file(&path);
                serde_json::from_str(&json).map_err(|e| format!("bad {}: {e}", path.display()))
            }),
        (None, Ok(json)) => serde_json::from_str(&json)
            .map_err(|e| format!("bad {}: {e}", calcweb::calcs::supervisor::CONFIG_ENV)),
        (None, Err(_)) => calcweb::config::find_config_file(file.as_deref())
            .and_then(|f| calcweb::Config::load(f.as_deref()))
            .map_err(|e| e.to_string()),
    };
    let result = config.and_then(|config| calcweb::calcs::supervisor::run(&config, id));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("calcweb supervise {id}: {message}");
            ExitCode::from(1)
        }
    }
}
