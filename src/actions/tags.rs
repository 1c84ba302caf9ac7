//! Tags on calculations: create and delete a tag, put one on a calculation or take it off,
//! make a calculation the preferred one of a tag. Each answers OpenQuake's sentence for what
//! happened (`server/db/actions.py`), so the API can answer as OpenQuake does; the audit line
//! is written only when something changed.
//!
//! Who may: changing the tags of a calculation takes the right to share it (its owner at
//! level 2, or a superuser; `Access::share`), as OpenQuake asks level 2 for every tag change.
//! A tag is a name all users see; any user at level 2 may create one, but deleting it takes
//! it off calculations, so only a superuser, or a user at level 2 whose own calculations are
//! the only ones carrying it, may delete it. The preferred calculation of a tag is one for
//! all: replacing or unsetting it takes the right to share the calculation that was
//! preferred too.

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::calc::Calc;
use crate::models::tag::{Tag, check_name};

/// Level 2 (or a superuser): OpenQuake's condition for every tag change.
fn check_level(user: &User) -> AppResult<()> {
    if user.is_superuser || user.level >= 2 {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Your account may not change tags; ask an administrator for sharing rights (level 2)."
                .into(),
        ))
    }
}

/// The calculation `id`, which the user must see (404) and may share (403).
fn check_calc(conn: &mut DbConn, user: &User, id: i64) -> AppResult<Calc> {
    let (calc, access) = Calc::load_for(conn, user, id)?;
    if !access.share {
        return Err(AppError::Forbidden(format!(
            "You may not change the tags of calculation {id}: only its owner (with sharing rights) and superusers may."
        )));
    }
    Ok(calc)
}

/// The calculation preferred for a tag now, which the user must be allowed to replace.
fn check_may_replace(conn: &mut DbConn, user: &User, tag_id: i64, name: &str) -> AppResult<()> {
    let Some(current) = Tag::preferred(conn, tag_id)? else {
        return Ok(());
    };
    let may = match Calc::load_for(conn, user, current) {
        Ok((_, access)) => access.share,
        Err(AppError::NotFound(_)) => false,
        Err(e) => return Err(e),
    };
    if may {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "The preferred calculation of tag {name} is one you may not change; ask its owner or a superuser."
        )))
    }
}

fn tag_target(name: &str) -> Target {
    Target {
        kind: "tag",
        id: name.to_string(),
        repr: format!("tag {name}"),
    }
}

fn calc_target(id: i64) -> Target {
    Target {
        kind: "calc",
        id: id.to_string(),
        repr: format!("calculation {id}"),
    }
}

/// `create_tag`: `Tag T was created` or `Tag T already exists`.
pub fn create(conn: &mut DbConn, actor: &Actor, user: &User, name: &str) -> AppResult<String> {
    check_level(user)?;
    check_name(name)?;
    conn.write_transaction(|conn| {
        if !Tag::create(conn, name)? {
            return Ok(format!("Tag {name} already exists"));
        }
        AuditEntry::record(conn, actor, "tag.create", &tag_target(name), "")?;
        Ok(format!("Tag {name} was created"))
    })
}

/// `delete_tag`: `Tag T was deleted` or `Tag T does not exist`.
pub fn delete(conn: &mut DbConn, actor: &Actor, user: &User, name: &str) -> AppResult<String> {
    check_level(user)?;
    conn.write_transaction(|conn| {
        let Some(id) = Tag::find(conn, name)? else {
            return Ok(format!("Tag {name} does not exist"));
        };
        let owners = Tag::owners(conn, id)?;
        if !user.is_superuser && owners.iter().any(|o| *o != user.id) {
            return Err(AppError::Forbidden(format!(
                "Tag {name} is on calculations of other users; only a superuser may delete it (you may take it off your own)."
            )));
        }
        Tag::delete(conn, id)?;
        AuditEntry::record(conn, actor, "tag.delete", &tag_target(name), "")?;
        Ok(format!("Tag {name} was deleted"))
    })
}

