//! `manage createuser`: an account for scripts and ops, with the same rules and audit entry as
//! /admin. Missing groups are created. Without --password-stdin the account has no password and
//! cannot log in until one is set.

use super::users::{password_from_stdin, sentence};
use crate::actions::accounts::NewAccount;
use crate::auth::password;
use crate::config::Config;
use crate::models::audit::Actor;
use crate::models::group::check_group_name;
use crate::models::setup_token;
use crate::models::user::{UserChanges, check_username};

#[derive(clap::Args)]
pub struct CreateUserArgs {
    /// 1 to 150 letters, digits and @ . + - _
    pub username: String,
    /// Email address
    #[arg(long, default_value = "", hide_default_value = true)]
    pub email: String,
    /// Full name
    #[arg(long, default_value = "", hide_default_value = true)]
    pub name: String,
    /// May use /admin
    #[arg(long)]
    pub superuser: bool,
    /// 0 = view only, 1 = default, 2 = may share
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(0..=2))]
    pub level: i32,
    /// Make the user a member of GROUP (created when missing); repeat for several groups
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Read the password from the first line of standard input (else the account cannot log in until one is set)
    #[arg(long)]
    pub password_stdin: bool,
}

pub fn run(config: &Config, args: CreateUserArgs) -> Result<(), String> {
    check_username(&args.username)?;
    for group in &args.groups {
        check_group_name(group).map_err(|e| format!("--group {group:?}: {e}"))?;
    }
    let mut conn = super::connect_migrated(config)?;
    if crate::models::User::find_by_username(&mut conn, &args.username)
        .map_err(sentence)?
        .is_some()
    {
        return Err(format!(
            "The username {:?} is already taken; choose another.",
            args.username
        ));
    }
    let hash = if args.password_stdin {
        password::hash(&password_from_stdin(config, &args.username, &args.email)?)
    } else {
        String::new()
    };
    let actor = Actor::cli();
    let (user, created_groups) = conn
        .write_transaction(|conn| {
            let mut group_ids = Vec::new();
            let mut created = Vec::new();
            for name in &args.groups {
                let (group, is_new) = crate::actions::groups::ensure(conn, &actor, name)?;
                if is_new {
                    created.push(group.name.clone());
                }
                group_ids.push(group.id);
            }
            let account = NewAccount {
                fields: UserChanges {
                    username: args.username.clone(),
                    email: args.email.clone(),
                    full_name: args.name.clone(),
                    is_superuser: args.superuser,
                    level: args.level,
                },
                password_hash: hash,
                group_ids,
                origin: crate::actions::accounts::Origin::Admin,
            };
            let user = crate::actions::accounts::create(conn, &actor, &account)?;
            if user.is_superuser {
                // A superuser exists now: the first-run link is void.
                setup_token::delete_all(conn)?;
            }
            Ok::<_, crate::error::AppError>((user, created))
        })
        .map_err(sentence)?;
    for name in created_groups {
        outln!("Group {name:?} created.");
    }
    let kind = if user.is_superuser {
        "Superuser"
    } else {
        "User"
    };
    outln!("{kind} {:?} created.", user.username);
    if user.password_hash.is_empty() {
        outln!(
            "It cannot log in until a password is set: calcweb manage changepassword {}",
            user.username
        );
    }
    Ok(())
}
