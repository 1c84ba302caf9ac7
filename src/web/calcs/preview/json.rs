//! The preview of a JSON output: its values as a tree of `<details>` (objects and arrays fold
//! without JavaScript), keys in the file's order, read by serde_json within [`MAX_BYTES`] and
//! shown within [`MAX_VALUES`] values, [`MAX_DEPTH`] levels and [`MAX_STRING`] characters a
//! string, with a note when cut. A file that is not JSON is shown as the start of its text.

use std::fmt;
use std::io::Read;

use std::cell::Cell;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::table::grouped;
use crate::calcs::upload::human_size;

/// At most this much of a file is parsed (a larger one is shown as text)...
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;
/// ...this many values shown...
pub const MAX_VALUES: usize = 2000;
/// ...this many levels deep...
pub const MAX_DEPTH: usize = 16;
/// ...and this many characters of a string.
pub const MAX_STRING: usize = 1000;
/// The characters of text shown of a file that is not JSON.
const RAW_START: usize = 4000;
/// Objects and arrays are open (unfolded) this many levels down.
const OPEN_LEVELS: usize = 2;

/// A JSON value, objects in the file's order. Arrays and objects hold their first values
/// only, as many as [`Budget`] allowed when they were read, and their whole length.
enum Node {
    Literal(String),
    Number(String),
    Str(String),
    Array(Vec<Node>, usize),
    Object(Vec<(String, Node)>, usize),
}

/// The values a parse keeps (the first [`MAX_VALUES`] in the file's order: those shown) and
/// the values it saw: the rest are counted, never held, so a file of two million numbers costs
/// no more memory than one of two thousand.
struct Budget {
    left: Cell<usize>,
    seen: Cell<usize>,
}

impl Budget {
    fn take(&self) {
        self.seen.set(self.seen.get() + 1);
        self.left.set(self.left.get().saturating_sub(1));
    }
}

/// Reads a value into a [`Node`] within the budget.
struct Keep<'b>(&'b Budget);

