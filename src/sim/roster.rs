//! A personnel roster for a generated tenant, for the demo: what an HR export looks
//! like next to a mail directory. Most people match their mailbox, but not all
//! cleanly, so every matching rule and every access-review query has something to
//! show: addresses in other cases, with `+tags`, or in an alias domain; leavers who
//! still have a mailbox; mailboxes nobody in HR owns; new hires without a mailbox.

use std::fmt::Write as _;

use serde_json::Value;

use super::Tenant;

/// The alias spelling of the primary domain `<company>.example.com`:
/// `<company>.example.co.uk` (configure it as a domain alias).
pub fn alias_domain(primary: &str) -> String {
    match primary.strip_suffix(".com") {
        Some(stem) => format!("{stem}.co.uk"),
        None => format!("{primary}.co.uk"),
    }
}

/// The roster group of a directory department.
pub fn group_of(department: &str) -> &'static str {
    match department {
        "Clinical" | "Research" => "clinical",
        "Engineering" | "IT" => "engineering",
        "Finance" | "Procurement" | "Legal" => "finance",
        _ => "general",
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The roster CSV (`email,name,status,group,department,employee_id`) for a tenant.
/// Deterministic: people are taken in directory order and varied by position.
pub fn demo_roster(tenant: &Tenant) -> String {
    let primary = tenant
        .domains
        .first()
        .and_then(|d| d.get("domain"))
        .and_then(Value::as_str)
        .unwrap_or("example.com")
        .to_owned();
    let mut departments: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for r in tenant.safe_scores.iter().chain(&tenant.performance) {
        let email = r.get("emailAddress").or_else(|| r.get("email")).and_then(Value::as_str);
        let department = r.get("department").and_then(Value::as_str);
        if let (Some(e), Some(d)) = (email, department) {
            departments.entry(e.to_lowercase()).or_insert(d);
        }
    }
    let department_of = |email: &str| departments.get(&email.to_lowercase()).copied().unwrap_or("").to_owned();
    let mut out = String::from("email,name,status,group,department,employee_id\n");
    let mut n = 0usize;
    for user in &tenant.users {
        let email = user.get("emailAddress").and_then(Value::as_str).unwrap_or_default();
        let local = email.split('@').next().unwrap_or_default();
        if user.get("alias").and_then(Value::as_bool) == Some(true) || matches!(local, "abuse" | "postmaster") {
            continue;
        }
        n += 1;
        // Every 23rd mailbox belongs to nobody in HR (shared or forgotten).
        if n % 23 == 0 {
            continue;
        }
        let name = user.get("name").and_then(Value::as_str).unwrap_or(local);
        let mut spelled = email.to_owned();
        if n % 11 == 0 {
            spelled = spelled.to_uppercase();
        } else if n % 13 == 0 {
            spelled = spelled.replacen('@', "+hr@", 1);
        } else if n % 19 == 0 && email.ends_with(&format!("@{primary}")) {
            spelled = email.replace(&format!("@{primary}"), &format!("@{}", alias_domain(&primary)));
        }
        let status = if n % 17 == 0 { "terminated" } else { "active" };
        let department = department_of(email);
        let _ = writeln!(
            out,
            "{},{},{status},{},{},E{n:05}",
            csv_field(&spelled),
            csv_field(name),
            group_of(&department),
            csv_field(&department)
        );
    }
    for (i, (name, department)) in [
        ("Nora New", "Clinical"),
        ("Omar Onboarding", "Engineering"),
        ("Pat Pending", "Finance"),
    ]
    .into_iter()
    .enumerate()
    {
        let local = name.to_lowercase().replace(' ', ".");
        let _ = writeln!(
            out,
            "{local}@{primary},{name},active,{},{department},N{:04}",
            group_of(department),
            i + 1
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::roster;
    use crate::sim::{generate, GenerateSpec};

    #[test]
    fn the_demo_roster_parses_and_varies_as_documented() {
        let tenant = generate(&GenerateSpec {
            users: 300,
            domains: 2,
            campaigns: 2,
            phishing: 1,
            seed: 7,
            ..GenerateSpec::default()
        });
        let text = demo_roster(&tenant);
        let primary = tenant.domains[0]["domain"].as_str().unwrap().to_owned();
        let aliases = std::collections::BTreeMap::from([(alias_domain(&primary), primary.clone())]);
        let people = roster::parse(&text, "demo.csv", &aliases).unwrap();
        assert!(people.len() > 250, "{}", people.len());
        assert!(people.iter().any(|p| !p.active));
        assert!(people.iter().any(|p| p.email.contains("+hr@")));
        assert!(people.iter().any(|p| p.email.ends_with(&alias_domain(&primary))));
        assert!(people.iter().any(|p| p.email.chars().any(|c| c.is_ascii_uppercase())));
        assert_eq!(
            people.iter().filter(|p| p.extra["employeeId"].starts_with('N')).count(),
            3
        );
        assert_eq!(demo_roster(&tenant), text, "deterministic");
    }

    #[test]
    fn groups_follow_departments() {
        assert_eq!(group_of("Clinical"), "clinical");
        assert_eq!(group_of("IT"), "engineering");
        assert_eq!(group_of("Legal"), "finance");
        assert_eq!(group_of(""), "general");
        assert_eq!(alias_domain("northwind.example.com"), "northwind.example.co.uk");
    }
}
