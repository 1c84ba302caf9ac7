//! Account actions: create, edit, set password, deactivate, activate, delete.

use std::path::Path;

use super::{Changes, show, yes_no};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::user::UserChanges;
use crate::models::{NewUser, User};

/// Access levels, as forms and lists name them.
pub const LEVELS: [(i32, &str); 3] = [(0, "view only"), (1, "default"), (2, "may share")];

pub fn level_name(level: i32) -> &'static str {
    LEVELS
        .iter()
        .find(|(n, _)| *n == level)
        .map_or("unknown", |(_, name)| name)
}

pub fn check_level(level: i32) -> AppResult<()> {
    if LEVELS.iter().any(|(n, _)| *n == level) {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "The level must be 0 (view only), 1 (default) or 2 (may share).".into(),
        ))
    }
}

/// How an account comes to be: it decides the login source, whether the account starts active,
/// and the audit line.
#[derive(Debug, Clone, Default)]
pub enum Origin {
    /// By an administrator, in /admin or with `calcweb manage createuser`.
    #[default]
    Admin,
    /// A superuser made on the first-run setup page or with `calcweb manage createsuperuser`.
    Superuser,
    /// Signed up on the registration page: inactive until the emailed link is followed.
    SignUp,
    /// By an invitation from `from` (into `group`, if any).
    Invitation { from: String, group: Option<String> },
    /// At a PAM user's first login: no local password; the machine checks it.
    Pam,
}

/// A new account: its fields, an already hashed password ('' = cannot log in until one is
/// set), its groups and how it comes to be.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub fields: UserChanges,
    pub password_hash: String,
    pub group_ids: Vec<i64>,
    pub origin: Origin,
}

/// Creates an account, in one transaction with its groups and its audit line. A visitor (one
/// signing up, a PAM user's first login) is recorded as the new user.
pub fn create(conn: &mut DbConn, actor: &Actor, account: &NewAccount) -> AppResult<User> {
    check_level(account.fields.level)?;
    conn.write_transaction(|conn| {
        let f = &account.fields;
        let new = NewUser {
            username: f.username.clone(),
            email: f.email.clone(),
            full_name: f.full_name.clone(),
            password_hash: account.password_hash.clone(),
            is_superuser: f.is_superuser,
            level: f.level,
        };
        let user = match account.origin {
            Origin::SignUp => User::create_inactive(conn, &new)?,
            Origin::Pam => User::create_pam(conn, &new)?,
            _ => User::create(conn, &new)?,
        };
        super::groups::find_all(conn, &account.group_ids)?;
        User::set_groups(conn, user.id, &account.group_ids)?;
        let password = match (&account.origin, account.password_hash.is_empty()) {
            (Origin::Pam, _) => "checked by PAM",
            (_, true) => "none (cannot log in)",
            (_, false) => "set",
        };
        let mut summary = format!(
            "email: {}; name: {}; superuser: {}; level: {}; groups: {}; password: {password}",
            show(&f.email),
            show(&f.full_name),
            yes_no(f.is_superuser),
            f.level,
            show(&user.group_names(conn)?.join(", ")),
        );
        let action = match &account.origin {
            Origin::Admin | Origin::Superuser => "user.create",
            Origin::SignUp => {
                summary.push_str("; signed up, awaiting activation");
                "user.register"
            }
            Origin::Invitation { from, group } => {
                summary.push_str(&format!(
                    "; by invitation from {from} into {}",
                    group.as_deref().unwrap_or("no group")
                ));
                "user.create"
            }
            Origin::Pam => {
                summary.push_str("; at the first PAM login");
                "user.create"
            }
        };
        let actor = if actor.is_visitor() {
            actor.as_user(&user)
        } else {
            actor.clone()
        };
        AuditEntry::record(conn, &actor, action, &Target::user(&user), &summary)?;
        Ok(user)
    })
}

/// Saves the fields and the groups; demoting the last active superuser is refused.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    user: &User,
    fields: &UserChanges,
    group_ids: &[i64],
) -> AppResult<User> {
    check_level(fields.level)?;
    User::keeping_a_superuser(conn, user, "demoted", |conn| {
        let before = User::find(conn, user.id)?.ok_or_else(AppError::not_found)?;
        let groups_before = before.group_names(conn)?.join(", ");
        super::groups::find_all(conn, group_ids)?;
        User::update(conn, user.id, fields)?;
        User::set_groups(conn, user.id, group_ids)?;
        let after = User::find(conn, user.id)?.ok_or_else(AppError::not_found)?;
        let mut changes = Changes::default();
        changes.field("username", &before.username, &after.username);
        changes.field("email", &before.email, &after.email);
        changes.field("name", &before.full_name, &after.full_name);
        changes.field(
            "superuser",
            yes_no(before.is_superuser),
            yes_no(after.is_superuser),
        );
        changes.field("level", before.level, after.level);
        changes.field("groups", groups_before, after.group_names(conn)?.join(", "));
        if !changes.is_empty() {
            let target = Target::user(&after);
            AuditEntry::record(conn, actor, "user.update", &target, &changes.summary())?;
        }
        Ok(after)
    })
}

