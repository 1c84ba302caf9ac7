//! "Firefox 133 on Linux" for a raw User-Agent header, as the session lists show it (woothee's
//! dataset of browsers, systems and crawlers); pages keep the raw string in the title.

use woothee::parser::Parser;
use woothee::woothee::VALUE_UNKNOWN;

/// The browser, its major version and the system, in a person's words; for a client woothee
/// does not know (curl, a script), its first product token.
pub fn describe(user_agent: &str) -> String {
    let user_agent = user_agent.trim();
    if user_agent.is_empty() {
        return "unknown browser".into();
    }
    // woothee's "misc" are libraries and tools ("HTTP Library" for curl): their own token says
    // more.
    let Some(found) = Parser::new()
        .parse(user_agent)
        .filter(|r| r.name != VALUE_UNKNOWN && r.category != "misc")
    else {
        return first_product(user_agent);
    };
    let major = found.version.split('.').next().unwrap_or_default();
    let browser = if major.is_empty() || major == VALUE_UNKNOWN {
        found.name.to_string()
    } else {
        format!("{} {major}", found.name)
    };
    if found.os == VALUE_UNKNOWN || found.os.is_empty() {
        browser
    } else {
        format!("{browser} on {}", found.os)
    }
}

/// `curl/8.5.0 (x86_64)` → `curl 8.5.0`, cut to a length a table cell can show.
fn first_product(user_agent: &str) -> String {
    let token = user_agent.split_whitespace().next().unwrap_or(user_agent);
    let text = token.replacen('/', " ", 1);
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn browsers_read_as_people_name_them() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox 133 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 on Windows 10",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari 17 on iPhone",
            ),
            ("curl/8.5.0", "curl 8.5.0"),
            ("python-requests/2.31.0", "python-requests 2.31.0"),
            ("", "unknown browser"),
        ];
        for (raw, shown) in cases {
            assert_eq!(describe(raw), shown, "{raw}");
        }
    }

    #[test]
    fn an_unknown_long_token_is_cut() {
        let long = "x".repeat(300);
        let shown = describe(&long);
        assert_eq!(shown.chars().count(), 41);
        assert!(shown.ends_with('…'));
    }
}
