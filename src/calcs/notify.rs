//! The `notify_to` POST, guarded: any user may name the URL, so the server must not become
//! their way into its own network (SSRF). Only public addresses are reached unless
//! `[calcs] notify_allow` names the network or host; the address checked is the address
//! connected to (the check runs inside the resolver, so a second DNS answer cannot swap it);
//! redirects and proxies are not followed; and the user learns only "sent" or the HTTP status.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::config::{Config, NotifyAllow};

/// How long a notification may take, all included.
const LIMIT: Duration = Duration::from_secs(5);

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv4 that is not a public unicast address (IANA's special-purpose registry, RFC 6890).
const INTERNAL_V4: [Ipv4Net; 15] = [
    v4(0, 0, 0, 0, 8),       // "this network", 0.0.0.0 included
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // carrier-grade NAT
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local (cloud metadata services live here)
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation
    v4(192, 88, 99, 0, 24),  // 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation
    v4(203, 0, 113, 0, 24),  // documentation
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, 255.255.255.255 (broadcast) included
];

/// IPv6 that is not a public unicast address. The forms that carry an IPv4 address (mapped,
/// NAT64, 6to4) are judged by that address instead, in [`embedded_v4`].
const INTERNAL_V6: [Ipv6Net; 9] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96), // ::, ::1 and the deprecated IPv4-compatible form
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use NAT64
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (Teredo included)
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), // unique-local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated)
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), // multicast
];

/// The IPv4 address an IPv6 one stands for: IPv4-mapped (::ffff:a.b.c.d), NAT64
/// (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::/48) reach that IPv4 host.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(mapped) = ip.to_ipv4_mapped() {
        Some(mapped)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(low)
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

/// Whether `ip` is loopback, private, link-local, unique-local, multicast, unspecified or
/// otherwise not a public unicast address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => INTERNAL_V4.iter().any(|net| net.contains(&ip)),
        IpAddr::V6(ip) => match embedded_v4(ip) {
            Some(inner) => is_internal(IpAddr::V4(inner)),
            None => INTERNAL_V6.iter().any(|net| net.contains(&ip)),
        },
    }
}

/// Who may be notified: public addresses, and what `[calcs] notify_allow` names.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: NotifyAllow,
}

impl Guard {
    pub fn new(config: &Config) -> Guard {
        // `manage check` and the start of the server report a bad list; here it allows nothing.
        Guard {
            allow: NotifyAllow::parse(&config.calcs.notify_allow).unwrap_or_default(),
        }
    }

    /// Whether a connection to `ip` is allowed.
    pub fn allows(&self, ip: IpAddr) -> bool {
        // ::ffff:10.0.0.1 is 10.0.0.1 to the allow list as well.
        let plain = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        !is_internal(ip)
            || self
                .allow
                .nets
                .iter()
                .any(|net| net.contains(&ip) || net.contains(&plain))
    }

    /// Whether the operator allowed this host name, whatever it resolves to.
    fn allows_host(&self, host: &str) -> bool {
        self.allow.hosts.iter().any(|h| h == host)
    }

    /// The URL as it will be requested, or why it is refused (a sentence for the user). An
    /// address written in the URL is judged here; a host name only when the notification is
    /// sent: resolving it now would tell the user whether an internal name exists.
    pub fn check(&self, text: &str) -> Result<url::Url, String> {
        self.judge(text).map_err(|refused| match refused {
            Refused::NotHttp => format!("notify_to = {text:?} is not an http(s) URL."),
            Refused::Address(ip) => format!(
                "notify_to = {text:?} points to {ip}, a local or private address this server does not notify; use a public address, or ask the administrator to add it to [calcs] notify_allow."
            ),
        })
    }

    fn judge(&self, text: &str) -> Result<url::Url, Refused> {
        let url = url::Url::parse(text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or(Refused::NotHttp)?;
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match literal {
            Some(ip) if !self.allows(ip) => Err(Refused::Address(ip)),
            _ => Ok(url),
        }
    }

    /// POSTs `body` to `url` (checked again: the allow list may have changed since the
    /// submission).
    pub fn send(&self, url: &str, body: &serde_json::Value) -> Outcome {
        // The reason, for the server's log, leaves the URL out: its path may be a secret.
        let url = match self.judge(url) {
            Ok(url) => url,
            Err(Refused::NotHttp) => return Outcome::NoAnswer("not an http(s) URL".into()),
            Err(Refused::Address(ip)) => {
                return Outcome::NoAnswer(format!(
                    "{ip} is not a public address and not in [calcs] notify_allow"
                ));
            }
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(LIMIT))
            .max_redirects(0)
            // A proxy would be resolved and connected to instead of the target.
            .proxy(None)
            .http_status_as_error(false)
            .build();
        let resolver = Pinned {
            guard: Arc::new(self.clone()),
            any_address: self.allows_host(&host),
        };
        let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), resolver);
        match agent.post(url.as_str()).send_json(body) {
            Ok(res) if res.status().is_success() => Outcome::Sent,
            Ok(res) => Outcome::Status(res.status().as_u16()),
            Err(e) => Outcome::NoAnswer(e.to_string()),
        }
    }
}

