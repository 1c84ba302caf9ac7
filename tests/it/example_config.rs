//! calcweb.example.toml must stay a true, complete description of the configuration.

use calcweb::Config;

fn keys(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
    if let toml::Value::Table(table) = value {
        for (k, v) in table {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(_) => keys(&path, v, out),
                // An array of tables ([[calculators]]): its entries share one set of keys.
                toml::Value::Array(items) if items.first().is_some_and(toml::Value::is_table) => {
                    keys(&path, &items[0], out)
                }
                _ => out.push(path),
            }
        }
    }
}

#[test]
fn the_example_config_loads_and_matches_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calcweb.example.toml");
    let loaded = Config::load(Some(&path)).expect("the example config is valid");
    let shown = toml::to_string(&loaded).unwrap();
    assert_eq!(
        shown,
        toml::to_string(&Config::default()).unwrap(),
        "the example's values are the defaults"
    );
}

#[test]
fn the_example_config_mentions_every_key() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/calcweb.example.toml"))
            .unwrap();
    // Optional keys are absent from the serialized defaults, so list them explicitly too.
    let mut all = Vec::new();
    keys(
        "",
        &toml::Value::try_from(Config::default()).unwrap(),
        &mut all,
    );
    all.extend(
        [
            "secret_key",
            "secret_key_file",
            "server.public_url",
            "server.access_log_dir",
            "database.url",
            "static.root",
            "email.file_path",
            "email.port",
            "email.password",
            "email.password_file",
            "email.tls_ca_file",
            "server.tls_cert",
            "server.tls_key",
            "nginx.tls_certificate",
            "nginx.tls_certificate_key",
        ]
        .map(String::from),
    );
    for key in all {
        let name = key.rsplit('.').next().unwrap();
        let section = key.split_once('.').map(|(s, _)| s);
        assert!(
            text.contains(&format!("{name} =")),
            "calcweb.example.toml does not document `{key}`"
        );
        if let Some(section) = section {
            assert!(
                text.contains(&format!("[{section}]")),
                "no [{section}] section"
            );
        }
    }
}
