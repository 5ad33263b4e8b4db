//! Query results as text: a table for people, CSV and JSON for programs.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::run::QueryResult;

fn cell(v: &Json) -> String {
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

/// An aligned text table with a title line.
pub fn format_table(r: &QueryResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {} [{}]: {} ({})",
        r.id,
        r.severity,
        r.title,
        row_count(r.rows.len())
    );
    if r.rows.is_empty() {
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

/// The JSON of one result: title, severity, columns and rows as objects.
pub fn to_json_value(r: &QueryResult) -> Json {
    let rows: Vec<Json> = r
        .rows
        .iter()
        .map(|row| Json::Object(r.columns.iter().cloned().zip(row.iter().cloned()).collect()))
        .collect();
    serde_json::json!({"id": r.id, "title": r.title, "severity": r.severity, "columns": r.columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queries::Severity;

    #[test]
    fn formats() {
        let r = QueryResult {
            id: "q".into(),
            title: "T".into(),
            severity: Severity::Low,
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![Json::from("x, \"y\""), Json::Null],
                vec![Json::from(12), serde_json::json!(["p", "q"])],
            ],
        };
        assert_eq!(format_csv(&r), "a,b\n\"x, \"\"y\"\"\",\n12,\"p, q\"\n");
        assert_eq!(
            format_table(&r),
            "== q [low]: T (2 rows)\na       b\n------  ----\nx, \"y\"\n12      p, q\n"
        );
    }
}
