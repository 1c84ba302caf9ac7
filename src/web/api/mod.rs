//! The JSON API under /v1/, with the paths and shapes of the OpenQuake WebUI so its clients
//! work unchanged. Unlike the original, every endpoint checks permission and no GET changes
//! anything.

mod ajax;
pub mod calcs;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use crate::error::{AppError, AppResult};
use crate::models::calc::{Calc, CalcSummary};
use crate::models::output::Output;
use crate::web::times::Stamp;

/// `body` as JSON, serialized into a buffer of about `capacity` bytes: grown from empty, a
/// 100 KB log body was copied a dozen times on the way, and each step made glibc's malloc
/// consolidate the thousands of small blocks the rows had just freed.
pub fn to_json<T: serde::Serialize>(body: &T, capacity: usize) -> AppResult<Vec<u8>> {
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, body)
        .map_err(|e| AppError::Internal(format!("cannot write JSON: {e}")))?;
    Ok(buf)
}

/// A 200 response with JSON already written.
pub fn json_body(json: impl Into<bytes::Bytes>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(json.into())
}

/// `YYYY-MM-DD, HH:MM:SS UTC`, OpenQuake's format.
pub fn oq_time(t: PrimitiveDateTime) -> String {
    Stamp::openquake(t).to_string()
}

fn size_mb(bytes: i64) -> f64 {
    (bytes as f64 / 1024.0 / 1024.0 * 1000.0).round() / 1000.0
}

/// One calculation as OpenQuake lists it. Serialized straight from the row (a list of 100 built
/// as `serde_json::Value` maps spent more time allocating than the database took); the fields
/// are in alphabetical order, as `json!` wrote them.
#[derive(serde::Serialize)]
pub struct CalcEntry<'a> {
    abortable: bool,
    calculation_mode: &'a str,
    description: &'a str,
    id: i64,
    is_running: bool,
    is_shared: bool,
    owner: &'a str,
    parent_id: Option<i64>,
    progress: i32,
    relevant: bool,
    size_mb: f64,
    start_time: Stamp,
    status: &'a str,
    tags: [&'a str; 0],
    url: CalcUrl<'a>,
}

/// `{public_url}{prefix}/v1/calc/{id}`, written into the JSON without a String per row.
struct CalcUrl<'a> {
    base: &'a str,
    prefix: &'a str,
    id: i64,
}

impl serde::Serialize for CalcUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!(
            "{}{}/v1/calc/{}",
            self.base, self.prefix, self.id
        ))
    }
}

impl<'a> CalcEntry<'a> {
    pub fn new(
        calc: &'a CalcSummary,
        owner: &'a str,
        abortable: bool,
        public_url: &'a str,
        prefix: &'a str,
    ) -> CalcEntry<'a> {
        CalcEntry {
            abortable: abortable && calc.is_running(),
            calculation_mode: &calc.calculator,
            description: &calc.description,
            id: calc.id,
            is_running: calc.is_running(),
            is_shared: calc.is_shared,
            owner,
            parent_id: calc.parent_id,
            progress: calc.progress,
            relevant: true,
            size_mb: size_mb(calc.size_bytes),
            start_time: Stamp::openquake(calc.created_at),
            status: &calc.status,
            tags: [],
            url: CalcUrl {
                base: public_url,
                prefix,
                id: calc.id,
            },
        }
    }
}

/// One calculation as OpenQuake lists it, as a JSON value (to add keys to).
pub fn calc_json(
    calc: &Calc,
    owner: &str,
    abortable: bool,
    public_url: &str,
    prefix: &str,
) -> Value {
    let summary = calc.summary();
    serde_json::to_value(CalcEntry::new(
        &summary, owner, abortable, public_url, prefix,
    ))
    .unwrap_or(Value::Null)
}

pub fn output_json(output: &Output, public_url: &str, prefix: &str) -> Value {
    json!({
        "id": output.id,
        "name": output.stem(),
        "type": output.stem(),
        "outtypes": [output.extension()],
        "url": format!("{public_url}{prefix}/v1/calc/result/{}", output.id),
        "size_mb": size_mb(output.size_bytes),
        "file_name": output.name,
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    calcs::routes(cfg);
    ajax::routes(cfg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_written_as_openquake_and_the_log_write_them() {
        let t = datetime!(2026-01-02 03:04:05.067891);
        assert_eq!(oq_time(t), "2026-01-02, 03:04:05 UTC");
        assert_eq!(
            serde_json::to_string(&Stamp::openquake(t)).unwrap(),
            r#""2026-01-02, 03:04:05 UTC""#
        );
        assert_eq!(
            serde_json::to_string(&Stamp::iso_millis(t)).unwrap(),
            r#""2026-01-02T03:04:05.067Z""#
        );
    }
}
