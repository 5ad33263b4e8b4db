//! Directory groups and mailbox activity end to end: the Acme tenant with a small
//! group tree (nesting, LDAP and cloud, a domain member, outside members, a group
//! whose `userCount` disagrees) and Message Finder records, served by the simulator
//! and synced into the real Neo4j. Exact groups, tree and memberships; training
//! requirements through nested Mimecast groups with and without a roster; a refused
//! permission leaves the stored groups untouched; the activity budget across three
//! syncs covers every mailbox.

use mimecast_graph::config::{Config, MessageActivity};
use mimecast_graph::graph::FindingKind;
use mimecast_graph::sim::{SimOptions, Tenant};
use mimecast_graph::steps::StepStatus;
use mimecast_graph::sync::{SyncOutcome, SyncStatus};
use serde_json::{json, Value as Json};

use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim, unique_account};
use crate::sync::{rows, sync};

const GROUPS_PERMISSION: &str = "Directories | Groups | Read";

fn member(email: &str, internal: bool) -> Json {
    let domain = email.rsplit_once('@').unwrap().1;
    json!({"emailAddress": email, "domain": domain, "internal": internal, "type": "created_manually", "name": email})
}

/// Acme with five groups: `Clinical Staff` (LDAP) holding Ann and the child group
/// `Nurses` (Erin and an outside address); `Labs` whose member is the internal domain
/// labs.acme.com; `Engineering` saying 5 users but listing 2; `Partners` whose member
/// is an outside domain.
fn groups_tenant(account: &str) -> Tenant {
    let mut t = acme_tenant(account);
    t.groups = vec![
        json!({"id": "g-clinical", "description": "Clinical Staff", "source": "ldap", "folderCount": 1, "userCount": 1,
               "members": [member("ann@acme.com", true)]}),
        json!({"id": "g-nurses", "description": "Nurses", "source": "ldap", "parentId": "g-clinical", "folderCount": 0, "userCount": 2,
               "members": [member("Erin@Acme.com", true), member("outsider@gmail.com", false)]}),
        json!({"id": "g-labs", "description": "Labs", "source": "cloud", "folderCount": 0, "userCount": 1,
               "members": [{"domain": "labs.acme.com", "internal": true, "type": "created_manually", "name": "labs.acme.com"}]}),
        json!({"id": "g-eng", "description": "Engineering", "source": "cloud", "folderCount": 0, "userCount": 5,
               "members": [member("bob@acme.com", true), member("dave@acme.com", true)]}),
        json!({"id": "g-partners", "description": "Partners", "source": "cloud", "folderCount": 0, "userCount": 1,
               "members": [{"domain": "partner.example.net", "internal": false, "type": "created_manually", "name": "partner"}]}),
    ];
    t.validate().unwrap();
    t
}

/// A config for one Acme connection to `tenant`, with `mimecast:` requirements for
/// `Clinical Staff` (hipaa) and `Labs` (general); `roster` false drops the roster.
async fn setup(tenant: Tenant, roster: bool) -> (mimecast_graph::sim::SimServer, Config) {
    let sim = start_sim(tenant, SimOptions::default()).await;
    let mut c = acme_connection("acme", &sim);
    let reqs = &mut c.compliance.group_requirements;
    reqs.insert("mimecast:Clinical Staff".into(), vec!["hipaa".into()]);
    reqs.insert("mimecast:labs".into(), vec!["general".into()]);
    if !roster {
        c.compliance.roster = None;
    }
    (sim, config_with(vec![c]))
}

fn step<'a>(o: &'a SyncOutcome, id: &str) -> &'a mimecast_graph::steps::StepResult {
    let c = o.collection.as_ref().unwrap();
    c.tenants[0].steps.iter().find(|s| s.id == id).unwrap()
}

async fn memberships(account: &str) -> Vec<Json> {
    rows(
        &sink().await,
        "MATCH (m)-[r:MEMBER_OF]->(g:MimecastGroup {accountCode: $account}) \
         RETURN labels(m)[0] AS kind, coalesce(m.email, m.domain) AS member, g.name AS grp ORDER BY grp, member",
        account,
    )
    .await
}

