//! Email: how messages are delivered (`[email] backend`: console, file or SMTP), the messages
//! calcweb writes (askama templates under templates/email/, a text and an HTML part each), and
//! the outbox worker that sends them in the background.
//!
//! Nothing that answers a request talks to a mail server: pages (and calculation supervisors)
//! put messages into the outbox table (`models::email`), and the worker of a running server
//! sends them, retrying what failed for a passing reason. Only `manage sendtestemail` sends
//! directly, to report the outcome at once.
//!
//! An SMTP failure is put in plain words by [`smtp_errors::explain`].

pub mod limit;
pub mod messages;
pub mod retention_notice;
pub mod smtp_errors;
pub mod worker;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use crate::config::{Config, EmailBackend, EmailSecurity};
pub use crate::models::email::Outgoing;

/// Where and how messages go.
pub enum Mailer {
    /// Printed on standard output (development).
    Console { from: Mailbox },
    /// One `.eml` file per message in `dir`, written whole before it gets its name.
    File { from: Mailbox, dir: PathBuf },
    Smtp {
        from: Mailbox,
        server: SmtpServer,
        transport: SmtpTransport,
    },
}

/// The SMTP server as configured, for messages.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: EmailSecurity,
    pub timeout: u64,
    /// The login name; "" = no login.
    pub user: String,
}

impl SmtpServer {
    fn at(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why a message was not delivered, in plain words, and whether trying later may work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// A connection problem, a timeout, a 4xx reply, a login refused (fixable in the config
    /// without losing the mail): worth another attempt. Otherwise (5xx, a bad address): not.
    pub transient: bool,
}

impl SendError {
    fn permanent(message: String) -> SendError {
        SendError {
            message,
            transient: false,
        }
    }

    fn transient(message: String) -> SendError {
        SendError {
            message,
            transient: true,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834), so vacation responders stay quiet.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// One line describing the email setup, for the `serve` summary and `sendtestemail`.
pub fn describe(config: &Config) -> String {
    match config.email.backend {
        EmailBackend::Smtp => format!(
            "smtp {}:{} ({})",
            config.email.host,
            config.smtp_port(),
            config.email.security
        ),
        EmailBackend::File => format!("file {}", config.mail_dir().display()),
        EmailBackend::Console => "console".into(),
    }
}

fn read_secret_file(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
        .map_err(|e| format!("Cannot read email.password_file = {}: {e}.", path.display()))
}

impl Mailer {
    /// Builds the mailer of `[email]`: reads the password file and the CA file, creates the
    /// file backend's directory. Every problem is a sentence naming the key.
    pub fn from_config(config: &Config) -> Result<Mailer, String> {
        let email = &config.email;
        let from: Mailbox = email.from.parse().map_err(|e| {
            format!(
                "email.from = {:?} is not an email address ({e}).",
                email.from
            )
        })?;
        match email.backend {
            EmailBackend::Console => Ok(Mailer::Console { from }),
            EmailBackend::File => {
                let dir = config.mail_dir();
                std::fs::create_dir_all(&dir).map_err(|e| {
                    format!(
                        "Cannot create the mail directory {} ([email] file_path): {e}.",
                        dir.display()
                    )
                })?;
                Ok(Mailer::File { from, dir })
            }
            EmailBackend::Smtp => Mailer::smtp(config, from),
        }
    }

    fn smtp(config: &Config, from: Mailbox) -> Result<Mailer, String> {
        let email = &config.email;
        // Config::problems made sure there is one.
        let host = email.host.trim().to_string();
        let server = SmtpServer {
            host: host.clone(),
            port: config.smtp_port(),
            security: email.security,
            timeout: email.timeout.max(1),
            user: email.user.clone(),
        };
        let tls_parameters = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(host.clone());
            if let Some(path) = &email.tls_ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    format!("Cannot read email.tls_ca_file = {}: {e}.", path.display())
                })?;
                let has_cert =
                    String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----");
                let cert = Certificate::from_pem(&pem)
                    .ok()
                    .filter(|_| has_cert)
                    .ok_or_else(|| {
                        format!(
                            "email.tls_ca_file = {} holds no PEM certificate (-----BEGIN CERTIFICATE-----).",
                            path.display()
                        )
                    })?;
                builder = builder.add_root_certificate(cert);
            }
            builder
                .build_rustls()
                .map_err(|e| format!("Cannot set up TLS for {host}: {e}."))
        };
        let tls = match email.security {
            EmailSecurity::None => Tls::None,
            EmailSecurity::Starttls => Tls::Required(tls_parameters()?),
            EmailSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = SmtpTransport::builder_dangerous(&host)
            .port(server.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(server.timeout)));
        if !email.user.is_empty() {
            let password = match (&email.password, &email.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(file)) => read_secret_file(file)?,
                (None, None) => String::new(),
            };
            builder = builder.credentials(Credentials::new(email.user.clone(), password));
        }
        Ok(Mailer::Smtp {
            from,
            server,
            transport: builder.build(),
        })
    }

    /// Delivers one message now (blocking: call it from the worker or a command).
    pub fn send(&self, message: &Outgoing) -> Result<(), SendError> {
        match self {
            Mailer::Console { from } => {
                let built = build(from, message)?;
                print_to_console(from, message, &built);
                Ok(())
            }
            Mailer::File { from, dir } => {
                let built = build(from, message)?;
                write_eml(dir, &built.formatted()).map_err(|e| {
                    SendError::transient(format!(
                        "Cannot write the message into {} ([email] file_path): {e}.",
                        dir.display()
                    ))
                })
            }
            Mailer::Smtp {
                from,
                server,
                transport,
            } => {
                let built = build(from, message)?;
                transport
                    .send(&built)
                    .map(|_| ())
                    .map_err(|e| smtp_errors::explain(&e, server))
            }
        }
    }

    /// Where messages go, in words: "the SMTP server at HOST:PORT", ...
    pub fn destination(&self) -> String {
        match self {
            Mailer::Console { .. } => "standard output (console backend)".into(),
            Mailer::File { dir, .. } => format!("a file in {}", dir.display()),
            Mailer::Smtp { server, .. } => format!(
                "the SMTP server at {} (security: {})",
                server.at(),
                server.security
            ),
        }
    }
}

