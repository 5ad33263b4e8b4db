//! Query results as text: a table for people, CSV and JSON for programs.

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap as _, Serializer};
use serde_json::Value as Json;

use super::run::QueryResult;

/// One value as the text of a table or CSV cell: null is empty, a list is comma-separated.
pub fn cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// `1 row`, `3 rows`.
pub fn row_count(n: usize) -> String {
    if n == 1 {
        "1 row".to_owned()
    } else {
        format!("{n} rows")
    }
}

/// `2 findings of 40 active people (5.0%)`.
pub fn judged_line(j: &super::Judged) -> String {
    let noun = if j.findings == 1 { "finding" } else { "findings" };
    let share = j
        .percent()
        .map_or_else(|| "no population".to_owned(), |p| format!("{p:.1}%"));
    format!("{} {noun} of {} {} ({share})", j.findings, j.denominator, j.population)
}

/// An aligned text table with a title line, at most `limit` rows shown: the title
/// counts every row, names the parameters that differ from their defaults, and a last
/// line says how many rows were left out.
pub fn format_table(result: &QueryResult, limit: Option<usize>) -> String {
    let mut out = String::new();
    let overrides = if result.overrides.is_empty() {
        String::new()
    } else {
        let given: Vec<String> = result.overrides.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!(", with {}", given.join(", "))
    };
    let _ = writeln!(
        out,
        "== {} [{}]: {}{overrides} ({})",
        result.id,
        result.severity,
        result.title,
        row_count(result.rows.len())
    );
    if let Some(j) = &result.judged {
        let _ = writeln!(out, "{}", judged_line(j));
    }
    let shown = limit.map_or(result.rows.len(), |n| n.min(result.rows.len()));
    let r = &QueryResult {
        rows: result.rows[..shown].to_vec(),
        ..result.clone()
    };
    if result.rows.is_empty() {
        return out;
    }
    let cells: Vec<Vec<String>> = r.rows.iter().map(|row| row.iter().map(cell).collect()).collect();
    let widths: Vec<usize> = r
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
                .min(60)
        })
        .collect();
    let line = |values: Vec<&str>| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(*w).collect();
                format!("{v:<w$}", w = *w)
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let _ = writeln!(out, "{}", line(r.columns.iter().map(String::as_str).collect()));
    let _ = writeln!(
        out,
        "{}",
        line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect()
        )
    );
    for row in &cells {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    let hidden = result.rows.len() - shown;
    if hidden > 0 {
        let rows = if hidden == 1 { "row" } else { "rows" };
        let _ = writeln!(out, "... {hidden} more {rows} (use --format csv or json for all)");
    }
    out
}

/// RFC 4180 CSV with a header row (quoted only where needed).
pub fn format_csv(r: &QueryResult) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a row always has the header's length.
    let _ = w.write_record(&r.columns);
    for row in &r.rows {
        let _ = w.write_record(row.iter().map(cell));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The JSON of one result: title, severity, columns and rows as objects, written
/// straight from the result (a large answer is not copied into a JSON tree first).
/// Keys come in name order, as in a `serde_json` object.
pub struct ResultJson<'a>(pub &'a QueryResult);

impl Serialize for ResultJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("columns", &r.columns)?;
        if let Some(j) = &r.judged {
            map.serialize_entry("denominator", &j.denominator)?;
            map.serialize_entry("findings", &j.findings)?;
        }
        // Small: through a JSON value, for its key order.
        map.serialize_entry("frameworks", &serde_json::to_value(&r.controls).unwrap_or_default())?;
        map.serialize_entry("id", &r.id)?;
        let parameters: serde_json::Map<String, Json> = r.overrides.iter().cloned().collect();
        map.serialize_entry("parameters", &parameters)?;
        if let Some(j) = &r.judged {
            map.serialize_entry("percent", &j.percent().map(|p| (p * 10.0).round() / 10.0))?;
            map.serialize_entry("population", &j.population)?;
            map.serialize_entry("remediation", &j.remediation)?;
        }
        let mut order: Vec<usize> = (0..r.columns.len()).collect();
        order.sort_by_key(|&i| &r.columns[i]);
        let rows: Vec<RowJson<'_>> = r
            .rows
            .iter()
            .map(|values| RowJson {
                columns: &r.columns,
                order: &order,
                values,
            })
            .collect();
        map.serialize_entry("rows", &rows)?;
        map.serialize_entry("severity", &r.severity)?;
        map.serialize_entry("title", &r.title)?;
        map.serialize_entry("version", &r.version)?;
        map.end()
    }
}

/// One row as an object, its columns in name order.
struct RowJson<'a> {
    columns: &'a [String],
    order: &'a [usize],
    values: &'a [Json],
}

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.order.len()))?;
        for &i in self.order {
            map.serialize_entry(&self.columns[i], &self.values[i])?;
        }
        map.end()
    }
}

