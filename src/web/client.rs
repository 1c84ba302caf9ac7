//! What we know about the client: its IP, the Host it asked for and the scheme it used.
//! Forwarded headers are not read here: actix's ConnectionInfo trusts them from anyone.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::dev::ServiceRequest;
use actix_web::http::header;

/// The peer's address.
pub fn ip(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

pub fn ip_string(req: &HttpRequest) -> String {
    ip(req)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The Host header (or the HTTP/2 authority).
pub fn host(req: &ServiceRequest) -> String {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default()
}

/// "https" when this listener speaks TLS, else "http".
pub fn scheme(req: &ServiceRequest) -> &'static str {
    if req.app_config().secure() {
        "https"
    } else {
        "http"
    }
}
