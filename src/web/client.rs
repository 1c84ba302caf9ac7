//! What we know about the client: its IP, the Host it asked for and the scheme it used.
//!
//! Forwarded headers (X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Host) are
//! believed only when the socket peer is one of `[server] trusted_proxies`; anyone else could
//! write anything there. actix's ConnectionInfo is not used: it trusts them from anyone.

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use ipnet::IpNet;

use crate::models::audit::Actor;
use crate::state::AppState;

/// The client as seen through trusted proxies; put into every request by [`resolve`].
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    /// "http" or "https"
    pub scheme: String,
    /// The Host (or trusted X-Forwarded-Host) header, as sent.
    pub host: String,
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    trusted.iter().any(|net| net.contains(&ip))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The client IP: the peer, or, when the peer is trusted, X-Forwarded-For read from the right
/// skipping trusted hops (the first untrusted one is the client), else X-Real-IP.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    if !hops.is_empty() {
        let mut client = peer;
        for hop in hops.iter().rev() {
            // A garbled hop means we cannot tell who is behind it: stop at the last good one.
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = ip;
            if !is_trusted(ip, trusted) {
                break;
            }
        }
        return Some(client);
    }
    match header_text(headers, "x-real-ip").and_then(|v| v.parse().ok()) {
        Some(ip) => Some(ip),
        None => Some(peer),
    }
}

fn resolve_info(req: &ServiceRequest, trusted: &[IpNet]) -> ClientInfo {
    let peer = req.peer_addr().map(|a| a.ip());
    let headers = req.headers();
    let from_proxy = peer.is_some_and(|p| is_trusted(p, trusted));
    let direct_scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let scheme = match header_text(headers, "x-forwarded-proto") {
        Some(proto) if from_proxy && matches!(proto, "http" | "https") => proto.to_string(),
        _ => direct_scheme.to_string(),
    };
    let direct_host = header_text(headers, header::HOST.as_str())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let host = match header_text(headers, "x-forwarded-host") {
        Some(host) if from_proxy => host.split(',').next().unwrap_or(host).trim().to_string(),
        _ => direct_host,
    };
    ClientInfo {
        ip: client_ip(peer, headers, trusted),
        scheme,
        host,
    }
}

/// Middleware: resolves the client once per request, before anything else uses it.
pub async fn resolve(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.trusted_proxies.clone())
        .unwrap_or_default();
    let info = resolve_info(&req, &trusted[..]);
    req.extensions_mut().insert(info);
    next.call(req).await
}

fn info(req: &HttpRequest) -> Option<ClientInfo> {
    req.extensions().get::<ClientInfo>().cloned()
}

pub fn ip(req: &HttpRequest) -> Option<IpAddr> {
    info(req)
        .and_then(|i| i.ip)
        .or_else(|| req.peer_addr().map(|a| a.ip()))
}

pub fn ip_string(req: &HttpRequest) -> String {
    ip(req)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The Host the client asked for.
pub fn host(req: &ServiceRequest) -> String {
    req.extensions()
        .get::<ClientInfo>()
        .map(|i| i.host.clone())
        .unwrap_or_default()
}

/// "https" when the client spoke TLS (to us or to a trusted proxy), else "http".
pub fn scheme(req: &ServiceRequest) -> String {
    req.extensions()
        .get::<ClientInfo>()
        .map(|i| i.scheme.clone())
        .unwrap_or_else(|| "http".into())
}

/// `user` acting from this request's client, for audit lines (also written to the access log).
pub fn actor(req: &HttpRequest, user: &crate::models::User) -> Actor {
    let actor = Actor::web(user, ip_string(req));
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => actor.logging_to(state.access_log.clone()),
        None => actor,
    }
}

/// Middleware: one log line per request, with the resolved client IP and no query string
/// (it may carry tokens), and, when metrics are on, the request counted by route pattern (the
/// pattern, such as `/engine/{id}/`, keeps the series few; a path matching no route is
/// "unmatched").
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let (method, path) = (req.method().clone(), req.path().to_string());
    let res = next.call(req).await?;
    let ip = ip_string(res.request());
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = res.status().as_u16();
    tracing::info!(target: "calcweb::request", "{ip} {method} {path} {status} {ms:.1}ms");
    if let Some(metrics) = res
        .request()
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.metrics.as_ref())
    {
        let route = res.request().match_pattern();
        let method = match method.as_str() {
            m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
            _ => "other",
        };
        metrics.http(
            route.as_deref().unwrap_or("unmatched"),
            method,
            status,
            ms / 1000.0,
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_trusted;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        let trusted = parse_trusted(&["127.0.0.1/32".into(), "10.0.0.0/8".into()]).unwrap();
        let spoof = headers(&[
            ("x-forwarded-for", "192.0.2.66"),
            ("x-real-ip", "192.0.2.77"),
        ]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &spoof, &trusted),
            ip("203.0.113.9"),
            "untrusted peer"
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &spoof, &trusted),
            ip("192.0.2.66")
        );
        // The client prepended a fake hop; the proxy appended the real one.
        let chain = headers(&[("x-forwarded-for", "192.0.2.66, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &chain, &trusted),
            ip("198.51.100.7")
        );
        let real = headers(&[("x-real-ip", "198.51.100.8")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &real, &trusted),
            ip("198.51.100.8")
        );
        let garbage = headers(&[("x-forwarded-for", "nonsense")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &garbage, &trusted),
            ip("127.0.0.1")
        );
        let mapped = client_ip(ip("::ffff:127.0.0.1"), &spoof, &trusted);
        assert_eq!(
            mapped,
            ip("192.0.2.66"),
            "IPv4-mapped IPv6 peers are matched as IPv4"
        );
    }

    #[test]
    fn trusted_proxies_parse() {
        assert!(parse_trusted(&["::1".into(), "192.168.0.0/16".into()]).is_ok());
        assert!(parse_trusted(&["proxy.example".into()]).is_err());
    }
}
