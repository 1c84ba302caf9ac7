//! The maintenance window, in the database so every server process sees the same one.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::maintenance;
use crate::db::{DbConn, now};
use crate::error::AppResult;

#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = maintenance)]
pub struct Maintenance {
    pub id: i32,
    pub starts_at: PrimitiveDateTime,
    pub message: String,
    pub created_by: String,
    pub created_at: PrimitiveDateTime,
}

impl Maintenance {
    pub fn current(conn: &mut DbConn) -> AppResult<Option<Maintenance>> {
        Ok(maintenance::table
            .select(Maintenance::as_select())
            .first(conn)
            .optional()?)
    }

    /// Schedules (or reschedules) the window.
    pub fn schedule(
        conn: &mut DbConn,
        starts_at: PrimitiveDateTime,
        message: &str,
        by: &str,
    ) -> AppResult<()> {
        conn.transaction(|conn| {
            diesel::delete(maintenance::table).execute(conn)?;
            diesel::insert_into(maintenance::table)
                .values((
                    maintenance::id.eq(1),
                    maintenance::starts_at.eq(starts_at),
                    maintenance::message.eq(message),
                    maintenance::created_by.eq(by),
                    maintenance::created_at.eq(now()),
                ))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// Ends it; false when there was none.
    pub fn end(conn: &mut DbConn) -> AppResult<bool> {
        Ok(diesel::delete(maintenance::table).execute(conn)? > 0)
    }

    /// Whether the window has begun.
    pub fn is_active(&self) -> bool {
        self.starts_at <= now()
    }
}
