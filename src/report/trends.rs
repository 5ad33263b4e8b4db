//! The Trends section of an account: each rule's findings and each training
//! campaign's completion rate over the syncs recorded in `MimecastSyncRun` nodes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::charts::{esc, line_chart, points_data, Scale};
use super::{AccountReport, Report};
use crate::sink::CampaignCompletion;

/// The account's Trends: one line chart per rule of its findings over the recorded
/// syncs, then the campaigns' completion trends.
pub(super) fn trends(out: &mut String, report: &Report, a: &AccountReport) {
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
