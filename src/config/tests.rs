use super::*;

#[test]
fn env_names_map_to_sections() {
    assert_eq!(
        env_key_to_path("SERVER_ACCESS_LOG_DIR"),
        "server.access_log_dir"
    );
    assert_eq!(env_key_to_path("DATA_DIR"), "data_dir");
    assert_eq!(env_key_to_path("STATIC_ROOT"), "static.root");
    assert_eq!(env_key_to_path("DATABASE_URL"), "database.url");
    assert_eq!(env_key_to_path("SECRET_KEY"), "secret_key");
    assert_eq!(env_key_to_path("AUTH_PAM_SERVICE"), "auth.pam.service");
    assert_eq!(env_key_to_path("AUTH_BACKENDS"), "auth.backends");
    assert_eq!(
        env_key_to_path("CALCS_MAX_CONCURRENT"),
        "calcs.max_concurrent"
    );
}

#[test]
fn every_section_can_be_set_from_the_environment() {
    let toml::Value::Table(table) = toml::Value::try_from(Config::default()).unwrap() else {
        panic!()
    };
    for (key, value) in table {
        if value.is_table() {
            assert!(
                SECTIONS.contains(&key.as_str()),
                "[{key}] is missing from SECTIONS"
            );
            for (sub, v) in value.as_table().unwrap() {
                if v.is_table() {
                    assert!(
                        SUBSECTIONS.contains(&(key.as_str(), sub.as_str())),
                        "[{key}.{sub}] is missing from SUBSECTIONS"
                    );
                }
            }
        }
    }
}

#[test]
fn slurm_resources_are_checked() {
    for good in ["4G", "500M", "1024", "2t"] {
        assert!(is_slurm_mem(good), "{good}");
    }
    for bad in ["", "G", "4GB", "-1", "4 G"] {
        assert!(!is_slurm_mem(bad), "{bad}");
    }
    for good in [
        "90",
        "1:30",
        "2:00:00",
        "1-00",
        "1-2:30",
        "1-02:00:00",
        "UNLIMITED",
    ] {
        assert!(is_slurm_time(good), "{good}");
    }
    for bad in ["", "1h", "1:2:3:4", "-5", "1-", "a:00"] {
        assert!(!is_slurm_time(bad), "{bad}");
    }
    let mut config = Config::default();
    config.executor.kind = "pbs".into();
    config.calculators[0].time = "1 hour".into();
    let problems = config.problems().join("\n");
    assert!(problems.contains("executor.kind"), "{problems}");
    assert!(problems.contains("time = \"1 hour\""), "{problems}");
    assert_eq!(
        env_key_to_path("EXECUTOR_POLL_INTERVAL"),
        "executor.poll_interval"
    );
}

#[test]
fn defaults_are_valid() {
    assert!(Config::default().problems().is_empty());
}

#[test]
fn email_settings_are_checked_by_name() {
    let mut config = Config::default();
    config.email.backend = EmailBackend::Smtp;
    config.email.from = "not an address".into();
    let problems = config.problems().join("\n");
    assert!(problems.contains("needs email.host"), "{problems}");
    assert!(problems.contains("email.from"), "{problems}");
    config.email.security = EmailSecurity::Tls;
    assert_eq!(config.smtp_port(), 465);
    config.email.port = Some(2465);
    assert_eq!(config.smtp_port(), 2465);
    assert_eq!(env_key_to_path("REGISTRATION_MODE"), "registration.mode");
    assert_eq!(env_key_to_path("EMAIL_TLS_CA_FILE"), "email.tls_ca_file");
}

#[test]
fn metrics_settings_are_checked_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short-token");
    std::fs::write(&short, "zq9-x\n").unwrap();
    let mut config = Config::default();
    config.metrics.allow = vec!["10.0.0.0/8".into(), "prometheus.example".into()];
    config.metrics.token_file = Some(short);
    let problems = config.problems().join("\n");
    assert!(
        problems.contains("metrics.allow: \"prometheus.example\" is not an address"),
        "{problems}"
    );
    assert!(
        problems.contains("shorter than 16 characters"),
        "{problems}"
    );
    assert!(
        !problems.contains("zq9-x"),
        "the token is never shown: {problems}"
    );
    config.metrics.token_file = Some(dir.path().join("missing"));
    let problems = config.problems().join("\n");
    assert!(
        problems.contains("Cannot read metrics.token_file"),
        "{problems}"
    );
    assert_eq!(env_key_to_path("METRICS_TOKEN_FILE"), "metrics.token_file");
}

#[test]
fn database_passwords_are_hidden_even_in_mistyped_urls() {
    assert_eq!(
        redact_url_password("postgres://me:pw@db/x"),
        "postgres://me:***@db/x"
    );
    assert_eq!(
        redact_url_password("postgres://gres://me:s3cret-pass@db/x"),
        "postgres://***@db/x"
    );
    assert_eq!(
        redact_url_password("postgres://me@db/x"),
        "postgres://me@db/x"
    );
    assert_eq!(
        redact_url_password("sqlite://./data/calcweb.sqlite3"),
        "sqlite://./data/calcweb.sqlite3"
    );
}