#[tokio::test]
async fn groups_tree_and_memberships_are_exact_and_mismatches_reported() {
    let account = unique_account("GRP");
    let (_sim, config) = setup(groups_tenant(&account), true).await;
    let o = sync(&config).await;
    assert_eq!(o.status, SyncStatus::Success, "{:?}", o.error);
    let groups = rows(
        &sink().await,
        "MATCH (g:MimecastGroup {accountCode: $account}) OPTIONAL MATCH (g)-[:CHILD_OF]->(p:MimecastGroup) \
         RETURN g.name AS name, g.source AS source, g.userCount AS users, g.folderCount AS folders, p.name AS parent ORDER BY name",
        &account,
    )
    .await;
    assert_eq!(
        groups,
        vec![
            json!({"name": "Clinical Staff", "source": "ldap", "users": 1, "folders": 1, "parent": null}),
            json!({"name": "Engineering", "source": "cloud", "users": 5, "folders": 0, "parent": null}),
            json!({"name": "Labs", "source": "cloud", "users": 1, "folders": 0, "parent": null}),
            json!({"name": "Nurses", "source": "ldap", "users": 2, "folders": 0, "parent": "Clinical Staff"}),
            json!({"name": "Partners", "source": "cloud", "users": 1, "folders": 0, "parent": null}),
        ]
    );
    assert_eq!(
        memberships(&account).await,
        vec![
            json!({"kind": "MimecastUser", "member": "ann@acme.com", "grp": "Clinical Staff"}),
            json!({"kind": "MimecastUser", "member": "bob@acme.com", "grp": "Engineering"}),
            json!({"kind": "MimecastUser", "member": "dave@acme.com", "grp": "Engineering"}),
            json!({"kind": "MimecastDomain", "member": "labs.acme.com", "grp": "Labs"}),
            json!({"kind": "MimecastUser", "member": "erin@acme.com", "grp": "Nurses"}),
        ]
    );
    let c = o.collection.as_ref().unwrap();
    let mismatch = &c.integrity.findings[&FindingKind::SourceMismatch];
    assert_eq!(mismatch.count, 1);
    assert_eq!(
        mismatch.samples,
        ["group \"Engineering\": userCount 5, 2 members listed"]
    );
    let unknown = &c.integrity.findings[&FindingKind::UnknownParticipant];
    for sample in [
        "outsider@gmail.com in group \"Nurses\"",
        "domain partner.example.net in group \"Partners\"",
    ] {
        assert!(
            unknown.samples.iter().any(|s| s == sample),
            "{sample} not in {:?}",
            unknown.samples
        );
    }
    assert_eq!(step(&o, "fetch-groups").entities.get("mimecast_group"), Some(&5));
    assert_eq!(
        step(&o, "fetch-group-members")
            .relationships
            .get("mimecast_user_member_of_group"),
        Some(&4)
    );
}

fn row(account: &str, person: &str, email: &str, group: &str, category: &str) -> Vec<Json> {
    vec![
        json!(account),
        json!(person),
        json!(email),
        json!(group),
        json!(category),
    ]
}

/// A saved query's rows and denominator for one account.
async fn run_query(id: &str, account: &str, extra: &[(&str, Json)]) -> (Vec<Vec<Json>>, Option<u64>) {
    let def = mimecast_graph::queries::embedded()
        .iter()
        .find(|d| d.id == id)
        .unwrap()
        .clone();
    let mut params: std::collections::BTreeMap<String, Json> = [("account".to_owned(), json!(account))].into();
    params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let r = mimecast_graph::queries::run(&sink().await, &def, &params)
        .await
        .unwrap();
    (r.rows, r.judged.map(|j| j.denominator))
}

async fn missing_training(account: &str) -> (Vec<Vec<Json>>, Option<u64>) {
    run_query("missing-required-training", account, &[]).await
}

/// The rows of the users no roster person matches: the labs domain's system
/// addresses (members of Labs through their domain) and Erin (in Nurses, nested in
/// Clinical Staff).
fn unmatched_rows(account: &str) -> Vec<Vec<Json>> {
    vec![
        row(
            account,
            "Domain abuse address",
            "abuse@labs.acme.com",
            "mimecast:Labs",
            "general",
        ),
        row(
            account,
            "Domain postMaster address",
            "postmaster@labs.acme.com",
            "mimecast:Labs",
            "general",
        ),
        row(
            account,
            "Erin Shared",
            "erin@acme.com",
            "mimecast:Clinical Staff",
            "hipaa",
        ),
    ]
}

