//! Our cookies' names and attributes, decided in one place from the configuration.
//!
//! On https every cookie is `Secure` and its name carries a prefix the browser enforces:
//! `__Host-` at the site's root (Secure, Path=/, no Domain: neither a plain-http page nor
//! another host of the domain can set or shadow it), `__Secure-` under a `path_prefix` (as
//! `__Host-` requires Path=/, which would send the cookies to the other sites of the host).
//! Over plain http there is no prefix and no `Secure`, which browsers would drop.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::ResponseHead;
use actix_web::http::header::{HeaderValue, SET_COOKIE};
use actix_web_flash_messages::FlashMessage;
use actix_web_flash_messages::storage::{
    CookieMessageStore, FlashMessageStore, LoadError, StoreError,
};

use crate::config::Config;

pub const SESSION: &str = "calcweb_session";
pub const CSRF: &str = "calcweb_csrf";
pub const DEVICE: &str = "calcweb_device";
pub const FLASH: &str = "calcweb_flash";

/// The name of our cookie `base` as the browser stores it.
pub fn name(config: &Config, base: &str) -> String {
    let prefix = match (config.is_https(), config.server.path_prefix.is_empty()) {
        (false, _) => "",
        (true, true) => "__Host-",
        (true, false) => "__Secure-",
    };
    format!("{prefix}{base}")
}

/// Our cookie `base`: HttpOnly, SameSite=Lax, Secure on https, on the site's path.
pub fn build(config: &Config, base: &str, value: String) -> Cookie<'static> {
    Cookie::build(name(config, base), value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .path(config.path_prefix_or_root())
        .finish()
}

/// The value of our cookie `base` in the request.
pub fn value(req: &HttpRequest, config: &Config, base: &str) -> Option<String> {
    req.cookie(&name(config, base))
        .map(|c| c.value().to_string())
}

/// Flash messages in a signed cookie (actix-web-flash-messages' store), with our name and
/// attributes: the library marks its cookie Secure even over plain http, where browsers drop
/// it (the "You have been logged out." message was lost), and clears it at Path=/ without
/// Secure, which misses a path prefix and which a `__Host-` cookie refuses. It is cleared only
/// when the browser sent one, not on every response.
pub struct FlashStore {
    inner: CookieMessageStore,
    name: String,
    secure: bool,
    path: String,
}

impl FlashStore {
    pub fn new(config: &Config, key: actix_web::cookie::Key) -> FlashStore {
        let name = name(config, FLASH);
        let path = config.path_prefix_or_root();
        let inner = CookieMessageStore::builder(key)
            .cookie_name(name.clone())
            .path(path.clone())
            .same_site(SameSite::Lax)
            .build();
        FlashStore {
            inner,
            name,
            secure: config.is_https(),
            path,
        }
    }

    /// The library's Set-Cookie for our cookie, with Secure as configured.
    fn fix_secure(&self, head: &mut ResponseHead) -> Result<(), StoreError> {
        let headers = head.headers_mut();
        let all: Vec<HeaderValue> = headers.get_all(SET_COOKIE).cloned().collect();
        headers.remove(SET_COOKIE);
        for value in all {
            let ours = value
                .to_str()
                .ok()
                .and_then(|v| Cookie::parse(v.to_string()).ok())
                .filter(|c| c.name() == self.name);
            let value = match ours {
                Some(mut cookie) => {
                    cookie.set_secure(self.secure);
                    HeaderValue::from_str(&cookie.to_string())
                        .map_err(|e| StoreError::GenericError(e.into()))?
                }
                None => value,
            };
            headers.append(SET_COOKIE, value);
        }
        Ok(())
    }
}

impl FlashMessageStore for FlashStore {
    fn load(&self, request: &HttpRequest) -> Result<Vec<FlashMessage>, LoadError> {
        self.inner.load(request)
    }

    fn store(
        &self,
        messages: &[FlashMessage],
        request: HttpRequest,
        head: &mut ResponseHead,
    ) -> Result<(), StoreError> {
        if !messages.is_empty() {
            self.inner.store(messages, request, head)?;
            return self.fix_secure(head);
        }
        if request.cookie(&self.name).is_some() {
            let removal = Cookie::build(self.name.clone(), "")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(self.secure)
                .path(self.path.clone())
                .max_age(actix_web::cookie::time::Duration::ZERO)
                .finish();
            let value = HeaderValue::from_str(&removal.to_string())
                .map_err(|e| StoreError::GenericError(e.into()))?;
            head.headers_mut().append(SET_COOKIE, value);
        }
        Ok(())
    }
}
