//! A calculation as the OpenQuake API shows it: the rows of `/v1/calc/list`, the body of
//! `/v1/calc/{id}/status` and of the `notify_to` POST.

use serde_json::Value;

use crate::models::calc::{Calc, CalcSummary, Status};
use crate::times::Stamp;

pub fn size_mb(bytes: i64) -> f64 {
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
    status: Status,
    /// OpenQuake's `"a★, b"` (preferred first), null without tags.
    tags: Option<&'a str>,
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
            status: calc.status,
            tags: None,
            url: CalcUrl {
                base: public_url,
                prefix,
                id: calc.id,
            },
        }
    }
}

impl<'a> CalcEntry<'a> {
    /// With its tags as `models::tag::Tag::labels` writes them.
    pub fn with_tags(mut self, tags: Option<&'a str>) -> CalcEntry<'a> {
        self.tags = tags;
        self
    }
}

/// One calculation as OpenQuake lists it, as a JSON value (to add keys to), with the phase
/// an engine run reports ("classical 40%") when it has one.
pub fn calc_json(
    calc: &Calc,
    owner: &str,
    abortable: bool,
    public_url: &str,
    prefix: &str,
) -> Value {
    let summary = calc.summary();
    let mut json = serde_json::to_value(CalcEntry::new(
        &summary, owner, abortable, public_url, prefix,
    ))
    .unwrap_or(Value::Null);
    if let (Some(map), Some(phase)) = (json.as_object_mut(), &calc.phase) {
        map.insert("phase".into(), Value::String(phase.clone()));
    }
    json
}
