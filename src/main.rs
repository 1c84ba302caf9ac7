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
    /// Administration commands: migrate, createsuperuser, collectstatic, check
    Manage {
        #[command(subcommand)]
        command: ManageCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("calcweb: {message}");
            ExitCode::from(1)
        }
    }
}
