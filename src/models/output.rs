//! A calculation's outputs: the files a generic calculator wrote to its output directory, or
//! the outputs the OpenQuake engine lists (one per datastore key, exported on demand).

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
    /// An engine output's datastore key (`hcurves`); None for a file.
    pub ds_key: Option<String>,
    /// An engine output's export formats, comma-separated (`csv,npz`); None for a file.
    pub outtypes: Option<String>,
}

/// An output of an OpenQuake engine run, as the engine lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EngineOutput {
    /// The display name (`Hazard Curves`).
    pub name: String,
    /// The datastore key (`hcurves`).
    #[serde(rename = "type")]
    pub ds_key: String,
    pub outtypes: Vec<String>,
    /// As the engine records it (-1 when it does not know).
    pub size_mb: f64,
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
        conn.write_transaction(|conn| {
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

    /// Replaces the calculation's outputs with those the engine listed.
    pub fn replace_engine(
        conn: &mut DbConn,
        calc_id: i64,
        listed: &[EngineOutput],
    ) -> AppResult<()> {
        let now = now();
        conn.write_transaction(|conn| {
            diesel::delete(outputs::table.filter(outputs::calc_id.eq(calc_id))).execute(conn)?;
            for out in listed {
                let size = if out.size_mb < 0.0 {
                    -1
                } else {
                    (out.size_mb * 1024.0 * 1024.0).round() as i64
                };
                diesel::insert_into(outputs::table)
                    .values((
                        outputs::calc_id.eq(calc_id),
                        outputs::name.eq(&out.name),
                        outputs::size_bytes.eq(size),
                        outputs::content_type.eq(""),
                        outputs::created_at.eq(now),
                        outputs::ds_key.eq(&out.ds_key),
                        outputs::outtypes.eq(out.outtypes.join(",")),
                    ))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// Whether the OpenQuake engine listed it (exported on demand) rather than a file.
    pub fn is_engine(&self) -> bool {
        self.ds_key.is_some()
    }

    /// The API's `type`: the engine's datastore key, or a file's extension.
    pub fn kind(&self) -> String {
        self.ds_key.clone().unwrap_or_else(|| self.extension())
    }

    /// The API's `outtypes`: the formats it can be downloaded in (a file: its own).
    pub fn formats(&self) -> Vec<String> {
        match &self.outtypes {
            Some(list) => list
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
            None => vec![self.extension()],
        }
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