/// Where `url` points (scheme, host and port), for logs: its path and query may hold a
/// webhook's secret.
pub fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "(not a URL)".into())
}

/// Why a URL is refused before any connection.
enum Refused {
    NotHttp,
    Address(IpAddr),
}

/// How a notification went.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// The receiver answered with this status (a redirect included: it is not followed).
    Status(u16),
    /// No HTTP answer: refused address, unknown host, no connection, timeout, TLS; the detail
    /// is for the server's log only.
    NoAnswer(String),
}

impl Outcome {
    /// The calculation log's row: nothing about the network beyond the HTTP status, which the
    /// receiver chose to send.
    pub fn user_text(&self) -> String {
        match self {
            Outcome::Sent => "notification sent".into(),
            Outcome::Status(code) => format!("notification failed (HTTP {code})"),
            Outcome::NoAnswer(_) => {
                "notification failed (no HTTP answer; the server's log says why)".into()
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::NoAnswer(why) => write!(f, "notification failed: {why}"),
            other => f.write_str(&other.user_text()),
        }
    }
}

/// The resolver of a notification: the system's answer, minus the addresses the guard
/// refuses. ureq connects to exactly these addresses, so what was checked is what is reached.
#[derive(Debug)]
struct Pinned {
    guard: Arc<Guard>,
    /// The host name is in `notify_allow`: all its addresses are allowed.
    any_address: bool,
}

impl Resolver for Pinned {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let found = DefaultResolver::default().resolve(uri, config, timeout)?;
        if self.any_address {
            return Ok(found);
        }
        let mut kept = self.empty();
        for addr in found.iter().filter(|a| self.guard.allows(a.ip())) {
            kept.push(*addr);
        }
        if kept.is_empty() {
            let refused: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves only to addresses that are not public ({}) and not in [calcs] notify_allow",
                    uri.host().unwrap_or_default(),
                    refused.join(", ")
                ),
            )));
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allow: &[&str]) -> Guard {
        let list: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
        Guard {
            allow: NotifyAllow::parse(&list).unwrap(),
        }
    }

    fn internal(text: &str) -> bool {
        is_internal(text.parse().unwrap())
    }

    #[test]
    fn addresses_that_are_not_public_are_internal() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::1",
            "::127.0.0.1",
        ] {
            assert!(internal(ip), "{ip} is internal");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!internal(ip), "{ip} is public");
        }
    }

    #[test]
    fn the_allow_list_opens_networks_and_hosts() {
        let g = guard(&["127.0.0.0/8", "10.1.2.3", "Hooks.Example.org"]);
        assert!(g.allows("127.0.0.1".parse().unwrap()));
        assert!(g.allows("::ffff:127.0.0.1".parse().unwrap()), "mapped");
        assert!(g.allows("10.1.2.3".parse().unwrap()));
        assert!(!g.allows("10.1.2.4".parse().unwrap()));
        assert!(!g.allows("::1".parse().unwrap()));
        assert!(g.allows_host("hooks.example.org"));
        assert!(!g.allows_host("example.org"));
        assert!(NotifyAllow::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(NotifyAllow::parse(&["http://x".into()]).is_err());
        assert!(NotifyAllow::parse(&["10.0.0.300".into()]).is_err());
    }

    #[test]
    fn literal_addresses_are_judged_at_once() {
        let g = guard(&[]);
        for url in [
            "http://127.0.0.1:8080/x",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "https://169.254.169.254/latest/meta-data",
            "http://0.0.0.0:22/",
        ] {
            let err = g.check(url).unwrap_err();
            assert!(err.contains("notify_allow"), "{url}: {err}");
        }
        assert!(g.check("ftp://example.org/").is_err());
        assert!(g.check("https://hooks.example.org/done").is_ok());
        assert!(g.check("http://8.8.8.8/").is_ok());
    }

    #[test]
    fn logs_show_where_a_url_points_not_its_secret() {
        assert_eq!(
            origin("https://hooks.example.org/services/T0/B0/s3cr3t?token=x"),
            "https://hooks.example.org"
        );
        assert_eq!(
            origin("http://u:pw@10.0.0.1:8080/x"),
            "http://10.0.0.1:8080"
        );
    }

    #[test]
    fn the_users_text_holds_no_detail() {
        let no = Outcome::NoAnswer("10.0.0.1:5432: connection refused".into());
        assert!(!no.user_text().contains("10.0.0.1"));
        assert_eq!(
            Outcome::Status(502).user_text(),
            "notification failed (HTTP 502)"
        );
        assert_eq!(Outcome::Sent.user_text(), "notification sent");
    }
}
