use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell)
    Completions { shell: clap_complete::Shell },
    /// Write the man pages (calcweb.1 and one per command) into DIR
    Manpages { dir: PathBuf },
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
    // These need no configuration.
    match cli.command {
        Command::Supervise { id, config_json } => return supervise(cli.config, id, config_json),
        Command::Completions { shell } => return completions(shell),
        Command::Manpages { dir } => return manpages(&dir),
        _ => {}
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
        Command::Supervise { .. } | Command::Completions { .. } | Command::Manpages { .. } => {
            unreachable!("handled above")
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("calcweb: {message}");
            ExitCode::from(1)
        }
    }
}

/// The completion script, written whole (clap_complete panics when stdout is a pipe closed
/// early, as in `calcweb completions bash | head`).
fn completions(shell: clap_complete::Shell) -> ExitCode {
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "calcweb", &mut script);
    match std::io::stdout().lock().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("calcweb: cannot write the completion script: {e}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// calcweb.1, calcweb-serve.1, calcweb-manage.1, calcweb-manage-check.1... (hidden commands
/// have none).
fn manpages(dir: &std::path::Path) -> ExitCode {
    let written =
        std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(Cli::command(), dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "calcweb: cannot write the man pages into {}: {e}",
                dir.display()
            );
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
