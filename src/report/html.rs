//! `index.html`: one self-contained page. Styles are inline, charts are inline SVG,
//! and a Content-Security-Policy of `default-src 'none'` (the one script allowed by
//! its hash) makes the browser refuse anything the page would fetch. Key figures carry
//! `data-` attributes so that a test (or an auditor's script) can read them exactly.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

use super::charts::{bar_chart, esc, Group};
use super::trends::trends;
use super::{AccountReport, Coverage, Report};
use crate::queries::{cell, judged_line, QueryDef, QueryResult, Severity};

/// Rows of a rule shown in the page; all of them are in its CSV.
const SHOWN_ROWS: usize = 25;

/// The page's only script: it proves scripts ran (no error stopped it) and counts the
/// rules the page shows, for the browser test.
const SCRIPT: &str = "document.documentElement.setAttribute('data-script', 'ran');\
document.documentElement.setAttribute('data-rules-seen', String(document.querySelectorAll('article.rule').length));";

/// The page's styles (inline, so the page needs nothing else).
const STYLE: &str = include_str!("style.css");

/// A JSON value as a `data-` attribute value: numbers as JSON prints them (`80.0`),
/// text as it is, null as empty.
fn attr(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => esc(s),
        other => esc(&other.to_string()),
    }
}

fn percent_text(p: Option<f64>) -> String {
    p.map_or_else(String::new, |p| format!("{p:.1}"))
}

fn or_dash(v: Option<&str>) -> String {
    v.map_or_else(|| "–".to_owned(), esc)
}

/// The page.
pub fn render(report: &Report) -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    let mut out = String::with_capacity(64 * 1024);
    let framework = report
        .framework
        .map_or_else(|| "all frameworks".to_owned(), |f| f.prefix().to_owned());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Mimecast evidence report, {}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body data-generated-on=\"{}\" data-tool-version=\"{}\" data-framework=\"{}\" data-accounts=\"{}\">\n",
        esc(&report.generated_on),
        esc(&report.generated_on),
        esc(report.tool_version),
        report.framework.map_or("", |f| f.id()),
        report.accounts.len(),
    );
    let _ = write!(
        out,
        "<header>\n<h1>Mimecast evidence report</h1>\n\
         <p class=\"meta\">Generated <time id=\"generated-on\">{}</time> by mimecast-graph {} from the graph in Neo4j; \
         {} saved queries for {framework}.</p>\n\
         <p class=\"meta\">Each figure below is the result of a saved query (<code>mimecast-graph queries show ID</code> prints its Cypher); \
         the rows of each are in <code>rules/ID.csv</code>, and <code>manifest.json</code> holds the SHA-256 of every file.</p>\n</header>\n",
        esc(&report.generated_on),
        esc(report.tool_version),
        report.defs.len(),
    );
    summary(&mut out, report);
    for a in &report.accounts {
        account(&mut out, report, a);
    }
    let _ = write!(
        out,
        "<footer>\n<p>To check that these files were not edited: in the report folder, \
         <code>{}</code> (each line must say OK), and compare the SHA-256 of <code>manifest.json</code> itself with the one \
         <code>mimecast-graph report</code> printed when it wrote the folder.</p>\n</footer>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(super::VERIFY)
    );
    out
}

fn summary(out: &mut String, report: &Report) {
    let _ = write!(
        out,
        "<table id=\"summary\">\n<tr><th>Account</th><th>Last sync</th><th>Status</th><th class=\"num\">Rules with findings</th><th class=\"num\">Findings</th></tr>\n"
    );
    for a in &report.accounts {
        let judged: Vec<_> = a.results.iter().filter_map(|r| r.judged.as_ref()).collect();
        let failing = judged.iter().filter(|j| j.findings > 0).count();
        let findings: usize = judged.iter().map(|j| j.findings).sum();
        let _ = writeln!(
            out,
            "<tr data-account=\"{code}\" data-rules-failing=\"{failing}\" data-findings-total=\"{findings}\">\
             <td><a href=\"#account-{code}\">{name}</a> ({code})</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{failing} of {}</td><td class=\"num\">{findings}</td></tr>",
            or_dash(a.last_sync_on.as_deref()),
            status_badge(a.last_sync_status.as_deref()),
            judged.len(),
            code = esc(&a.code),
            name = esc(&a.name),
        );
    }
    out.push_str("</table>\n");
}

