//! The JSON API under /v1/, with the paths and shapes of the OpenQuake WebUI so its clients
//! work unchanged. Unlike the original, every endpoint checks permission and no GET changes
//! anything.

mod ajax;
mod calc_actions;
pub mod calc_list;
mod calcs;
mod engine;
mod logs;
mod on_same_fs;
pub mod outputs;
mod tags;
mod usage;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use crate::error::{AppError, AppResult};
use crate::models::output::Output;
use crate::times::Stamp;

pub use crate::calcs::json::{CalcEntry, calc_json, size_mb};

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

/// A row of `/v1/calc/<id>/results`, with exactly OpenQuake's keys (the QGIS plugin shows any
/// other as a column): an engine output's `type` is its datastore key, a file's its name under
/// output/; `url` downloads it in its first format, as OpenQuake's.
pub fn output_json(output: &Output, public_url: &str, prefix: &str) -> Value {
    let outtypes = output.formats();
    let first = outtypes.first().cloned().unwrap_or_default();
    let name = if output.is_engine() {
        output.name.clone()
    } else {
        output.stem()
    };
    let kind = if output.is_engine() {
        output.kind()
    } else {
        output.name.clone()
    };
    json!({
        "id": output.id,
        "name": name,
        "type": kind,
        "outtypes": outtypes,
        "url": format!(
            "{public_url}{prefix}/v1/calc/result/{}?export_type={first}",
            output.id
        ),
        // -1 as the engine says when it does not know the size.
        "size_mb": if output.size_bytes < 0 { -1.0 } else { size_mb(output.size_bytes) },
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `list`, `list_tags`, the tag paths and `result/...` come before `{id}` so they are not
    // read as ids.
    cfg.service(calc_list::list)
        .service(tags::list_tags)
        .service(tags::get_preferred)
        .service(tags::tag_action)
        .service(tags::calc_tag)
        .service(tags::get_not_allowed)
        .service(tags::calc_get_not_allowed)
        .service(on_same_fs::on_same_fs)
        .service(calcs::run)
        .service(outputs::result)
        .service(engine::engine_version)
        .service(engine::validate_zip)
        .service(calcs::calc_status)
        .service(outputs::results)
        .service(logs::log_size)
        .service(logs::log)
        .service(logs::traceback)
        .service(engine::extract)
        .service(engine::datastore)
        .service(calc_actions::act)
        .service(usage::usage)
        .service(calcs::calc_info);
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
