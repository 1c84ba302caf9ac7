//! /admin: superusers manage users, groups and sessions and read the audit log.
//!
//! Every route sits in one scope behind [`require_superuser`], so nothing under /admin/ can be
//! reached by anyone else (anonymous visitors were already sent to the login page by
//! `web::current_user::load_user`). Handlers also take a [`Superuser`], which names the actor.

pub mod audit;
pub mod calcs;
pub mod dashboard;
pub mod emails;
pub mod groups;
pub mod helpers;
pub mod invites;
pub mod maintenance;
pub mod quotas;
pub mod sessions;
pub mod tokens;

pub mod users;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::Actor;
use crate::state::AppState;
use crate::web::client;
use crate::web::current_user::CurrentUser;

fn forbidden() -> AppError {
    AppError::Forbidden(
        "This page is for superusers only; ask one of them if you need something changed.".into(),
    )
}

/// The request's user if they are an active superuser; else login (anonymous) or 403.
fn superuser_of(req: &HttpRequest) -> Result<User, AppError> {
    match req
        .extensions()
        .get::<CurrentUser>()
        .and_then(|u| u.0.clone())
    {
        None => Err(AppError::LoginRequired),
        Some(user) if user.is_superuser && user.is_active => Ok(user),
        Some(_) => Err(forbidden()),
    }
}

/// The logged-in superuser, as a handler argument, with the audit log's "who" (their name and
/// the client's IP).
pub struct Superuser(pub User, Actor);

impl Superuser {
    /// The audit log's "who".
    pub fn actor(&self) -> Actor {
        self.1.clone()
    }

    /// Runs `change` on the database (blocking pool) as this superuser.
    pub async fn change<T, F>(&self, state: &AppState, change: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, &Actor) -> AppResult<T> + Send + 'static,
    {
        let actor = self.actor();
        state.db.run(move |conn| change(conn, &actor)).await
    }
}

impl FromRequest for Superuser {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(superuser_of(req).map(|user| {
            let actor = client::actor(req, &user);
            Superuser(user, actor)
        }))
    }
}

/// Middleware of the /admin scope: 403 for everyone but superusers, before any extractor runs
/// (so a POST is refused without reading its body).
async fn require_superuser(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match superuser_of(req.request()) {
        Ok(_) => Ok(next.call(req).await?.map_into_left_body()),
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

async fn to_dashboard(state: web::Data<AppState>) -> actix_web::HttpResponse {
    crate::web::redirect_to(&state, "/admin/")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(require_superuser))
            .route("", web::get().to(to_dashboard))
            .configure(dashboard::routes)
            .configure(users::routes)
            .configure(groups::routes)
            .configure(sessions::routes)
            .configure(calcs::routes)
            .configure(tokens::routes)
            .configure(maintenance::routes)
            .configure(emails::routes)
            .configure(invites::routes)
            .configure(quotas::routes)
            .configure(audit::routes),
        // New admin pages: add their `.configure(...)` here, inside the guarded scope.
    );
}
