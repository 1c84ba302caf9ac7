//! The two migration trees, embedded at build time and applied one by one so each can be reported.

use diesel::backend::Backend as DieselBackend;
use diesel::migration::{Migration, MigrationSource};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConn;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A migration that could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("migration {name} failed: {reason}")]
pub struct MigrationFailed {
    pub name: String,
    pub reason: String,
}

/// Names of the migrations not yet applied, oldest first.
pub fn pending(conn: &mut DbConn) -> Result<Vec<String>, MigrationFailed> {
    fn names<C, DB>(
        conn: &mut C,
        source: EmbeddedMigrations,
    ) -> Result<Vec<String>, MigrationFailed>
    where
        DB: DieselBackend,
        C: MigrationHarness<DB>,
        EmbeddedMigrations: MigrationSource<DB>,
    {
        conn.pending_migrations(source)
            .map(|list| list.iter().map(|m| m.name().to_string()).collect())
            .map_err(|e| MigrationFailed {
                name: "(reading the migration table)".into(),
                reason: e.to_string(),
            })
    }
    match conn {
        DbConn::Sqlite(c) => names(c, SQLITE),
        DbConn::Pg(c) => names(c, POSTGRES),
    }
}

/// Applies every pending migration in order, calling `applied` after each one.
/// Each migration runs in its own transaction; the first failure stops the run.
pub fn run_pending(
    conn: &mut DbConn,
    mut applied: impl FnMut(&str),
) -> Result<usize, MigrationFailed> {
    fn run<C, DB>(
        conn: &mut C,
        source: EmbeddedMigrations,
        applied: &mut dyn FnMut(&str),
    ) -> Result<usize, MigrationFailed>
    where
        DB: DieselBackend,
        C: MigrationHarness<DB>,
        EmbeddedMigrations: MigrationSource<DB>,
    {
        let list = conn
            .pending_migrations(source)
            .map_err(|e| MigrationFailed {
                name: "(reading the migration table)".into(),
                reason: e.to_string(),
            })?;
        for migration in &list {
            let name = migration.name().to_string();
            conn.run_migration(migration).map_err(|e| MigrationFailed {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            applied(&name);
        }
        Ok(list.len())
    }
    match conn {
        DbConn::Sqlite(c) => run(c, SQLITE, &mut applied),
        DbConn::Pg(c) => run(c, POSTGRES, &mut applied),
    }
}