#[tokio::test]
async fn nested_mimecast_groups_require_training_without_a_roster() {
    let account = unique_account("GRP");
    let (_sim, config) = setup(groups_tenant(&account), false).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    // Ann (Clinical Staff) completed HIPAA 101 and Gina (a user of labs.acme.com, a
    // member of Labs) Security Awareness Fundamentals; Erin is in Nurses, nested in
    // Clinical Staff; the labs domain's system addresses are members too.
    let (found, total) = missing_training(&account).await;
    assert_eq!(found, unmatched_rows(&account));
    assert_eq!(total, Some(5));
    let erin = rows(
        &sink().await,
        "MATCH (u:MimecastUser {accountCode: $account, email: 'erin@acme.com'}) \
         RETURN u.requiredCategories AS categories, u.requiredByGroups AS groups",
        &account,
    )
    .await;
    assert_eq!(
        erin,
        vec![json!({"categories": ["hipaa"], "groups": ["Clinical Staff"]})]
    );
}

#[tokio::test]
async fn roster_and_mimecast_group_requirements_are_united() {
    let account = unique_account("GRP");
    let (_sim, config) = setup(groups_tenant(&account), true).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    // Gina: roster group engineering (general, secure_code) and Mimecast group Labs
    // (general); Ann: clinical (general, hipaa) and Clinical Staff (hipaa).
    let people = rows(
        &sink().await,
        "MATCH (p:Person {accountCode: $account}) WHERE p.email IN ['Ann@acme.com', 'gina@labs.acme.com'] \
         RETURN p.email AS email, p.requiredCategories AS categories, p.requiredByGroups AS groups ORDER BY email",
        &account,
    )
    .await;
    assert_eq!(
        people,
        vec![
            json!({"email": "Ann@acme.com", "categories": ["general", "hipaa"], "groups": ["Clinical Staff"]}),
            json!({"email": "gina@labs.acme.com", "categories": ["general", "secure_code"], "groups": ["Labs"]}),
        ]
    );
    // The roster's six rows (queries::missing_required_training) and the users no
    // roster person matches, in person order.
    let (found, total) = missing_training(&account).await;
    let mut expected = vec![
        row(&account, "Bob Stone", "bob+it@acme.com", "engineering", "secure_code"),
        row(&account, "Carol Diaz", "carol@acme.co.uk", "clinical", "general"),
        row(&account, "Dave Kim", "dave@acme.com", "finance", "pci_dss"),
        row(
            &account,
            "Gina Park",
            "gina@labs.acme.com",
            "engineering",
            "secure_code",
        ),
        row(&account, "Hank New", "hank@acme.com", "clinical", "general"),
        row(&account, "Hank New", "hank@acme.com", "clinical", "hipaa"),
    ];
    expected.extend(unmatched_rows(&account));
    expected.sort_by(|a, b| (a[1].as_str(), a[4].as_str()).cmp(&(b[1].as_str(), b[4].as_str())));
    assert_eq!(found, expected);
    // 12 roster requirements of active people plus 3 of unmatched users.
    assert_eq!(total, Some(15));
}

#[tokio::test]
async fn a_refused_groups_permission_leaves_the_stored_groups_untouched() {
    let account = unique_account("GRP");
    let (_sim, config) = setup(groups_tenant(&account), true).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let before = memberships(&account).await;
    assert_eq!(before.len(), 5);

    let mut refused = groups_tenant(&account);
    refused.missing_permissions = vec![GROUPS_PERMISSION.into()];
    let (_sim2, config) = setup(refused, true).await;
    let o = sync(&config).await;
    assert_eq!(o.status, SyncStatus::Partial);
    let s = step(&o, "fetch-groups");
    assert_eq!(s.status, StepStatus::Unavailable);
    assert!(
        s.error.as_deref().unwrap().contains("Directories | Groups | Read"),
        "{:?}",
        s.error
    );
    assert_eq!(memberships(&account).await, before);
    let count = rows(
        &sink().await,
        "MATCH (g:MimecastGroup {accountCode: $account}) RETURN count(g) AS n",
        &account,
    )
    .await;
    assert_eq!(count, vec![json!({"n": 5})]);
    // The requirements built from groups stay as stored.
    let (found, _) = missing_training(&account).await;
    assert_eq!(found.iter().filter(|r| r[1] == "Erin Shared").count(), 1);
    let erin = rows(
        &sink().await,
        "MATCH (u:MimecastUser {accountCode: $account, email: 'erin@acme.com'}) RETURN u.requiredCategories AS c",
        &account,
    )
    .await;
    assert_eq!(erin, vec![json!({"c": ["hipaa"]})]);

    // validate names the product as unavailable, and the permission.
    let report = mimecast_graph::validate::validate(&config).await;
    let check = report.sections[0]
        .checks
        .iter()
        .find(|c| c.name == "directory groups (directory/find-groups)")
        .unwrap();
    assert_eq!(check.verdict, mimecast_graph::validate::Verdict::Unavailable);
    assert!(check.detail.contains("Directories | Groups | Read"), "{}", check.detail);
}

