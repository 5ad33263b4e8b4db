//! `index.html`: one self-contained page. Styles are inline, charts are inline SVG,
//! and a Content-Security-Policy of `default-src 'none'` (the one script allowed by
//! its hash) makes the browser refuse anything the page would fetch. Key figures carry
//! `data-` attributes so that a test (or an auditor's script) can read them exactly.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

use super::{AccountReport, Coverage, Report};
use crate::queries::{cell, judged_line, QueryDef, QueryResult, Severity};
use crate::sink::CampaignCompletion;

/// Rows of a rule shown in the page; all of them are in its CSV.
const SHOWN_ROWS: usize = 25;

/// The page's only script: it proves scripts ran (no error stopped it) and counts the
/// rules the page shows, for the browser test.
const SCRIPT: &str = "document.documentElement.setAttribute('data-script', 'ran');\
document.documentElement.setAttribute('data-rules-seen', String(document.querySelectorAll('article.rule').length));";

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1b1f24; background: #fff;
  max-width: 1040px; margin: 0 auto; padding: 24px; line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.35em; border-bottom: 2px solid #1f5fa8; padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 1.1em; margin: 26px 0 8px; }
.meta { color: #4a5561; margin: 2px 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; font-weight: 600;
  border: 1px solid currentColor; }
