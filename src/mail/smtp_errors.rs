//! SMTP failures in plain words: what went wrong, the settings to check, and whether trying
//! later may work.

use super::{SendError, SmtpServer};
use crate::config::EmailSecurity;

/// The first `std::io::Error` in an error's chain of causes.
fn io_cause<'a>(
    mut err: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a std::io::Error> {
    while let Some(e) = err {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        err = e.source();
    }
    None
}

/// Every message in an error's chain, joined: the details behind lettre's short words.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// An SMTP failure in plain words, naming the settings to check.
pub fn explain(err: &lettre::transport::smtp::Error, server: &SmtpServer) -> SendError {
    use std::io::ErrorKind;
    let at = server.at();
    let detail = causes(err);
    if let Some(code) = err.status() {
        let code_text = code.to_string();
        let reply = detail
            .split_once(": ")
            .map(|(_, r)| r.trim())
            .unwrap_or("")
            .to_string();
        let reply = if reply.is_empty() {
            code_text.clone()
        } else {
            format!("{code_text} {reply}")
        };
        // 530: login required; 534/535/538: login refused.
        if matches!(code_text.as_str(), "530" | "534" | "535" | "538") {
            let message = if server.user.is_empty() {
                format!(
                    "The SMTP server at {at} wants a login ({reply}): set [email] user and password."
                )
            } else {
                format!(
                    "The SMTP server at {at} refused the login ({reply}): check [email] user and password."
                )
            };
            return SendError::transient(message);
        }
        return if err.is_transient() {
            SendError::transient(format!(
                "The SMTP server at {at} answered {reply} (a temporary refusal; it will be tried again)."
            ))
        } else {
            SendError::permanent(format!(
                "The SMTP server at {at} refused the message: {reply}."
            ))
        };
    }
    // A read that times out is EAGAIN (WouldBlock) on Linux, which lettre does not call a
    // timeout.
    let io_kind = io_cause(std::error::Error::source(err)).map(|e| e.kind());
    if err.is_timeout() || matches!(io_kind, Some(ErrorKind::WouldBlock | ErrorKind::TimedOut)) {
        let hint = match server.security.as_str() {
            "tls" => "",
            _ => {
                " (a server that expects TLS from the start, usually on port 465, waits like this: then set security = \"tls\")"
            }
        };
        return SendError::transient(format!(
            "The SMTP server at {at} did not answer within {} seconds{hint}: check [email] host, port and security, and any firewall in between.",
            server.timeout
        ));
    }
    if let Some(io) = io_cause(std::error::Error::source(err)) {
        match io.kind() {
            ErrorKind::ConnectionRefused => {
                return SendError::transient(format!(
                    "Nothing answers at {at}: check [email] host and port, and that the mail server runs."
                ));
            }
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::UnexpectedEof
                if server.security != EmailSecurity::Tls && !err.is_tls() =>
            {
                return SendError::transient(format!(
                    "The SMTP server at {at} closed the connection ({detail}); if it expects TLS from the start (port 465), set [email] security = \"tls\"."
                ));
            }
            _ => {}
        }
        let text = io.to_string();
        if text.contains("lookup") || text.contains("not known") || text.contains("resolve") {
            return SendError::transient(format!(
                "The mail server name {:?} cannot be found ({text}): check [email] host.",
                server.host
            ));
        }
    }
    let lower = detail.to_ascii_lowercase();
    let tls_words = [
        "tls",
        "certificate",
        "handshake",
        "alert",
        "corrupt message",
    ];
    if err.is_tls() || tls_words.iter().any(|w| lower.contains(w)) {
        let hint = if lower.contains("certificate") || lower.contains("unknownissuer") {
            "the server's certificate is not trusted or not for this host name: check [email] host, and for a private CA set [email] tls_ca_file"
        } else if lower.contains("starttls") {
            "the server does not offer STARTTLS: use security = \"tls\" if it expects TLS from the start (port 465), or \"none\" only on a trusted network"
        } else if server.security == EmailSecurity::Tls {
            "the server may not expect TLS from the start: use security = \"starttls\" (port 587) or \"none\" (port 25)"
        } else {
            "check [email] security and port (starttls: 587, tls: 465, none: 25)"
        };
        return SendError::transient(format!(
            "The TLS connection to the SMTP server at {at} failed ({detail}): {hint}."
        ));
    }
    if detail.contains("authentication mechanism") {
        return SendError::transient(format!(
            "The SMTP server at {at} offers no login this way ({detail}): most servers offer it only over TLS, so check [email] security, or leave [email] user empty if the server needs no login."
        ));
    }
    SendError::transient(format!(
        "Sending through the SMTP server at {at} failed: {detail}."
    ))
}