/// `n` tracked messages sent by `from`, one a day, the newest `days_ago` days ago.
fn sent(from: &str, n: usize, days_ago: i64) -> Vec<Json> {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| {
            let t = now - chrono::Duration::days(days_ago + i as i64);
            json!({"id": format!("{from}-{i}"), "status": "archived", "fromEnv": {"emailAddress": from},
                   "fromHdr": {"emailAddress": from}, "to": [], "sent": t.format("%Y-%m-%dT%H:%M:%S+0000").to_string(),
                   "subject": "s"})
        })
        .collect()
}

async fn activity(account: &str) -> Vec<Json> {
    rows(
        &sink().await,
        "MATCH (u:MimecastUser {accountCode: $account}) WHERE u.activityCheckedOn IS NOT NULL \
         RETURN u.email AS email, u.messagesSent AS sent, u.lastMessageSentOn IS NOT NULL AS seen ORDER BY email",
        account,
    )
    .await
}

#[tokio::test]
async fn the_activity_budget_covers_every_mailbox_within_three_syncs() {
    let account = unique_account("GRP");
    let mut t = acme_tenant(&account);
    t.tracked_emails = [
        sent("ann@acme.com", 3, 1),
        sent("bob@acme.com", 1, 10),
        sent("dave@acme.com", 2, 45),
    ]
    .concat();
    t.validate().unwrap();
    let sim = start_sim(t, SimOptions::default()).await;
    let mut c = acme_connection("acme", &sim);
    c.message_activity = MessageActivity {
        enabled: true,
        lookback_days: 30,
        max_calls_per_sync: 4,
    };
    let config = config_with(vec![c]);
    // 11 mailboxes (the alias info@ is not searched): 4, 4, then the last 3 and the
    // oldest check again.
    let mut checked = Vec::new();
    for _ in 0..3 {
        let o = sync(&config).await;
        assert_eq!(o.status, SyncStatus::Success, "{:?}", o.error);
        let notes = &step(&o, "fetch-message-activity").notes;
        assert_eq!(
            notes
                .iter()
                .filter(|n| n.starts_with("mailbox activity: 4 of 11 mailboxes checked"))
                .count(),
            1,
            "{notes:?}"
        );
        checked.push(activity(&account).await.len());
    }
    assert_eq!(checked, [4, 8, 11]);
    let all = activity(&account).await;
    let by = |email: &str| all.iter().find(|r| r["email"] == email).unwrap().clone();
    assert_eq!(
        by("ann@acme.com"),
        json!({"email": "ann@acme.com", "sent": 3, "seen": true})
    );
    assert_eq!(
        by("bob@acme.com"),
        json!({"email": "bob@acme.com", "sent": 1, "seen": true})
    );
    // Dave's messages are older than the 30-day window.
    assert_eq!(
        by("dave@acme.com"),
        json!({"email": "dave@acme.com", "sent": 0, "seen": false})
    );

    let (found, total) = run_query("dormant-mailboxes", &account, &[("max_idle_days", json!(7))]).await;
    let dormant: Vec<(String, String)> = found
        .iter()
        .map(|row| (row[1].as_str().unwrap().to_owned(), row[5].as_str().unwrap().to_owned()))
        .collect();
    // Ann sent yesterday; Bob 10 days ago (idle past 7 days); the rest never seen.
    let never = |e: &str| (e.to_owned(), "never seen sending".to_owned());
    assert_eq!(
        dormant,
        vec![
            ("bob@acme.com".to_owned(), "idle".to_owned()),
            never("carol@acme.com"),
            never("dave@acme.com"),
            never("erin@acme.com"),
            never("frank@acme.com"),
            never("gina@labs.acme.com"),
        ]
    );
    assert_eq!(total, Some(7));
}