.sev-critical { color: #8b0000; } .sev-high { color: #c23b22; } .sev-medium { color: #b36b00; }
.sev-low { color: #4a5561; } .sev-info { color: #1f5fa8; }
.status-success { color: #1a7f37; } .status-other { color: #c23b22; }
article.rule { border: 1px solid #d0d7de; border-left: 5px solid #8c959f; border-radius: 4px; padding: 8px 14px; margin: 12px 0; }
article.rule.has-findings { border-left-color: #c23b22; }
article.rule.clean { border-left-color: #1a7f37; }
article.rule h4 { margin: 2px 0 6px; font-size: 1.02em; }
p.judged { font-size: 1.08em; margin: 4px 0; }
.controls, .remediation, .files { margin: 4px 0; color: #333; }
figure { margin: 8px 0 14px; }
figcaption { color: #4a5561; font-size: 0.9em; }
svg text { font-family: inherit; font-size: 12px; fill: #1b1f24; }
svg.trend { max-width: 640px; }
dl.sync { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0; }
dl.sync dt { color: #4a5561; } dl.sync dd { margin: 0; }
.no-data, .no-history { color: #4a5561; font-style: italic; }
footer { margin-top: 40px; border-top: 1px solid #d0d7de; padding-top: 8px; color: #4a5561; font-size: 0.9em; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  section.account { break-before: page; }
  figure, table, article.rule, dl.sync { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// One bar: its series, its value on the chart's scale, and the text beside it.
type Bar<'a> = (&'a str, f64, String);
/// A labelled group of bars, one per series.
type Group<'a> = (String, Vec<Bar<'a>>);

const SERIES: [&str; 5] = ["#1f5fa8", "#7fb3e6", "#e07b39", "#c23b22", "#3a9d5d"];

/// Text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

fn trends(out: &mut String, report: &Report, a: &AccountReport) {
    let _ = writeln!(
        out,
        "<h3>Trends</h3>\n<div class=\"trends\" id=\"trends-{}\" data-runs=\"{}\">",
        esc(&a.code),
        a.history.len()
    );
    if a.history.is_empty() {
        out.push_str(
            "<p class=\"no-history\">No sync history recorded yet: trends appear once syncs record their findings.</p>\n</div>\n",
        );
        return;
    }
    let first = a.history.first().map_or("", |r| r.started_on.as_str());
    let last = a.history.last().map_or("", |r| r.started_on.as_str());
    let _ = writeln!(
        out,
        "<p class=\"meta\">Findings per rule over {} recorded sync(s), {} to {}.</p>",
        a.history.len(),
        esc(first),
        esc(last)
    );
    for d in report.defs.iter().filter(|d| d.rule.is_some()) {
        let points: Vec<(String, Option<f64>)> = a
            .history
            .iter()
            .map(|r| (r.started_on.clone(), r.findings.get(&d.id).map(|v| *v as f64)))
            .collect();
        let data = points_data(&points, Scale::Count);
        let _ = writeln!(
            out,
            "<figure class=\"trend\" data-trend=\"{}\" data-points=\"{}\">\n\
             <figcaption>{} (<code>{}</code>): findings per recorded sync</figcaption>",
            esc(&d.id),
            data.join(","),
            esc(&d.title),
            esc(&d.id)
        );
        if points.iter().any(|(_, v)| v.is_some()) {
            out.push_str(&line_chart(&points, Scale::Count));
        } else {
            out.push_str("<p class=\"no-history\">No recorded sync counted this rule.</p>\n");
        }
        out.push_str("</figure>\n");
    }
    completion_trends(out, a);
    out.push_str("</div>\n");
}

/// One line chart per training campaign: its completion rate over the recorded syncs
/// (campaigns in the order they first appear, each sync listing them by launch). A
/// campaign is followed by its id, so a renamed one keeps one line, captioned with its
/// latest name; a run recorded without ids matches by name.
fn completion_trends(out: &mut String, a: &AccountReport) {
    let all = || a.history.iter().flat_map(|r| &r.completion);
    let id_of_name: BTreeMap<&str, &str> = all()
        .filter(|c| !c.id.is_empty())
        .map(|c| (c.campaign.as_str(), c.id.as_str()))
        .collect();
    let key = |c: &'_ CampaignCompletion| -> String {
        if c.id.is_empty() {
            id_of_name
                .get(c.campaign.as_str())
                .map_or_else(|| c.campaign.clone(), |id| (*id).to_owned())
        } else {
            c.id.clone()
        }
    };
    let mut keys: Vec<String> = Vec::new();
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for c in all() {
        let k = key(c);
        if !keys.contains(&k) {
            keys.push(k.clone());
        }
        names.insert(k, &c.campaign);
    }
    if keys.is_empty() {
        out.push_str(
            "<p class=\"no-history\" id=\"no-completion-history\">No recorded sync holds campaign completion figures yet.</p>\n",
        );
        return;
    }
    let _ = writeln!(
        out,
        "<p class=\"meta\">Completion rate (completed of assigned, percent) per training campaign over the recorded syncs.</p>"
    );
    for k in &keys {
        let name = names[k];
        let points: Vec<(String, Option<f64>)> = a
            .history
            .iter()
            .map(|r| {
                let rate = r
                    .completion
                    .iter()
                    .find(|c| key(c) == *k)
                    .map(CampaignCompletion::completion_rate);
                (r.started_on.clone(), rate)
            })
            .collect();
        let _ = writeln!(
            out,
            "<figure class=\"trend\" data-completion-trend=\"{}\" data-points=\"{}\">\n\
             <figcaption>{}: completion rate per recorded sync</figcaption>",
            esc(name),
            points_data(&points, Scale::Percent).join(","),
            esc(name)
        );
        out.push_str(&line_chart(&points, Scale::Percent));
        out.push_str("</figure>\n");
    }
}

/// What a trend's values are.
#[derive(Clone, Copy)]
enum Scale {
    /// Counts from zero to their largest value.
    Count,
    /// Percentages from 0 to 100, one decimal.
    Percent,
}

impl Scale {
    /// A value as its `data-` attribute writes it.
    fn data(self, v: f64) -> String {
        match self {
            Scale::Count => format!("{v:.0}"),
            Scale::Percent => format!("{v:.1}"),
        }
    }

    /// A value as the chart labels it.
    fn label(self, v: f64) -> String {
        match self {
            Scale::Count => format!("{v:.0}"),
            Scale::Percent => format!("{v:.1}%"),
        }
    }
}

/// The values of a trend for its `data-points` attribute; a sync without one is empty.
fn points_data(points: &[(String, Option<f64>)], scale: Scale) -> Vec<String> {
    points
        .iter()
        .map(|(_, v)| v.map_or_else(String::new, |v| scale.data(v)))
        .collect()
}

/// A horizontal grouped bar chart: one group per label, one bar per series.
fn bar_chart(id: &str, title: &str, series: &[&str], groups: &[Group], max: f64) -> String {
    const LABEL_W: f64 = 230.0;
    const BAR_AREA: f64 = 520.0;
    const BAR_H: f64 = 14.0;
    const GAP: f64 = 3.0;
    const GROUP_GAP: f64 = 12.0;
    const LEGEND_H: f64 = 24.0;
    let per_group = series.len() as f64 * (BAR_H + GAP) - GAP;
    let height = LEGEND_H + groups.len() as f64 * (per_group + GROUP_GAP);
    let width = LABEL_W + BAR_AREA + 120.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<figure><svg id=\"{}\" role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"100%\" aria-label=\"{}\">\n<title>{}</title>\n",
        esc(id),
        esc(title),
        esc(title)
    );
    for (i, name) in series.iter().enumerate() {
        let x = LABEL_W + i as f64 * 130.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"14\">{}</text>",
            SERIES[i % SERIES.len()],
            x + 16.0,
            esc(name)
        );
    }
    for (g, (label, bars)) in groups.iter().enumerate() {
        let top = LEGEND_H + g as f64 * (per_group + GROUP_GAP);
        let shown: String = if label.chars().count() > 34 {
            label.chars().take(33).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LABEL_W - 8.0,
            top + per_group / 2.0 + 4.0,
            esc(&shown)
        );
        for (i, (name, value, text)) in bars.iter().enumerate() {
            let y = top + i as f64 * (BAR_H + GAP);
            let w = if max > 0.0 {
                (value / max).clamp(0.0, 1.0) * BAR_AREA
            } else {
                0.0
            };
            let _ = writeln!(
                svg,
                "<rect class=\"bar\" data-series=\"{}\" data-value=\"{value}\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR_H}\" fill=\"{}\"><title>{}: {} {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{}\">{}</text>",
                esc(name),
                SERIES[i % SERIES.len()],
                esc(label),
                esc(name),
                esc(text),
                LABEL_W + w + 6.0,
                y + BAR_H - 3.0,
                esc(text)
            );
        }
    }
    svg.push_str("</svg></figure>\n");
    svg
}

/// A line chart of values over the recorded syncs; a sync without a value leaves a gap.
fn line_chart(points: &[(String, Option<f64>)], scale: Scale) -> String {
    const W: f64 = 640.0;
    const H: f64 = 130.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 18.0;
    const BOTTOM: f64 = 30.0;
    // Points stay clear of the axis and the right edge.
    const INSET: f64 = 24.0;
    let max = match scale {
        Scale::Count => points.iter().filter_map(|(_, v)| *v).fold(1.0, f64::max),
        Scale::Percent => 100.0,
    };
    let plot_w = W - LEFT - RIGHT - 2.0 * INSET;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| {
        if points.len() <= 1 {
            LEFT + INSET + plot_w / 2.0
        } else {
            LEFT + INSET + plot_w * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |v: f64| TOP + plot_h * (1.0 - v / max);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"trend\" role=\"img\" viewBox=\"0 0 {W} {H}\" width=\"100%\">\n\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
         <line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8c959f\"/>\n\
         <text x=\"{lx}\" y=\"{}\" text-anchor=\"end\">{}</text><text x=\"{lx}\" y=\"{}\" text-anchor=\"end\">0</text>",
        TOP + 4.0,
        scale.label(max),
        H - BOTTOM + 4.0,
        b = H - BOTTOM,
        r = W - RIGHT,
        lx = LEFT - 6.0,
    );
    // Consecutive recorded counts form one line; a missing count breaks it.
    let mut segment: Vec<String> = Vec::new();
    let flush = |segment: &mut Vec<String>, svg: &mut String| {
        if segment.len() > 1 {
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"{}\"/>",
                segment.join(" ")
            );
        }
        segment.clear();
    };
    for (i, (_, v)) in points.iter().enumerate() {
        match v {
            Some(v) => segment.push(format!("{:.1},{:.1}", x(i), y(*v))),
            None => flush(&mut segment, &mut svg),
        }
    }
    flush(&mut segment, &mut svg);
    for (i, (when, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let (data, label) = (scale.data(*v), scale.label(*v));
            let _ = writeln!(
                svg,
                "<circle class=\"point\" data-value=\"{data}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#1f5fa8\"><title>{}: {label}</title></circle>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                x(i),
                y(*v),
                esc(when),
                x(i),
                y(*v) - 7.0
            );
        }
    }
    let label = |i: usize, anchor: &str| {
        format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            x(i),
            H - BOTTOM + 18.0,
            esc(points[i].0.get(..10).unwrap_or(&points[i].0))
        )
    };
    if let Some(last) = points.len().checked_sub(1) {
        if last == 0 {
            svg.push_str(&label(0, "middle"));
        } else {
            svg.push_str(&label(0, "start"));
            svg.push_str(&label(last, "end"));
        }
    }
    svg.push_str("\n</svg>\n");
    svg
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

    #[test]
    fn a_line_breaks_where_a_sync_has_no_count() {
        let svg = line_chart(
            &[
                ("2024-01-01T00:00:00Z".into(), Some(2.0)),
                ("2024-01-02T00:00:00Z".into(), Some(4.0)),
                ("2024-01-03T00:00:00Z".into(), None),
                ("2024-01-04T00:00:00Z".into(), Some(1.0)),
            ],
            Scale::Count,
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("class=\"point\"").count(), 3);
        assert!(svg.contains("points=\"68.0,59.0 245.3,18.0\""), "{svg}");
    }

    #[test]
    fn a_completion_trend_spans_zero_to_a_hundred_percent() {
        let svg = line_chart(
            &[
                ("2024-01-01T00:00:00Z".into(), Some(50.0)),
                ("2024-01-02T00:00:00Z".into(), Some(66.7)),
            ],
            Scale::Percent,
        );
        // 50% sits half way down the 82-unit plot that starts at 18.
        assert!(svg.contains("points=\"68.0,59.0 600.0,45.3\""), "{svg}");
        assert!(svg.contains("data-value=\"66.7\""), "{svg}");
        assert!(svg.contains(">66.7%</text>"), "{svg}");
        assert!(svg.contains(">100.0%</text>"), "{svg}");
    }
}
