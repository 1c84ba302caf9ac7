//! The maintenance window, in the database so every server process sees the same one.

use std::sync::RwLock;
use std::time::{Duration, Instant};

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
        conn.write_transaction(|conn| {
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

/// How long a process trusts its copy of the maintenance row.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// A per-process copy of the maintenance row, so every request does not query it.
#[derive(Default)]
pub struct MaintenanceCache {
    entry: RwLock<Option<(Instant, Option<Maintenance>)>>,
}

impl MaintenanceCache {
    /// The cached window, if the copy is fresh.
    fn fresh(&self) -> Option<Option<Maintenance>> {
        let guard = self.entry.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, m)| m.clone())
    }

    /// The last known window, fresh or not (for templates, which cannot wait for the database).
    pub fn last_known(&self) -> Option<Maintenance> {
        self.entry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|(_, m)| m.clone())
    }

    /// Forgets the copy (after this process changed the window).
    pub fn invalidate(&self) {
        *self.entry.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub async fn get(&self, db: &crate::db::Db) -> Option<Maintenance> {
        if let Some(known) = self.fresh() {
            return known;
        }
        // If the database does not answer, keep the last known window rather than failing here.
        let current = db
            .run(Maintenance::current)
            .await
            .unwrap_or_else(|_| self.last_known());
        *self.entry.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), current.clone()));
        current
    }
}