/// Counts a value (and those inside it) without keeping it.
struct Count<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Keep<'_> {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keep<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        self.0.take();
        Ok(Node::Literal("null".into()))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        self.0.take();
        Ok(Node::Literal(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        self.0.take();
        Ok(Node::Number(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        self.0.take();
        Ok(Node::Number(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        self.0.take();
        // serde_json's own form: 1e300, not three hundred zeros.
        Ok(Node::Number(
            serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        self.0.take();
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        self.0.take();
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let budget = self.0;
        budget.take();
        let (mut items, mut len) = (Vec::new(), 0);
        loop {
            if budget.left.get() > 0 {
                match seq.next_element_seed(Keep(budget))? {
                    Some(item) => items.push(item),
                    None => break,
                }
            } else if seq.next_element_seed(Count(budget))?.is_none() {
                break;
            }
            len += 1;
        }
        Ok(Node::Array(items, len))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let budget = self.0;
        budget.take();
        let (mut pairs, mut len) = (Vec::new(), 0);
        loop {
            if budget.left.get() > 0 {
                let Some(key) = map.next_key::<String>()? else {
                    break;
                };
                pairs.push((key, map.next_value_seed(Keep(budget))?));
            } else {
                if map.next_key::<IgnoredAny>()?.is_none() {
                    break;
                }
                map.next_value_seed(Count(budget))?;
            }
            len += 1;
        }
        Ok(Node::Object(pairs, len))
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.take();
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.0.take();
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.0.take();
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.0.take();
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.0.take();
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.0.take();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.take();
        while seq.next_element_seed(Count(self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.take();
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Count(self.0))?;
        }
        Ok(())
    }
}

/// One piece of the tree, in document order; the template writes each as HTML (escaped).
pub enum Piece {
    /// An object or array: its `<li>`, `<details>`, `<summary>` and the list of its items.
    Open {
        key: Option<String>,
        summary: String,
        open: bool,
    },
    /// The end of the object or array opened last, with its closing bracket.
    Close { bracket: &'static str },
    /// A number, string, true, false or null (`class` colours it), or a cut-off level.
    Leaf {
        key: Option<String>,
        text: String,
        class: &'static str,
    },
    /// "… 3,000 more values" where the values shown ran out.
    More { text: String },
}

/// What the preview shows of a JSON file.
pub enum JsonPreview {
    /// The tree, and sentences saying what was left out.
    Tree {
        pieces: Vec<Piece>,
        notes: Vec<String>,
    },
    /// Not JSON (or too large to parse): why, and the start of the text.
    Text { problem: String, start: String },
}

/// A string as JSON writes it, quoted and escaped, cut at [`MAX_STRING`] characters.
fn quoted(s: &str, cut: &mut bool) -> String {
    if s.chars().count() > MAX_STRING {
        *cut = true;
        let short: String = s.chars().take(MAX_STRING).collect();
        let q = serde_json::to_string(&short).unwrap_or_default();
        format!("{}…\"", &q[..q.len() - 1])
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

struct Writer {
    pieces: Vec<Piece>,
    /// Values still to show.
    budget: usize,
    deep: bool,
    long: bool,
}

impl Writer {
    fn value(&mut self, key: Option<String>, node: &Node, depth: usize) {
        self.budget = self.budget.saturating_sub(1);
        let (summary, items, close) = match node {
            Node::Literal(t) => {
                let class = "json-literal";
                let text = t.clone();
                return self.pieces.push(Piece::Leaf { key, text, class });
            }
            Node::Number(t) => {
                let (class, text) = ("json-number", t.clone());
                return self.pieces.push(Piece::Leaf { key, text, class });
            }
            Node::Str(s) => {
                let (class, text) = ("json-string", quoted(s, &mut self.long));
                return self.pieces.push(Piece::Leaf { key, text, class });
            }
            Node::Array(_, len) => (format!("[{}]", plural(*len, "item", "items")), *len, "]"),
            Node::Object(_, len) => (format!("{{{}}}", plural(*len, "key", "keys")), *len, "}"),
        };
        if items == 0 {
            let text = if close == "]" { "[]" } else { "{}" }.to_string();
            let class = "json-literal";
            return self.pieces.push(Piece::Leaf { key, text, class });
        }
        if depth >= MAX_DEPTH {
            self.deep = true;
            let class = "json-cut";
            let text = format!("{} …{close}", &summary[..1]);
            return self.pieces.push(Piece::Leaf { key, text, class });
        }
        self.pieces.push(Piece::Open {
            key,
            summary,
            open: depth < OPEN_LEVELS,
        });
        // The values kept of it (the parse's budget may have left out the last ones).
        let children: Vec<(Option<String>, &Node)> = match node {
            Node::Array(a, _) => a.iter().map(|n| (None, n)).collect(),
            Node::Object(o, _) => o
                .iter()
                .map(|(k, n)| (Some(quoted(k, &mut self.long)), n))
                .collect(),
            _ => Vec::new(),
        };
        for i in 0..items {
            let Some((key, child)) = children.get(i).filter(|_| self.budget > 0) else {
                let left = items - i;
                let what = if left == 1 { "value" } else { "values" };
                let text = format!("… {} more {what}", grouped(left));
                self.pieces.push(Piece::More { text });
                break;
            };
            self.value(key.clone(), child, depth + 1);
        }
        self.pieces.push(Piece::Close { bracket: close });
    }
}

/// The preview of `source` (a JSON file of `size` bytes).
pub fn preview(source: impl Read, size: u64) -> std::io::Result<JsonPreview> {
    let mut bytes = Vec::new();
    source.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    let text_of = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let mut start: String = text.chars().take(RAW_START).collect();
        if text.chars().count() > RAW_START {
            start.push('…');
        }
        start
    };
    if bytes.len() as u64 > MAX_BYTES {
        return Ok(JsonPreview::Text {
            problem: format!(
                "The file is {}, more than the {} a preview reads; here is its start, download it for the rest.",
                human_size(size.max(bytes.len() as u64)),
                human_size(MAX_BYTES)
            ),
            start: text_of(&bytes[..(RAW_START * 4).min(bytes.len())]),
        });
    }
    let budget = Budget {
        left: Cell::new(MAX_VALUES),
        seen: Cell::new(0),
    };
    let mut parser = serde_json::Deserializer::from_slice(&bytes);
    let parsed = Keep(&budget)
        .deserialize(&mut parser)
        .and_then(|node| parser.end().map(|()| node));
    let node: Node = match parsed {
        Ok(node) => node,
        Err(e) => {
            return Ok(JsonPreview::Text {
                problem: format!("The file is not valid JSON ({e}); here is its start."),
                start: text_of(&bytes),
            });
        }
    };
    let mut writer = Writer {
        pieces: Vec::new(),
        budget: MAX_VALUES,
        deep: false,
        long: false,
    };
    writer.value(None, &node, 0);
    let mut notes = Vec::new();
    let total = budget.seen.get();
    if total > MAX_VALUES {
        notes.push(format!(
            "The first {} of {} values are shown.",
            grouped(MAX_VALUES),
            grouped(total)
        ));
    }
    if writer.deep {
        notes.push(format!(
            "Levels deeper than {MAX_DEPTH} are shown as {{ …}} or [ …]."
        ));
    }
    if writer.long {
        notes.push(format!(
            "Strings longer than {} characters are cut (…).",
            grouped(MAX_STRING)
        ));
    }
    Ok(JsonPreview::Tree {
        pieces: writer.pieces,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(json: &str) -> (Vec<Piece>, Vec<String>) {
        match preview(json.as_bytes(), json.len() as u64).unwrap() {
            JsonPreview::Tree { pieces, notes } => (pieces, notes),
            JsonPreview::Text { problem, .. } => panic!("{problem}"),
        }
    }

    /// The pieces as one line of text, to compare.
    fn flat(pieces: &[Piece]) -> String {
        let key = |k: &Option<String>| k.as_ref().map_or(String::new(), |k| format!("{k}: "));
        pieces
            .iter()
            .map(|p| match p {
                Piece::Open {
                    key: k,
                    summary,
                    open,
                } => {
                    format!("{}{summary}{} ", key(k), if *open { "+" } else { "-" })
                }
                Piece::Close { bracket } => format!("{bracket} "),
                Piece::Leaf { key: k, text, .. } => format!("{}{text} ", key(k)),
                Piece::More { text } => format!("{text} "),
            })
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    #[test]
    fn objects_keep_their_order_and_fold_below_two_levels() {
        let (pieces, notes) =
            tree(r#"{"z": 1, "a": [true, null, "x\"<y>"], "e": {}, "d": {"k": {"m": 1.5e300}}}"#);
        assert_eq!(
            flat(&pieces),
            "{4 keys}+ \"z\": 1 \"a\": [3 items]+ true null \"x\\\"<y>\" ] \"e\": {} \
             \"d\": {1 key}+ \"k\": {1 key}- \"m\": 1.5e+300 } } }"
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn large_deep_and_long_values_are_cut_with_a_note() {
        let many = format!("[{}]", vec!["1"; 5000].join(","));
        let (pieces, notes) = tree(&many);
        let leaves = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Leaf { .. }))
            .count();
        assert_eq!(leaves, MAX_VALUES - 1, "the array is a value too");
        let text = flat(&pieces);
        assert!(
            text.ends_with("… 3,001 more values ]"),
            "{}",
            &text[text.len() - 60..]
        );
        assert_eq!(notes, ["The first 2,000 of 5,001 values are shown."]);
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let (pieces, notes) = tree(&deep);
        assert!(flat(&pieces).contains("[ …]"), "{}", flat(&pieces));
        assert_eq!(notes, ["Levels deeper than 16 are shown as { …} or [ …]."]);
        let long = format!("{{\"{}\": 1}}", "k".repeat(1500));
        let (pieces, notes) = tree(&long);
        assert!(flat(&pieces).contains(&format!("\"{}…\": 1", "k".repeat(1000))));
        assert_eq!(notes, ["Strings longer than 1,000 characters are cut (…)."]);
    }

    #[test]
    fn a_parse_holds_only_the_values_shown_and_counts_the_rest() {
        fn held(node: &Node) -> usize {
            1 + match node {
                Node::Array(items, _) => items.iter().map(held).sum(),
                Node::Object(pairs, _) => pairs.iter().map(|(_, v)| held(v)).sum(),
                _ => 0,
            }
        }
        let ones = vec!["1"; 50_000].join(",");
        let json = format!("{{\"a\": [{ones}], \"b\": {{\"c\": [{ones}]}}, \"d\": 2}}");
        let budget = Budget {
            left: Cell::new(MAX_VALUES),
            seen: Cell::new(0),
        };
        let mut parser = serde_json::Deserializer::from_str(&json);
        let node = Keep(&budget).deserialize(&mut parser).unwrap();
        assert_eq!(held(&node), MAX_VALUES);
        assert_eq!(budget.seen.get(), 100_005);
        let Node::Object(pairs, 3) = &node else {
            panic!("the object's length is kept");
        };
        assert!(matches!(&pairs[0].1, Node::Array(items, 50_000) if items.len() == MAX_VALUES - 2));
        let (_, notes) = tree(&json);
        assert_eq!(notes, ["The first 2,000 of 100,005 values are shown."]);
    }

    #[test]
    fn other_text_is_shown_as_its_start() {
        let JsonPreview::Text { problem, start } = preview(&b"{\"a\": <b>"[..], 9).unwrap() else {
            panic!("not JSON");
        };
        assert_eq!(
            problem,
            "The file is not valid JSON (expected value at line 1 column 7); here is its start."
        );
        assert_eq!(start, "{\"a\": <b>");
        let big = vec![b' '; MAX_BYTES as usize + 10];
        let JsonPreview::Text { problem, start } = preview(&big[..], big.len() as u64).unwrap()
        else {
            panic!("too large");
        };
        assert!(
            problem.starts_with("The file is 4.0 MiB, more than the 4.0 MiB a preview reads"),
            "{problem}"
        );
        assert_eq!(start.chars().count(), RAW_START + 1);
    }
}
