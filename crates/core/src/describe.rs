//! What a user may say about a photo: its title, description and tags, and how an edit
//! (`PATCH /api/images/{id}`) is read and checked.
//!
//! The limits are part of the data model rather than tunables: a photo's tags each have an index
//! item written in the same DynamoDB transaction as the photo (at most 100 items), so their number
//! is bounded here once. `GET /api/config` hands them to the page, which checks the same limits
//! before it sends an edit.

use serde_json::Value;

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2000;
/// Most tags on one photo.
pub const TAGS_MAX: usize = 20;
/// Longest tag, in characters.
pub const TAG_MAX_CHARS: usize = 32;
/// The fields an edit may carry.
pub const EDIT_FIELDS: [&str; 3] = ["title", "description", "tags"];

/// The most items one DynamoDB transaction (`TransactWriteItems`) may hold.
pub const TRANSACTION_ITEMS_MAX: usize = 100;
/// Most albums one photo may be in.
///
/// A photo's delete is one transaction holding the image item, the profile's update, one tag
/// index item per tag (at most [`TAGS_MAX`]) and one membership item per album it is in (at most
/// this many): `1 + 1 + 20 + 32 = 54` items, well below DynamoDB's [`TRANSACTION_ITEMS_MAX`], so
/// deleting a photo never has to be split (and can never half happen). An edit replacing every
/// tag writes at most `1 + 2 × 20` items, plus the account check: 42.
pub const ALBUMS_PER_PHOTO_MAX: usize = 32;
/// Most albums one user may have.
pub const ALBUMS_MAX: usize = 200;
/// Longest album name, in characters.
pub const ALBUM_NAME_MAX_CHARS: usize = 100;
/// The fields an album's body (`POST`/`PATCH` of an album) carries.
pub const ALBUM_FIELDS: [&str; 1] = ["name"];

/// A checked edit. For each field, `None` leaves it as it is; a title or description of
/// `Some(None)` clears it; `Some(tags)` replaces the tags (an empty list removes them all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    /// The new title.
    pub title: Option<Option<String>>,
    /// The new description.
    pub description: Option<Option<String>>,
    /// The new tags: normalised, sorted, without duplicates.
    pub tags: Option<Vec<String>>,
}

impl Edit {
    /// Whether it changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none() && self.tags.is_none()
    }
}

/// A tag as stored: trimmed, lower-case, 1–[`TAG_MAX_CHARS`] letters, digits, `-` or `_`
/// (any script's letters and digits; spaces inside become `-`).
///
/// # Errors
///
/// What is wrong with it, naming it.
pub fn normalize_tag(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let tag: String = trimmed.split_whitespace().collect::<Vec<_>>().join("-").to_lowercase();
    if tag.is_empty() {
        return Err("a tag is empty".to_owned());
    }
    if tag.chars().count() > TAG_MAX_CHARS {
        return Err(format!("the tag {trimmed:?} is longer than {TAG_MAX_CHARS} characters"));
    }
    if let Some(bad) = tag.chars().find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!("the tag {trimmed:?} holds {bad:?}: tags are letters, digits, `-` and `_`"));
    }
    Ok(tag)
}

/// Text the user typed: without leading and trailing white space; `None` when nothing is left.
/// Line breaks are kept when `multiline`; no other control character is accepted.
fn text(
    field: &str,
    value: &Value,
    max: usize,
    multiline: bool,
    problems: &mut Vec<String>,
) -> Option<Option<String>> {
    let text = match value {
        Value::Null => return Some(None),
        Value::String(text) => text.trim(),
        _ => {
            problems.push(format!("`{field}` must be a string or null"));
            return None;
        }
    };
    let count = text.chars().count();
    if count > max {
        problems.push(format!("`{field}` is {count} characters long, at most {max} are allowed"));
    }
    if text.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) {
        let what = if multiline {
            "control characters other than line breaks and tabs"
        } else {
            "control characters"
        };
        problems.push(format!("`{field}` holds {what}"));
    }
    Some((!text.is_empty()).then(|| text.to_owned()))
}

