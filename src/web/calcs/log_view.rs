//! The log viewer of /engine/<id>/ as the server renders it (static/js/log-viewer.js makes it
//! instant): numbered lines with `#L<n>` anchors, the level filter's choices, and the matches
//! of a search marked in the messages.

use std::borrow::Cow;

use crate::models::log::{LEVELS, NumberedRow};

/// The longest search kept (characters); a longer one is cut.
pub const MAX_QUERY: usize = 200;

pub struct LogLine {
    /// Its place in the whole log, from 1: the anchor `#L<number>`.
    pub number: i64,
    pub iso: String,
    pub time: String,
    pub level: Cow<'static, str>,
    /// `level-info`, ... (a fixed set, whatever the row holds).
    pub class: String,
    /// The message in pieces, `true` for a match of the search (shown as `<mark>`).
    pub pieces: Vec<(String, bool)>,
}

impl LogLine {
    pub fn new(numbered: NumberedRow, query: &str) -> LogLine {
        let NumberedRow { number, row } = numbered;
        let t = row.logged_at;
        let class = if LEVELS.contains(&&*row.level) {
            format!("level-{}", row.level.to_lowercase())
        } else {
            "level-other".into()
        };
        let pieces = if query.is_empty() {
            vec![(row.message, false)]
        } else {
            highlight(&row.message, query)
        };
        LogLine {
            number,
            iso: crate::times::Stamp::iso(t).to_string(),
            time: format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
            level: row.level,
            class,
            pieces,
        }
    }

    /// How many matches of the search the line holds.
    pub fn matches(&self) -> usize {
        self.pieces.iter().filter(|(_, hit)| *hit).count()
    }
}

/// The search as typed, trimmed and bounded.
pub fn query(q: Option<&str>) -> String {
    q.unwrap_or("").trim().chars().take(MAX_QUERY).collect()
}

/// `text` in pieces, those equal to `query` regardless of case marked `true`. Case is compared
/// character by character, as the browser's `RegExp(…, "iu")` does, so the page marks the same
/// matches with JavaScript as without.
pub fn highlight(text: &str, query: &str) -> Vec<(String, bool)> {
    let needle: Vec<char> = query.chars().collect();
    let mut pieces = Vec::new();
    let (mut plain_from, mut at) = (0, 0);
    while at < text.len() {
        match match_len(&text[at..], &needle) {
            Some(len) if len > 0 => {
                if plain_from < at {
                    pieces.push((text[plain_from..at].to_string(), false));
                }
                pieces.push((text[at..at + len].to_string(), true));
                at += len;
                plain_from = at;
            }
            _ => at += text[at..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain_from < text.len() || pieces.is_empty() {
        pieces.push((text[plain_from..].to_string(), false));
    }
    pieces
}

/// The length in bytes of the match of `needle` at the start of `hay`, if it matches there.
fn match_len(hay: &str, needle: &[char]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut chars = hay.char_indices();
    for want in needle {
        let (_, c) = chars.next()?;
        if c != *want && !c.to_lowercase().eq(want.to_lowercase()) {
            return None;
        }
    }
    Some(chars.next().map_or(hay.len(), |(i, _)| i))
}

/// One choice of the log's level filter.
pub struct LevelChoice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

impl LevelChoice {
    /// Every level, then each lowest level worth filtering on (DEBUG shows them all).
    pub fn all(chosen: &str) -> Vec<LevelChoice> {
        let every = LevelChoice {
            value: "",
            label: "every level".into(),
            selected: chosen.is_empty(),
        };
        let levels = LEVELS
            .iter()
            .filter(|l| **l != "DEBUG")
            .map(|l| LevelChoice {
                value: l,
                label: if *l == "CRITICAL" {
                    "CRITICAL".into()
                } else {
                    format!("{l} and above")
                },
                selected: chosen == *l,
            });
        std::iter::once(every).chain(levels).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{highlight, query};

    fn marked(text: &str, q: &str) -> String {
        highlight(text, q)
            .into_iter()
            .map(|(t, hit)| if hit { format!("[{t}]") } else { t })
            .collect()
    }

    #[test]
    fn matches_are_marked_whatever_their_case() {
        assert_eq!(
            marked("Step 5 failed: step", "step"),
            "[Step] 5 failed: [step]"
        );
        assert_eq!(marked("aaaa", "aa"), "[aa][aa]");
        assert_eq!(
            marked("Grüße GRÜSSE grüße", "GRÜSSE"),
            "Grüße [GRÜSSE] grüße"
        );
        assert_eq!(marked("Ωmega ωMEGA", "ωmega"), "[Ωmega] [ωMEGA]");
        assert_eq!(marked("nothing here", "x"), "nothing here");
        assert_eq!(marked("", "x"), "");
        assert_eq!(highlight("", "x"), [(String::new(), false)]);
    }

    #[test]
    fn queries_are_trimmed_and_bounded() {
        assert_eq!(query(Some("  error ")), "error");
        assert_eq!(query(None), "");
        assert_eq!(query(Some(&"é".repeat(500))).chars().count(), 200);
    }
}
