//! HTTP: routes, middleware and the app builder shared by `serve` and the tests.

pub mod account;
pub mod admin;
pub mod api;
pub mod calcs;
pub mod client;
pub mod context;
pub mod cookies;
pub mod csrf;
pub mod current_user;
pub mod errors;
pub mod health;
pub mod known_device;
pub mod login;
pub mod mail_form;
pub mod maintenance_gate;
pub mod metrics;
pub mod new_password;
pub mod pages;
pub mod password_reset;
pub mod query;
pub mod registration;
pub mod security;
pub mod setup;
pub mod static_files;
pub mod user_agent;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_web::body::MessageBody;
use actix_web::cookie::SameSite;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, web};
use actix_web_flash_messages::FlashMessagesFramework;
use askama::Template;

use crate::auth::session_store::DbSessionStore;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Renders a template with a status code.
pub fn html(status: u16, template: &impl Template) -> AppResult<HttpResponse> {
    let status = actix_web::http::StatusCode::from_u16(status)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(template.render()?))
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// A path of the site with the configured prefix: `/calc/engine/` for `/engine/`.
pub fn site_path(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.config.server.path_prefix)
}

/// A 303 to a path of the site.
pub fn redirect_to(state: &AppState, path: &str) -> HttpResponse {
    redirect(&site_path(state, path))
}

/// The server's state, as middleware and extractors find it in the request.
pub fn state_of(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone()
}

/// The request's path within the site: without the configured prefix.
pub fn path_in_site(req: &HttpRequest) -> &str {
    let prefix = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.server.path_prefix.as_str())
        .unwrap_or("");
    req.path().strip_prefix(prefix).unwrap_or(req.path())
}

async fn not_found() -> AppResult<HttpResponse> {
    Err(AppError::not_found())
}

/// The whole application: every route behind every middleware, in the order a request meets
/// them: client resolution (trusted proxies) -> request log -> security headers -> error rendering -> host/origin check -> session ->
/// flash messages -> CSRF cookie -> current user and login gate -> maintenance gate -> handler.
/// `/static/` leaves the chain after the host/origin check: files need no session or user.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let config = state.config.clone();
    let cookie_path = config.path_prefix_or_root();
    let store = DbSessionStore::new(
        state.db.clone(),
        state.sessions.clone(),
        &state.lists,
        config.sessions.idle_timeout,
        config.sessions.absolute_lifetime,
    );
    let sessions = SessionMiddleware::builder(store, state.keys.session_cookie.clone())
        .cookie_name(cookies::name(&config, cookies::SESSION))
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(config.is_https())
        .cookie_path(cookie_path.clone())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            BrowserSession::default()
                .state_ttl(actix_web::cookie::time::Duration::seconds(
                    config.sessions.idle_timeout as i64,
                ))
                .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build();
    let flash_store = cookies::FlashStore::new(&config, state.keys.flash_cookie.clone());
    let flash = FlashMessagesFramework::builder(flash_store).build();
    let limit = config.server.max_body_size;
    let prefix = config.server.path_prefix.clone();

    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(limit))
        .app_data(web::FormConfig::default().limit(limit))
        .app_data(web::JsonConfig::default().limit(limit))
        // Static files skip the session, flash, CSRF, user and maintenance middleware: a file
        // costs no database query (a session cookie would otherwise load the session).
        .service(static_files::scope(&prefix))
        // Like static files, /metrics needs no session or user (and is not counted as activity).
        .route(&format!("{prefix}/metrics"), web::get().to(metrics::scrape))
        .service(
            web::scope(&prefix)
                .configure(static_files::routes)
                .configure(health::routes)
                .configure(login::routes)
                .configure(account::routes)
                .configure(password_reset::routes)
                .configure(registration::routes)
                .configure(setup::routes)
                .configure(pages::routes)
                .configure(calcs::routes)
                .configure(admin::routes)
                .configure(api::routes)
                .default_service(web::to(not_found))
                .wrap(from_fn(maintenance_gate::gate))
                .wrap(from_fn(current_user::load_user))
                .wrap(from_fn(csrf::ensure_cookie))
                .wrap(flash)
                .wrap(sessions),
        )
        .default_service(web::to(not_found))
        .wrap(from_fn(security::check_host_and_origin))
        .wrap(from_fn(errors::render_errors))
        .wrap(security::headers(&config))
        .wrap(from_fn(client::log_request))
        .wrap(from_fn(client::resolve))
}
