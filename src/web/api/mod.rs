//! The JSON API under /v1/, with the paths and shapes of the OpenQuake WebUI so its clients
//! work unchanged. Unlike the original, every endpoint checks permission and no GET changes
//! anything.

mod ajax;
pub mod calcs;

use actix_web::web;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use crate::models::calc::Calc;
use crate::models::output::Output;

/// `YYYY-MM-DD, HH:MM:SS UTC`, OpenQuake's format.
pub fn oq_time(t: PrimitiveDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day], [hour]:[minute]:[second] UTC");
    t.format(&f).unwrap_or_default()
}

fn size_mb(bytes: i64) -> f64 {
    (bytes as f64 / 1024.0 / 1024.0 * 1000.0).round() / 1000.0
}

/// One calculation as OpenQuake lists it.
pub fn calc_json(
    calc: &Calc,
    owner: &str,
    abortable: bool,
    public_url: &str,
    prefix: &str,
) -> Value {
    json!({
        "id": calc.id,
        "owner": owner,
        "calculation_mode": calc.calculator,
        "status": calc.status,
        "is_running": calc.is_running(),
        "description": calc.description,
        "url": format!("{public_url}{prefix}/v1/calc/{}", calc.id),
        "parent_id": calc.parent_id,
        "abortable": abortable && calc.is_running(),
        "size_mb": size_mb(calc.size_bytes),
        "start_time": oq_time(calc.created_at),
        "relevant": true,
        "tags": [],
        "progress": calc.progress,
        "is_shared": calc.is_shared,
    })
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