/// The lettre message: From, To, Subject, Date, Message-ID, Auto-Submitted, and the text and
/// HTML versions as multipart/alternative.
pub fn build(from: &Mailbox, message: &Outgoing) -> Result<lettre::Message, SendError> {
    let to: Mailbox = message.to.trim().parse().map_err(|_| {
        SendError::permanent(format!("{:?} is not a valid email address.", message.to))
    })?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone())
        .message_id(None)
        .header(AutoSubmitted)
        .multipart(MultiPart::alternative_plain_html(
            message.text.clone(),
            message.html.clone(),
        ))
        .map_err(|e| SendError::permanent(format!("The message could not be built: {e}.")))
}

fn print_to_console(from: &Mailbox, message: &Outgoing, _built: &lettre::Message) {
    use std::io::Write;
    let text = format!(
        "----- email (console backend) -----\nFrom: {from}\nTo: {}\nSubject: {}\n\n{}\n----- end of email -----\n",
        message.to,
        message.subject,
        message.text.trim_end()
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Whether `text` is a plain email address (`name@example.org`).
pub fn is_address(text: &str) -> bool {
    let text = text.trim();
    text.len() <= 254 && text.parse::<lettre::Address>().is_ok()
}

/// Writes one message as `<random>.eml` in `dir`: into a hidden temporary file first, renamed
/// once complete, so whatever watches the directory (a test, a mail pickup) never reads half a
/// message (lettre's FileTransport writes the `.eml` in place).
fn write_eml(dir: &std::path::Path, message: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix(".")
        .suffix(".eml.part")
        .tempfile_in(dir)?;
    file.write_all(message)?;
    file.as_file().sync_all()?;
    let name = format!("{:032x}.eml", rand::random::<u128>());
    file.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}