/// [`ResultJson`] as a JSON value.
#[cfg(test)]
fn to_json_value(r: &QueryResult) -> Json {
    serde_json::to_value(ResultJson(r)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queries::Severity;

    #[test]
    fn formats() {
        let r = QueryResult {
            id: "q".into(),
            version: 1,
            title: "T".into(),
            severity: Severity::Low,
            controls: vec![],
            judged: None,
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![Json::from("x, \"y\""), Json::Null],
                vec![Json::from(12), serde_json::json!(["p", "q"])],
            ],
            overrides: vec![],
        };
        assert_eq!(format_csv(&r), "a,b\n\"x, \"\"y\"\"\",\n12,\"p, q\"\n");
        assert_eq!(
            format_table(&r, None),
            "== q [low]: T (2 rows)\na       b\n------  ----\nx, \"y\"\n12      p, q\n"
        );
    }

    fn result(rows: usize) -> QueryResult {
        QueryResult {
            id: "q".into(),
            version: 1,
            title: "T".into(),
            severity: Severity::Low,
            controls: vec![],
            judged: None,
            columns: vec!["a".into()],
            rows: (0..rows).map(|i| vec![serde_json::json!(i)]).collect(),
            overrides: vec![],
        }
    }

    #[test]
    fn a_limited_table_counts_every_row_and_names_what_it_left_out() {
        assert_eq!(
            format_table(&result(3), Some(2)),
            "== q [low]: T (3 rows)\na\n-\n0\n1\n... 1 more row (use --format csv or json for all)\n"
        );
        assert_eq!(
            format_table(&result(3), Some(1)),
            "== q [low]: T (3 rows)\na\n-\n0\n... 2 more rows (use --format csv or json for all)\n"
        );
        assert_eq!(format_table(&result(1), None), "== q [low]: T (1 row)\na\n-\n0\n");
    }

    #[test]
    fn the_title_names_parameters_that_differ_from_their_defaults() {
        let mut r = result(0);
        r.overrides = vec![
            ("account".into(), Json::from("C1")),
            ("max_age_hours".into(), Json::from(12)),
        ];
        assert_eq!(
            format_table(&r, None),
            "== q [low]: T, with account = \"C1\", max_age_hours = 12 (0 rows)\n"
        );
        assert_eq!(
            to_json_value(&r),
            serde_json::json!({"id": "q", "version": 1, "title": "T", "severity": "low", "frameworks": [],
                "parameters": {"account": "C1", "max_age_hours": 12}, "columns": ["a"], "rows": []})
        );
    }

    #[test]
    fn a_rule_says_how_many_it_found_of_what_it_judged() {
        let mut r = result(1);
        r.controls = vec![crate::queries::Control::parse("SOC 2 CC6.2").unwrap()];
        r.judged = Some(crate::queries::Judged {
            findings: 1,
            denominator: 3,
            population: "terminated people".into(),
            remediation: "Remove it.".into(),
        });
        assert_eq!(
            format_table(&r, None),
            "== q [low]: T (1 row)\n1 finding of 3 terminated people (33.3%)\na\n-\n0\n"
        );
        assert_eq!(
            to_json_value(&r),
            serde_json::json!({"id": "q", "version": 1, "title": "T", "severity": "low",
                "frameworks": [{"framework": "soc2", "control": "CC6.2"}],
                "parameters": {}, "columns": ["a"], "rows": [{"a": 0}],
                "findings": 1, "denominator": 3, "population": "terminated people", "percent": 33.3,
                "remediation": "Remove it."})
        );
        r.judged = Some(crate::queries::Judged {
            findings: 0,
            denominator: 0,
            population: "accounts".into(),
            remediation: String::new(),
        });
        assert!(format_table(&r, None).contains("\n0 findings of 0 accounts (no population)\n"));
    }

    #[test]
    fn json_is_written_in_the_key_order_of_a_json_object() {
        let mut r = result(2);
        r.controls = vec![crate::queries::Control::parse("SOC 2 CC6.2").unwrap()];
        r.columns = vec!["b".into(), "a".into()];
        r.rows = vec![vec![Json::from(1), Json::from("x")], vec![Json::Null, Json::from(true)]];
        r.judged = Some(crate::queries::Judged {
            findings: 2,
            denominator: 0,
            population: "accounts".into(),
            remediation: "Fix.".into(),
        });
        let text = serde_json::to_string(&ResultJson(&r)).unwrap();
        assert_eq!(text, serde_json::to_string(&to_json_value(&r)).unwrap());
        assert_eq!(
            text,
            "{\"columns\":[\"b\",\"a\"],\"denominator\":0,\"findings\":2,\"frameworks\":[{\"control\":\"CC6.2\",\"framework\":\"soc2\"}],\"id\":\"q\",\
             \"parameters\":{},\"percent\":null,\"population\":\"accounts\",\"remediation\":\"Fix.\",\
             \"rows\":[{\"a\":\"x\",\"b\":1},{\"a\":true,\"b\":null}],\"severity\":\"low\",\"title\":\"T\",\"version\":1}"
        );
    }
}
