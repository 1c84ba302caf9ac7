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

/// The example with its commented-out settings made live: `# key = value` lines and
/// `# [section]` / `# [[section]]` headers lose their `# `; prose comments stay comments.
fn uncommented(text: &str) -> String {
    let setting = regex::Regex::new(r"^# ?(\[\[?[a-z_.]+\]\]?|[a-z_]+ = \S.*)$").unwrap();
    text.lines()
        .map(|line| match setting.captures(line) {
            Some(c) => c[1].to_string(),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `key` ("section.name", "section.sub.name" or "name" at the top) is set in `table`,
/// in its own section; in an array of tables ([[calculators]]) the first entry counts.
fn documented(table: &toml::Table, key: &str) -> bool {
    let mut parts = key.split('.').peekable();
    let mut here = table;
    while let Some(part) = parts.next() {
        let Some(value) = here.get(part) else {
            return false;
        };
        if parts.peek().is_none() {
            return true;
        }
        here = match value {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => match items.first() {
                Some(toml::Value::Table(t)) => t,
                _ => return false,
            },
            _ => return false,
        };
    }
    false
}

#[test]
fn a_key_counts_only_in_its_own_section() {
    let text = "# Mail.\n[server]\n# port = 587\nbind = \"x\"\n[email]\n\
                # The port: port = 25 by default.\nhost = \"\"\n";
    let table: toml::Table = uncommented(text).parse().unwrap();
    assert!(
        documented(&table, "server.port"),
        "a commented setting counts"
    );
    assert!(documented(&table, "server.bind"));
    assert!(documented(&table, "email.host"));
    assert!(
        !documented(&table, "email.port"),
        "a key in another section, or inside a prose comment, does not"
    );
    assert!(!documented(&table, "port"), "nor at the top");
    assert!(!documented(&table, "nginx.host"));
}

#[test]
fn the_example_config_mentions_every_key() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/calcweb.example.toml"))
            .unwrap();
    // Every setting, the commented-out ones included, is valid TOML in its section and a key
    // of the configuration with a value of the right type (unknown keys are errors).
    let live = uncommented(&text);
    let table: toml::Table = live
        .parse()
        .unwrap_or_else(|e| panic!("the example with its settings uncommented: {e}\n{live}"));
    let config: Config = toml::from_str(&live)
        .unwrap_or_else(|e| panic!("the example's commented-out settings: {e}"));
    assert_eq!(
        config.calculators.len(),
        2,
        "the example calculator and the commented OpenQuake one"
    );
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
            "server.log_file",
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
            "metrics.token_file",
        ]
        .map(String::from),
    );
    for key in all {
        assert!(
            documented(&table, &key),
            "calcweb.example.toml does not document `{key}` in its section"
        );
    }
}
