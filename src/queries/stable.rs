//! Whether a saved query's answer depends only on what this tool wrote in an account,
//! and a digest of what it runs: what lets a sync that changed nothing in an account
//! copy the findings the previous run recorded instead of running the query again
//! (see `sync::rules`).
//!
//! The test is conservative: a query is stable only when, outside its comments and
//! string literals, it
//! - calls no clock (`datetime()`, `date()`, `timestamp()`, … without arguments, or
//!   `datetime.realtime()` and the like) and nothing random (`rand()`, `randomUUID()`);
//! - names none of the bookkeeping a sync rewrites whatever the content (the account's
//!   `lastSyncOn`, the sync runs, cursors, leases, digests, the saved queries' nodes);
//! - names only labels and relationship types of graph-schema that this tool alone
//!   writes (not a shared semantic label such as `UserAccount`, which other tools'
//!   nodes carry too);
//! - has no relationship pattern without a type (`--`, `-[r]-`) and calls no procedure.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest as _, Sha256};

use super::QueryDef;
use crate::schema::Schema;

/// Names a sync rewrites in every run, or that other parts of the tool own: a query
/// that reads them can answer differently after a sync that changed no content.
const VOLATILE: &[&str] = &[
    "lastSyncOn",
    "lastSyncStatus",
    "lastSuccessfulSyncOn",
    crate::sink::RUN_LABEL,
    "HAS_SYNC_RUN",
    crate::sink::CURSOR_LABEL,
    crate::sink::LOCK_LABEL,
    "ComplianceQuery",
    "_digests",
    "_digestsOn",
    "_contentVerifiedOn",
    crate::sink::GENERATION,
    "_generationWas",
];

/// Functions whose value changes between two runs over the same data.
const CLOCKS: &[&str] = &["datetime", "date", "time", "localtime", "localdatetime", "timestamp"];
const CLOCK_VARIANTS: &[&str] = &["realtime", "statement", "transaction"];
const RANDOM: &[&str] = &["rand", "randomuuid"];

