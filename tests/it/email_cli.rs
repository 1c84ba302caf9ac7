//! The email commands as an operator runs them: `manage sendtestemail` against a real SMTP
//! server (plain, STARTTLS with a login, TLS), its plain-words errors, the file and console
//! backends, the config checks, and `manage invite` delivered by a running `calcweb serve`.

use std::process::Command;

use calcweb::db::schema::emails;
use diesel::prelude::*;

use crate::cli::{Server, Site, free_port};
use crate::smtp::{Certs, Options, Security, SmtpServer};

/// Runs `calcweb ARGS` for the site with extra environment; (exit code, stdout + stderr).
fn run(site: &Site, env: &[(&str, String)], args: &[&str]) -> (i32, String) {
    let mut cmd: Command = site.calcweb();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("run calcweb");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn smtp_env(port: u16, security: Security) -> Vec<(&'static str, String)> {
    vec![
        ("CALCWEB_EMAIL_BACKEND", "smtp".into()),
        ("CALCWEB_EMAIL_HOST", "127.0.0.1".into()),
        ("CALCWEB_EMAIL_PORT", port.to_string()),
        ("CALCWEB_EMAIL_SECURITY", security.word().into()),
        ("CALCWEB_EMAIL_FROM", "ops-robot@calc.example.org".into()),
        ("CALCWEB_EMAIL_TIMEOUT", "5".into()),
    ]
}

fn sendtestemail(site: &Site, env: &[(&str, String)], to: &str) -> (i32, String) {
    run(site, env, &["manage", "sendtestemail", to])
}

#[test]
fn sendtestemail_delivers_over_plain_smtp_and_tls() {
    let site = Site::new();
    let mut plain = SmtpServer::plain();
    let (code, out) = sendtestemail(
        &site,
        &smtp_env(plain.port, Security::None),
        "ops@example.org",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "Sent a test email to ops@example.org through the SMTP server at 127.0.0.1:{} (security: none).",
            plain.port
        )),
        "{out}"
    );
    let mail = plain.next();
    assert_eq!(mail.rcpt_tos(), ["ops@example.org"]);
    assert_eq!(mail.0["mail_from"], "ops-robot@calc.example.org");
    assert!(
        mail.subject().starts_with("Test email from "),
        "{}",
        mail.subject()
    );
    assert!(
        mail.text().contains("calcweb manage sendtestemail"),
        "{}",
        mail.text()
    );
    assert!(mail.html().contains("<html"));

    // TLS from the first byte, trusting the test's CA.
    let certs = Certs::new();
    let mut tls = SmtpServer::start(Options {
        security: Some(Security::Tls),
        certs: Some(&certs),
        ..Default::default()
    });
    let mut env = smtp_env(tls.port, Security::Tls);
    env.push(("CALCWEB_EMAIL_TLS_CA_FILE", certs.ca.display().to_string()));
    let (code, out) = sendtestemail(&site, &env, "ops@example.org");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(security: tls)"), "{out}");
    assert_eq!(tls.next().0["tls"], true);
}

#[test]
fn sendtestemail_logs_in_over_starttls_and_explains_what_fails() {
    let site = Site::new();
    let certs = Certs::new();
    let mut smtp = SmtpServer::start(Options {
        security: Some(Security::StartTls),
        certs: Some(&certs),
        login: Some(("mailer", "right-password")),
        ..Default::default()
    });
    let mut env = smtp_env(smtp.port, Security::StartTls);
    env.push(("CALCWEB_EMAIL_USER", "mailer".into()));
    let ca = ("CALCWEB_EMAIL_TLS_CA_FILE", certs.ca.display().to_string());

    // The right login, from a password file.
    let password_file = site.path().join("smtp_password");
    std::fs::write(&password_file, "right-password\n").unwrap();
    let mut good = env.clone();
    good.push(ca.clone());
    good.push((
        "CALCWEB_EMAIL_PASSWORD_FILE",
        password_file.display().to_string(),
    ));
    let (code, out) = sendtestemail(&site, &good, "ops@example.org");
    assert_eq!(code, 0, "{out}");
    let mail = smtp.next();
    assert_eq!(
        (mail.0["tls"].clone(), mail.0["authenticated"].clone()),
        (true.into(), true.into())
    );

    // A wrong password.
    let mut wrong = env.clone();
    wrong.push(ca.clone());
    wrong.push(("CALCWEB_EMAIL_PASSWORD", "wrong-password".into()));
    let (code, out) = sendtestemail(&site, &wrong, "ops@example.org");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "The SMTP server at 127.0.0.1:{} refused the login",
            smtp.port
        )),
        "{out}"
    );
    assert!(out.contains("check [email] user and password"), "{out}");
    assert!(
        !out.contains("wrong-password"),
        "the password is not shown: {out}"
    );

    // The server's certificate without its CA.
    let mut untrusted = env.clone();
    untrusted.push(("CALCWEB_EMAIL_PASSWORD", "right-password".into()));
    let (code, out) = sendtestemail(&site, &untrusted, "ops@example.org");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("The TLS connection to the SMTP server at 127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("tls_ca_file"), "{out}");

    // Nothing listens.
    let closed = free_port();
    let (code, out) = sendtestemail(&site, &smtp_env(closed, Security::None), "ops@example.org");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "Nothing answers at 127.0.0.1:{closed}: check [email] host and port"
        )),
        "{out}"
    );
    assert!(
        out.contains("The test email to ops@example.org was not sent."),
        "{out}"
    );

    // A TLS-from-the-start port spoken to as if STARTTLS: it never greets in plain text.
    let tls = SmtpServer::start(Options {
        security: Some(Security::Tls),
        certs: Some(&certs),
        ..Default::default()
    });
    let mut env = smtp_env(tls.port, Security::StartTls);
    env.push(("CALCWEB_EMAIL_TIMEOUT", "2".into()));
    let (code, out) = sendtestemail(&site, &env, "ops@example.org");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("did not answer within 2 seconds"), "{out}");
    assert!(out.contains("security = \"tls\""), "{out}");

    let (code, out) = sendtestemail(&site, &[], "not-an-address");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not an email address"), "{out}");
    assert_eq!(smtp.all().len(), 1);
}