/// Reads an edit from a `PATCH` body: a JSON object with any of [`EDIT_FIELDS`].
///
/// # Errors
///
/// Every problem found, each naming its field: not an object, unknown fields, no field at all,
/// wrong types, texts too long or with control characters, bad or repeated tags, too many tags.
pub fn parse_edit(body: &Value) -> Result<Edit, Vec<String>> {
    let Some(fields) = body.as_object() else {
        return Err(vec![
            "the body must be a JSON object with any of `title`, `description`, `tags`".to_owned(),
        ]);
    };
    let mut problems = Vec::new();
    for name in fields.keys().filter(|name| !EDIT_FIELDS.contains(&name.as_str())) {
        problems.push(format!("unknown field `{name}` (allowed: `title`, `description`, `tags`)"));
    }
    if fields.is_empty() {
        problems.push("nothing to change: give any of `title`, `description`, `tags`".to_owned());
    }
    let mut edit = Edit::default();
    if let Some(value) = fields.get("title") {
        edit.title = text("title", value, TITLE_MAX_CHARS, false, &mut problems);
    }
    if let Some(value) = fields.get("description") {
        edit.description = text("description", value, DESCRIPTION_MAX_CHARS, true, &mut problems);
    }
    if let Some(value) = fields.get("tags") {
        match value {
            Value::Array(items) => {
                let mut tags = Vec::with_capacity(items.len());
                for item in items {
                    match item.as_str().map(normalize_tag) {
                        Some(Ok(tag)) if tags.contains(&tag) => {
                            problems.push(format!("the tag {tag:?} is given twice"));
                        }
                        Some(Ok(tag)) => tags.push(tag),
                        Some(Err(problem)) => problems.push(problem),
                        None => problems.push("every tag must be a string".to_owned()),
                    }
                }
                if items.len() > TAGS_MAX {
                    problems.push(format!("{} tags given, at most {TAGS_MAX} are allowed", items.len()));
                }
                tags.sort_unstable();
                edit.tags = Some(tags);
            }
            Value::Null => edit.tags = Some(Vec::new()),
            _ => problems.push("`tags` must be a list of strings".to_owned()),
        }
    }
    if problems.is_empty() { Ok(edit) } else { Err(problems) }
}

/// Reads an album's name from a body: a JSON object `{"name": string}` (for creating and
/// renaming an album). The name is trimmed and must then be 1–[`ALBUM_NAME_MAX_CHARS`]
/// characters without control characters.
///
/// # Errors
///
/// Every problem found: not an object, unknown fields, no `name`, not a string, empty, too long,
/// control characters.
pub fn parse_album_name(value: &Value) -> Result<String, Vec<String>> {
    let Some(fields) = value.as_object() else {
        return Err(vec!["the body must be a JSON object with a `name`".to_owned()]);
    };
    let mut problems = Vec::new();
    for name in fields.keys().filter(|name| !ALBUM_FIELDS.contains(&name.as_str())) {
        problems.push(format!("unknown field `{name}` (allowed: `name`)"));
    }
    let mut checked = None;
    match fields.get("name") {
        None => problems.push("`name` is missing".to_owned()),
        Some(Value::String(raw)) => match check_album_name(raw) {
            Ok(name) => checked = Some(name),
            Err(mut found) => problems.append(&mut found),
        },
        Some(_) => problems.push("`name` must be a string".to_owned()),
    }
    match checked {
        Some(name) if problems.is_empty() => Ok(name),
        _ => Err(problems),
    }
}

