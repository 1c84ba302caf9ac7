//! The outputs of a calculation: `GET /v1/calc/<id>/results` lists them, `GET
//! /v1/calc/result/<id>?export_type=FMT` downloads one. A file a generic calculator wrote is
//! served as it is; an engine output is exported by the engine on the first request and kept
//! (calcs::openquake::exports), then served as OpenQuake's WebUI serves it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use super::calcs::{load, on_visible, urls};
use super::output_json;
use crate::calcs::calc_dir;
use crate::calcs::openquake::exports::{self, Failure, Run};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::Calc;
use crate::models::output::Output;
use crate::state::AppState;
use crate::web::current_user::Authenticated;

/// Engine outputs OpenQuake shows only to level 2 (its HIDDEN_OUTPUTS).
const HIDDEN_OUTPUTS: [&str; 2] = ["exposure", "job"];

/// Whether `user` may see the engine output `output` (every file output is visible).
fn may_see(user: &User, output: &Output) -> bool {
    let hidden = output
        .ds_key
        .as_deref()
        .is_some_and(|k| HIDDEN_OUTPUTS.contains(&k));
    !hidden || user.level >= 2 || user.is_superuser
}

#[actix_web::routes]
#[get("/v1/calc/{id}/results")]
#[get("/v1/calc/{id}/result/list")]
pub(super) async fn results(
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
            .filter(|o| may_see(&user.0, o))
            .map(|o| output_json(o, &base, &prefix))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
struct ExportQuery {
    export_type: Option<String>,
}

fn no_output(output_id: i64) -> AppError {
    AppError::NotFound(format!("There is no output {output_id}."))
}

/// An output the user may see, with its calculation (404 otherwise, as for the calculation).
pub async fn visible_output(
    state: &AppState,
    user: &User,
    output_id: i64,
) -> AppResult<(Output, Calc)> {
    let output = state
        .db
        .run(move |conn| Output::find(conn, output_id))
        .await?
        .ok_or_else(|| no_output(output_id))?;
    // Visibility of the output is that of its calculation.
    let (calc, _, _) = load(state, user, output.calc_id)
        .await
        .map_err(|_| no_output(output_id))?;
    if !may_see(user, &output) {
        return Err(AppError::Forbidden(format!(
            "Output {output_id} is shown to level 2 users only; ask an administrator."
        )));
    }
    Ok((output, calc))
}

/// A file output the user may see, and its file on disk.
pub async fn output_file(
    state: &AppState,
    user: &User,
    output_id: i64,
) -> AppResult<(Output, std::path::PathBuf)> {
    let (output, _) = visible_output(state, user, output_id).await?;
    let path = calc_dir(&state.config, output.calc_id)
        .join("output")
        .join(&output.name);
    Ok((output, path))
}

/// The engine's export of `output` as `fmt`, made once and kept: the file to serve, or None
/// when the engine wrote nothing in that format.
pub async fn engine_export(
    state: &AppState,
    calc: &Calc,
    output: &Output,
    fmt: &str,
) -> AppResult<Option<std::path::PathBuf>> {
    let key = output.kind();
    if !output.formats().iter().any(|f| f == fmt) {
        return Ok(None);
    }
    let config = state.config.clone();
    let (calc_id, calculator, job) = (calc.id, calc.calculator.clone(), calc.engine_job_id);
    let fmt = fmt.to_string();
    web::block(move || {
        let calculator = config.calculator(&calculator).ok_or_else(|| {
            Failure::Refused(format!(
                "the calculator {calculator:?} is no longer configured"
            ))
        })?;
        let engine_job_id =
            job.ok_or_else(|| Failure::Refused("the engine never said its job id".into()))?;
        let run = Run {
            config: &config,
            calculator,
            calc_id,
            engine_job_id,
        };
        exports::export(&run, &key, &fmt)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(|e| match e {
        Failure::Refused(why) => {
            AppError::NotFound(format!("Output {} cannot be exported: {why}.", output.id))
        }
        Failure::Broken(why) => {
            AppError::Internal(format!("export of output {}: {why}", output.id))
        }
    })
}

/// `attachment; filename=<name>` unquoted, as OpenQuake writes it (the QGIS plugin takes the
/// text after `filename=` verbatim); characters a header or that reading cannot carry become _.
pub fn attachment(name: &str) -> header::HeaderValue {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | ';' | ',' | '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    header::HeaderValue::from_str(&format!("attachment; filename={safe}"))
        .unwrap_or_else(|_| header::HeaderValue::from_static("attachment"))
}

/// `path` as a download named `name`, with its length, typed `content_type`.
pub async fn download(
    req: &HttpRequest,
    path: std::path::PathBuf,
    name: &str,
    content_type: &str,
    gone: String,
) -> AppResult<HttpResponse> {
    let file = web::block(move || actix_files::NamedFile::open(&path))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|_| AppError::NotFound(gone))?;
    let mime: mime_guess::Mime = content_type
        .parse()
        .unwrap_or(mime_guess::mime::APPLICATION_OCTET_STREAM);
    let mut res = file
        .set_content_type(mime)
        .disable_content_disposition()
        .into_response(req);
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_DISPOSITION, attachment(name));
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-cache"),
    );
    Ok(res)
}

#[get("/v1/calc/result/{id}")]
pub(super) async fn result(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    query: web::Query<ExportQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (output, calc) = visible_output(&state, &user.0, *id).await?;
    let wanted = query.export_type.as_deref().filter(|t| !t.is_empty());
    let gone = format!("The file of output {} is gone from the disk.", output.id);
    if output.is_engine() {
        // OpenQuake's default format.
        let fmt = wanted.unwrap_or("xml");
        let Some(path) = engine_export(&state, &calc, &output, fmt).await? else {
            return Err(AppError::NotFound(format!(
                "Nothing to export for export_type={fmt}, {}",
                output.kind()
            )));
        };
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        // As OpenQuake: xml and geojson typed, other single files text/plain, archives zip.
        let content_type = match fmt {
            "xml" => "application/xml",
            "geojson" => "application/json",
            _ if base.ends_with(".zip") && base == format!("{}-{fmt}.zip", output.kind()) => {
                "application/x-zip"
            }
            _ => "text/plain",
        };
        let name = format!("output-{}-{base}", output.id);
        return download(&req, path, &name, content_type, gone).await;
    }
    if let Some(wanted) = wanted
        && !wanted.eq_ignore_ascii_case(&output.extension())
    {
        return Err(AppError::NotFound(format!(
            "Output {} can be exported as {} only.",
            output.id,
            output.extension()
        )));
    }
    let path = calc_dir(&state.config, output.calc_id)
        .join("output")
        .join(&output.name);
    let base = output.name.rsplit('/').next().unwrap_or(&output.name);
    let content_type = if output.content_type.is_empty() {
        "application/octet-stream"
    } else {
        &output.content_type
    };
    let name = format!("output-{}-{base}", output.id);
    download(&req, path, &name, content_type, gone).await
}