#[test]
fn the_file_and_console_backends() {
    let site = Site::new();
    let dir = site.path().join("outbox");
    let env = [
        ("CALCWEB_EMAIL_BACKEND", "file".to_string()),
        ("CALCWEB_EMAIL_FILE_PATH", dir.display().to_string()),
    ];
    let (code, out) = sendtestemail(&site, &env, "ops@example.org");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("through a file in {}", dir.display())),
        "{out}"
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("To: ops@example.org"), "{eml}");
    assert!(eml.contains("Subject: Test email from"), "{eml}");

    let (code, out) = sendtestemail(&site, &[], "ops@example.org");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("----- email (console backend) -----"), "{out}");
    assert!(out.contains("To: ops@example.org"), "{out}");
    assert!(
        out.contains("The console backend only prints messages"),
        "{out}"
    );
}

#[test]
fn email_settings_are_checked_at_start_and_secrets_hidden() {
    let site = Site::migrated();
    let (code, out) = run(
        &site,
        &[("CALCWEB_EMAIL_SECURITY", "ssl".into())],
        &["manage", "check"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "Bad value for `email.security` in the environment variable CALCWEB_EMAIL_SECURITY: \"ssl\" is not one of none, starttls, tls."
        ),
        "{out}"
    );
    let (code, out) = run(
        &site,
        &[("CALCWEB_EMAIL_BACKEND", "smtp".into())],
        &["serve"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("needs email.host"), "{out}");

    let mut env = smtp_env(25, Security::StartTls);
    env.push(("CALCWEB_EMAIL_USER", "mailer".into()));
    env.push(("CALCWEB_EMAIL_PASSWORD", "very-secret-smtp".into()));
    let (code, out) = run(&site, &env, &["manage", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("very-secret-smtp"), "{out}");
    assert!(out.contains("password = \"***\""), "{out}");
    assert!(
        out.contains("✔ email: smtp 127.0.0.1:25 (starttls)"),
        "{out}"
    );
}

#[test]
fn manage_invite_queues_an_invitation_that_serve_delivers() {
    let site = Site::migrated();
    let mut smtp = SmtpServer::plain();
    let mut env = smtp_env(smtp.port, Security::None);
    env.push((
        "CALCWEB_SERVER_PUBLIC_URL",
        "http://calc.example.org".into(),
    ));

    let (code, out) = run(
        &site,
        &env,
        &[
            "manage",
            "invite",
            "newbie@example.org",
            "--group",
            "physics",
        ],
    );
    assert_eq!(code, 1, "registration is closed by default: {out}");
    assert!(out.contains("Invitations are off"), "{out}");

    env.push(("CALCWEB_REGISTRATION_MODE", "invite".into()));
    let (code, out) = run(
        &site,
        &env,
        &[
            "manage",
            "invite",
            "newbie@example.org",
            "--group",
            "physics",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Group \"physics\" created."), "{out}");
    assert!(
        out.contains("Invited newbie@example.org into physics; the link works for 7 days"),
        "{out}"
    );
    let link = out
        .split_whitespace()
        .find(|w| w.starts_with("http://calc.example.org/accounts/invite/"))
        .expect("the link is printed")
        .to_string();
    let queued: Vec<(String, String)> = emails::table
        .select((emails::to_addr, emails::status))
        .load(&mut site.conn())
        .unwrap();
    assert_eq!(
        queued,
        [("newbie@example.org".to_string(), "queued".to_string())]
    );
    let (code, out) = run(&site, &env, &["manage", "invite", "not-an-address"]);
    assert_eq!(code, 1, "{out}");

    // A running server's mail worker sends what commands (and supervisors) queued.
    let port = free_port();
    let mut cmd = site.calcweb();
    for (k, v) in &env {
        cmd.env(k, v);
    }
    cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"));
    let mut server = Server::start(&mut cmd);
    let summary = server.line_where(|l| l.contains("serving on"));
    assert!(
        summary.contains(&format!("email: smtp 127.0.0.1:{} (none)", smtp.port)),
        "{summary}"
    );
    let mail = smtp.next();
    assert_eq!(mail.rcpt_tos(), ["newbie@example.org"]);
    assert_eq!(
        mail.subject(),
        "You are invited to join physics on calc.example.org"
    );
    assert!(mail.text().contains(&link), "{}", mail.text());
    assert!(
        mail.text().contains("cli:"),
        "the inviter is named: {}",
        mail.text()
    );
    drop(server);
}
