//! Group actions: create, rename, delete, add and remove members.

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::group::Group;

pub fn create(conn: &mut DbConn, actor: &Actor, name: &str) -> AppResult<Group> {
    conn.write_transaction(|conn| {
        let group = Group::create(conn, name)?;
        AuditEntry::record(
            conn,
            actor,
            "group.create",
            &Target::group(group.id, &group.name),
            "",
        )?;
        Ok(group)
    })
}

/// The group named `name`, created (and audited) when missing; the bool says it was created.
pub fn ensure(conn: &mut DbConn, actor: &Actor, name: &str) -> AppResult<(Group, bool)> {
    match Group::find_by_name(conn, name)? {
        Some(group) => Ok((group, false)),
        None => Ok((create(conn, actor, name)?, true)),
    }
}

pub fn rename(conn: &mut DbConn, actor: &Actor, group: &Group, name: &str) -> AppResult<()> {
    if group.name == name {
        return Ok(());
    }
    conn.write_transaction(|conn| {
        Group::rename(conn, group.id, name)?;
        let summary = format!("name: {} -> {name}", group.name);
        AuditEntry::record(
            conn,
            actor,
            "group.rename",
            &Target::group(group.id, name),
            &summary,
        )
    })
}

/// Deletes the group and its memberships; returns how many members it had.
pub fn delete(conn: &mut DbConn, actor: &Actor, group: &Group) -> AppResult<usize> {
    conn.write_transaction(|conn| {
        let members = Group::members(conn, group.id)?;
        Group::delete(conn, group.id)?;
        let names: Vec<&str> = members.iter().map(|u| u.username.as_str()).collect();
        let summary = format!("{} member(s): {}", names.len(), names.join(", "));
        AuditEntry::record(
            conn,
            actor,
            "group.delete",
            &Target::group(group.id, &group.name),
            &summary,
        )?;
        Ok(names.len())
    })
}

/// Returns false (and records nothing) when the user already was a member.
pub fn add_member(conn: &mut DbConn, actor: &Actor, group: &Group, user: &User) -> AppResult<bool> {
    conn.write_transaction(|conn| {
        let added = Group::add_member(conn, group.id, user.id)?;
        if added {
            let summary = format!("added member {}", user.username);
            let target = Target::group(group.id, &group.name);
            AuditEntry::record(conn, actor, "group.add_member", &target, &summary)?;
        }
        Ok(added)
    })
}

/// Returns false (and records nothing) when the user was not a member.
pub fn remove_member(
    conn: &mut DbConn,
    actor: &Actor,
    group: &Group,
    user: &User,
) -> AppResult<bool> {
    conn.write_transaction(|conn| {
        let removed = Group::remove_member(conn, group.id, user.id)?;
        if removed {
            let summary = format!("removed member {}", user.username);
            let target = Target::group(group.id, &group.name);
            AuditEntry::record(conn, actor, "group.remove_member", &target, &summary)?;
        }
        Ok(removed)
    })
}

/// Groups by id; an unknown id is a 400 (a form sent something that is not a choice).
pub fn find_all(conn: &mut DbConn, ids: &[i64]) -> AppResult<Vec<Group>> {
    ids.iter()
        .map(|id| {
            Group::find(conn, *id)?.ok_or_else(|| {
                AppError::BadRequest(
                    "One of the chosen groups no longer exists; reload the page and try again."
                        .into(),
                )
            })
        })
        .collect()
}
