//! Session login for programmatic clients, as in OpenQuake: form fields username and password,
//! text replies. No CSRF token (scripts have none); SameSite cookies and the Origin check apply.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use crate::error::AppResult;
use crate::state::AppState;
use crate::web::known_device;
use crate::web::login::start_session;

#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

#[post("/accounts/ajax_login/")]
async fn ajax_login(
    req: HttpRequest,
    session: Session,
    form: web::Form<Credentials>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let (username, password) = (
        form.username.unwrap_or_default(),
        form.password.unwrap_or_default(),
    );
    let invalid = || {
        HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("Invalid login")
    };
    if username.trim().is_empty() || password.is_empty() {
        return Ok(invalid());
    }
    match known_device::attempt(&state, &req, username.trim(), &password, "webui").await? {
        Some((user, device)) => {
            start_session(&req, &session, &user)?;
            let mut res = HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body("Successful login");
            res.add_cookie(&device)
                .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
            Ok(res)
        }
        None => Ok(invalid()),
    }
}

#[post("/accounts/ajax_logout/")]
async fn ajax_logout(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
) -> HttpResponse {
    crate::web::login::log_logout(&state, &req, "webui");
    session.purge();
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("Successful logout")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(ajax_login).service(ajax_logout);
}
