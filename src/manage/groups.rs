//! `manage groups list | add GROUP USER... | remove GROUP USER...`, audited like /admin.

use clap::Subcommand;

use super::users::{find_user, sentence};
use crate::config::Config;
use crate::db::DbConn;
use crate::error::AppError;
use crate::models::User;
use crate::models::audit::Actor;
use crate::models::group::{Group, check_group_name};

#[derive(Subcommand)]
pub enum GroupsCommand {
    /// Print every group with its members, tab-separated: group, member count, members
    List,
    /// Add users to a group (created when missing)
    Add {
        group: String,
        #[arg(required = true, value_name = "USER")]
        users: Vec<String>,
    },
    /// Remove users from a group
    Remove {
        group: String,
        #[arg(required = true, value_name = "USER")]
        users: Vec<String>,
    },
}

pub fn run(config: &Config, command: GroupsCommand) -> Result<(), String> {
    let mut conn = super::connect_migrated(config)?;
    let actor = Actor::cli();
    match command {
        GroupsCommand::List => {
            outln!("group\tmembers\tusers");
            for group in Group::all(&mut conn).map_err(sentence)? {
                let members = Group::members(&mut conn, group.id).map_err(sentence)?;
                let names: Vec<&str> = members.iter().map(|u| u.username.as_str()).collect();
                outln!("{}\t{}\t{}", group.name, names.len(), names.join(","));
            }
            Ok(())
        }
        GroupsCommand::Add { group, users } => {
            check_group_name(&group)?;
            // Every user must exist before anything changes.
            let users = find_users(&mut conn, &users)?;
            let lines = conn
                .write_transaction(|conn| {
                    let (group, created) = crate::actions::groups::ensure(conn, &actor, &group)?;
                    let mut lines = Vec::new();
                    if created {
                        lines.push(format!("Group {:?} created.", group.name));
                    }
                    lines.extend(change_members(conn, &actor, &group, &users, true)?);
                    Ok::<_, AppError>(lines)
                })
                .map_err(sentence)?;
            lines.iter().for_each(|l| outln!("{l}"));
            Ok(())
        }
        GroupsCommand::Remove { group, users } => {
            let group = Group::find_by_name(&mut conn, &group)
                .map_err(sentence)?
                .ok_or_else(|| {
                    format!("There is no group {group:?}; `calcweb manage groups list` shows the groups.")
                })?;
            let users = find_users(&mut conn, &users)?;
            let lines = conn
                .write_transaction(|conn| change_members(conn, &actor, &group, &users, false))
                .map_err(sentence)?;
            lines.iter().for_each(|l| outln!("{l}"));
            Ok(())
        }
    }
}

/// The users named, or the sentence about the first that does not exist.
fn find_users(conn: &mut DbConn, names: &[String]) -> Result<Vec<User>, String> {
    names.iter().map(|u| find_user(conn, u)).collect()
}

/// Adds (`add`) or removes each user, with one line each saying what happened.
fn change_members(
    conn: &mut DbConn,
    actor: &Actor,
    group: &Group,
    users: &[User],
    add: bool,
) -> Result<Vec<String>, AppError> {
    let mut lines = Vec::new();
    for user in users {
        let (u, g) = (&user.username, &group.name);
        let line = if add {
            if crate::actions::groups::add_member(conn, actor, group, user)? {
                format!("Added {u:?} to {g:?}.")
            } else {
                format!("{u:?} already was in {g:?}.")
            }
        } else if crate::actions::groups::remove_member(conn, actor, group, user)? {
            format!("Removed {u:?} from {g:?}.")
        } else {
            format!("{u:?} was not in {g:?}.")
        };
        lines.push(line);
    }
    Ok(lines)
}
