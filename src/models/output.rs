//! The files a calculation wrote to its output directory.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::outputs;
use crate::db::{DbConn, now};
use crate::error::AppResult;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outputs)]
pub struct Output {
    pub id: i64,
    pub calc_id: i64,
    /// Path relative to the output directory.
    pub name: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub created_at: PrimitiveDateTime,
}

impl Output {
    pub fn list(conn: &mut DbConn, calc_id: i64) -> AppResult<Vec<Output>> {
        Ok(outputs::table
            .filter(outputs::calc_id.eq(calc_id))
            .order(outputs::name.asc())
            .select(Output::as_select())
            .load(conn)?)
    }

    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<Output>> {
        Ok(outputs::table
            .find(id)
            .select(Output::as_select())
            .first(conn)
            .optional()?)
    }

    /// Replaces the calculation's outputs with `files` (name, size, content type).
    pub fn replace_all(
        conn: &mut DbConn,
        calc_id: i64,
        files: &[(String, i64, String)],
    ) -> AppResult<()> {
        let now = now();
        conn.transaction(|conn| {
            diesel::delete(outputs::table.filter(outputs::calc_id.eq(calc_id))).execute(conn)?;
            for (name, size, content_type) in files {
                diesel::insert_into(outputs::table)
                    .values((
                        outputs::calc_id.eq(calc_id),
                        outputs::name.eq(name),
                        outputs::size_bytes.eq(size),
                        outputs::content_type.eq(content_type),
                        outputs::created_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// The export type shown by the API: the file extension.
    pub fn extension(&self) -> String {
        std::path::Path::new(&self.name)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default()
    }

    /// A display name without the extension, like OpenQuake's output names.
    pub fn stem(&self) -> String {
        std::path::Path::new(&self.name)
            .file_stem()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_default()
    }
}
