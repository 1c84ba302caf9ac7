//! The shipped deploy/ files stay true to what calcweb generates and expects.

use crate::cli::Site;

/// Lines that matter to nginx: no comments, no blank lines, no trailing spaces.
fn directives(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_commented_nginx_site_is_what_nginx_config_prints() {
    let site = Site::new();
    let config = site.path().join("example.toml");
    std::fs::write(
        &config,
        "[server]\npublic_url = \"https://calc.example.org\"\nreverse_proxy = true\n\
         [static]\nroot = \"/var/lib/calcweb/static\"\n\
         [nginx]\ntls_certificate = \"/etc/letsencrypt/live/calc.example.org/fullchain.pem\"\n\
         tls_certificate_key = \"/etc/letsencrypt/live/calc.example.org/privkey.pem\"\n",
    )
    .unwrap();
    let run = site.run(&[
        "--config",
        config.to_str().unwrap(),
        "manage",
        "nginx-config",
    ]);
    run.expect_success();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/nginx/calcweb.conf"
    ))
    .unwrap();
    assert_eq!(directives(&shipped), directives(&run.stdout));
}

#[test]
fn nginx_config_without_certificates_prints_clear_placeholders() {
    let site = Site::new();
    let run = site.run(&["manage", "nginx-config"]);
    run.expect_success();
    assert!(run.stdout.contains("CHANGE ME"), "{}", run.stdout);
    assert!(run.stdout.contains("ssl_certificate /etc/ssl/CHANGE-ME/"));
}

/// The settings of a systemd unit file, as systemd reads them: `[Section]` headers and
/// `Key=Value` lines, comments (`#`, `;`) and blank lines ignored, a trailing backslash
/// joining the next line. A key set twice keeps its last value, as in systemd.
fn unit_settings(text: &str) -> Vec<(String, String, String)> {
    let mut settings: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';'))
        {
            continue;
        }
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            pending.push(' ');
            continue;
        }
        let line = std::mem::take(&mut pending) + line;
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a setting: {line:?}"));
        settings.push((section.clone(), key.trim().into(), value.trim().into()));
    }
    settings
}

/// The value systemd uses for `key` in `section`: the last one set.
fn setting(settings: &[(String, String, String)], section: &str, key: &str) -> Option<String> {
    settings
        .iter()
        .rev()
        .find(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.clone())
}

#[test]
fn unit_settings_are_read_as_systemd_reads_them() {
    // A comment that names a setting is no setting; the last assignment wins; a setting in
    // another section is not the service's.
    let unit = "[Unit]\nKillMode=process\n[Service]\n# KillMode=process keeps them\n\
                KillMode=process\nKillMode=control-group\n; PrivateTmp=yes\n\
                ExecStart=/bin/true \\\n  --flag\n";
    let settings = unit_settings(unit);
    assert_eq!(
        setting(&settings, "Service", "KillMode").as_deref(),
        Some("control-group")
    );
    assert_eq!(setting(&settings, "Service", "PrivateTmp"), None);
    assert_eq!(
        setting(&settings, "Service", "ExecStart").as_deref(),
        Some("/bin/true  --flag")
    );
    assert_eq!(
        setting(&settings, "Unit", "KillMode").as_deref(),
        Some("process")
    );
    let commented = "[Service]\n# KillMode=process: stop only the server\nUser=calcweb\n";
    assert_eq!(
        setting(&unit_settings(commented), "Service", "KillMode"),
        None
    );
}

#[test]
fn the_systemd_unit_keeps_calculations_alive_across_restarts() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/systemd/calcweb.service"
    ))
    .unwrap();
    let settings = unit_settings(&unit);
    let service = |key: &str| setting(&settings, "Service", key);
    // Stopping or restarting the service stops the web server only, not the supervisors of
    // the calculations (the default, control-group, would kill them all).
    assert_eq!(service("KillMode").as_deref(), Some("process"));
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("User", "calcweb"),
    ] {
        assert_eq!(
            service(key).as_deref(),
            Some(value),
            "the unit's [Service] {key}"
        );
    }
    // With the file system read-only, the data and log directories must stay writable.
    let writable = service("ReadWritePaths").expect("ReadWritePaths in [Service]");
    let writable: Vec<&str> = writable.split_whitespace().collect();
    for dir in ["/var/lib/calcweb", "/var/log/calcweb"] {
        assert!(
            writable.contains(&dir),
            "{dir} in ReadWritePaths={writable:?}"
        );
    }
    assert_eq!(
        service("WorkingDirectory").as_deref(),
        Some("/var/lib/calcweb")
    );
    // The limits per calculation (calcs::limits): the service's cgroup is its own to divide,
    // the server starts in its leaf `server` (systemd >= 254), and the cgroup stays writable
    // under ProtectControlGroups.
    assert_eq!(service("Delegate").as_deref(), Some("yes"));
    assert_eq!(service("DelegateSubgroup").as_deref(), Some("server"));
    assert!(
        writable.contains(&"-/sys/fs/cgroup/system.slice/calcweb.service"),
        "the delegated cgroup in ReadWritePaths={writable:?}"
    );
}