/// `add_tag`: `The tag T was added to job N` (the tag is created if needed); a calculation
/// that carries it already is a conflict, as OpenQuake refuses it.
pub fn add(
    conn: &mut DbConn,
    actor: &Actor,
    user: &User,
    id: i64,
    name: &str,
) -> AppResult<String> {
    check_level(user)?;
    check_name(name)?;
    conn.write_transaction(|conn| {
        check_calc(conn, user, id)?;
        let tag_id = Tag::find_or_create(conn, name)?;
        if !Tag::attach(conn, id, tag_id)? {
            return Err(AppError::Conflict(format!(
                "Calculation {id} already has the tag {name}."
            )));
        }
        AuditEntry::record(
            conn,
            actor,
            "calc.tag",
            &calc_target(id),
            &format!("tag: {name}"),
        )?;
        Ok(format!("The tag {name} was added to job {id}"))
    })
}

/// `remove_tag`: `Tag T was removed from job N`, or `Tag T was not associated with job N`
/// when there is no such tag.
pub fn remove(
    conn: &mut DbConn,
    actor: &Actor,
    user: &User,
    id: i64,
    name: &str,
) -> AppResult<String> {
    check_level(user)?;
    conn.write_transaction(|conn| {
        check_calc(conn, user, id)?;
        let Some(tag_id) = Tag::find(conn, name)? else {
            return Ok(format!("Tag {name} was not associated with job {id}"));
        };
        if Tag::detach(conn, id, tag_id)? {
            AuditEntry::record(
                conn,
                actor,
                "calc.untag",
                &calc_target(id),
                &format!("tag: {name}"),
            )?;
        }
        Ok(format!("Tag {name} was removed from job {id}"))
    })
}

/// `set_preferred_job_for_tag`: `Job N was set as preferred for tag T` (it gets the tag if it
/// had not; the tag is created if needed).
pub fn prefer(
    conn: &mut DbConn,
    actor: &Actor,
    user: &User,
    id: i64,
    name: &str,
) -> AppResult<String> {
    check_level(user)?;
    check_name(name)?;
    conn.write_transaction(|conn| {
        check_calc(conn, user, id)?;
        let tag_id = Tag::find_or_create(conn, name)?;
        let before = Tag::preferred(conn, tag_id)?;
        if before != Some(id) {
            check_may_replace(conn, user, tag_id, name)?;
            Tag::prefer(conn, id, tag_id)?;
            let summary = match before {
                Some(old) => format!("preferred for tag {name} (was calculation {old})"),
                None => format!("preferred for tag {name}"),
            };
            AuditEntry::record(conn, actor, "calc.prefer", &calc_target(id), &summary)?;
        }
        Ok(format!("Job {id} was set as preferred for tag {name}"))
    })
}

/// `unset_preferred_job_for_tag`: `Tag T has no preferred job now`.
pub fn unprefer(conn: &mut DbConn, actor: &Actor, user: &User, name: &str) -> AppResult<String> {
    check_level(user)?;
    let done = format!("Tag {name} has no preferred job now");
    conn.write_transaction(|conn| {
        let Some(tag_id) = Tag::find(conn, name)? else {
            return Ok(done.clone());
        };
        let Some(before) = Tag::preferred(conn, tag_id)? else {
            return Ok(done.clone());
        };
        check_may_replace(conn, user, tag_id, name)?;
        Tag::unprefer(conn, tag_id)?;
        let summary = format!("no longer preferred for tag {name}");
        AuditEntry::record(conn, actor, "calc.unprefer", &calc_target(before), &summary)?;
        Ok(done.clone())
    })
}

/// `get_preferred_job_for_tag`: the preferred calculation of the tag, if there is one the
/// user may see (so the answer reveals no calculation they could not list).
pub fn preferred_for(conn: &mut DbConn, user: &User, name: &str) -> AppResult<Option<i64>> {
    let Some(tag_id) = Tag::find(conn, name)? else {
        return Ok(None);
    };
    let Some(id) = Tag::preferred(conn, tag_id)? else {
        return Ok(None);
    };
    match Calc::load_for(conn, user, id) {
        Ok(_) => Ok(Some(id)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
