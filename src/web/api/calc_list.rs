//! `GET /v1/calc/list`: OpenQuake's query names (plus `status` and `q`) turned into a list
//! query, and the page of calculations as JSON. The names mean what they mean to OpenQuake's
//! `views.calc_list` and `db.actions.get_calcs`, within calcweb's visibility rules; a value
//! OpenQuake would fail on (or silently replace) is a 400 that says what is expected.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;

use super::CalcEntry;
use super::calcs::urls;
use crate::error::{AppError, AppResult};
use crate::models::calc::{ListQuery, OrderBy, Status};
use crate::state::AppState;
use crate::web::current_user::Authenticated;

/// The query of `GET /v1/calc/list`, OpenQuake's names plus `status` and `q`.
#[derive(Deserialize, Default)]
pub struct ListParams {
    pub calculation_mode: Option<String>,
    pub is_running: Option<String>,
    pub include_shared: Option<String>,
    pub user_name_like: Option<String>,
    pub start_time: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub order_by: Option<String>,
    pub order_dir: Option<String>,
    pub preferred_only: Option<String>,
    pub filter_by_tag: Option<String>,
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Text in the description.
    pub q: Option<String>,
}

/// OpenQuake's `valid.boolean` (where an empty value is false), plus yes/no/on/off.
fn parse_bool(name: &str, value: &str) -> AppResult<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(AppError::BadRequest(format!(
            "{name} must be true or false, not {value:?}."
        ))),
    }
}

fn parse_int(name: &str, value: &str) -> AppResult<i64> {
    value
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest(format!("{name} must be a whole number, not {value:?}.")))
}

fn parse_time(value: &str) -> AppResult<time::PrimitiveDateTime> {
    let value = value.trim().replace('T', " ");
    let full = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::PrimitiveDateTime::parse(&value, &full)
        .or_else(|_| time::Date::parse(&value, &day).map(|d| d.midnight()))
        .map_err(|_| {
            AppError::BadRequest(format!(
                "start_time must look like 2026-11-22 or 2026-11-22 10:15:00, not {value:?}."
            ))
        })
}

impl ListParams {
    pub fn to_query(&self, default_limit: i64) -> AppResult<ListQuery> {
        let none_if_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let statuses: Vec<String> = none_if_empty(&self.status)
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(bad) = statuses.iter().find(|s| Status::parse(s).is_none()) {
            return Err(AppError::BadRequest(format!(
                "status {bad:?} is not one of {}.",
                Status::names()
            )));
        }
        let order_by = match none_if_empty(&self.order_by) {
            None => OrderBy::Id,
            Some(name) => OrderBy::parse(&name).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "order_by {name:?} is not one of id, start_time, user_name, calculation_mode, status, description, size_mb."
                ))
            })?,
        };
        let descending = match none_if_empty(&self.order_dir).as_deref() {
            None | Some("desc") | Some("DESC") => true,
            Some("asc") | Some("ASC") => false,
            Some(other) => {
                return Err(AppError::BadRequest(format!(
                    "order_dir must be asc or desc, not {other:?}."
                )));
            }
        };
        let limit = match none_if_empty(&self.limit) {
            Some(v) => parse_int("limit", &v)?,
            None => default_limit,
        };
        if limit < -1 {
            return Err(AppError::BadRequest(
                "limit must be 0 or more, or -1 for all calculations.".into(),
            ));
        }
        let offset = none_if_empty(&self.offset)
            .map(|v| parse_int("offset", &v))
            .transpose()?
            .unwrap_or(0);
        if offset < 0 {
            return Err(AppError::BadRequest("offset must be 0 or more.".into()));
        }
        // OpenQuake: `int(preferred_only)`, and a tag filter unless it is empty or "0".
        let preferred_only = match none_if_empty(&self.preferred_only) {
            None => false,
            Some(v) => parse_int("preferred_only", &v)? != 0,
        };
        let tag = none_if_empty(&self.filter_by_tag).filter(|t| t != "0");
        Ok(ListQuery {
            statuses,
            calculator: none_if_empty(&self.calculation_mode),
            is_running: self
                .is_running
                .as_deref()
                .map(|v| parse_bool("is_running", v))
                .transpose()?,
            include_shared: self
                .include_shared
                .as_deref()
                .map(|v| parse_bool("include_shared", v))
                .transpose()?
                .unwrap_or(true),
            owner_pattern: none_if_empty(&self.user_name_like),
            tag,
            preferred_only,
            text: none_if_empty(&self.q),
            created_after: none_if_empty(&self.start_time)
                .map(|v| parse_time(&v))
                .transpose()?,
            order_by,
            descending,
            limit,
            offset,
            ..Default::default()
        })
    }
}

#[get("/v1/calc/list")]
pub(super) async fn list(
    user: Authenticated,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let query = params.to_query(100)?;
    let user = user.0;
    let viewer = user.clone();
    let lists = state.lists.clone();
    let page = state
        .db
        .read(move |conn| {
            let stamp = lists.stamp(conn)?;
            lists.page(conn, stamp, &viewer, &query)
        })
        .await?;
    let json = page.rendered(user.level as u64, |page| {
        let (base, prefix) = urls(&state);
        let body: Vec<_> = page
            .rows
            .iter()
            .map(|r| {
                let access = r.access(&user, &page.mates);
                CalcEntry::new(&r.calc, &r.owner, access.abort, &base, &prefix)
                    .with_tags(page.tags.get(&r.calc.id).map(String::as_str))
            })
            .collect();
        super::to_json(&body, 400 * body.len() + 2).map(Into::into)
    })?;
    Ok(super::json_body(json))
}