fn status_badge(status: Option<&str>) -> String {
    match status {
        Some(s) => format!(
            "<span class=\"badge {}\">{}</span>",
            if s == "success" {
                "status-success"
            } else {
                "status-other"
            },
            esc(s)
        ),
        None => "<span class=\"badge status-other\">never synced</span>".to_owned(),
    }
}

fn account(out: &mut String, report: &Report, a: &AccountReport) {
    let code = esc(&a.code);
    let _ = writeln!(
        out,
        "<section class=\"account\" id=\"account-{code}\" data-account=\"{code}\">\n<h2>{} ({code})</h2>",
        esc(&a.name)
    );
    sync(out, report, a);
    campaigns(out, a);
    coverage(out, a);
    rules(out, report, a);
    phishing(out, a);
    let _ = writeln!(
        out,
        "<h3>Real threats</h3>\n<p id=\"threats-{code}\">URL, attachment and impersonation protection events \
         and SIEM batch detections are in the graph as findings, kept for [sync] event_retention_days; the rules \
         clicked-malicious-not-retrained, malicious-attachment-recipients, siem-detections-not-retrained, \
         real-and-simulated-failures, impersonation-targets and url-warning-overrides above report on them.</p>"
    );
    trends(out, report, a);
    out.push_str("</section>\n");
}

fn sync(out: &mut String, report: &Report, a: &AccountReport) {
    let age = a
        .last_successful_sync_on
        .as_deref()
        .and_then(|t| crate::time::parse(t).ok())
        .zip(crate::time::parse(&report.generated_on).ok())
        .map(|(then, now)| (now - then).num_seconds().max(0) as f64 / 3600.0);
    let age_text = age.map_or_else(
        || "no successful sync recorded".to_owned(),
        |h| {
            if h < 48.0 {
                format!("{h:.1} hours before this report")
            } else {
                format!("{:.1} days before this report", h / 24.0)
            }
        },
    );
    let _ = write!(
        out,
        "<h3>Sync freshness and status</h3>\n<dl class=\"sync\" id=\"sync-{code}\" data-last-sync-on=\"{}\" data-last-sync-status=\"{}\" \
         data-last-successful-sync-on=\"{}\" data-sync-id=\"{}\" data-age-hours=\"{}\">\n\
         <dt>Last sync</dt><dd>{} {}</dd>\n<dt>Last successful sync</dt><dd>{} ({age_text})</dd>\n\
         <dt>Latest sync id</dt><dd><code>{}</code></dd>\n</dl>\n",
        esc(a.last_sync_on.as_deref().unwrap_or_default()),
        esc(a.last_sync_status.as_deref().unwrap_or_default()),
        esc(a.last_successful_sync_on.as_deref().unwrap_or_default()),
        esc(a.latest_sync_id.as_deref().unwrap_or_default()),
        age.map_or_else(String::new, |h| format!("{h:.1}")),
        or_dash(a.last_sync_on.as_deref()),
        status_badge(a.last_sync_status.as_deref()),
        or_dash(a.last_successful_sync_on.as_deref()),
        or_dash(a.latest_sync_id.as_deref()),
        code = esc(&a.code),
    );
}

