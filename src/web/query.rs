//! Query strings of the list pages (/engine/ and /admin/): the values a filter form sent,
//! trimmed, and the links back to a list with its filters, sort and page.

/// A query value as typed, trimmed; "" when absent.
pub fn text(value: &Option<String>) -> String {
    value.as_deref().unwrap_or("").trim().to_string()
}

/// `a=1&b=x` from the pairs whose value is not empty.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(k, v);
    }
    out.finish()
}

/// Appends `extra` to a query string that may be empty; the result starts with `?`.
pub fn with_query(base: &str, extra: &str) -> String {
    match (base.is_empty(), extra.is_empty()) {
        (true, true) => "?".into(),
        (true, false) => format!("?{extra}"),
        (false, true) => format!("?{base}"),
        (false, false) => format!("?{base}&{extra}"),
    }
}

/// The query string of a list without its page: the filters, then `sort=` unless the list is
/// in its default order.
pub fn with_sort(filters: &str, sort: &str, default_sort: &str) -> String {
    let sorted = query_string(&[("sort", if sort == default_sort { "" } else { sort })]);
    with_query(filters, &sorted)
        .trim_start_matches('?')
        .to_string()
}

/// The query string a sortable column header links to: a click on the sorted column flips
/// it; another column starts ascending, or descending for `newest_first` ones (ids, times).
pub fn sort_link(filters: &str, current: &str, key: &str, newest_first: &[&str]) -> String {
    let next = if current == key {
        format!("-{key}")
    } else if current.strip_prefix('-') == Some(key) || !newest_first.contains(&key) {
        key.to_string()
    } else {
        format!("-{key}")
    };
    with_query(filters, &format!("sort={next}"))
}

/// How `key` is sorted now, as `aria-sort` says it: "ascending", "descending" or "none".
pub fn sort_state(current: &str, key: &str) -> &'static str {
    if current == key {
        "ascending"
    } else if current.strip_prefix('-') == Some(key) {
        "descending"
    } else {
        "none"
    }
}

/// The arrow after a sorted column's name.
pub fn sort_mark(current: &str, key: &str) -> &'static str {
    match sort_state(current, key) {
        "ascending" => " ▲",
        "descending" => " ▼",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_headers_flip_and_start_newest_first_where_asked() {
        let newest = &["id"];
        assert_eq!(sort_link("q=x", "-id", "id", newest), "?q=x&sort=id");
        assert_eq!(sort_link("", "id", "id", newest), "?sort=-id");
        assert_eq!(sort_link("", "-id", "user", newest), "?sort=user");
        assert_eq!(sort_link("", "user", "id", newest), "?sort=-id");
        assert_eq!(sort_link("", "user", "id", &[]), "?sort=id");
        assert_eq!(sort_state("-id", "id"), "descending");
        assert_eq!(sort_state("id", "id"), "ascending");
        assert_eq!(sort_state("id", "user"), "none");
        assert_eq!(sort_mark("-id", "id"), " ▼");
        assert_eq!(sort_mark("user", "user"), " ▲");
        assert_eq!(sort_mark("user", "id"), "");
    }

    #[test]
    fn queries_skip_empty_values() {
        assert_eq!(query_string(&[("q", "a b"), ("active", "")]), "q=a+b");
        assert_eq!(with_query("", ""), "?");
        assert_eq!(with_query("", "page=2"), "?page=2");
        assert_eq!(with_query("q=x", "page=2"), "?q=x&page=2");
        assert_eq!(text(&Some("  a b ".into())), "a b");
        assert_eq!(text(&None), "");
    }

    #[test]
    fn the_default_sort_is_left_out() {
        assert_eq!(with_sort("q=x", "-id", "-id"), "q=x");
        assert_eq!(with_sort("q=x", "user", "-id"), "q=x&sort=user");
        assert_eq!(with_sort("", "-user", "-id"), "sort=-user");
        assert_eq!(with_sort("", "-id", "-id"), "");
    }
}
