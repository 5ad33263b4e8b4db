//! `mimecast-graph validate`: for each connection, a token, the account, the
//! Awareness Training package, one call per product area; then Neo4j.

use std::fmt::Write as _;

use futures::StreamExt;

use crate::config::{AwarenessTraining, Config, ConnectionConfig, ThreatLog};
use crate::mimecast::{ApiError, Client};
use crate::sink::Sink;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Not offered to this tenant; not an error.
    Unavailable,
    Failed,
    /// Not run because an earlier check failed.
    Skipped,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Unavailable => "unavailable",
            Verdict::Failed => "FAILED",
            Verdict::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
}

/// What a section of the report checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Connection { name: String, base_url: String },
    Neo4j { uri: String },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Connection { name, base_url } => write!(f, "connection {name} ({base_url})"),
            Target::Neo4j { uri } => write!(f, "neo4j ({uri})"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Section {
    pub target: Target,
    pub checks: Vec<Check>,
}

/// The overall result, worst first: a failed connection outweighs a failed Neo4j.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    MimecastFailed,
    Neo4jFailed,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub sections: Vec<Section>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.health() == Health::Healthy
    }

    pub fn health(&self) -> Health {
        let failed = |neo4j: bool| {
            self.sections
                .iter()
                .filter(|s| matches!(s.target, Target::Neo4j { .. }) == neo4j)
                .flat_map(|s| &s.checks)
                .any(|c| matches!(c.verdict, Verdict::Failed | Verdict::Skipped))
        };
        if failed(false) {
            Health::MimecastFailed
        } else if failed(true) {
            Health::Neo4jFailed
        } else {
            Health::Healthy
        }
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let width = self
            .sections
            .iter()
            .flat_map(|s| &s.checks)
            .map(|c| c.name.len())
            .max()
            .unwrap_or(10);
        for Section { target, checks } in &self.sections {
            let _ = writeln!(out, "{target}");
            for c in checks {
                let _ = writeln!(out, "  {:<width$}  {:<11}  {}", c.name, c.verdict.label(), c.detail);
            }
        }
        let _ = writeln!(
            out,
            "{}",
            if self.ok() {
                "all checks passed"
            } else {
                "some checks FAILED: see the details above"
            }
        );
        out
    }
}

fn check(name: &str, result: Result<String, ApiError>) -> Check {
    match result {
        Ok(detail) => Check {
            name: name.into(),
            verdict: Verdict::Ok,
            detail,
        },
        Err(e) if e.is_unavailable() => Check {
            name: name.into(),
            verdict: Verdict::Unavailable,
            detail: e.to_string(),
        },
        Err(e) => Check {
            name: name.into(),
            verdict: Verdict::Failed,
            detail: e.to_string(),
        },
    }
}

async fn first_page<T: Send + 'static>(pages: crate::mimecast::Pages<T>) -> Result<usize, ApiError> {
    let mut pages = pages;
    match pages.next().await {
        Some(Ok(page)) => Ok(page.len()),
        Some(Err(e)) => Err(e),
        None => Ok(0),
    }
}