/// The Cypher of `text` with comments removed and every string literal emptied
/// (`'…'`, `"…"`); backquoted names keep their text, unquoted.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for n in chars.by_ref() {
                    if last == '*' && n == '/' {
                        break;
                    }
                    last = n;
                }
                out.push(' ');
            }
            '\'' | '"' => {
                while let Some(n) = chars.next() {
                    if n == '\\' {
                        chars.next();
                    } else if n == c {
                        break;
                    }
                }
                out.push_str("''");
            }
            '`' => {
                for n in chars.by_ref() {
                    if n == '`' {
                        break;
                    }
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The labels and relationship types only this tool writes.
fn owned_names(schema: &Schema) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    for e in &schema.entities {
        names.insert(e.label.as_str());
        names.insert(e.class.as_str());
    }
    for r in &schema.relationships {
        names.insert(r.class.as_str());
    }
    // Semantic labels are shared with other tools' nodes.
    for e in &schema.entities {
        for l in &e.extra_labels {
            names.remove(l.as_str());
        }
    }
    names
}

/// Why `text` (Cypher) may answer differently over the same content; `None` when it
/// cannot.
fn unstable(text: &str, owned: &BTreeSet<&str>) -> Option<String> {
    let code = code(text);
    if code.contains("--") {
        return Some("a relationship pattern without a type".into());
    }
    let bytes = code.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let skip_space_back = |mut i: usize| {
        while i > 0 && bytes[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        i
    };
    let mut i = 0;
    // Where the last label or type ended: `:A|B` and `:A&B` name B too.
    let mut label_end = None;
    // The brackets open at `i`: a map's `key: value` is directly inside `{`.
    let mut open = Vec::new();
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => open.push(bytes[i]),
            b')' | b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        if !word(bytes[i]) || (i > 0 && (word(bytes[i - 1]) || bytes[i - 1] == b'$')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && word(bytes[i]) {
            i += 1;
        }
        if bytes[start].is_ascii_digit() {
            continue;
        }
        let name = &code[start..i];
        let lower = name.to_ascii_lowercase();
        let next = skip_space(i);
        let after = bytes.get(next).copied();
        let before = skip_space_back(start);
        let prev = before.checked_sub(1).map(|p| bytes[p]);
        if VOLATILE.contains(&name) {
            return Some(format!("it reads `{name}`, which every sync rewrites"));
        }
        let call = after == Some(b'(');
        let empty_call = call && bytes.get(skip_space(next + 1)) == Some(&b')');
        if empty_call && prev != Some(b'.') && CLOCKS.contains(&lower.as_str()) {
            return Some(format!("it reads the clock (`{name}()`)"));
        }
        if call && prev == Some(b'.') && CLOCK_VARIANTS.contains(&lower.as_str()) {
            return Some(format!("it reads the clock (`.{name}()`)"));
        }
        if call && RANDOM.contains(&lower.as_str()) {
            return Some(format!("it is random (`{name}()`)"));
        }
        if lower == "call" && !matches!(after, Some(b'{' | b'(')) {
            return Some("it calls a procedure".into());
        }
        // A label or a type: after `:` and not a map's value (a variable or property
        // read, or a function call, which a map's key is followed by); or after `|`
        // or `&` that follow one.
        let joined = matches!(prev, Some(b'|' | b'&')) && label_end == Some(skip_space_back(before - 1));
        let literal = matches!(lower.as_str(), "true" | "false" | "null");
        let map_value = prev == Some(b':') && open.last() == Some(&b'{') && {
            let key_end = skip_space_back(before - 1);
            let mut key_start = key_end;
            while key_start > 0 && word(bytes[key_start - 1]) {
                key_start -= 1;
            }
            let ahead = skip_space_back(key_start);
            key_start < key_end && ahead > 0 && matches!(bytes[ahead - 1], b'{' | b',')
        };
        let label = (prev == Some(b':') && !map_value) || joined;
        if label && !literal && !matches!(after, Some(b'.' | b'(')) {
            if !owned.contains(name) {
                return Some(format!("`{name}` is not a label or type only this tool writes"));
            }
            label_end = Some(i);
        }
        if prev == Some(b'[') && matches!(after, Some(b']' | b'*')) && before >= 2 && bytes[before - 2] == b'-' {
            return Some("a relationship pattern without a type".into());
        }
    }
    if code.contains("-[]-") || code.contains("-[*") {
        return Some("a relationship pattern without a type".into());
    }
    None
}

/// Why the answer of `def` (its statement and, for a rule, its count) may differ
/// between two syncs that left the account's content as it was; `None` when it cannot.
pub fn unstable_reason(def: &QueryDef, schema: &Schema) -> Option<String> {
    let owned = owned_names(schema);
    unstable(&def.text, &owned).or_else(|| def.rule.as_ref().and_then(|r| unstable(&r.count, &owned)))
}

/// A digest of what `def` runs with `params` (its version, statement, count and every
/// parameter's value, defaults included): equal digests run the same query.
pub fn run_digest(def: &QueryDef, params: &BTreeMap<String, serde_json::Value>) -> String {
    let mut h = Sha256::new();
    h.update(def.version.to_le_bytes());
    for part in [def.text.as_str(), def.rule.as_ref().map_or("", |r| r.count.as_str())] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    for p in &def.params {
        let value = params.get(&p.name).unwrap_or(&p.default);
        let text = format!("{}={value}", p.name);
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    let out = h.finalize();
    out[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<String> {
        unstable(text, &owned_names(crate::schema::schema()))
    }

    #[test]
    fn the_built_in_queries_that_depend_only_on_the_content() {
        let set = crate::queries::embedded();
        let schema = crate::schema::schema();
        let judged: Vec<(String, Option<String>)> =
            set.iter().map(|d| (d.id.clone(), unstable_reason(d, schema))).collect();
        let stable: Vec<&str> = judged
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(
            stable,
            [
                "active-without-account",
                "assigned-not-completed",
                "campaign-completion",
                "high-risk-safe-score",
                "missing-required-training",
                "phished-not-retrained",
                "terminated-with-account",
                "training-completed-elsewhere",
                "unmapped-campaigns",
                "users-without-active-person",
                "watchlist",
            ]
        );
        let why = |id: &str| judged.iter().find(|(i, _)| i == id).unwrap().1.clone().unwrap();
        assert_eq!(why("dormant-mailboxes"), "it reads the clock (`datetime()`)");
        assert_eq!(
            why("stale-sync"),
            "it reads `lastSuccessfulSyncOn`, which every sync rewrites"
        );
        assert_eq!(
            why("sync-history"),
            "it reads `HAS_SYNC_RUN`, which every sync rewrites"
        );
    }

    #[test]
    fn clocks_randomness_bookkeeping_foreign_labels_and_untyped_patterns_are_unstable() {
        let cases = [
            ("RETURN date() AS d", "it reads the clock (`date()`)"),
            ("RETURN datetime.realtime() AS d", "it reads the clock (`.realtime()`)"),
            ("RETURN timestamp( ) AS d", "it reads the clock (`timestamp()`)"),
            ("RETURN rand() AS r", "it is random (`rand()`)"),
            ("RETURN randomUUID() AS r", "it is random (`randomUUID()`)"),
            (
                "MATCH (a:MimecastAccount) RETURN a.lastSyncOn",
                "it reads `lastSyncOn`, which every sync rewrites",
            ),
            (
                "MATCH (u:UserAccount) RETURN u",
                "`UserAccount` is not a label or type only this tool writes",
            ),
            (
                "MATCH (u:MimecastUser|OktaUser) RETURN u",
                "`OktaUser` is not a label or type only this tool writes",
            ),
            (
                "MATCH (u:MimecastUser)--(x) RETURN x",
                "a relationship pattern without a type",
            ),
            (
                "MATCH (u:MimecastUser)-[r]->(x) RETURN x",
                "a relationship pattern without a type",
            ),
            (
                "MATCH (u:MimecastUser)-[*1..2]->(x) RETURN x",
                "a relationship pattern without a type",
            ),
            ("CALL db.labels() YIELD label RETURN label", "it calls a procedure"),
            (
                "MATCH (g:MimecastGraphLock) RETURN g",
                "it reads `MimecastGraphLock`, which every sync rewrites",
            ),
        ];
        for (text, why) in cases {
            assert_eq!(reason(text).as_deref(), Some(why), "{text}");
        }
    }

    #[test]
    fn what_only_looks_unstable_is_stable() {
        for text in [
            // In a comment, a string or a conversion of a stored value.
            "// datetime() and (:OktaUser)--()\nMATCH (u:MimecastUser) RETURN u",
            "MATCH (u:MimecastUser) WHERE u.name <> 'datetime() --' RETURN u",
            "MATCH (u:MimecastUser)-[r:ASSIGNED]->(c) RETURN datetime(r.completedOn) AS d",
            // A map's values, a list comprehension, a subquery and a parameter.
            "MATCH (a:MimecastAccount {accountCode: $account}) RETURN [x IN [1, 2] | x] AS xs, \
             {n: a.accountCode, k: toLower(a.accountCode), d: 7, v: xs} AS m",
            "MATCH (p:Person {active: true}) WHERE EXISTS { MATCH (p)-[:IS]->(:MimecastUser {email: p.email, n: category}) } RETURN p",
            "MATCH (u:MimecastUser) CALL { WITH u RETURN 1 AS one } RETURN one",
            "MATCH (u:MimecastUser {onWatchlist: true}) CALL (u) { RETURN u.email AS e } RETURN e",
            "MATCH (u:`MimecastUser`)-[:ASSIGNED|COMPLETED]->(c:MimecastAwarenessCampaign) RETURN c",
        ] {
            assert_eq!(reason(text), None, "{text}");
        }
    }

    #[test]
    fn the_run_digest_changes_with_the_text_the_version_and_each_parameter() {
        let set = crate::queries::embedded();
        let def = set.iter().find(|d| d.id == "watchlist").unwrap().clone();
        let params = |a: &str| BTreeMap::from([("account".to_owned(), serde_json::json!(a))]);
        let base = run_digest(&def, &params("C1"));
        assert_eq!(base.len(), 16);
        assert_eq!(run_digest(&def, &params("C1")), base);
        assert_ne!(run_digest(&def, &params("C2")), base);
        assert_ne!(run_digest(&def, &BTreeMap::new()), base);
        let mut edited = def.clone();
        edited.text.push(' ');
        assert_ne!(run_digest(&edited, &params("C1")), base);
        let mut bumped = def;
        bumped.version += 1;
        assert_ne!(run_digest(&bumped, &params("C1")), base);
    }
}
