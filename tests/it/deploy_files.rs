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

#[test]
fn the_systemd_unit_keeps_calculations_alive_across_restarts() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/systemd/calcweb.service"
    ))
    .unwrap();
    for needed in [
        "KillMode=process",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=",
        "PrivateTmp=yes",
        "User=calcweb",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
}