/// The campaign-completion rows of an account: a bar chart and a table.
fn campaigns(out: &mut String, a: &AccountReport) {
    out.push_str("<h3>Awareness training: completion and pass rate per campaign</h3>\n");
    let Some(r) = &a.campaigns else {
        out.push_str("<p class=\"no-data\">The query set has no campaign-completion query.</p>\n");
        return;
    };
    if r.rows.is_empty() {
        out.push_str("<p class=\"no-data\">No awareness training campaign in the graph.</p>\n");
        return;
    }
    let num = |v: &Json| v.as_f64().unwrap_or(0.0);
    let bars: Vec<Group> = r
        .rows
        .iter()
        .map(|row| {
            let completion = r.value(row, "completionRate");
            let pass = r.value(row, "passRate");
            (
                cell(r.value(row, "campaign")),
                vec![
                    ("completion", num(completion), format!("{}%", cell(completion))),
                    ("pass", num(pass), format!("{}%", cell(pass))),
                ],
            )
        })
        .collect();
    out.push_str(&bar_chart(
        &format!("campaigns-chart-{}", a.code),
        "Completion (of assigned) and pass rate (of completed), percent",
        &["completion rate", "pass rate"],
        &bars,
        100.0,
    ));
    out.push_str(
        "<table class=\"campaigns\">\n<tr><th>Campaign</th><th>Launched</th><th class=\"num\">Assigned</th>\
         <th class=\"num\">Completed</th><th class=\"num\">Passed</th><th class=\"num\">Completion</th><th class=\"num\">Pass rate</th></tr>\n",
    );
    for row in &r.rows {
        let v = |name: &str| r.value(row, name);
        let _ = writeln!(
            out,
            "<tr data-campaign=\"{}\" data-assigned=\"{}\" data-completed=\"{}\" data-passed=\"{}\" data-completion-rate=\"{}\" data-pass-rate=\"{}\">\
             <td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td><td class=\"num\">{}%</td></tr>",
            attr(v("campaign")),
            attr(v("assigned")),
            attr(v("completed")),
            attr(v("passed")),
            attr(v("completionRate")),
            attr(v("passRate")),
            esc(&cell(v("campaign"))),
            esc(&cell(v("launched"))),
            esc(&cell(v("assigned"))),
            esc(&cell(v("completed"))),
            esc(&cell(v("passed"))),
            esc(&cell(v("completionRate"))),
            esc(&cell(v("passRate"))),
        );
    }
    out.push_str("</table>\n");
}

fn coverage(out: &mut String, a: &AccountReport) {
    out.push_str("<h3>Required training coverage per group and category</h3>\n");
    if a.coverage.is_empty() {
        out.push_str(
            "<p class=\"no-data\">No active roster person has a required training category \
             (no roster, or no [compliance] group_requirements).</p>\n",
        );
        return;
    }
    let share = |c: &Coverage| (c.required > 0).then(|| 100.0 * c.covered as f64 / c.required as f64);
    let bars: Vec<Group> = a
        .coverage
        .iter()
        .map(|c| {
            let p = share(c).unwrap_or(0.0);
            (
                format!("{} / {}", group_name(&c.group), c.category),
                vec![("covered", p, format!("{} of {} ({p:.1}%)", c.covered, c.required))],
            )
        })
        .collect();
    out.push_str(&bar_chart(
        &format!("coverage-chart-{}", a.code),
        "Active people with a completed campaign covering the category, percent",
        &["covered"],
        &bars,
        100.0,
    ));
    out.push_str(
        "<table class=\"coverage\">\n<tr><th>Group</th><th>Category</th><th class=\"num\">Required</th>\
         <th class=\"num\">Covered</th><th class=\"num\">Missing</th><th class=\"num\">Coverage</th></tr>\n",
    );
    for c in &a.coverage {
        let _ = writeln!(
            out,
            "<tr data-group=\"{}\" data-category=\"{}\" data-required=\"{}\" data-covered=\"{}\">\
             <td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td></tr>",
            esc(&c.group),
            esc(&c.category),
            c.required,
            c.covered,
            esc(group_name(&c.group)),
            esc(&c.category),
            c.required,
            c.covered,
            c.required.saturating_sub(c.covered),
            percent_text(share(c)),
        );
    }
    out.push_str("</table>\n");
}

fn group_name(g: &str) -> &str {
    if g.is_empty() {
        "(no group)"
    } else {
        g
    }
}

fn severity_badge(s: Severity) -> String {
    format!("<span class=\"badge sev-{s}\">{s}</span>")
}

fn rules(out: &mut String, report: &Report, a: &AccountReport) {
    out.push_str("<h3>Rules</h3>\n");
    for (d, r) in report.defs.iter().zip(&a.results) {
        rule(out, a, d, r);
    }
}

