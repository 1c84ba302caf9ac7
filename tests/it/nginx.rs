//! Production shape, for real: Debian's nginx on loopback with the site `calcweb manage
//! nginx-config` prints and a self-signed certificate, in front of two `calcweb serve`
//! processes sharing one database and one data directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calcweb::models::{NewUser, User};
use serde_json::Value;

use crate::calcs::{job_ini, zip_of};
use crate::cli::{Server, Site, free_port};

const PASSWORD: &str = "nginx-test-passphrase";

/// nginx running in the foreground from a test directory; stopped when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn start(dir: &Path, site_conf: &str) -> Nginx {
        let tmp = dir.join("nginx-tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let user = if nix::unistd::Uid::effective().is_root() {
            "user root;"
        } else {
            ""
        };
        let d = dir.display();
        let conf = format!(
            "daemon off;\n{user}\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\n\
             events {{ worker_connections 128; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/nginx-access.log;\n\
               client_body_temp_path {d}/nginx-tmp/body;\n  proxy_temp_path {d}/nginx-tmp/proxy;\n\
               fastcgi_temp_path {d}/nginx-tmp/fastcgi;\n  uwsgi_temp_path {d}/nginx-tmp/uwsgi;\n\
               scgi_temp_path {d}/nginx-tmp/scgi;\n  include {d}/site.conf;\n}}\n"
        );
        std::fs::write(dir.join("site.conf"), site_conf).unwrap();
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let nginx = which_nginx();
        let check = Command::new(&nginx)
            .args(["-t", "-p"])
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start nginx");
        Nginx {
            child,
            dir: dir.to_path_buf(),
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nginx-error.log")).unwrap_or_default()
    }
}

fn which_nginx() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("nginx is needed: apt-get install nginx-light (scripts/test installs it)");
}

/// Waits until `port` accepts connections (hang guard only).
fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Deployment {
    site: Site,
    config: PathBuf,
    https: u16,
    http: u16,
    apps: [u16; 2],
    cert: Vec<u8>,
}