#[test]
fn the_smtp_password_is_hidden() {
    let mut config = Config::default();
    config.email.password = Some("hunter2-smtp".into());
    let shown = config.to_redacted_toml();
    assert!(!shown.contains("hunter2-smtp"));
    assert!(shown.contains("password = \"***\""), "{shown}");
}

/// Choices are parsed once, at load: a value outside them is refused there, naming the key, the
/// file and the values there are.
#[test]
fn choices_outside_the_list_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calcweb.toml");
    for (toml, key, allowed) in [
        (
            "[email]\nsecurity = \"ssl\"\n",
            "email.security",
            "\"ssl\" is not one of none, starttls, tls.",
        ),
        (
            "[email]\nbackend = \"sendmail\"\n",
            "email.backend",
            "\"sendmail\" is not one of console, file, smtp.",
        ),
        (
            "[registration]\nmode = \"public\"\n",
            "registration.mode",
            "\"public\" is not one of closed, open, invite.",
        ),
        (
            "[auth]\nbackends = [\"local\", \"ldap\"]\n",
            "auth.backends.1",
            "\"ldap\" is not one of local, pam.",
        ),
        (
            "[server]\nbind = \"localhost\"\n",
            "server.bind",
            "socket address",
        ),
    ] {
        std::fs::write(&file, toml).unwrap();
        let error = Config::load(Some(&file)).unwrap_err().0;
        assert!(error.contains(&format!("`{key}`")), "{key}: {error}");
        assert!(
            error.contains(&file.display().to_string()),
            "{key}: {error}"
        );
        assert!(error.contains(allowed), "{key}: {error}");
    }
    std::fs::write(
        &file,
        "[email]\nsecurity = \"tls\"\n[server]\nbind = \"[::1]:9000\"\n",
    )
    .unwrap();
    let config = Config::load(Some(&file)).unwrap();
    assert_eq!(config.email.security, EmailSecurity::Tls);
    assert_eq!(config.server.bind, "[::1]:9000".parse().unwrap());
}

#[test]
fn notify_allow_takes_networks_addresses_and_host_names() {
    let mut config = Config::default();
    config.calcs.notify_allow = vec![
        "10.1.2.0/24".into(),
        "fd00::1".into(),
        "Hooks.Corp.example".into(),
    ];
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    let allow = NotifyAllow::parse(&config.calcs.notify_allow).unwrap();
    assert_eq!(allow.nets.len(), 2);
    assert_eq!(allow.hosts, ["hooks.corp.example"]);
    config.calcs.notify_allow.push("https://x.example/".into());
    let problems = config.problems().join("\n");
    assert!(
        problems.contains("calcs.notify_allow: \"https://x.example/\" is not a CIDR"),
        "{problems}"
    );
}

#[test]
fn memory_and_cpu_limits_are_read_and_checked() {
    let mut config = Config::default();
    config.calcs.memory_limit = Some("4 GiB".into());
    config.calcs.cpu_limit = Some(1.5);
    let mut own = CalculatorConfig::example();
    assert_eq!(own.memory_limit_bytes(&config.calcs), Some(4 << 30));
    assert_eq!(own.cpu_limit_cores(&config.calcs), Some(1.5));
    own.memory_limit = Some("512M".into());
    own.cpu_limit = Some(4.0);
    assert_eq!(own.memory_limit_bytes(&config.calcs), Some(512 << 20));
    assert_eq!(own.cpu_limit_cores(&config.calcs), Some(4.0));
    // "none" and 0 lift the default.
    own.memory_limit = Some("none".into());
    own.cpu_limit = Some(0.0);
    assert_eq!(own.memory_limit_bytes(&config.calcs), None);
    assert_eq!(own.cpu_limit_cores(&config.calcs), None);
    config.calculators = vec![own];
    let has = |config: &Config, text: &str| config.problems().iter().any(|p| p.contains(text));
    assert!(!has(&config, "limit"), "{:?}", config.problems());
    config.calcs.memory_limit = Some("lots".into());
    config.calcs.cpu_limit = Some(-1.0);
    config.calcs.limits_mechanism = "cgroups".into();
    config.calculators[0].memory_limit = Some("512".into());
    for problem in [
        "calcs.memory_limit: \"lots\" is not a size",
        "calcs.cpu_limit = -1 must be a number of cores like 1.5, or 0 for no limit.",
        "calcs.limits_mechanism = \"cgroups\" is not one of auto, cgroup, rlimit.",
        "calculators[0] (example): memory_limit = \"512\" is less than 1 MiB",
    ] {
        assert!(has(&config, problem), "{problem}: {:?}", config.problems());
    }
    config.calcs.cpu_limit = Some(1e10);
    assert!(
        has(
            &config,
            "calcs.cpu_limit = 10000000000 is more cores than a machine has"
        ),
        "{:?}",
        config.problems()
    );
}
