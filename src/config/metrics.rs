//! `[metrics]`: the Prometheus endpoint `GET /metrics`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Off by default: /metrics answers 404.
    pub enabled: bool,
    /// Client addresses (after [server] trusted_proxies) that may read /metrics without a token.
    pub allow: Vec<String>,
    /// A file holding a bearer token that lets any address read /metrics
    /// (`Authorization: Bearer TOKEN`); unset: only `allow` addresses may.
    pub token_file: Option<PathBuf>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            allow: vec!["127.0.0.1/32".into(), "::1/128".into()],
            token_file: None,
        }
    }
}

/// `[metrics] allow` as networks; a bare address is a network of one.
pub fn parse_metrics_allow(list: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    list.iter()
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("metrics.allow: {item:?} is not an address or CIDR like 10.0.0.0/8.")
                })
        })
        .collect()
}

/// The bearer token in `[metrics] token_file`, trimmed; an error names the file.
pub fn read_metrics_token(path: &std::path::Path) -> Result<String, String> {
    let token = std::fs::read_to_string(path)
        .map_err(|e| format!("Cannot read metrics.token_file = {}: {e}.", path.display()))?;
    let token = token.trim().to_string();
    if token.len() < 16 {
        return Err(format!(
            "metrics.token_file = {} holds a token shorter than 16 characters; write a long random one, e.g. `openssl rand -hex 32`.",
            path.display()
        ));
    }
    Ok(token)
}