fn deploy() -> Deployment {
    let site = Site::migrated();
    let dir = site.path().to_path_buf();
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        // A leaf certificate (not a CA), which TLS clients accept as a pinned root.
        .args([
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .args(["-addext", "extendedKeyUsage=serverAuth", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed");
    assert!(ok.success());
    let (https, http, apps) = (free_port(), free_port(), [free_port(), free_port()]);
    let config = dir.join("calcweb.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\npublic_url = \"https://localhost:{https}\"\nreverse_proxy = true\n\
             [static]\nroot = \"{d}/static\"\n\
             [nginx]\ntls_certificate = \"{d}/cert.pem\"\ntls_certificate_key = \"{d}/key.pem\"\n\
             [calcs]\nkill_grace = 1\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let mut conn = site.conn();
    let new = NewUser {
        username: "alice".into(),
        email: "alice@example.org".into(),
        password_hash: calcweb::auth::password::hash(PASSWORD),
        level: 1,
        ..Default::default()
    };
    User::create(&mut conn, &new).unwrap();
    site.run(&[
        "--config",
        config.to_str().unwrap(),
        "manage",
        "collectstatic",
    ])
    .expect_success();
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();
    Deployment {
        site,
        config,
        https,
        http,
        apps,
        cert,
    }
}

impl Deployment {
    fn serve(&self, port: u16) -> Server {
        let mut cmd = self.site.calcweb();
        cmd.arg("--config")
            .arg(&self.config)
            .env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"));
        let mut server = Server::start(&mut cmd);
        server.line_where(|l| l.contains("serving on"));
        server
    }

    fn nginx(&self) -> Nginx {
        let mut args = vec![
            "--config".to_string(),
            self.config.display().to_string(),
            "manage".into(),
            "nginx-config".into(),
        ];
        for port in self.apps {
            args.extend(["--upstream".into(), format!("127.0.0.1:{port}")]);
        }
        args.extend([
            "--http-port".into(),
            self.http.to_string(),
            "--https-port".into(),
            self.https.to_string(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = self.site.run(&args);
        run.expect_success();
        let nginx = Nginx::start(self.site.path(), &run.stdout);
        wait_port(self.https);
        nginx
    }

    /// A browser that trusts the test certificate and reaches localhost over IPv4.
    fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.cert).unwrap())
            .resolve("localhost", ([127, 0, 0, 1], self.https).into())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https)
    }

    fn access_log_with(&self, wanted: impl Fn(&str) -> bool) -> String {
        crate::support::wait_for_line(&self.site.path().join("logs/webui-access.log"), wanted)
    }
}

/// A logged-in client (through nginx), and its CSRF token.
async fn login(d: &Deployment, client: &reqwest::Client) -> reqwest::Response {
    let page = client
        .get(d.url("/accounts/login/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let re = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#).unwrap();
    let token = re.captures(&page).expect("a CSRF field")[1].to_string();
    client
        .post(d.url("/accounts/login/"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn behind_nginx_with_two_instances() {
    let d = deploy();
    let _app1 = d.serve(d.apps[0]);
    let app2 = d.serve(d.apps[1]);
    let nginx = d.nginx();
    let client = d.browser();

    // Static files come from nginx (calcweb itself answers 404 for them in this mode).
    let page = client.get(d.url("/accounts/login/")).send().await.unwrap();
    assert_eq!(page.status(), 200, "{}", nginx.error_log());
    let page = page.text().await.unwrap();
    let css = regex::Regex::new(r"/static/css/calcweb\.[0-9a-f]{12}\.css")
        .unwrap()
        .find(&page)
        .unwrap()
        .as_str()
        .to_string();
    let res = client.get(d.url(&css)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let direct = reqwest::get(format!("http://127.0.0.1:{}{css}", d.apps[0]))
        .await
        .unwrap();
    assert_eq!(direct.status(), 404, "the app leaves /static/ to nginx");

    // Plain HTTP redirects to HTTPS; an unknown host name gets no answer at all.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain
        .get(format!("http://127.0.0.1:{}/engine/", d.http))
        .header("host", "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(
        res.headers()["location"],
        format!("https://localhost:{}/engine/", d.https).as_str()
    );
    let unknown = plain
        .get(format!("http://127.0.0.1:{}/", d.http))
        .header("host", "evil.example")
        .send()
        .await;
    assert!(
        unknown.is_err(),
        "444 closes the connection without a response"
    );

    // A client-sent X-Forwarded-For is ignored: the log names the address nginx saw.
    let token_page = client
        .get(d.url("/accounts/login/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#)
        .unwrap()
        .captures(&token_page)
        .unwrap()[1]
        .to_string();
    client
        .post(d.url("/accounts/login/"))
        .header("x-forwarded-for", "192.0.2.66")
        .form(&[
            ("username", "alice"),
            ("password", "wrong"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let log = d.access_log_with(|l| l.contains("WARN auth.fail ip=127.0.0.1 "));
    assert!(!log.contains("192.0.2.66"), "{log}");

    // Login over https sets a Secure cookie, with the __Host- prefix.
    let res = login(&d, &client).await;
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-calcweb_session="))
        .unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();

    // The session works on both instances directly.
    for port in d.apps {
        let res = plain
            .get(format!("http://127.0.0.1:{port}/engine/"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "instance on {port}");
        assert!(res.text().await.unwrap().contains("alice"));
    }

    // A calculation started through one instance is seen and aborted through the other.
    let form = reqwest::multipart::Form::new().part(
        "archive",
        reqwest::multipart::Part::bytes(zip_of(&[("job.ini", &job_ini(1000, 0.05, ""))]))
            .file_name("job.zip"),
    );
    let run = plain
        .post(format!("http://127.0.0.1:{}/v1/calc/run", d.apps[0]))
        .header("cookie", &session)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    let id = run.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    let status_on = |port: u16| {
        let (plain, session) = (plain.clone(), session.clone());
        async move {
            plain
                .get(format!("http://127.0.0.1:{port}/v1/calc/{id}/status"))
                .header("cookie", session)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_on(d.apps[1]).await != "executing" {
        assert!(Instant::now() < deadline, "never executing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let abort = plain
        .post(format!("http://127.0.0.1:{}/v1/calc/{id}/abort", d.apps[1]))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(abort.status(), 200);
    while status_on(d.apps[0]).await != "aborted" {
        assert!(Instant::now() < deadline, "never aborted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Maintenance switched on once shows on both instances.
    let now = time::OffsetDateTime::now_utc();
    let hhmm = format!("{:02}:{:02}", now.hour(), now.minute());
    d.site
        .run(&[
            "--config",
            d.config.to_str().unwrap(),
            "manage",
            "maintenance",
            "on",
            &hhmm,
            "--message",
            "disk swap",
            "--yes",
        ])
        .expect_success();
    for port in d.apps {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let res = plain
                .get(format!("http://127.0.0.1:{port}/engine/"))
                .header("cookie", &session)
                .send()
                .await
                .unwrap();
            if res.status() == 503 {
                assert!(res.headers().contains_key("retry-after"));
                assert!(res.text().await.unwrap().contains("disk swap"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "maintenance never reached the instance on {port}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    d.site
        .run(&[
            "--config",
            d.config.to_str().unwrap(),
            "manage",
            "maintenance",
            "off",
        ])
        .expect_success();

    // With calcweb stopped, nginx serves the static maintenance page.
    drop(_app1);
    let (status, _) = app2.stop();
    assert!(status.success());
    let res = client.get(d.url("/engine/")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("Down for maintenance"));
    drop(nginx);
}