fn rule(out: &mut String, a: &AccountReport, d: &QueryDef, r: &QueryResult) {
    let j = r.judged.as_ref();
    let class = match j {
        Some(j) if j.findings > 0 => "rule has-findings",
        Some(_) => "rule clean",
        None => "rule info",
    };
    let _ = writeln!(
        out,
        "<article class=\"{class}\" id=\"rule-{code}-{id}\" data-rule=\"{id}\" data-version=\"{}\" data-severity=\"{}\" \
         data-rows=\"{}\" data-findings=\"{}\" data-denominator=\"{}\" data-percent=\"{}\">\n\
         <h4>{} {} <code>{id}</code> v{}</h4>",
        d.version,
        d.severity,
        r.rows.len(),
        j.map_or_else(String::new, |j| j.findings.to_string()),
        j.map_or_else(String::new, |j| j.denominator.to_string()),
        percent_text(j.and_then(crate::queries::Judged::percent)),
        severity_badge(d.severity),
        esc(&d.title),
        d.version,
        code = esc(&a.code),
        id = esc(&d.id),
    );
    match j {
        Some(j) => {
            let _ = writeln!(out, "<p class=\"judged\">{}</p>", esc(&judged_line(j)));
        }
        None => {
            let _ = writeln!(
                out,
                "<p class=\"judged\">Informational: {} (no findings).</p>",
                esc(&crate::queries::row_count(r.rows.len()))
            );
        }
    }
    let _ = writeln!(
        out,
        "<p class=\"controls\">Controls: {}</p>",
        esc(&d.frameworks.join("; "))
    );
    if let Some(rule) = &d.rule {
        let _ = writeln!(
            out,
            "<p class=\"remediation\">Remediation: {}</p>",
            esc(&rule.remediation)
        );
    }
    if !r.rows.is_empty() && d.reports_findings() {
        rows_table(out, r);
    }
    let _ = writeln!(
        out,
        "<p class=\"files\">Rows: <a href=\"{0}\">{0}</a></p>\n</article>",
        esc(&super::files::csv_path(&d.id))
    );
}

fn rows_table(out: &mut String, r: &QueryResult) {
    out.push_str("<table class=\"rows\">\n<tr>");
    for c in &r.columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr>\n");
    for row in r.rows.iter().take(SHOWN_ROWS) {
        out.push_str("<tr>");
        for v in row {
            let _ = write!(out, "<td>{}</td>", esc(&cell(v)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    if r.rows.len() > SHOWN_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"meta\">The first {SHOWN_ROWS} of {} rows; all are in the CSV.</p>",
            r.rows.len()
        );
    }
}

fn phishing(out: &mut String, a: &AccountReport) {
    out.push_str("<h3>Phishing simulations</h3>\n");
    if a.phishing.is_empty() {
        out.push_str("<p class=\"no-data\">No phishing simulation campaign in the graph.</p>\n");
        return;
    }
    let names = ["sent", "opened", "clicked", "submitted", "reported"];
    let max = a
        .phishing
        .iter()
        .flat_map(|p| p.figures().map(|(_, v)| v.unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bars: Vec<Group> = a
        .phishing
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.figures()
                    .into_iter()
                    .map(|(n, v)| {
                        (
                            n,
                            v.unwrap_or(0) as f64,
                            v.map_or_else(|| "–".to_owned(), |v| v.to_string()),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    out.push_str(&bar_chart(
        &format!("phishing-chart-{}", a.code),
        "Messages sent, opened, clicked, submitted (data entered) and reported, as Mimecast counts them",
        &names,
        &bars,
        max,
    ));
    out.push_str("<table class=\"phishing\">\n<tr><th>Campaign</th><th>Launched</th>");
    for n in names {
        let _ = write!(out, "<th class=\"num\">{}</th>", capitalized(n));
    }
    out.push_str("<th class=\"num\">Click rate</th><th class=\"num\">Report rate</th></tr>\n");
    for p in &a.phishing {
        let rate = |v: Option<i64>| match (v, p.sent) {
            (Some(v), Some(s)) if s > 0 => format!("{:.1}%", 100.0 * v as f64 / s as f64),
            _ => "–".to_owned(),
        };
        let _ = write!(out, "<tr data-phishing=\"{}\"", esc(&p.name));
        for (n, v) in p.figures() {
            let _ = write!(out, " data-{n}=\"{}\"", v.map_or_else(String::new, |v| v.to_string()));
        }
        let _ = write!(
            out,
            "><td>{}</td><td>{}</td>",
            esc(&p.name),
            or_dash(p.launched.as_deref())
        );
        for (_, v) in p.figures() {
            let _ = write!(
                out,
                "<td class=\"num\">{}</td>",
                v.map_or_else(|| "–".to_owned(), |v| v.to_string())
            );
        }
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            rate(p.clicked),
            rate(p.reported)
        );
    }
    out.push_str("</table>\n");
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(esc("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
        assert_eq!(attr(&Json::from(80.0)), "80.0");
        assert_eq!(attr(&Json::Null), "");
    }
}
