//! /v1/calc/...: list, status, run, abort, remove, results, logs, share.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use super::{CalcEntry, calc_json, output_json};
use crate::actions::calcs as calc_actions;
use crate::calcs::calc_dir;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::{Access, Calc, ListQuery, OrderBy, Status};
use crate::models::list_cache::ListStamp;
use crate::models::log::{LogRow, MAX_SLICE};
use crate::models::output::Output;
use crate::state::AppState;
use crate::times::Stamp;
use crate::web::calcs::actions::Action;
use crate::web::client;
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
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Text in the description.
    pub q: Option<String>,
}

fn parse_bool(name: &str, value: &str) -> AppResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
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
                    "order_by {name:?} is not one of id, start_time, status, calculation_mode, owner, description."
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
        if !(1..=10_000).contains(&limit) {
            return Err(AppError::BadRequest(
                "limit must be between 1 and 10000.".into(),
            ));
        }
        Ok(ListQuery {
            statuses,
            calculator: none_if_empty(&self.calculation_mode),
            is_running: none_if_empty(&self.is_running)
                .map(|v| parse_bool("is_running", &v))
                .transpose()?,
            include_shared: none_if_empty(&self.include_shared)
                .map(|v| parse_bool("include_shared", &v))
                .transpose()?
                .unwrap_or(true),
            owner_like: none_if_empty(&self.user_name_like),
            text: none_if_empty(&self.q),
            created_after: none_if_empty(&self.start_time)
                .map(|v| parse_time(&v))
                .transpose()?,
            order_by,
            descending,
            limit,
            offset: none_if_empty(&self.offset)
                .map(|v| parse_int("offset", &v))
                .transpose()?
                .unwrap_or(0)
                .max(0),
        })
    }
}

fn urls(state: &AppState) -> (String, String) {
    (
        state.config.public_url(),
        state.config.server.path_prefix.clone(),
    )
}

#[get("/v1/calc/list")]
async fn list(
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
            let stamp = ListStamp::read(conn)?;
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
            })
            .collect();
        super::to_json(&body, 400 * body.len() + 2).map(Into::into)
    })?;
    Ok(super::json_body(json))
}

/// Loads a calculation the user may see, with their rights and the owner's name.
async fn load(state: &AppState, user: &User, id: i64) -> AppResult<(Calc, Access, String)> {
    let user = user.clone();
    state
        .db
        .read(move |conn| Calc::load_with_owner(conn, &user, id))
        .await
}

/// Runs the read `query` on a calculation the user may see (404 otherwise), in one trip to the
/// database.
async fn on_visible<T, F>(state: &AppState, user: &User, id: i64, query: F) -> AppResult<T>
where
    T: Send + 'static,
    F: Fn(&mut crate::db::DbConn, &Calc) -> AppResult<T> + Send + 'static,
{
    let user = user.clone();
    state
        .db
        .read(move |conn| {
            let (calc, _) = Calc::load_for(conn, &user, id)?;
            query(conn, &calc)
        })
        .await
}

/// The answer of the read `query` on a calculation the user may see, as JSON.
async fn visible_json<T, F>(
    state: &AppState,
    user: &User,
    id: i64,
    query: F,
) -> AppResult<HttpResponse>
where
    T: serde::Serialize + Send + 'static,
    F: Fn(&mut crate::db::DbConn, &Calc) -> AppResult<T> + Send + 'static,
{
    Ok(HttpResponse::Ok().json(on_visible(state, user, id, query).await?))
}

/// A calculation the user may see as `/status` shows it, with the calculation and the user's
/// rights.
async fn status_json(
    state: &AppState,
    user: &User,
    id: i64,
) -> AppResult<(serde_json::Value, Calc, Access)> {
    let (calc, access, owner) = load(state, user, id).await?;
    let (base, prefix) = urls(state);
    let body = calc_json(&calc, &owner, access.abort, &base, &prefix);
    Ok((body, calc, access))
}

#[get("/v1/calc/{id}/status")]
async fn calc_status(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (body, _, _) = status_json(&state, &user.0, *id).await?;
    Ok(HttpResponse::Ok().json(body))
}

#[get("/v1/calc/{id}")]
async fn calc_info(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (mut body, calc, access) = status_json(&state, &user.0, *id).await?;
    let extra = json!({
        "job_ini": calc.job_ini,
        "created_at": super::oq_time(calc.created_at),
        "started_at": calc.started_at.map(super::oq_time),
        "finished_at": calc.finished_at.map(super::oq_time),
        "log_rows": calc.log_rows,
        "permissions": { "abort": access.abort, "remove": access.remove, "share": access.share },
        "slurm_job_id": calc.slurm_job(),
        "slurm_reason": calc.slurm_reason,
    });
    if let (Some(map), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    Ok(HttpResponse::Ok().json(body))
}

#[post("/v1/calc/run")]
async fn run(
    req: HttpRequest,
    user: Authenticated,
    payload: Multipart,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let actor = client::actor(&req, &user.0);
    let calc = calc_actions::submit(&state, &user.0, &actor, payload).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "created", "job_id": calc.id })))
}

/// `POST /v1/calc/<id>/abort`, `remove`, `share`, `unshare`: `{"success": "<what happened>"}`.
#[post("/v1/calc/{id}/{action:(abort|remove|share|unshare)}")]
async fn act(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, name) = path.into_inner();
    let action = Action::parse(&name).ok_or_else(AppError::not_found)?;
    let message = action
        .run(&state, &user.0, &client::actor(&req, &user.0), id)
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "success": message })))
}

