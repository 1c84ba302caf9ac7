//! The retention policy's notice to an owner ([retention], docs/retention.md): which of their
//! calculations will be removed, from when, and how to keep one.

use askama::Template;

use super::messages::{email_templates, outgoing, site_name};
use crate::config::Config;
use crate::models::email::{Outgoing, kind};

/// One calculation in the notice.
pub struct Listed {
    pub id: i64,
    pub description: String,
    pub status: String,
    pub size: String,
    pub ended: String,
    /// "2026-12-15 10:00 UTC": not before then.
    pub removed_from: String,
    pub link: String,
}

pub struct RetentionNotice {
    pub site: String,
    pub username: String,
    pub calcs: Vec<Listed>,
    pub total: String,
    pub warn_days: u32,
    pub list_link: String,
}
email_templates!(
    RetentionNotice,
    RetentionNoticeText = "email/retention.txt",
    RetentionNoticeHtml = "email/retention.html"
);

pub fn retention_notice(
    config: &Config,
    to: &str,
    username: &str,
    calcs: Vec<Listed>,
    total: String,
) -> Result<Outgoing, askama::Error> {
    let m = RetentionNotice {
        site: site_name(config),
        username: username.into(),
        calcs,
        total,
        warn_days: config.retention.warn_days_before,
        list_link: config.site_link("/engine/"),
    };
    let subject = match m.calcs.as_slice() {
        [one] => format!("Calculation {} will be removed from {}", one.id, m.site),
        many => format!(
            "{} of your calculations will be removed from {}",
            many.len(),
            m.site
        ),
    };
    outgoing(kind::RETENTION, to, subject, m.render())
}
