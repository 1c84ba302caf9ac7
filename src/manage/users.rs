//! `manage users list` and `manage changepassword`, plus what the account commands share:
//! reading a password, and turning errors into one sentence.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;

use crate::auth::{password, password_rules};
use crate::config::Config;
use crate::db::DbConn;
use crate::error::AppError;
use crate::models::User;
use crate::models::audit::Actor;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Print every user, tab-separated: username, email, name, login, active, superuser, level, groups, last login
    List,
}

/// An error as one sentence; database failures keep their detail (the CLI has no log to point to).
pub fn sentence(error: AppError) -> String {
    match error {
        AppError::Internal(detail) => format!("The command failed: {detail}."),
        other => other.to_string(),
    }
}

pub fn find_user(conn: &mut DbConn, username: &str) -> Result<User, String> {
    User::find_by_username(conn, username)
        .map_err(sentence)?
        .ok_or_else(|| {
            format!("There is no user {username:?}; `calcweb manage users list` shows the users.")
        })
}

/// One line of standard input, without its line ending, checked against the password rules.
pub fn password_from_stdin(config: &Config, username: &str, email: &str) -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("Cannot read the password from standard input: {e}."))?;
    let text = line.strip_suffix('\n').unwrap_or(&line);
    let text = text.strip_suffix('\r').unwrap_or(text).to_string();
    if text.is_empty() {
        return Err("No password on standard input; pipe one line in, e.g. `printf '%s\\n' \"$PASSWORD\" | calcweb manage ...`.".into());
    }
    let problems = password_rules::check(&text, config.passwords.min_length, username, email);
    if !problems.is_empty() {
        return Err(format!(
            "The password is not accepted: {}",
            problems.join(" ")
        ));
    }
    Ok(text)
}

/// Asks twice with echo off until the two match and follow the rules.
pub fn ask_password(config: &Config, username: &str, email: &str) -> Result<String, String> {
    loop {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Password (again): ").map_err(|e| e.to_string())?;
        if first != second {
            eprintln!("The two passwords do not match; try again.");
            continue;
        }
        let problems = password_rules::check(&first, config.passwords.min_length, username, email);
        if problems.is_empty() {
            return Ok(first);
        }
        for p in problems {
            eprintln!("{p}");
        }
    }
}

pub fn changepassword(config: &Config, username: &str, stdin: bool) -> Result<(), String> {
    let mut conn = super::connect_migrated(config)?;
    let user = find_user(&mut conn, username)?;
    let text = if stdin {
        password_from_stdin(config, &user.username, &user.email)?
    } else if std::io::stdin().is_terminal() {
        ask_password(config, &user.username, &user.email)?
    } else {
        return Err("changepassword needs a terminal to ask for the password; pipe it in with --password-stdin.".into());
    };
    let hash = password::hash(&text);
    let ended = crate::actions::accounts::set_password(&mut conn, &Actor::cli(), &user, &hash)
        .map_err(sentence)?;
    outln!(
        "Password of {:?} changed; {ended} session(s) ended.",
        user.username
    );
    Ok(())
}

pub fn run(config: &Config, command: UsersCommand) -> Result<(), String> {
    let mut conn = super::connect_migrated(config)?;
    match command {
        UsersCommand::List => {
            let users = User::all(&mut conn).map_err(sentence)?;
            outln!("username\temail\tname\tlogin\tactive\tsuperuser\tlevel\tgroups\tlast_login");
            for user in users {
                let groups = user.group_names(&mut conn).map_err(sentence)?.join(",");
                let last_login = user
                    .last_login
                    .map(|t| crate::times::when(&t))
                    .unwrap_or_else(|| "never".into());
                outln!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{groups}\t{last_login}",
                    user.username,
                    user.email,
                    user.full_name,
                    user.login_source,
                    crate::actions::yes_no(user.is_active),
                    crate::actions::yes_no(user.is_superuser),
                    user.level,
                );
            }
            Ok(())
        }
    }
}