/// Checks one connection; never fails as a whole.
pub async fn check_connection(c: &ConnectionConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    let client = match Client::new(c) {
        Ok(client) => client,
        Err(e) => {
            checks.push(Check {
                name: "client set-up".into(),
                verdict: Verdict::Failed,
                detail: e.to_string(),
            });
            return checks;
        }
    };
    let token = client.check_token().await.map(|issued| {
        if issued {
            "token issued".to_owned()
        } else {
            "API 1.0: requests are HMAC-signed, no token".to_owned()
        }
    });
    let token_ok = token.is_ok();
    checks.push(check("authentication", token));
    let skip = |name: &str| Check {
        name: name.into(),
        verdict: Verdict::Skipped,
        detail: "an earlier check failed".into(),
    };
    if !token_ok {
        for n in [
            "account (get-account)",
            "awareness training package",
            "directory (get-internal-domain)",
        ] {
            checks.push(skip(n));
        }
        return checks;
    }
    let (licensed, account_ok) = match client.get_account().await {
        Ok(a) => {
            let detail = format!(
                "{} {:?}, region {}",
                a.account_code,
                a.account_name.as_deref().unwrap_or(""),
                a.region.as_deref().unwrap_or("?")
            );
            checks.push(check("account (get-account)", Ok(detail)));
            (a.has_awareness_training(), true)
        }
        Err(e) => {
            checks.push(check("account (get-account)", Err(e)));
            (false, false)
        }
    };
    if !account_ok {
        checks.push(skip("awareness training package"));
    } else {
        checks.push(Check {
            name: "awareness training package".into(),
            verdict: if licensed { Verdict::Ok } else { Verdict::Unavailable },
            detail: if licensed {
                "licensed (get-account lists Awareness Training)".into()
            } else {
                "not licensed: get-account lists no Awareness Training package; AT data will be skipped".into()
            },
        });
    }
    checks.push(check(
        "directory (get-internal-domain)",
        client
            .get_internal_domains()
            .await
            .map(|d| format!("{} internal domains", d.len())),
    ));
    let call_at = match c.awareness_training {
        AwarenessTraining::Disabled => false,
        AwarenessTraining::Enabled => true,
        AwarenessTraining::Auto => licensed,
    };
    if call_at {
        checks.push(check(
            "awareness training (get-safe-score-details)",
            first_page(client.safe_score_details())
                .await
                .map(|n| format!("{n} SAFE scores on the first page")),
        ));
        checks.push(check(
            "phishing (phishing/campaign/get-campaign)",
            client
                .get_phishing_campaigns()
                .await
                .map(|p| format!("{} phishing campaigns", p.len())),
        ));
        checks.push(check(
            "training campaigns (campaign/get-campaigns)",
            client
                .get_training_campaigns()
                .await
                .map(|p| {
                    format!(
                        "{} training campaigns (global ones only: the API does not list campaigns targeted at people or groups; record those in [compliance] extra_completions)",
                        p.len()
                    )
                }),
        ));
    }
    // The TTP logs the connection reads: the first page of the last 24 hours each. A
    // 403 (product or permission missing) is "unavailable" and names the permission.
    let to = crate::time::now_iso();
    let from = crate::time::iso(chrono::Utc::now() - chrono::Duration::days(1));
    for log in &c.threat_logs {
        let (name, pages) = match log {
            ThreatLog::Url => (
                "url protection (ttp/url/get-logs)",
                count(client.ttp_url_logs(&from, &to)),
            ),
            ThreatLog::Attachment => (
                "attachment protection (ttp/attachment/get-logs)",
                count(client.ttp_attachment_logs(&from, &to)),
            ),
            ThreatLog::Impersonation => (
                "impersonation protection (ttp/impersonation/get-logs)",
                count(client.ttp_impersonation_logs(&from, &to)),
            ),
        };
        checks.push(check(
            name,
            first_page(pages)
                .await
                .map(|n| format!("{n} events of the last 24 h on the first page")),
        ));
    }
    // Directory groups (`directory_groups`, on by default) and Message Finder (only
    // with `[connection.message_activity]`): a 403 is "unavailable", permission named.
    if c.directory_groups {
        checks.push(check(
            "directory groups (directory/find-groups)",
            first_page(count(client.groups("cloud")))
                .await
                .map(|n| format!("{n} cloud groups on the first page")),
        ));
    }
    if c.message_activity.enabled {
        let probe = "mimecast-graph-validate@invalid";
        checks.push(check(
            "message finder (message-finder/search)",
            client.messages_sent_by(probe, &from, &to).await.map(|m| {
                format!(
                    "searches answer ({} messages for a probe address in the last 24 h)",
                    m.len()
                )
            }),
        ));
    }
    if c.siem.enabled {
        for t in &c.siem.types {
            let day = (chrono::Utc::now() - chrono::Duration::days(1))
                .format("%Y-%m-%d")
                .to_string();
            checks.push(check(
                &format!("SIEM batch {t:?} (siem/v1/batch/events/cg)"),
                client
                    .siem_listing(t, 1, crate::mimecast::siem::From::Day(&day))
                    .await
                    .map(|l| {
                        format!(
                            "the listing answers ({} since yesterday)",
                            if l.value.is_empty() { "no file" } else { "files" }
                        )
                    }),
            ));
        }
    }
    checks
}

/// A page stream reduced to its lengths, so the three logs share one check.
fn count<T: Send + 'static>(pages: crate::mimecast::Pages<T>) -> crate::mimecast::Pages<()> {
    pages.map(|page| page.map(|rows| vec![(); rows.len()])).boxed()
}

/// Every connection, then Neo4j.
pub async fn validate(config: &Config) -> Report {
    let mut sections = Vec::new();
    for c in &config.connections {
        let target = Target::Connection {
            name: c.name.clone(),
            base_url: c.resolved_base_url().unwrap_or_default(),
        };
        sections.push(Section {
            target,
            checks: check_connection(c).await,
        });
    }
    let neo4j = match Sink::connect(&config.neo4j).await {
        Ok(_) => Check {
            name: "RETURN 1".into(),
            verdict: Verdict::Ok,
            detail: format!("as {}", config.neo4j.user),
        },
        Err(e) => Check {
            name: "RETURN 1".into(),
            verdict: Verdict::Failed,
            detail: e.to_string(),
        },
    };
    sections.push(Section {
        target: Target::Neo4j {
            uri: config.neo4j.uri.clone(),
        },
        checks: vec![neo4j],
    });
    Report { sections }
}
