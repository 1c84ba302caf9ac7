//! The emails calcweb writes. Each is a struct of what it says, rendered twice by askama:
//! templates/email/<name>.txt (the text part) and templates/email/<name>.html (the HTML part).
//! Links are absolute, built from `[server] public_url` and the path prefix.

use askama::Template;

use crate::config::Config;
use crate::models::email::{Outgoing, kind};

/// Declares the text and HTML templates of a message struct and its `render`.
macro_rules! email_templates {
    ($data:ident, $text:ident = $text_path:tt, $html:ident = $html_path:tt) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $data,
        }

        impl $data {
            /// (text, HTML)
            fn render(&self) -> Result<(String, String), askama::Error> {
                Ok(($text { m: self }.render()?, $html { m: self }.render()?))
            }
        }
    };
}
pub(super) use email_templates;

/// The site's name in messages: the host of public_url.
pub fn site_name(config: &Config) -> String {
    url::Url::parse(&config.public_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "calcweb".into())
}

pub(super) fn outgoing(
    kind: &'static str,
    to: &str,
    subject: String,
    parts: Result<(String, String), askama::Error>,
) -> Result<Outgoing, askama::Error> {
    let (text, html) = parts?;
    Ok(Outgoing {
        kind,
        to: to.trim().to_string(),
        subject,
        text,
        html,
    })
}

fn days(n: u32) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

// ---------------------------------------------------------------------------------------------

pub struct PasswordReset {
    pub site: String,
    pub username: String,
    /// None for accounts that log in with the system password (PAM): nothing to reset here.
    pub link: Option<String>,
    pub valid_for: String,
    pub login_link: String,
}
email_templates!(
    PasswordReset,
    PasswordResetText = "email/password_reset.txt",
    PasswordResetHtml = "email/password_reset.html"
);

/// The reset email for one account: a link, or for a PAM account the advice to use the
/// system password.
pub fn password_reset(
    config: &Config,
    to: &str,
    username: &str,
    token: Option<&str>,
) -> Result<Outgoing, askama::Error> {
    let m = PasswordReset {
        site: site_name(config),
        username: username.into(),
        link: token.map(|t| config.site_link(&format!("/accounts/reset/{t}/"))),
        valid_for: days(config.registration.reset_days),
        login_link: config.site_link("/accounts/login/"),
    };
    outgoing(
        kind::RESET,
        to,
        format!("Reset your password on {}", m.site),
        m.render(),
    )
}

// ---------------------------------------------------------------------------------------------

pub struct Activation {
    pub site: String,
    pub username: String,
    pub link: String,
    pub valid_for: String,
    pub resend_link: String,
}
email_templates!(
    Activation,
    ActivationText = "email/activation.txt",
    ActivationHtml = "email/activation.html"
);

pub fn activation(
    config: &Config,
    to: &str,
    username: &str,
    token: &str,
) -> Result<Outgoing, askama::Error> {
    let m = Activation {
        site: site_name(config),
        username: username.into(),
        link: config.site_link(&format!("/accounts/activate/{token}/")),
        valid_for: days(config.registration.activation_days),
        resend_link: config.site_link("/accounts/activate/resend/"),
    };
    outgoing(
        kind::ACTIVATION,
        to,
        format!("Activate your account on {}", m.site),
        m.render(),
    )
}

// ---------------------------------------------------------------------------------------------

/// A sign-up with an address that already has an account: the owner is told, and nothing is
/// created (the form's answer is the same either way, so it reveals nothing).
pub struct AlreadyRegistered {
    pub site: String,
    pub usernames: Vec<String>,
    pub login_link: String,
    pub reset_link: String,
}
email_templates!(
    AlreadyRegistered,
    AlreadyRegisteredText = "email/already_registered.txt",
    AlreadyRegisteredHtml = "email/already_registered.html"
);

pub fn already_registered(
    config: &Config,
    to: &str,
    usernames: Vec<String>,
) -> Result<Outgoing, askama::Error> {
    let m = AlreadyRegistered {
        site: site_name(config),
        usernames,
        login_link: config.site_link("/accounts/login/"),
        reset_link: config.site_link("/accounts/password_reset/"),
    };
    outgoing(
        kind::REGISTERED,
        to,
        format!("Your account on {}", m.site),
        m.render(),
    )
}

// ---------------------------------------------------------------------------------------------

pub struct Invitation {
    pub site: String,
    pub inviter: String,
    pub group: Option<String>,
    pub link: String,
    pub valid_for: String,
}
email_templates!(
    Invitation,
    InvitationText = "email/invitation.txt",
    InvitationHtml = "email/invitation.html"
);

pub fn invitation(
    config: &Config,
    to: &str,
    inviter: &str,
    group: Option<&str>,
    token: &str,
) -> Result<Outgoing, askama::Error> {
    let m = Invitation {
        site: site_name(config),
        inviter: inviter.into(),
        group: group.map(str::to_string),
        link: invitation_link(config, token),
        valid_for: days(config.registration.invite_days),
    };
    let subject = match &m.group {
        Some(g) => format!("You are invited to join {g} on {}", m.site),
        None => format!("You are invited to {}", m.site),
    };
    outgoing(kind::INVITATION, to, subject, m.render())
}

