//! `POST /v1/on_same_fs`: OpenQuake's check whether the server sees a client's files (it reads
//! the first 32 bytes of the file named by `filename` and compares their Adler-32 with
//! `checksum`), which lets a client on the server's machine send paths instead of uploads.
//! calcweb never reads a client's files by path (every input is uploaded), so the honest
//! answer is always `{"success": false}`: the server's filesystem is never looked at, so the
//! endpoint cannot tell anybody which files exist.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::web::current_user::Authenticated;

#[derive(Deserialize)]
pub(super) struct SameFsForm {
    filename: Option<String>,
    checksum: Option<String>,
}

#[post("/v1/on_same_fs")]
pub(super) async fn on_same_fs(
    _user: Authenticated,
    form: web::Form<SameFsForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    if form.filename.is_none() || form.checksum.is_none() {
        return Err(AppError::BadRequest(
            "Send the form fields filename and checksum (the Adler-32 of the file's first 32 bytes)."
                .into(),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({ "success": false })))
}