/// An album name as stored: `raw` trimmed, 1–[`ALBUM_NAME_MAX_CHARS`] characters, no control
/// characters.
///
/// # Errors
///
/// Every rule it breaks.
pub fn check_album_name(raw: &str) -> Result<String, Vec<String>> {
    let name = raw.trim();
    let mut problems = Vec::new();
    let count = name.chars().count();
    if count == 0 {
        problems.push("`name` is empty".to_owned());
    }
    if count > ALBUM_NAME_MAX_CHARS {
        problems
            .push(format!("`name` is {count} characters long, at most {ALBUM_NAME_MAX_CHARS} are allowed"));
    }
    if name.chars().any(char::is_control) {
        problems.push("`name` holds control characters".to_owned());
    }
    if problems.is_empty() { Ok(name.to_owned()) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    #[test]
    fn tags_are_normalised() {
        assert_eq!(normalize_tag("  Sunset ").unwrap(), "sunset");
        assert_eq!(normalize_tag("New  York").unwrap(), "new-york");
        assert_eq!(normalize_tag("ÉTÉ_2026").unwrap(), "été_2026");
        assert_eq!(normalize_tag("東京").unwrap(), "東京");
        assert_eq!(normalize_tag(&"a".repeat(TAG_MAX_CHARS)).unwrap().len(), TAG_MAX_CHARS);
        // White space inside becomes a hyphen, tabs included.
        assert_eq!(normalize_tag("tab\there").unwrap(), "tab-here");
        for bad in ["", "   ", "a#b", "a/b", "a,b", "<b>", "a.b", "a\u{0}b"] {
            assert!(normalize_tag(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_tag(&"a".repeat(TAG_MAX_CHARS + 1)).unwrap_err().contains("longer than 32"));
    }

    #[test]
    fn an_edit_sets_clears_or_leaves_each_field() {
        let edit = parse_edit(&json!({"title": "  Sunset  ", "tags": ["Sea", "beach", "SEA "]})).unwrap_err();
        assert_eq!(edit, ["the tag \"sea\" is given twice"]);
        let edit = parse_edit(&json!({"title": "  Sunset  ", "tags": ["Sea", "beach"]})).unwrap();
        assert_eq!(edit.title, Some(Some("Sunset".into())));
        assert_eq!(edit.description, None, "absent: unchanged");
        assert_eq!(edit.tags, Some(vec!["beach".into(), "sea".into()]), "sorted");
        let cleared = parse_edit(&json!({"title": null, "description": "   ", "tags": []})).unwrap();
        assert_eq!(cleared.title, Some(None));
        assert_eq!(cleared.description, Some(None), "blank is cleared");
        assert_eq!(cleared.tags, Some(vec![]));
        let multiline = parse_edit(&json!({"description": "line one\nline two\ttabbed"})).unwrap();
        assert_eq!(multiline.description, Some(Some("line one\nline two\ttabbed".into())));
        assert!(!multiline.is_empty());
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let problems = parse_edit(&json!({
            "title": "x".repeat(TITLE_MAX_CHARS + 1),
            "description": "bell\u{7}",
            "tags": ["ok", "not ok!", 5],
            "owner": "someone else",
        }))
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].contains("unknown field `owner`"), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("201 characters long")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("`description` holds control")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("\"not ok!\" holds '!'")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("every tag must be a string")), "{problems:?}");

        let many: Vec<String> = (0..=TAGS_MAX).map(|i| format!("t{i}")).collect();
        assert_eq!(
            parse_edit(&json!({ "tags": many })).unwrap_err(),
            ["21 tags given, at most 20 are allowed"]
        );
        assert_eq!(parse_edit(&json!({"title": "a\nb"})).unwrap_err(), ["`title` holds control characters"]);
        for (body, problem) in [
            (json!({}), "nothing to change"),
            (json!([]), "must be a JSON object"),
            (json!({"title": 5}), "`title` must be a string or null"),
            (json!({"tags": "a,b"}), "`tags` must be a list of strings"),
        ] {
            let problems = parse_edit(&body).unwrap_err();
            assert!(problems[0].contains(problem), "{body}: {problems:?}");
        }
    }

    #[test]
    fn a_photo_delete_fits_in_one_transaction() {
        // The image, the profile, its tag index items and its album memberships.
        let delete = 1 + 1 + TAGS_MAX + ALBUMS_PER_PHOTO_MAX;
        assert_eq!(delete, 54);
        const { assert!(1 + 1 + TAGS_MAX + ALBUMS_PER_PHOTO_MAX <= TRANSACTION_ITEMS_MAX) };
        // An edit replacing every tag: the image, the old tags' deletes, the new tags' puts and
        // the account check.
        let edit = 1 + 2 * TAGS_MAX + 1;
        assert_eq!(edit, 42);
        const { assert!(2 + 2 * TAGS_MAX <= TRANSACTION_ITEMS_MAX) };
    }

    #[test]
    fn album_names_are_trimmed_and_checked() {
        assert_eq!(parse_album_name(&json!({"name": "  Holidays 2026 🌴 "})).unwrap(), "Holidays 2026 🌴");
        let longest = "é".repeat(ALBUM_NAME_MAX_CHARS);
        assert_eq!(parse_album_name(&json!({ "name": longest })).unwrap(), longest);
        assert_eq!(
            parse_album_name(&json!({"name": "x".repeat(ALBUM_NAME_MAX_CHARS + 1)})).unwrap_err(),
            ["`name` is 101 characters long, at most 100 are allowed"]
        );
        assert_eq!(parse_album_name(&json!({"name": "   "})).unwrap_err(), ["`name` is empty"]);
        assert_eq!(
            parse_album_name(&json!({"name": "a\u{7}b"})).unwrap_err(),
            ["`name` holds control characters"]
        );
        assert_eq!(
            parse_album_name(&json!({"name": "a\nb"})).unwrap_err(),
            ["`name` holds control characters"]
        );
        for (body, problem) in [
            (json!({}), "`name` is missing"),
            (json!([]), "must be a JSON object"),
            (json!("name"), "must be a JSON object"),
            (json!({"name": 5}), "`name` must be a string"),
            (json!({"name": null}), "`name` must be a string"),
        ] {
            let problems = parse_album_name(&body).unwrap_err();
            assert!(problems[0].contains(problem), "{body}: {problems:?}");
        }
    }

    #[test]
    fn every_album_problem_is_listed_at_once() {
        let problems = parse_album_name(&json!({"name": format!("{}\u{0}", "x".repeat(120)), "owner": "x"}))
            .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("unknown field `owner`"), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("121 characters long")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("control characters")), "{problems:?}");
        let unknown = parse_album_name(&json!({"name": "ok", "cover": "x"})).unwrap_err();
        assert_eq!(unknown, ["unknown field `cover` (allowed: `name`)"]);
    }
}
