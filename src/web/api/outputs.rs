//! The outputs of a calculation: `GET /v1/calc/<id>/results` lists them, `GET
//! /v1/calc/result/<id>` downloads one.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use super::calcs::{load, on_visible, urls};
use super::output_json;
use crate::calcs::calc_dir;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::output::Output;
use crate::state::AppState;
use crate::web::current_user::Authenticated;

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
pub(super) async fn result(
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
