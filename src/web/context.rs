//! What every page template gets: the user, the CSRF token, flash messages and URL helpers.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use actix_web_flash_messages::storage::FlashMessageStore;
use actix_web_flash_messages::{IncomingFlashMessages, Level};

use crate::assets::Assets;
use crate::auth::csrf;
use crate::models::User;
use crate::state::AppState;
use crate::web::session::CurrentUser;

pub struct Message {
    pub level: &'static str,
    pub text: String,
}

pub struct PageCtx {
    pub user: Option<User>,
    pub csrf_token: String,
    pub messages: Vec<Message>,
    pub lockdown: bool,
    prefix: String,
    assets: Arc<Assets>,
}

impl PageCtx {
    pub fn new(req: &HttpRequest) -> PageCtx {
        let state = req
            .app_data::<web::Data<AppState>>()
            .expect("AppState is registered");
        let user = req
            .extensions()
            .get::<CurrentUser>()
            .and_then(|u| u.0.clone());
        // Errors raised before the flash middleware ran (bad Host, cross-origin) have none.
        let has_flash = req.extensions().contains::<Arc<dyn FlashMessageStore>>();
        let incoming = if has_flash {
            IncomingFlashMessages::from_request(req, &mut Payload::None)
                .into_inner()
                .ok()
        } else {
            None
        };
        let messages = incoming
            .iter()
            .flat_map(|m| m.iter())
            .map(|m| Message {
                level: match m.level() {
                    Level::Error => "error",
                    Level::Warning => "warning",
                    Level::Success => "success",
                    _ => "info",
                },
                text: m.content().to_string(),
            })
            .collect();
        PageCtx {
            user,
            csrf_token: csrf::token(req),
            messages,
            lockdown: state.config.server.lockdown,
            prefix: state.config.server.path_prefix.clone(),
            assets: state.assets.clone(),
        }
    }

    /// A site path with the configured prefix, e.g. url("/engine/").
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// The cache-busting URL of an embedded static file.
    pub fn static_url(&self, name: &str) -> String {
        format!("{}/static/{}", self.prefix, self.assets.hashed(name))
    }
}