/// Stores a new (hashed) password, ends the user's sessions and forgets the browsers they
/// logged in from (no longer spared the lockout); returns how many sessions ended.
pub fn set_password(conn: &mut DbConn, actor: &Actor, user: &User, hash: &str) -> AppResult<usize> {
    conn.write_transaction(|conn| {
        User::set_password_hash(conn, user.id, hash)?;
        let ended = crate::models::session::SessionRow::delete_for_user(conn, user.id)?;
        let forgotten = crate::models::known_device::forget_all(conn, user.id)?;
        let summary = format!(
            "password set; {ended} session(s) ended; {forgotten} known browser(s) forgotten"
        );
        AuditEntry::record(
            conn,
            actor,
            "user.set_password",
            &Target::user(user),
            &summary,
        )?;
        Ok(ended)
    })
}

/// Marks the account inactive and ends its sessions at once; returns how many ended.
pub fn deactivate(conn: &mut DbConn, actor: &Actor, user: &User) -> AppResult<usize> {
    User::keeping_a_superuser(conn, user, "deactivated", |conn| {
        User::set_active(conn, user.id, false)?;
        let ended = crate::models::session::SessionRow::delete_for_user(conn, user.id)?;
        let summary = format!("active: yes -> no; {ended} session(s) ended");
        AuditEntry::record(
            conn,
            actor,
            "user.deactivate",
            &Target::user(user),
            &summary,
        )?;
        Ok(ended)
    })
}

pub fn activate(conn: &mut DbConn, actor: &Actor, user: &User) -> AppResult<()> {
    conn.write_transaction(|conn| {
        User::set_active(conn, user.id, true)?;
        AuditEntry::record(
            conn,
            actor,
            "user.activate",
            &Target::user(user),
            "active: no -> yes",
        )
    })
}

/// Activates a signed-up account through its emailed link, using the link up; false when
/// another request did it first or the account changed meanwhile.
pub fn activate_by_link(
    conn: &mut DbConn,
    actor: &Actor,
    user: &User,
    link: &crate::models::activation::ActivationToken,
) -> AppResult<bool> {
    conn.write_transaction(|conn| {
        if !crate::models::activation::ActivationToken::activate(conn, link)? {
            return Ok(false);
        }
        let target = Target::user(user);
        AuditEntry::record(conn, actor, "user.activate", &target, "by activation link")?;
        Ok(true)
    })
}

/// What happens to the calculations of a user being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalcsChoice {
    /// Delete the account only if it owns no calculation.
    Refuse,
    /// Give them to this user.
    Reassign(i64),
    /// Delete them too (not while any is running).
    Delete,
}

/// Deletes the account, dealing with its calculations as chosen. Returns the ids of deleted
/// calculations, whose directories the caller removes with [`remove_calc_dirs`].
pub fn delete(
    conn: &mut DbConn,
    actor: &Actor,
    user: &User,
    choice: CalcsChoice,
) -> AppResult<Vec<i64>> {
    User::keeping_a_superuser(conn, user, "deleted", |conn| {
        let owned = User::owned_calcs(conn, user.id)?;
        let name = &user.username;
        let (note, deleted) = match choice {
            CalcsChoice::Refuse if owned.total > 0 => {
                return Err(AppError::Conflict(format!(
                    "{name:?} owns {} calculation(s); choose to reassign or delete them, or deactivate the account instead.",
                    owned.total
                )));
            }
            CalcsChoice::Refuse => ("no calculations".to_string(), Vec::new()),
            CalcsChoice::Reassign(to) => {
                let heir = User::find(conn, to)?
                    .filter(|u| u.id != user.id)
                    .ok_or_else(|| {
                        AppError::BadRequest(
                            "Choose another existing user to receive the calculations.".into(),
                        )
                    })?;
                let n = User::reassign_calcs(conn, user.id, heir.id)?;
                (
                    format!("{n} calculation(s) reassigned to {}", heir.username),
                    Vec::new(),
                )
            }
            CalcsChoice::Delete if owned.running > 0 => {
                return Err(AppError::Conflict(format!(
                    "{name:?} has {} calculation(s) still running; abort them first, or reassign them.",
                    owned.running
                )));
            }
            CalcsChoice::Delete => {
                let ids = User::delete_calcs(conn, user.id)?;
                (format!("{} calculation(s) deleted", ids.len()), ids)
            }
        };
        let summary = format!(
            "email: {}; superuser: {}; {note}",
            show(&user.email),
            yes_no(user.is_superuser)
        );
        AuditEntry::record(conn, actor, "user.delete", &Target::user(user), &summary)?;
        User::delete(conn, user.id)?;
        Ok(deleted)
    })
}

/// Removes `<data_dir>/calcs/<id>/` of deleted calculations; a missing one is fine. Returns
/// how many could not be removed (each is logged).
pub fn remove_calc_dirs(data_dir: &Path, ids: &[i64]) -> usize {
    let mut failed = 0;
    for id in ids {
        let dir = data_dir.join("calcs").join(id.to_string());
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                failed += 1;
                tracing::warn!("cannot remove {}: {e}", dir.display());
            }
        }
    }
    failed
}
