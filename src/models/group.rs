//! Groups: members of a group see each other's calculations.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::{groups, user_groups, users};
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};
use crate::icontains;
use crate::models::User;
use crate::models::paging::{PER_PAGE, Paged, offset};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = groups)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub created_at: PrimitiveDateTime,
}

/// A group as the list shows it.
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub group: Group,
    pub members: i64,
}

/// Group names: 1 to 150 characters, no control characters, no spaces at either end.
pub fn check_group_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.chars().count() > 150
        || name.trim() != name
        || name.chars().any(char::is_control)
    {
        return Err("A group name has 1 to 150 characters, without control characters or spaces at either end.".into());
    }
    Ok(())
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict(format!(
        "A group named {name:?} already exists; choose another name."
    ))
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

impl Group {
    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<Group>> {
        Ok(groups::table
            .find(id)
            .select(Group::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn find_by_name(conn: &mut DbConn, name: &str) -> AppResult<Option<Group>> {
        Ok(groups::table
            .filter(groups::name.eq(name))
            .select(Group::as_select())
            .first(conn)
            .optional()?)
    }

    /// A taken name is a 409 with a clear message.
    pub fn create(conn: &mut DbConn, name: &str) -> AppResult<Group> {
        check_group_name(name).map_err(AppError::BadRequest)?;
        match diesel::insert_into(groups::table)
            .values((groups::name.eq(name), groups::created_at.eq(now())))
            .execute(conn)
        {
            Err(e) if is_unique_violation(&e) => Err(name_taken(name)),
            Err(e) => Err(e.into()),
            Ok(_) => Group::find_by_name(conn, name)?.ok_or_else(AppError::not_found),
        }
    }

    pub fn rename(conn: &mut DbConn, id: i64, name: &str) -> AppResult<()> {
        check_group_name(name).map_err(AppError::BadRequest)?;
        match diesel::update(groups::table.find(id))
            .set(groups::name.eq(name))
            .execute(conn)
        {
            Err(e) if is_unique_violation(&e) => Err(name_taken(name)),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(()),
        }
    }

    /// Memberships go with it (ON DELETE CASCADE).
    pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::delete(groups::table.find(id)).execute(conn)?;
        Ok(())
    }

    /// Groups by name, with their member counts; `q` matches part of the name.
    pub fn list(conn: &mut DbConn, q: &str, page: i64) -> AppResult<Paged<GroupRow>> {
        let filtered = || {
            let mut query = groups::table.into_boxed();
            if !q.is_empty() {
                query = query.filter(icontains!(groups::name, q));
            }
            query
        };
        let total = filtered().count().get_result(conn)?;
        let page_groups: Vec<Group> = filtered()
            .order(groups::name)
            .offset(offset(page))
            .limit(PER_PAGE)
            .select(Group::as_select())
            .load(conn)?;
        let ids: Vec<i64> = page_groups.iter().map(|g| g.id).collect();
        let counts: Vec<(i64, i64)> = user_groups::table
            .filter(user_groups::group_id.eq_any(&ids))
            .group_by(user_groups::group_id)
            .select((user_groups::group_id, diesel::dsl::count_star()))
            .load(conn)?;
        let items = page_groups
            .into_iter()
            .map(|group| {
                let members = counts
                    .iter()
                    .find(|(id, _)| *id == group.id)
                    .map_or(0, |(_, n)| *n);
                GroupRow { group, members }
            })
            .collect();
        Ok(Paged::new(items, total, page))
    }

    /// Every group by name (for the checkboxes of the user form).
    pub fn all(conn: &mut DbConn) -> AppResult<Vec<Group>> {
        Ok(groups::table
            .order(groups::name)
            .select(Group::as_select())
            .load(conn)?)
    }

    pub fn count(conn: &mut DbConn) -> AppResult<i64> {
        Ok(groups::table.count().get_result(conn)?)
    }

    pub fn members(conn: &mut DbConn, id: i64) -> AppResult<Vec<User>> {
        Ok(users::table
            .inner_join(user_groups::table)
            .filter(user_groups::group_id.eq(id))
            .order(users::username)
            .select(User::as_select())
            .load(conn)?)
    }

    /// Users outside the group whose username, email or name contains `q` (the member picker).
    pub fn candidates(conn: &mut DbConn, id: i64, q: &str, limit: i64) -> AppResult<Vec<User>> {
        let members = user_groups::table
            .filter(user_groups::group_id.eq(id))
            .select(user_groups::user_id);
        Ok(users::table
            .filter(users::id.ne_all(members))
            .filter(
                icontains!(users::username, q)
                    .or(icontains!(users::email, q))
                    .or(icontains!(users::full_name, q)),
            )
            .order(users::username)
            .limit(limit)
            .select(User::as_select())
            .load(conn)?)
    }

    /// Returns false when the user already was a member.
    pub fn add_member(conn: &mut DbConn, id: i64, user_id: i64) -> AppResult<bool> {
        let exists: i64 = user_groups::table
            .filter(user_groups::group_id.eq(id))
            .filter(user_groups::user_id.eq(user_id))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Ok(false);
        }
        match diesel::insert_into(user_groups::table)
            .values((
                user_groups::group_id.eq(id),
                user_groups::user_id.eq(user_id),
            ))
            .execute(conn)
        {
            // Added by someone else meanwhile.
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(true),
        }
    }

    /// Returns false when the user was not a member.
    pub fn remove_member(conn: &mut DbConn, id: i64, user_id: i64) -> AppResult<bool> {
        let n = diesel::delete(
            user_groups::table
                .filter(user_groups::group_id.eq(id))
                .filter(user_groups::user_id.eq(user_id)),
        )
        .execute(conn)?;
        Ok(n > 0)
    }
}

// ---------------------------------------------------------------------------------------------
// For logins that bring their groups along (PAM with `map_unix_groups`).

impl Group {
    /// The groups `user_id` is a member of, by name.
    pub fn of_user(conn: &mut DbConn, user_id: i64) -> AppResult<Vec<Group>> {
        Ok(groups::table
            .inner_join(user_groups::table)
            .filter(user_groups::user_id.eq(user_id))
            .order(groups::name)
            .select(Group::as_select())
            .load(conn)?)
    }

    /// The group named `name`, created when missing (also when another request creates it at
    /// the same moment). Returns the group and whether it was created.
    pub fn find_or_create(conn: &mut DbConn, name: &str) -> AppResult<(Group, bool)> {
        if let Some(group) = Group::find_by_name(conn, name)? {
            return Ok((group, false));
        }
        // A savepoint, so a lost race does not abort an enclosing PostgreSQL transaction.
        match conn.write_transaction(|conn| Group::create(conn, name)) {
            Ok(group) => Ok((group, true)),
            Err(AppError::Conflict(_)) => Ok((
                Group::find_by_name(conn, name)?.ok_or_else(AppError::not_found)?,
                false,
            )),
            Err(e) => Err(e),
        }
    }
}
