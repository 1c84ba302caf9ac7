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
    sign_up::routes(cfg);
    activation::routes(cfg);
    invitation::routes(cfg);
}
