//! Logging in over HTTP and the device cookie around [`crate::actions::login::attempt`]: a
//! random value per browser, which the server stores hashed with each user who logs in with
//! it (`models::known_device`), so that browser is spared that user's lockout. A password
//! change forgets the user's browsers.

use actix_web::HttpRequest;
use actix_web::cookie::Cookie;

use crate::error::AppResult;
use crate::models::User;
use crate::models::known_device::LIFETIME;
use crate::state::AppState;
use crate::tokens::random_token;
use crate::web::{client, cookies};

/// One login attempt by the client of `req`; see [`crate::actions::login::attempt`]. On
/// success, the user and the device cookie to set on the response.
pub async fn attempt(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    password_text: &str,
    realm: &'static str,
) -> AppResult<Option<(User, Cookie<'static>)>> {
    let ip = client::ip_string(req);
    let device = cookies::value(req, &state.config, cookies::DEVICE)
        .filter(|v| looks_valid(v))
        .unwrap_or_else(random_token);
    let user =
        crate::actions::login::attempt(state, &ip, Some(&device), username, password_text, realm)
            .await?;
    Ok(user.map(|user| {
        let mut cookie = cookies::build(&state.config, cookies::DEVICE, device);
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(
            LIFETIME.whole_seconds(),
        ));
        (user, cookie)
    }))
}

/// A value made by [`random_token`] (the former cookie held signed tags, which are ignored).
fn looks_valid(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
