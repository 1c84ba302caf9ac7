//! `[quotas]`: the default limits of each user (issue #21). Unset: no limit. Superusers and
//! groups can be given their own limits in /admin (see models::quota for the rule).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotasConfig {
    /// Calculations of one user running at once; the rest wait in the queue.
    pub max_running: Option<u32>,
    /// Calculations of one user waiting in the queue.
    pub max_queued: Option<u32>,
    /// Disk one user's calculations may take (inputs, outputs, datastores): "50G", "500M",
    /// or bytes; K, M, G and T are powers of 1024.
    pub max_disk: Option<String>,
    /// Whether superusers are exempt from every quota (off: the same limits as everyone).
    pub superusers_exempt: bool,
}

impl QuotasConfig {
    /// `max_disk` in bytes (a value [`parse_size`] refuses was reported at start-up).
    pub fn max_disk_bytes(&self) -> Option<u64> {
        self.max_disk.as_deref().and_then(|s| parse_size(s).ok())
    }
}

/// A size like "50G", "1.5T", "500M", "100K" or "1048576" (bytes); K, M, G and T are powers of
/// 1024, an optional trailing "B" or "iB" is allowed.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let refuse =
        || format!("{text:?} is not a size; write a number with K, M, G or T, e.g. \"50G\".");
    let t = text.trim().to_ascii_uppercase();
    let t = t
        .strip_suffix("IB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(&t)
        .trim_end();
    let (number, factor) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let number: f64 = number.trim().parse().map_err(|_| refuse())?;
    if !number.is_finite() || number < 0.0 || number * factor as f64 > i64::MAX as f64 {
        return Err(refuse());
    }
    Ok((number * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50G"), Ok(50 << 30));
        assert_eq!(parse_size("1.5 TiB"), Ok(3 << 39));
        assert_eq!(parse_size("500mb"), Ok(500 << 20));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1G").is_err());
        assert!(parse_size("").is_err());
    }
}
