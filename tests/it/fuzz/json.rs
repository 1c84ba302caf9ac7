//! The JSON preview: serde_json parses, `preview` turns the value into pieces of a tree.
//! Properties: every object or array opened is closed, in order; at most MAX_VALUES values
//! and MAX_DEPTH levels are shown, strings within their bound; a file that is not JSON shows a
//! bounded start of its text.

use calcweb::web::calcs::preview::json_bounds::{MAX_DEPTH, MAX_STRING, MAX_VALUES, preview};
use calcweb::web::calcs::preview::{JsonPreview, Piece};

use super::fuzz;

const TOKENS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\"k\": ", "null", "true", "false", "0", "-1.5e308",
    "1e400", "\\u0000", "\\ud83d", "\\\"", "é", "<b>", "\u{feff}", " ", "\n",
];

/// JSON's escapes make a character at most six (`\u0000`); the quotes and the ellipsis.
const MAX_STRING_TEXT: usize = 6 * MAX_STRING + 3;
const MAX_START: usize = 4001;

fn check(input: &[u8]) -> Result<(), String> {
    let shown = preview(input, input.len() as u64).map_err(|e| format!("read error: {e}"))?;
    let pieces = match shown {
        JsonPreview::Text { problem, start } => {
            if problem.is_empty() {
                return Err("text shown without saying why".into());
            }
            if start.chars().count() > MAX_START {
                return Err(format!(
                    "{} characters of text shown",
                    start.chars().count()
                ));
            }
            return Ok(());
        }
        JsonPreview::Tree { pieces, .. } => pieces,
    };
    let mut depth = 0usize;
    let mut values = 0usize;
    for piece in &pieces {
        let key = match piece {
            Piece::Open { key, .. } => {
                values += 1;
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("{depth} levels shown"));
                }
                key
            }
            Piece::Close { .. } => {
                depth = depth.checked_sub(1).ok_or("a close without an open")?;
                continue;
            }
            Piece::Leaf { key, text, .. } => {
                values += 1;
                if text.chars().count() > MAX_STRING_TEXT {
                    return Err(format!("a value of {} characters", text.chars().count()));
                }
                key
            }
            Piece::More { .. } => continue,
        };
        if let Some(key) = key
            && key.chars().count() > MAX_STRING_TEXT
        {
            return Err(format!("a key of {} characters", key.chars().count()));
        }
    }
    if depth != 0 {
        return Err(format!("{depth} objects or arrays left open"));
    }
    if values > MAX_VALUES {
        return Err(format!("{values} values shown, over {MAX_VALUES}"));
    }
    if pieces.is_empty() {
        return Err("a JSON file shown as nothing".into());
    }
    Ok(())
}

#[test]
fn json_preview_survives_fuzzing() {
    fuzz("json", TOKENS, check);
}
