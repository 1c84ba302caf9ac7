//! Tags on calculations, as OpenQuake keeps them (`tag`, `job_tag`): one namespace of names, a
//! calculation carries a tag at most once, and at most one calculation is a tag's preferred
//! one (a unique index says so). Who may change what is decided in `actions::tags`.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::DbConn;
use crate::db::schema::{calc_tags, calcs, tags};
use crate::error::{AppError, AppResult};

/// A calculation's tags, `(name, preferred)`.
pub type TagList = Vec<(String, bool)>;

/// The longest tag name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// OpenQuake marks the preferred calculation of a tag in lists with this after the name.
pub const PREFERRED_MARK: char = '★';

diesel::define_sql_function! {
    /// PostgreSQL's `string_agg`, also SQLite's since 3.44 (the bundled one is newer).
    #[aggregate]
    fn string_agg(expr: Text, separator: Text) -> diesel::sql_types::Nullable<Text>;
}

/// Between the tags of [`packed`]: a name holds no control character.
const PACKED_SEPARATOR: &str = "\u{1f}";

/// The tags of the calculation of the query's row (`calcs.id`) in one text, preferred ones
/// marked: a column of that query, so a page reads a calculation and its tags in one round
/// trip. [`unpack`] reads it.
#[diesel::dsl::auto_type]
pub fn packed() -> _ {
    let mark: diesel::dsl::case_when<calc_tags::is_preferred, &'static str, Text> =
        diesel::dsl::case_when::<_, _, Text>(calc_tags::is_preferred, PREFERRED_MARK_TEXT);
    let mark = mark.otherwise("");
    let separator: &'static str = PACKED_SEPARATOR;
    calc_tags::table
        .inner_join(tags::table)
        .filter(calc_tags::calc_id.eq(calcs::id))
        .select(string_agg(tags::name.concat(mark), separator))
        .single_value()
}

/// [`PREFERRED_MARK`] as SQL text.
const PREFERRED_MARK_TEXT: &str = "★";

/// [`packed`]'s text as `(name, preferred)`, preferred ones first, then by name (as
/// [`Tag::of_calc`] orders them, byte by byte on both databases).
pub fn unpack(packed: Option<&str>) -> Vec<(String, bool)> {
    let mut tags: Vec<(String, bool)> = packed
        .unwrap_or_default()
        .split(PACKED_SEPARATOR)
        .filter(|tag| !tag.is_empty())
        .map(|tag| match tag.strip_suffix(PREFERRED_MARK) {
            Some(name) => (name.to_string(), true),
            None => (tag.to_string(), false),
        })
        .collect();
    sort(&mut tags);
    tags
}

/// Checks a tag name: 1 to 100 characters, no slash (tags travel in URL paths), no control
/// character, no star (lists mark preferred tags with one), no space at either end.
pub fn check_name(name: &str) -> AppResult<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("is longer than 100 characters")
    } else if name.contains('/') {
        Some("contains a slash")
    } else if name.contains(PREFERRED_MARK) {
        Some("contains ★, which marks preferred tags in lists")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.trim() != name {
        Some("starts or ends with a space")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(AppError::BadRequest(format!(
            "The tag name {name:?} {p}; use 1 to 100 characters without slashes, stars or control characters."
        ))),
    }
}

pub struct Tag;

impl Tag {
    /// The id of the tag called `name`, if there is one.
    pub fn find(conn: &mut DbConn, name: &str) -> AppResult<Option<i64>> {
        Ok(tags::table
            .filter(tags::name.eq(name))
            .select(tags::id)
            .first(conn)
            .optional()?)
    }

    /// Creates the tag; false when it already existed.
    pub fn create(conn: &mut DbConn, name: &str) -> AppResult<bool> {
        if Tag::find(conn, name)?.is_some() {
            return Ok(false);
        }
        diesel::insert_into(tags::table)
            .values(tags::name.eq(name))
            .execute(conn)?;
        Ok(true)
    }

    /// The id of the tag called `name`, created if needed.
    pub fn find_or_create(conn: &mut DbConn, name: &str) -> AppResult<i64> {
        Tag::create(conn, name)?;
        Tag::find(conn, name)?.ok_or_else(|| AppError::Internal(format!("tag {name:?} vanished")))
    }

