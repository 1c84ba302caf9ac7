//! New accounts by email: the sign-up form and activation links (`[registration] mode =
//! "open"`), and the page of an invitation link that creates an account in a group.

mod activation;
mod invitation;
mod sign_up;

use actix_web::web;

use crate::config::RegistrationMode;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// 404 unless the site takes sign-ups.
pub(super) fn registration_open(state: &AppState) -> AppResult<()> {
    if state.config.registration.mode == RegistrationMode::Open {
        Ok(())
    } else {
        Err(AppError::NotFound(
            "This site does not take sign-ups; ask an administrator for an account.".into(),
        ))
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The resend route comes before the token route, which would match it too.
    cfg.service(sign_up::register_page)
        .service(sign_up::register_submit)
        .service(sign_up::register_done)
        .service(activation::resend_page)
        .service(activation::resend_submit)
        .service(activation::activate_page)
        .service(activation::activate_submit)
        .service(invitation::invite_page)
        .service(invitation::invite_submit);
}
