//! Pages of list results (50 a page, `?page=N`) and whitelisted `?sort=` keys.

/// Rows per page on every admin list.
pub const PER_PAGE: i64 = 50;

/// One page of a list, with the total so the page links can be drawn.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

impl<T> Paged<T> {
    /// Page `page` of a list of `total` rows, PER_PAGE a page.
    pub fn new(items: Vec<T>, total: i64, page: i64) -> Paged<T> {
        Paged {
            items,
            total,
            page,
            per_page: PER_PAGE,
        }
    }

    pub fn pages(&self) -> i64 {
        page_count(self.total, self.per_page)
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.pages()
    }
}

/// How many pages `total` rows fill, `per_page` a page; 1 for none.
pub fn page_count(total: i64, per_page: i64) -> i64 {
    ((total + per_page - 1) / per_page).max(1)
}

/// A requested page number, clamped to 1 or more (bad input shows the first page).
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
        .min(1_000_000)
}

pub fn offset(page: i64) -> i64 {
    (page - 1) * PER_PAGE
}

/// `sort=key` or `sort=-key` (descending), only for keys in `allowed`; else the default.
/// Returns the key and whether it is descending.
pub fn parse_sort<'a>(raw: Option<&str>, allowed: &[&'a str], default: &'a str) -> (&'a str, bool) {
    let raw = raw.unwrap_or("").trim();
    let (desc, key) = match raw.strip_prefix('-') {
        Some(key) => (true, key),
        None => (false, raw),
    };
    match allowed.iter().find(|k| **k == key) {
        Some(key) => (key, desc),
        None => (default, false),
    }
}

/// `%term%` for LIKE, with the wildcards `%`, `_` and the escape `\` in `term` taken literally.
pub fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

diesel::define_sql_function! {
    /// SQL lower(); used on both sides of LIKE so searches ignore case on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `lower(column) LIKE lower('%term%') ESCAPE '\'`: a case-insensitive "contains" that works the
/// same on SQLite and PostgreSQL.
#[macro_export]
macro_rules! icontains {
    ($column:expr, $term:expr) => {{
        use diesel::expression_methods::{EscapeExpressionMethods, TextExpressionMethods};
        $crate::models::paging::lower($column)
            .like($crate::models::paging::lower(
                $crate::models::paging::contains_pattern($term),
            ))
            .escape('\\')
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_are_whitelisted() {
        let keys = ["username", "email"];
        assert_eq!(
            parse_sort(Some("-email"), &keys, "username"),
            ("email", true)
        );
        assert_eq!(
            parse_sort(Some("email"), &keys, "username"),
            ("email", false)
        );
        assert_eq!(
            parse_sort(Some("password_hash"), &keys, "username"),
            ("username", false)
        );
        assert_eq!(parse_sort(None, &keys, "username"), ("username", false));
    }

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn page_numbers() {
        assert_eq!(page_number(Some("3")), 3);
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("x")), 1);
        assert_eq!(offset(2), 50);
    }
}