    /// Deletes the tag and its links.
    pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::delete(calc_tags::table.filter(calc_tags::tag_id.eq(id))).execute(conn)?;
        diesel::delete(tags::table.find(id)).execute(conn)?;
        Ok(())
    }

    /// Every tag name, in order.
    pub fn names(conn: &mut DbConn) -> AppResult<Vec<String>> {
        let mut names: Vec<String> = tags::table.select(tags::name).load(conn)?;
        // Byte by byte, as tags are ordered everywhere (PostgreSQL's collation may differ).
        names.sort();
        Ok(names)
    }

    /// The owners of the calculations that carry the tag.
    pub fn owners(conn: &mut DbConn, id: i64) -> AppResult<Vec<i64>> {
        Ok(calc_tags::table
            .inner_join(calcs::table)
            .filter(calc_tags::tag_id.eq(id))
            .select(calcs::user_id)
            .distinct()
            .load(conn)?)
    }

    /// Whether the calculation carries the tag.
    pub fn is_on(conn: &mut DbConn, calc_id: i64, tag_id: i64) -> AppResult<bool> {
        let n: i64 = calc_tags::table
            .filter(calc_tags::calc_id.eq(calc_id))
            .filter(calc_tags::tag_id.eq(tag_id))
            .count()
            .get_result(conn)?;
        Ok(n > 0)
    }

    /// Puts the tag on the calculation (not preferred); false when it was there already.
    pub fn attach(conn: &mut DbConn, calc_id: i64, tag_id: i64) -> AppResult<bool> {
        if Tag::is_on(conn, calc_id, tag_id)? {
            return Ok(false);
        }
        diesel::insert_into(calc_tags::table)
            .values((
                calc_tags::calc_id.eq(calc_id),
                calc_tags::tag_id.eq(tag_id),
                calc_tags::is_preferred.eq(false),
            ))
            .execute(conn)?;
        Ok(true)
    }

    /// Takes the tag off the calculation; false when it was not there.
    pub fn detach(conn: &mut DbConn, calc_id: i64, tag_id: i64) -> AppResult<bool> {
        let n = diesel::delete(
            calc_tags::table
                .filter(calc_tags::calc_id.eq(calc_id))
                .filter(calc_tags::tag_id.eq(tag_id)),
        )
        .execute(conn)?;
        Ok(n > 0)
    }

    /// The preferred calculation of the tag, if any.
    pub fn preferred(conn: &mut DbConn, tag_id: i64) -> AppResult<Option<i64>> {
        Ok(calc_tags::table
            .filter(calc_tags::tag_id.eq(tag_id))
            .filter(calc_tags::is_preferred.eq(true))
            .select(calc_tags::calc_id)
            .first(conn)
            .optional()?)
    }

    /// Makes the calculation the tag's preferred one (carrying the tag if it did not), and no
    /// other. Call it in a transaction.
    pub fn prefer(conn: &mut DbConn, calc_id: i64, tag_id: i64) -> AppResult<()> {
        Tag::unprefer(conn, tag_id)?;
        Tag::attach(conn, calc_id, tag_id)?;
        diesel::update(
            calc_tags::table
                .filter(calc_tags::calc_id.eq(calc_id))
                .filter(calc_tags::tag_id.eq(tag_id)),
        )
        .set(calc_tags::is_preferred.eq(true))
        .execute(conn)?;
        Ok(())
    }

    /// The tag has no preferred calculation any more.
    pub fn unprefer(conn: &mut DbConn, tag_id: i64) -> AppResult<()> {
        diesel::update(
            calc_tags::table
                .filter(calc_tags::tag_id.eq(tag_id))
                .filter(calc_tags::is_preferred.eq(true)),
        )
        .set(calc_tags::is_preferred.eq(false))
        .execute(conn)?;
        Ok(())
    }

    /// The tags of a calculation, `(name, preferred)`, preferred ones first, then by name.
    pub fn of_calc(conn: &mut DbConn, calc_id: i64) -> AppResult<Vec<(String, bool)>> {
        let mut tags = calc_tags::table
            .inner_join(tags::table)
            .filter(calc_tags::calc_id.eq(calc_id))
            .select((tags::name, calc_tags::is_preferred))
            .load(conn)?;
        sort(&mut tags);
        Ok(tags)
    }

    /// The tags of each of `calc_ids` as OpenQuake's list writes them ([`label`]);
    /// calculations without tags are left out.
    pub fn labels(conn: &mut DbConn, calc_ids: &[i64]) -> AppResult<HashMap<i64, String>> {
        let mut tags: HashMap<i64, Vec<(String, bool)>> = HashMap::new();
        if calc_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, String, bool)> = calc_tags::table
            .inner_join(tags::table)
            .filter(calc_tags::calc_id.eq_any(calc_ids))
            .select((calc_tags::calc_id, tags::name, calc_tags::is_preferred))
            .load(conn)?;
        for (calc_id, name, preferred) in rows {
            tags.entry(calc_id).or_default().push((name, preferred));
        }
        Ok(tags
            .into_iter()
            .map(|(calc_id, mut tags)| {
                sort(&mut tags);
                (calc_id, label(&tags))
            })
            .collect())
    }
}

/// Preferred tags first, then by name, byte by byte (the same on both databases).
fn sort(tags: &mut [(String, bool)]) {
    tags.sort_by(|(a, a_preferred), (b, b_preferred)| b_preferred.cmp(a_preferred).then(a.cmp(b)));
}

/// Tags as OpenQuake's list writes them: `"a★, b"`, in their order.
pub fn label(tags: &[(String, bool)]) -> String {
    let mut label = String::new();
    for (name, preferred) in tags {
        if !label.is_empty() {
            label.push_str(", ");
        }
        label.push_str(name);
        if *preferred {
            label.push(PREFERRED_MARK);
        }
    }
    label
}

#[cfg(test)]
mod tests {
    use super::{PACKED_SEPARATOR, check_name, label, unpack};

    #[test]
    fn tag_names_are_checked() {
        assert!(check_name("hazard-2026 v1").is_ok());
        assert!(check_name("é").is_ok());
        for bad in ["", "a/b", " a", "a ", "a\nb", "a★", &"x".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn packed_tags_are_read_back_preferred_first_then_by_name() {
        assert!(unpack(None).is_empty());
        let packed = ["b, c", "Zeta★", "a b", "alpha★"].join(PACKED_SEPARATOR);
        let tags = unpack(Some(&packed));
        let expected = [
            ("Zeta", true),
            ("alpha", true),
            ("a b", false),
            ("b, c", false),
        ];
        let expected: Vec<(String, bool)> =
            expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
        assert_eq!(tags, expected);
        assert_eq!(label(&tags), "Zeta★, alpha★, a b, b, c");
    }
}
