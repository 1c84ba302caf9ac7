//! A real SMTP server on loopback for the email tests: aiosmtpd (Debian's python3-aiosmtpd),
//! plain, with STARTTLS or with TLS from the first byte, optionally with a login, and a
//! certificate from a private CA that the test makes with openssl. Every message it accepts is
//! saved as JSON (envelope, headers, and the text and HTML parts decoded by Python's email
//! package). Killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Long enough for anything here; only a guard against a hang.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

const SERVER_PY: &str = r#"
import email, email.policy, json, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cfg = json.loads(sys.argv[1])
out = cfg["dir"]
count = [0]

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for prefix in cfg.get("reject", []):
            if address.startswith(prefix):
                return "550 5.1.1 No such user here"
        for prefix in cfg.get("defer", []):
            if address.startswith(prefix):
                return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        def part(kind):
            body = msg.get_body((kind,))
            return body.get_content() if body is not None else None
        count[0] += 1
        name = os.path.join(out, "%06d" % count[0])
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "content_type": msg.get_content_type(),
            "headers": {k: str(v) for k, v in msg.items()},
            "text": part("plain"),
            "html": part("html"),
            "tls": session.ssl is not None
                   or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
        }
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name + ".json")
        return "250 Message accepted for delivery"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == cfg["user"]
          and auth_data.password.decode() == cfg["password"])
    # handled=False: aiosmtpd answers 535 itself.
    return AuthResult(success=ok, handled=False)

mode = cfg.get("mode", "none")
context = None
if mode != "none":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cfg["cert"], cfg["key"])
kwargs = {}
if mode == "starttls":
    kwargs["tls_context"] = context
    kwargs["require_starttls"] = True
if cfg.get("user"):
    kwargs["authenticator"] = authenticator
    kwargs["auth_required"] = True
    kwargs["auth_require_tls"] = mode != "none"
controller = Controller(Handler(), hostname="127.0.0.1", port=cfg["port"],
                        ssl_context=context if mode == "tls" else None, **kwargs)
controller.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
"#;

/// The Python that has aiosmtpd: `python3` on the PATH may be another one (pyenv).
fn python() -> String {
    for candidate in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate.into();
        }
    }
    panic!("no python3 with aiosmtpd: install the Debian package python3-aiosmtpd");
}

/// A private CA and a server certificate for 127.0.0.1 and localhost it signed.
pub(crate) struct Certs {
    _dir: TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (apt install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    pub(crate) fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=calcweb test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(d, &ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(d, &csr);
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        Certs {
            ca: d.join("ca.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            _dir: dir,
        }
    }
}

/// How the test server is reached.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Security {
    None,
    StartTls,
    Tls,
}

impl Security {
    /// The `[email] security` setting for this server.
    pub(crate) fn setting(self) -> calcweb::config::EmailSecurity {
        use calcweb::config::EmailSecurity;
        match self {
            Security::None => EmailSecurity::None,
            Security::StartTls => EmailSecurity::Starttls,
            Security::Tls => EmailSecurity::Tls,
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::StartTls => "starttls",
            Security::Tls => "tls",
        }
    }
}

#[derive(Default)]
pub(crate) struct Options<'a> {
    pub security: Option<Security>,
    pub certs: Option<&'a Certs>,
    /// Require this login.
    pub login: Option<(&'a str, &'a str)>,
    /// Recipients starting with these get 550.
    pub reject: &'a [&'a str],
    /// Recipients starting with these get 451.
    pub defer: &'a [&'a str],
    /// Listen on this port (default: a free one).
    pub port: Option<u16>,
}

/// One received message.
#[derive(Debug, Clone)]
pub(crate) struct Received(pub Value);

impl Received {
    pub fn subject(&self) -> &str {
        self.0["subject"].as_str().unwrap_or("")
    }
    pub fn text(&self) -> &str {
        self.0["text"].as_str().unwrap_or("")
    }
    pub fn html(&self) -> &str {
        self.0["html"].as_str().unwrap_or("")
    }
    pub fn rcpt_tos(&self) -> Vec<String> {
        self.0["rcpt_tos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0["headers"]
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let text = self.text();
        let start = text
            .find(prefix)
            .unwrap_or_else(|| panic!("no link {prefix} in:\n{text}"));
        text[start..].split_whitespace().next().unwrap().to_string()
    }
}

pub(crate) struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: TempDir,
    seen: usize,
}

impl SmtpServer {
    pub(crate) fn plain() -> SmtpServer {
        SmtpServer::start(Options::default())
    }

    pub(crate) fn start(options: Options) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let port = options.port.unwrap_or_else(crate::cli::free_port);
        let security = options.security.unwrap_or(Security::None);
        let mut cfg = serde_json::json!({
            "dir": dir.path(),
            "port": port,
            "mode": security.word(),
            "reject": options.reject,
            "defer": options.defer,
        });
        if let Some(certs) = options.certs {
            cfg["cert"] = certs.cert.to_string_lossy().into();
            cfg["key"] = certs.key.to_string_lossy().into();
        }
        if let Some((user, password)) = options.login {
            cfg["user"] = user.into();
            cfg["password"] = password.into();
        }
        let script = dir.path().join("smtp_server.py");
        std::fs::write(&script, SERVER_PY).unwrap();
        let mut child = Command::new(python())
            .arg(&script)
            .arg(cfg.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the test SMTP server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        match rx.recv_timeout(WAIT) {
            Ok(line) if line == "READY" => {}
            other => {
                let _ = child.kill();
                panic!("the test SMTP server did not start: {other:?}");
            }
        }
        SmtpServer {
            child,
            port,
            dir,
            seen: 0,
        }
    }

    /// Every message received so far, oldest first.
    pub(crate) fn all(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| Received(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()))
            .collect()
    }

    /// Waits for the next message not returned before.
    pub(crate) fn next(&mut self) -> Received {
        let deadline = Instant::now() + WAIT;
        loop {
            let all = self.all();
            if all.len() > self.seen {
                self.seen += 1;
                return all[self.seen - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no email arrived at the test SMTP server"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
