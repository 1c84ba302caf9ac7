//! Invitations: a superuser invites an email address into a group; the emailed link (a random
//! token, stored as its SHA-256) creates one account, which lands in that group.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{groups, invitations};
use crate::db::{DbConn, now};
use crate::error::AppResult;
use crate::models::paging::{PER_PAGE, Paged, offset};
use crate::tokens::{random_token, sha256_hex};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: i64,
    pub email: String,
    pub group_id: Option<i64>,
    pub token_hash: String,
    pub invited_by: Option<i64>,
    pub invited_by_name: String,
    pub created_at: PrimitiveDateTime,
    pub expires_at: PrimitiveDateTime,
    pub used_at: Option<PrimitiveDateTime>,
    pub user_id: Option<i64>,
}

/// An invitation with its group's name, as lists and pages show it.
#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub invitation: Invitation,
    pub group: Option<String>,
}

/// What a link is worth.
#[derive(Debug, Clone)]
pub enum Lookup {
    Valid(InvitationRow),
    Used,
    Expired,
    Unknown,
}

impl Invitation {
    pub fn is_expired(&self) -> bool {
        self.expires_at <= now()
    }

    /// Stores an invitation; returns it and the token for the link (not stored).
    pub fn create(
        conn: &mut DbConn,
        email: &str,
        group_id: Option<i64>,
        invited_by: Option<i64>,
        invited_by_name: &str,
        valid_for: Duration,
    ) -> AppResult<(Invitation, String)> {
        let token = random_token();
        let hash = sha256_hex(&token);
        let at = now();
        diesel::insert_into(invitations::table)
            .values((
                invitations::email.eq(email),
                invitations::group_id.eq(group_id),
                invitations::token_hash.eq(&hash),
                invitations::invited_by.eq(invited_by),
                invitations::invited_by_name.eq(invited_by_name),
                invitations::created_at.eq(at),
                invitations::expires_at.eq(at + valid_for),
            ))
            .execute(conn)?;
        let invitation = invitations::table
            .filter(invitations::token_hash.eq(&hash))
            .select(Invitation::as_select())
            .first(conn)?;
        Ok((invitation, token))
    }

    fn with_group(conn: &mut DbConn, invitation: Invitation) -> AppResult<InvitationRow> {
        let group = match invitation.group_id {
            Some(id) => groups::table
                .find(id)
                .select(groups::name)
                .first(conn)
                .optional()?,
            None => None,
        };
        Ok(InvitationRow { invitation, group })
    }

    /// The invitation of a link's token, and whether it can still be used.
    pub fn lookup(conn: &mut DbConn, token: &str) -> AppResult<Lookup> {
        let found = invitations::table
            .filter(invitations::token_hash.eq(sha256_hex(token)))
            .select(Invitation::as_select())
            .first(conn)
            .optional()?;
        Ok(match found {
            None => Lookup::Unknown,
            Some(i) if i.used_at.is_some() => Lookup::Used,
            Some(i) if i.is_expired() => Lookup::Expired,
            Some(i) => Lookup::Valid(Invitation::with_group(conn, i)?),
        })
    }

    /// Marks the invitation used by `user_id`: true for exactly one caller, and only while it
    /// is unused and not expired (run it in the transaction that creates the account).
    pub fn use_once(conn: &mut DbConn, id: i64, user_id: i64) -> AppResult<bool> {
        let at = now();
        let n = diesel::update(
            invitations::table
                .find(id)
                .filter(invitations::used_at.is_null())
                .filter(invitations::expires_at.gt(at)),
        )
        .set((
            invitations::used_at.eq(Some(at)),
            invitations::user_id.eq(Some(user_id)),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<Invitation>> {
        Ok(invitations::table
            .find(id)
            .select(Invitation::as_select())
            .first(conn)
            .optional()?)
    }

    /// Deletes an unused invitation (its link stops working); false when it was used or gone.
    pub fn revoke(conn: &mut DbConn, id: i64) -> AppResult<bool> {
        let n = diesel::delete(
            invitations::table
                .find(id)
                .filter(invitations::used_at.is_null()),
        )
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Newest first.
    pub fn list(conn: &mut DbConn, page: i64) -> AppResult<Paged<InvitationRow>> {
        let total = invitations::table.count().get_result(conn)?;
        let rows: Vec<Invitation> = invitations::table
            .order((invitations::created_at.desc(), invitations::id.desc()))
            .offset(offset(page))
            .limit(PER_PAGE)
            .select(Invitation::as_select())
            .load(conn)?;
        let items = rows
            .into_iter()
            .map(|i| Invitation::with_group(conn, i))
            .collect::<AppResult<Vec<_>>>()?;
        Ok(Paged::new(items, total, page))
    }
}
