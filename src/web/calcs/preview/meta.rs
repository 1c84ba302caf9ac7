//! Leading `#` lines of a CSV: metadata, never header or data. The OpenQuake engine writes
//! one as `#,,,,"generated_by='OpenQuake engine 3.26.2', checksum=1, kind='mean'"` (its
//! `baselib/writers.write_csv`: Python `name=repr(value)` pairs in the last cell); any other
//! `#` line is kept as a note.

/// What the leading `#` lines of a file say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// `name = value` pairs, in the file's order.
    pub facts: Vec<(String, String)>,
    /// `#` lines that are not `name=value` pairs, without the `#`.
    pub notes: Vec<String>,
}

impl Meta {
    /// Takes in one `#` record (its cells as the CSV reader split them).
    pub fn add_record(&mut self, cells: &[String]) {
        let first = cells.first().map_or("", |c| c.trim_start());
        let first = first.strip_prefix('#').unwrap_or(first);
        let mut text = String::from(first);
        for cell in cells.iter().skip(1) {
            text.push(',');
            text.push_str(cell);
        }
        let text = text.trim_matches(|c: char| c == ',' || c.is_whitespace());
        if text.is_empty() {
            return;
        }
        match parse_pairs(text) {
            Some(pairs) => self.facts.extend(pairs),
            None => self.notes.push(text.to_string()),
        }
    }

    /// The value of a fact, e.g. `imt`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.facts.is_empty() && self.notes.is_empty()
    }
}

/// `a='x, y', b=1.0, c=[1, 2]` -> [(a, x, y), (b, 1.0), (c, [1, 2])]; None unless the whole
/// text is such pairs.
fn parse_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        let ident = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return None;
        }
        let (value, after) = split_value(&rest[eq + 1..])?;
        pairs.push((name.to_string(), value));
        rest = after.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return None;
        }
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// One Python repr up to the next top-level comma: a quoted string (unquoted and unescaped)
/// or anything else as written (numbers, None, lists...). Returns it and what follows.
fn split_value(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    if let Some(q) = text.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let mut value = String::new();
        let mut chars = text.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                c if c == q => return Some((value, &text[i + 1..])),
                c => value.push(c),
            }
        }
        return None;
    }
    let mut depth = 0i32;
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(' | '{') => depth += 1,
            (None, ']' | ')' | '}') => depth -= 1,
            (None, ',') if depth == 0 => return Some((text[..i].trim().to_string(), &text[i..])),
            // Not a repr: the line is a note, not pairs.
            (None, '=') if depth == 0 => return None,
            _ => {}
        }
    }
    Some((text.trim().to_string(), ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(line: &str) -> Vec<String> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line.as_bytes());
        r.records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn the_engines_metadata_line_becomes_facts() {
        let mut meta = Meta::default();
        meta.add_record(&cells(
            "#,,,,,\"generated_by='OpenQuake engine 3.26.2', start_date='2026-12-07T01:24:52', \
             checksum=115434114, kind='mean', investigation_time=1.0, imt='SA(0.1)'\"",
        ));
        assert_eq!(
            meta.facts,
            [
                ("generated_by", "OpenQuake engine 3.26.2"),
                ("start_date", "2026-12-07T01:24:52"),
                ("checksum", "115434114"),
                ("kind", "mean"),
                ("investigation_time", "1.0"),
                ("imt", "SA(0.1)"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(meta.get("imt"), Some("SA(0.1)"));
        assert!(meta.notes.is_empty());
    }

    #[test]
    fn quotes_lists_and_plain_comments() {
        let mut meta = Meta::default();
        meta.add_record(&cells(
            r#"#,"a=""it's"", b='x, \'y\'', c=[1, (2, 3)], d=None""#,
        ));
        assert_eq!(
            meta.facts,
            [
                ("a", "it's"),
                ("b", "x, 'y'"),
                ("c", "[1, (2, 3)]"),
                ("d", "None")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        meta.add_record(&cells("# made by hand, on a Monday"));
        meta.add_record(&cells("#,,,"));
        meta.add_record(&cells("# x = 1 = 2"));
        meta.add_record(&cells("# unclosed='quote"));
        assert_eq!(
            meta.notes,
            ["made by hand, on a Monday", "x = 1 = 2", "unclosed='quote"]
        );
        assert_eq!(meta.facts.len(), 4);
    }
}
