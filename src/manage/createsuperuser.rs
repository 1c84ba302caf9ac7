use std::io::{BufRead, IsTerminal};

use crate::actions::accounts::{self, NewAccount, Origin};
use crate::auth::{password, password_rules};
use crate::config::Config;
use crate::models::audit::Actor;
use crate::models::user::{UserChanges, check_username};
use crate::models::{User, setup_token};

pub fn run(config: &Config, noinput: bool) -> Result<(), String> {
    let mut conn = super::connect_migrated(config)?;
    let (username, email, password_text) = if noinput {
        from_env(config)?
    } else {
        if !std::io::stdin().is_terminal() {
            return Err("createsuperuser needs a terminal to ask questions; use --noinput with CALCWEB_SUPERUSER_USERNAME, CALCWEB_SUPERUSER_EMAIL and CALCWEB_SUPERUSER_PASSWORD.".into());
        }
        ask(config)?
    };
    if User::find_by_username(&mut conn, &username)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err(format!(
            "The username {username:?} is already taken; choose another."
        ));
    }
    let account = NewAccount {
        fields: UserChanges {
            username: username.clone(),
            email,
            is_superuser: true,
            level: 2,
            ..Default::default()
        },
        password_hash: password::hash(&password_text),
        origin: Origin::Superuser,
        ..Default::default()
    };
    accounts::create(&mut conn, &Actor::cli(), &account).map_err(|e| e.to_string())?;
    setup_token::delete_all(&mut conn).map_err(|e| e.to_string())?;
    outln!("Superuser {username:?} created.");
    Ok(())
}

fn from_env(config: &Config) -> Result<(String, String, String), String> {
    let var = |name: &str| std::env::var(name).unwrap_or_default().trim().to_string();
    let username = var("CALCWEB_SUPERUSER_USERNAME");
    let email = var("CALCWEB_SUPERUSER_EMAIL");
    let password_text = std::env::var("CALCWEB_SUPERUSER_PASSWORD").unwrap_or_default();
    if username.is_empty() || password_text.is_empty() {
        return Err("With --noinput, set CALCWEB_SUPERUSER_USERNAME and CALCWEB_SUPERUSER_PASSWORD (and optionally CALCWEB_SUPERUSER_EMAIL).".into());
    }
    check_username(&username)?;
    let problems = password_rules::check(
        &password_text,
        config.passwords.min_length,
        &username,
        &email,
    );
    if !problems.is_empty() {
        return Err(format!(
            "CALCWEB_SUPERUSER_PASSWORD is not accepted: {}",
            problems.join(" ")
        ));
    }
    Ok((username, email, password_text))
}

fn prompt(question: &str) -> Result<String, String> {
    out!("{question}");
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("Input ended before the superuser was created.".into());
    }
    Ok(line.trim().to_string())
}

fn ask(config: &Config) -> Result<(String, String, String), String> {
    let username = loop {
        let name = prompt("Username: ")?;
        match check_username(&name) {
            Ok(()) => break name,
            Err(e) => eprintln!("{e}"),
        }
    };
    let email = prompt("Email address (optional): ")?;
    let password_text = super::users::ask_password(config, &username, &email)?;
    Ok((username, email, password_text))
}
