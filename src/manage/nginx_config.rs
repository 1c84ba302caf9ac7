//! `calcweb manage nginx-config`: a ready nginx site for calcweb behind nginx with TLS.

use clap::Args;

use crate::config::Config;

#[derive(Args)]
pub struct NginxArgs {
    /// calcweb server(s) nginx forwards to, host:port (repeatable; default: [server] bind and [nginx] upstreams)
    #[arg(long = "upstream", value_name = "HOST:PORT")]
    upstreams: Vec<String>,
    /// Port for plain HTTP, which redirects to HTTPS (default: [nginx] http_port)
    #[arg(long)]
    http_port: Option<u16>,
    /// Port for HTTPS (default: [nginx] https_port)
    #[arg(long)]
    https_port: Option<u16>,
}

pub fn run(config: &Config, args: NginxArgs) -> Result<(), String> {
    out!("{}", render(config, &args)?);
    Ok(())
}

fn render(config: &Config, args: &NginxArgs) -> Result<String, String> {
    let nginx = &config.nginx;
    let public =
        url::Url::parse(&config.public_url()).map_err(|e| format!("server.public_url: {e}"))?;
    let server_name = public.host_str().unwrap_or("localhost").to_string();
    let http_port = args.http_port.unwrap_or(nginx.http_port);
    let https_port = args.https_port.unwrap_or(nginx.https_port);
    let mut upstreams = args.upstreams.clone();
    if upstreams.is_empty() {
        upstreams = if nginx.upstreams.is_empty() {
            vec![config.server.bind.to_string()]
        } else {
            nginx.upstreams.clone()
        };
    }
    let placeholder = |kind: &str| format!("/etc/ssl/CHANGE-ME/{server_name}.{kind}");
    let (cert, key, cert_note) = match (&nginx.tls_certificate, &nginx.tls_certificate_key) {
        (Some(c), Some(k)) => (c.display().to_string(), k.display().to_string(), ""),
        _ => (
            placeholder("crt"),
            placeholder("key"),
            "    # CHANGE ME: set [nginx] tls_certificate and tls_certificate_key (e.g. from certbot).\n",
        ),
    };
    let prefix = &config.server.path_prefix;
    let static_root = config.static_root();
    let static_root = std::path::absolute(&static_root).unwrap_or(static_root);
    let static_root = static_root
        .display()
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let body_size = config.calcs.max_upload_size.div_ceil(1024 * 1024) + 1;
    let servers: String = upstreams
        .iter()
        .map(|u| format!("    server {u};\n"))
        .collect();
    let redirect_port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    Ok(format!(
        r#"# nginx site for calcweb, made by `calcweb manage nginx-config` (calcweb {version}).
# Put it in /etc/nginx/sites-available/calcweb, link it from sites-enabled, `nginx -t`, reload.
# deploy/nginx/calcweb.conf explains every line.

upstream calcweb {{
{servers}    keepalive 16;
}}

# Requests for host names that are not ours are dropped without an answer.
server {{
    listen {http_port} default_server;
    listen [::]:{http_port} default_server;
    listen {https_port} ssl default_server;
    listen [::]:{https_port} ssl default_server;
    ssl_reject_handshake on;
    return 444;
}}

server {{
    listen {http_port};
    listen [::]:{http_port};
    server_name {server_name};
    return 301 https://$host{redirect_port}$request_uri;
}}

server {{
    listen {https_port} ssl http2;
    listen [::]:{https_port} ssl http2;
    server_name {server_name};

{cert_note}    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:calcweb_tls:10m;

    # Uploads up to [calcs] max_upload_size, streamed to calcweb as they arrive.
    client_max_body_size {body_size}m;
    client_body_timeout 300s;
    proxy_request_buffering off;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;

    # Static files from the static root (`calcweb manage collectstatic`), not from calcweb.
    location {prefix}/static/ {{
        alias {static_root}/;
        access_log off;
        expires 1h;
        # Content-hashed names never change: cache them for a year.
        location ~ "\.[0-9a-f]{{12}}\.[A-Za-z0-9]+$" {{
            expires off;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
    }}

    location {prefix}/ {{
        proxy_pass http://calcweb;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        # nginx is the edge: what the client sent in these headers is replaced, not trusted.
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
    }}

    # While calcweb is stopped (updates), nginx answers with a static maintenance page.
    error_page 502 503 504 =503 /calcweb-maintenance.html;
    location = /calcweb-maintenance.html {{
        internal;
        alias {static_root}/maintenance.html;
        add_header Retry-After 300 always;
    }}
}}
"#,
        version = crate::VERSION,
    ))
}
