//! Request checks that come before any handler: allowed hosts and the Origin of unsafe requests.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{DefaultHeaders, Next};

use crate::error::AppError;
use crate::web::client;

/// Headers on every response; HSTS when the site is https and `[server] hsts` is on.
pub fn headers(config: &crate::config::Config) -> DefaultHeaders {
    let headers = if config.server.hsts && config.is_https() {
        DefaultHeaders::new().add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        DefaultHeaders::new()
    };
    headers
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
}

/// The host part of a Host header value ("example.org:8800" -> "example.org", "[::1]:80" -> "[::1]").
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map(|(h, _)| format!("{h}]"))
            .unwrap_or(host);
    }
    host.split(':').next().unwrap_or("").to_string()
}

/// Rejects unknown Host headers (400) and cross-origin unsafe requests (403).
pub async fn check_host_and_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = crate::web::state_of(req.request());
    let host = client::host(&req);
    let allowed = &state.allowed_hosts;
    if !allowed.iter().any(|h| h == "*") && !allowed.contains(&host_name(&host)) {
        tracing::warn!(
            host,
            "request for a host that is not in server.allowed_hosts"
        );
        let e = AppError::BadRequest(
            "This server does not answer for that host name; check the address you used.".into(),
        );
        return Ok(req.error_response(e).map_into_right_body());
    }
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && let Some(origin) = req.headers().get("origin") {
        let origin = origin
            .to_str()
            .unwrap_or("null")
            .trim_end_matches('/')
            .to_ascii_lowercase();
        let own = format!("{}://{}", client::scheme(&req), host.to_ascii_lowercase());
        if origin != own && origin != state.public_origin {
            tracing::warn!(origin, "cross-origin request refused");
            let e = AppError::Forbidden(
                "This request came from another site and was refused; submit the form from this site.".into(),
            );
            return Ok(req.error_response(e).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn host_names() {
        assert_eq!(host_name("Example.org:8800"), "example.org");
        assert_eq!(host_name("[::1]:8800"), "[::1]");
        assert_eq!(host_name("localhost"), "localhost");
    }
}