#[get("/v1/calc/{id}/results")]
async fn results(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let outputs = on_visible(&state, &user.0, *id, |conn, calc| {
        Output::list(conn, calc.id)
    })
    .await?;
    let (base, prefix) = urls(&state);
    Ok(HttpResponse::Ok().json(
        outputs
            .iter()
            .map(|o| output_json(o, &base, &prefix))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
struct ExportQuery {
    export_type: Option<String>,
}

/// An output the user may see, and its file on disk.
pub async fn output_file(
    state: &AppState,
    user: &User,
    output_id: i64,
) -> AppResult<(Output, std::path::PathBuf)> {
    let output = state
        .db
        .run(move |conn| Output::find(conn, output_id))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no output {output_id}.")))?;
    // Visibility of the output is that of its calculation.
    load(state, user, output.calc_id)
        .await
        .map_err(|_| AppError::NotFound(format!("There is no output {output_id}.")))?;
    let path = calc_dir(&state.config, output.calc_id)
        .join("output")
        .join(&output.name);
    Ok((output, path))
}

#[get("/v1/calc/result/{id}")]
async fn result(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    query: web::Query<ExportQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (output, path) = output_file(&state, &user.0, *id).await?;
    if let Some(wanted) = query.export_type.as_deref().filter(|t| !t.is_empty())
        && !wanted.eq_ignore_ascii_case(&output.extension())
    {
        return Err(AppError::NotFound(format!(
            "Output {} can be exported as {} only.",
            output.id,
            output.extension()
        )));
    }
    let gone = format!("The file of output {} is gone from the disk.", output.id);
    let file = web::block(move || actix_files::NamedFile::open(&path))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|_| AppError::NotFound(gone))?;
    let file_name = output
        .name
        .rsplit('/')
        .next()
        .unwrap_or(&output.name)
        .to_string();
    let mut res = file
        .set_content_disposition(header::ContentDisposition {
            disposition: header::DispositionType::Attachment,
            parameters: vec![header::DispositionParam::Filename(file_name)],
        })
        .into_response(&req);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-cache"),
    );
    Ok(res)
}

/// `start:stop`, either side may be empty.
fn parse_slice(slice: &str) -> AppResult<(i64, Option<i64>)> {
    let bad = || {
        AppError::BadRequest(format!(
            "The log slice {slice:?} must look like 0:100, 10: or :50."
        ))
    };
    let (start, stop) = slice.split_once(':').ok_or_else(bad)?;
    let start = if start.is_empty() {
        0
    } else {
        start.parse::<i64>().map_err(|_| bad())?
    };
    let stop = if stop.is_empty() {
        None
    } else {
        Some(stop.parse::<i64>().map_err(|_| bad())?)
    };
    if start < 0 || stop.is_some_and(|s| s < 0) {
        return Err(bad());
    }
    Ok((start, stop))
}

#[get("/v1/calc/{id}/log/size")]
async fn log_size(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    visible_json(&state, &user.0, *id, |conn, calc| {
        LogRow::count(conn, calc.id)
    })
    .await
}

#[get("/v1/calc/{id}/log/{slice}")]
async fn log(
    user: Authenticated,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, slice) = path.into_inner();
    let (start, stop) = parse_slice(&slice)?;
    // Rows are written into the body as they come from the database: a thousand lines never
    // sit in memory twice, and each row's text is freed before the next is read.
    let body = on_visible(&state, &user.0, id, move |conn, calc| {
        let expected = stop.map_or(MAX_SLICE, |stop| stop - start).clamp(0, 2_000);
        let mut out = Vec::with_capacity(expected as usize * 128 + 2);
        out.push(b'[');
        LogRow::each(conn, calc.id, start, stop, |r| {
            if out.len() > 1 {
                out.push(b',');
            }
            let line = (
                Stamp::iso_millis(r.logged_at),
                &r.level,
                &r.process,
                &r.message,
            );
            serde_json::to_writer(&mut out, &line)
                .map_err(|e| AppError::Internal(format!("cannot write a log line: {e}")))
        })?;
        out.push(b']');
        Ok(out)
    })
    .await?;
    Ok(super::json_body(body))
}

#[get("/v1/calc/{id}/traceback")]
async fn traceback(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    visible_json(&state, &user.0, *id, |conn, calc| {
        LogRow::traceback(conn, calc.id)
    })
    .await
}

#[get("/v1/engine_version")]
async fn engine_version(_user: Authenticated) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(crate::VERSION)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `list` and `result/...` come before `{id}` so they are not read as ids.
    cfg.service(list)
        .service(run)
        .service(result)
        .service(engine_version)
        .service(calc_status)
        .service(results)
        .service(log_size)
        .service(log)
        .service(traceback)
        .service(act)
        .service(calc_info);
}

#[cfg(test)]
mod tests {
    use super::parse_slice;

    #[test]
    fn log_slices() {
        assert_eq!(parse_slice("0:10").unwrap(), (0, Some(10)));
        assert_eq!(parse_slice("5:").unwrap(), (5, None));
        assert_eq!(parse_slice(":7").unwrap(), (0, Some(7)));
        assert!(parse_slice("x:1").is_err());
        assert!(parse_slice("10").is_err());
    }
}