pub fn invitation_link(config: &Config, token: &str) -> String {
    config.site_link(&format!("/accounts/invite/{token}/"))
}

// ---------------------------------------------------------------------------------------------

pub struct CalcFinished {
    pub site: String,
    pub username: String,
    pub id: i64,
    pub status: String,
    pub calculator: String,
    pub description: String,
    pub duration: String,
    pub link: String,
    pub account_link: String,
}
email_templates!(
    CalcFinished,
    CalcFinishedText = "email/calc_finished.txt",
    CalcFinishedHtml = "email/calc_finished.html"
);

/// "2 h 3 min", "4 min 5 s", "12 s".
pub fn duration_words(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{sec} s"),
        (0, _) => format!("{m} min {sec} s"),
        _ => format!("{h} h {m} min"),
    }
}

pub fn calc_finished(
    config: &Config,
    to: &str,
    username: &str,
    calc: &crate::models::calc::Calc,
) -> Result<Outgoing, askama::Error> {
    let duration = match (calc.started_at, calc.finished_at) {
        (Some(start), Some(end)) => duration_words((end - start).whole_seconds()),
        _ => "unknown".into(),
    };
    let m = CalcFinished {
        site: site_name(config),
        username: username.into(),
        id: calc.id,
        status: calc.status.to_string(),
        calculator: calc.calculator.clone(),
        description: calc.description.clone(),
        duration,
        link: config.site_link(&format!("/engine/{}/", calc.id)),
        account_link: config.site_link("/accounts/"),
    };
    let mut about: String = m.description.chars().take(60).collect();
    if m.description.chars().count() > 60 {
        about.push('…');
    }
    let subject = if about.is_empty() {
        format!("Calculation {} {}", m.id, m.status)
    } else {
        format!("Calculation {} {}: {about}", m.id, m.status)
    };
    outgoing(kind::CALC_FINISHED, to, subject, m.render())
}

// ---------------------------------------------------------------------------------------------

pub struct TestEmail {
    pub site: String,
    pub destination: String,
    pub sent_by: String,
}
email_templates!(
    TestEmail,
    TestEmailText = "email/test.txt",
    TestEmailHtml = "email/test.html"
);

pub fn test_email(
    config: &Config,
    to: &str,
    destination: &str,
    sent_by: &str,
) -> Result<Outgoing, askama::Error> {
    let m = TestEmail {
        site: site_name(config),
        destination: destination.into(),
        sent_by: sent_by.into(),
    };
    outgoing(
        kind::TEST,
        to,
        format!("Test email from {}", m.site),
        m.render(),
    )
}

// ---------------------------------------------------------------------------------------------

/// Queues the "calculation finished" notice when the owner asked for one and has an address.
/// Called where a calculation ends (the supervisor, the runner's reconciliation), with that
/// process's own connection. Returns whether a notice was queued.
pub fn notify_calc_finished(
    conn: &mut crate::db::DbConn,
    config: &Config,
    calc_id: i64,
) -> crate::error::AppResult<bool> {
    use crate::models::User;
    use crate::models::calc::Calc;
    let Some(calc) = Calc::find(conn, calc_id)? else {
        return Ok(false);
    };
    let Some(owner) = User::find(conn, calc.user_id)? else {
        return Ok(false);
    };
    if owner.email.trim().is_empty() || !User::notify_on_finish(conn, owner.id)? {
        return Ok(false);
    }
    let message = calc_finished(config, &owner.email, &owner.username, &calc)?;
    crate::models::email::Email::queue(conn, &message)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_words(12), "12 s");
        assert_eq!(duration_words(245), "4 min 5 s");
        assert_eq!(duration_words(7380), "2 h 3 min");
    }

    #[test]
    fn every_message_renders_with_absolute_links() {
        let mut config = Config::default();
        config.server.public_url = Some("https://calc.example.org".into());
        config.server.path_prefix = "/cw".into();
        let reset = password_reset(&config, "a@example.org", "alice", Some("1.2.abc")).unwrap();
        assert!(
            reset
                .text
                .contains("https://calc.example.org/cw/accounts/reset/1.2.abc/")
        );
        assert!(
            reset
                .html
                .contains("href=\"https://calc.example.org/cw/accounts/reset/1.2.abc/\"")
        );
        assert_eq!(reset.subject, "Reset your password on calc.example.org");
        let pam = password_reset(&config, "a@example.org", "alice", None).unwrap();
        assert!(pam.text.contains("system password"), "{}", pam.text);
        assert!(!pam.text.contains("/accounts/reset/"));
        let invite =
            invitation(&config, "b@example.org", "boss", Some("<physics>"), "tok").unwrap();
        assert!(
            !invite.html.contains("<physics>"),
            "escaped: {}",
            invite.html
        );
        assert!(invite.text.contains("<physics>"));
        assert!(invite.text.contains("/cw/accounts/invite/tok/"));
        for m in [
            activation(&config, "c@example.org", "carol", "t").unwrap(),
            already_registered(&config, "c@example.org", vec!["carol".into()]).unwrap(),
            test_email(&config, "d@example.org", "the console", "cli").unwrap(),
        ] {
            assert!(!m.text.is_empty() && m.html.contains("<html"), "{m:?}");
        }
    }
}
