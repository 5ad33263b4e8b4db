//! The diff engine against the real Neo4j: an unchanged re-sync writes nothing, a
//! changed tenant gives exactly the difference to a clean sync of it, hand edits are
//! restored, an interrupted write converges, events outlive their absence until the
//! retention window, and every sync leaves its history.

use std::collections::{BTreeMap, BTreeSet};

use mimecast_graph::graph::{Element as _, Entity, GraphStore, Relationship};
use mimecast_graph::schema::Schema;
use mimecast_graph::sim::Tenant;
use mimecast_graph::sink::bolt::to_json;
use mimecast_graph::sink::{DeletePolicy, LoadReport, Sink, SyncStamp};
use mimecast_graph::sync::{SyncOutcome, SyncStatus};
use neo4rs::query;
use serde_json::{json, Value as Json};

use crate::helpers::{acme_tenant, sink, unique_account};
use crate::sync::{acme, code, data_written, rows, sync};

/// Properties that say when, not what, and the account's digests of its other
/// elements: they differ between two syncs of one tenant.
const WHEN: [&str; 9] = [
    "_firstSeenOn",
    "_lastChangedOn",
    "lastSyncOn",
    "lastSyncStatus",
    "lastSuccessfulSyncOn",
    "_contentVerifiedOn",
    "_digests",
    "_digestsOn",
    "_contentGeneration",
];

/// Every node and relationship of the account by key: labels or type and endpoints,
/// and every property (the `WHEN` ones only with `with_when`).
async fn dump(s: &Sink, account: &str, with_when: bool) -> BTreeMap<String, Json> {
    let mut all = BTreeMap::new();
    let nodes = rows(
        s,
        "MATCH (n {accountCode: $account}) WHERE n._type IS NOT NULL \
         RETURN n._key AS key, labels(n) AS labels, properties(n) AS props",
        account,
    )
    .await;
    let rels = rows(
        s,
        "MATCH (a)-[r {accountCode: $account}]->(b) \
         RETURN r._key AS key, type(r) AS type, a._key AS from, b._key AS to, properties(r) AS props",
        account,
    )
    .await;
    for mut row in nodes.into_iter().chain(rels) {
        let key = row["key"].as_str().unwrap().to_owned();
        if let Some(labels) = row.get_mut("labels") {
            labels
                .as_array_mut()
                .unwrap()
                .sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
        if !with_when {
            let props = row["props"].as_object_mut().unwrap();
            props.retain(|k, _| !WHEN.contains(&k.as_str()));
        }
        row.as_object_mut().unwrap().remove("key");
        assert!(all.insert(key.clone(), row).is_none(), "{key} is stored twice");
    }
    all
}

/// Deletes everything of the account, history included.
async fn wipe(account: &str) {
    crate::helpers::cypher(query("MATCH (n {accountCode: $account}) DETACH DELETE n").param("account", account)).await;
}

/// The type of an element from its dump entry.
fn type_of(entry: &Json) -> String {
    entry["props"]["_type"].as_str().unwrap().to_owned()
}

/// (created, changed, deleted) per type that turn `before` into `after`.
fn expected_diff(before: &BTreeMap<String, Json>, after: &BTreeMap<String, Json>) -> BTreeMap<String, (u64, u64, u64)> {
    let mut diff: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for (k, v) in after {
        match before.get(k) {
            None => diff.entry(type_of(v)).or_default().0 += 1,
            Some(old) if old != v => diff.entry(type_of(v)).or_default().1 += 1,
            Some(_) => {}
        }
    }
    for (k, v) in before {
        if !after.contains_key(k) {
            diff.entry(type_of(v)).or_default().2 += 1;
        }
    }
    diff
}

/// What the sync reported, in the form of [`expected_diff`] (types with no write left out).
fn reported_diff(outcome: &SyncOutcome) -> BTreeMap<String, (u64, u64, u64)> {
    outcome
        .load
        .types
        .iter()
        .filter(|(t, _)| t.as_str() != "compliance_query")
        .map(|(t, w)| (t.clone(), (w.created, w.updated, w.deleted)))
        .filter(|(_, c)| *c != (0, 0, 0))
        .collect()
}

#[tokio::test]
async fn an_unchanged_resync_writes_nothing_and_touches_no_property() {
    let account = code("CDIFFSAME1");
    let (_sim, config) = acme(account).await;
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success, "{}", first.human());
    let s = sink().await;
    let before = dump(&s, account, true).await;

    let second = sync(&config).await;

    assert_eq!(second.status, SyncStatus::Success, "{}", second.human());
    assert_eq!(reported_diff(&second), BTreeMap::new());
    assert_eq!(second.load.read_elements, 32 + 51);
    // Every type's digest and count are as the first sync left them: none is read.
    assert_eq!(second.load.counted_elements, 32 + 51);
    let mut after = dump(&s, account, true).await;
    // Only the account's sync stamps moved.
    let account_key = format!("mimecast_account:{account}");
    for k in ["lastSyncOn", "lastSuccessfulSyncOn", "_digestsOn"] {
        assert_eq!(after[&account_key]["props"][k], json!(second.started_on));
        after.get_mut(&account_key).unwrap()["props"][k] = json!(first.started_on);
    }
    assert_eq!(after, before);
}

/// Erin leaves, Hal joins, Carol completes the fundamentals, Lunch and Learn is
/// withdrawn and PCI DSS Essentials renamed.
pub fn churned(mut t: Tenant) -> Tenant {
    t.users.retain(|u| u["emailAddress"] != "erin@acme.com");
    let mut hal = t
        .users
        .iter()
        .find(|u| u["emailAddress"] == "ann@acme.com")
        .unwrap()
        .clone();
    hal["emailAddress"] = json!("hal@acme.com");
    hal["name"] = json!("Hal Moss");
    t.users.push(hal);
    t.training_campaigns.retain(|c| c["name"] != "Lunch and Learn");
    for c in &mut t.training_campaigns {
        if c["name"] == "PCI DSS Essentials" {
            c["name"] = json!("PCI DSS Essentials 2024");
        }
        if c["name"] == "Security Awareness Fundamentals" {
            for row in c["user_data"].as_array_mut().unwrap() {
                if row["email"] == "carol@acme.com" {
                    row["results"] = json!({"forQuestion1": "CORRECT"});
                }
            }
        }
    }
    t
}

#[tokio::test]
async fn a_changed_tenant_gives_exactly_the_difference_to_a_clean_sync() {
    let account = code("CDIFFCHNG1");
    let (sim, config) = acme(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let before = dump(&s, account, false).await;
    sim.set_tenant(churned(acme_tenant(account)));

    let outcome = sync(&config).await;

    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    let incremental = dump(&s, account, false).await;
    // The oracle: the same tenant synced into an empty account.
    wipe(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let clean = dump(&s, account, false).await;
    assert_eq!(incremental, clean);
    let expected = expected_diff(&before, &clean);
    assert_eq!(reported_diff(&outcome), expected);
    // The oracle itself, in the words of the change:
    // Hal in, Erin out; four users' training counts change: Ann's (Lunch and Learn
    // withdrawn), Carol's (she completed) and Bob's and Dave's open PCI campaign's name.
    assert_eq!(expected["mimecast_user"], (1, 4, 1), "Hal in, Erin out, 4 counts");
    assert_eq!(
        expected["mimecast_awareness_campaign"],
        (0, 1, 1),
        "one renamed, one withdrawn"
    );
    assert_eq!(expected["mimecast_user_completed_awareness_campaign"].0, 1, "Carol");
    let unchanged = data_written(&outcome).unchanged;
    let untouched = clean.iter().filter(|(k, v)| before.get(*k) == Some(v)).count() as u64;
    assert_eq!(unchanged, untouched);
}

/// Edits by hand: Bob deleted with his relationships, Carol's name edited and a
/// property added, a label removed, a completion's property flipped.
/// Elements of the types [`TAMPER`] left at their count, in the Acme tenant.
const COUNTED_AFTER_TAMPERING: u64 = 30;

const TAMPER: [&str; 4] = [
    "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':bob@acme.com'}) DETACH DELETE u",
    "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':carol@acme.com'}) SET u.displayName = 'edited', u.extra = 1",
    "MATCH (c:MimecastAwarenessCampaign {accountCode: $account, name: 'HIPAA 101'}) REMOVE c:Training",
    "MATCH (:MimecastUser {accountCode: $account})-[r:COMPLETED]->() WITH r LIMIT 1 SET r.passed = NOT r.passed",
];

#[tokio::test]
async fn nodes_deleted_and_properties_edited_by_hand_are_restored() {
    let account = code("CDIFFHEAL1");
    let (_sim, mut config) = acme(account).await;
    // Every sync reads the stored content in full (`sync --verify-content`).
    config.neo4j.verify_content_hours = 0;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let before = dump(&s, account, false).await;
    let bob_key = format!("mimecast_user:{account}:bob@acme.com");
    let bobs_relationships = before
        .values()
        .filter(|v| v["from"] == json!(bob_key) || v["to"] == json!(bob_key))
        .count() as u64;
    assert_eq!(bobs_relationships, 6);
    for tamper in TAMPER {
        crate::helpers::cypher(query(tamper).param("account", account)).await;
    }

    let outcome = sync(&config).await;

    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    assert_eq!(dump(&s, account, false).await, before);
    let t = &outcome.load.types;
    assert_eq!(t["mimecast_user"].counts(), (1, 1, 10, 0));
    assert_eq!(t["mimecast_awareness_campaign"].counts(), (0, 1, 3, 0));
    assert_eq!(t["mimecast_user_completed_awareness_campaign"].updated, 1);
    let created_relationships: u64 = t
        .iter()
        .filter(|(name, _)| !["mimecast_user", "compliance_query"].contains(&name.as_str()))
        .map(|(_, w)| w.created)
        .sum();
    assert_eq!(created_relationships, bobs_relationships);
}

#[tokio::test]
async fn between_full_reads_a_sync_restores_deletions_by_hand_and_a_full_read_restores_edits() {
    let account = code("CDIFFFAST1");
    let (_sim, mut config) = acme(account).await;
    assert_eq!(config.neo4j.verify_content_hours, 24, "the default");
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success);
    assert_eq!(
        first.load.content_verified,
        vec![account.to_owned()],
        "never verified: read in full"
    );
    let s = sink().await;
    let before = dump(&s, account, false).await;
    let verified_on =
        "MATCH (a:MimecastAccount {accountCode: $account}) RETURN a._contentVerifiedOn = datetime($on) AS at";
    let at_first = s
        .read(
            query(verified_on)
                .param("account", account)
                .param("on", first.started_on.as_str()),
        )
        .await
        .unwrap();
    assert_eq!(at_first.len(), 1);
    assert_eq!(to_json(at_first[0].get("at").unwrap()), json!(true));
    for tamper in TAMPER {
        crate::helpers::cypher(query(tamper).param("account", account)).await;
    }

    // Within 24 hours: keys and fingerprints only. Bob and his 6 relationships are back;
    // the edits that left the stored fingerprints as they were are not seen.
    let fast = sync(&config).await;
    assert_eq!(fast.status, SyncStatus::Success, "{}", fast.human());
    assert!(fast.load.content_verified.is_empty());
    // Types the tampering left at their count are counted by digest, not read (the
    // campaigns' removed label and the flipped completion among them: not seen).
    let counted = fast.load.counted_elements;
    assert_eq!(counted, COUNTED_AFTER_TAMPERING, "{}", fast.human());
    assert!(
        fast.human().contains(&format!(
            "(keys and fingerprints; {counted} of them counted by type digest)"
        )),
        "{}",
        fast.human()
    );
    let t = &fast.load.types;
    assert_eq!(t["mimecast_user"].counts(), (1, 0, 11, 0));
    assert_eq!(t["mimecast_awareness_campaign"].counts(), (0, 0, 4, 0));
    assert_eq!(t["mimecast_user_completed_awareness_campaign"].updated, 0);
    let carol =
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':carol@acme.com'}) RETURN u.displayName AS name";
    assert_eq!(rows(&s, carol, account).await, vec![json!({"name": "edited"})]);
    let bob_key = format!("mimecast_user:{account}:bob@acme.com");
    let after = dump(&s, account, false).await;
    let bobs = |d: &BTreeMap<String, Json>| -> Vec<Json> {
        d.iter()
            .filter(|(k, v)| **k == bob_key || v["from"] == json!(bob_key) || v["to"] == json!(bob_key))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(bobs(&after).len(), 7);
    assert_eq!(bobs(&after), bobs(&before));

    // A full read (`sync --verify-content`) restores the rest, as the first sync wrote it.
    config.neo4j.verify_content_hours = 0;
    let full = sync(&config).await;
    assert_eq!(full.status, SyncStatus::Success, "{}", full.human());
    assert_eq!(full.load.content_verified, vec![account.to_owned()]);
    assert_eq!(full.load.types["mimecast_user"].counts(), (0, 1, 11, 0));
    assert_eq!(full.load.types["mimecast_awareness_campaign"].counts(), (0, 1, 3, 0));
    assert_eq!(full.load.types["mimecast_user_completed_awareness_campaign"].updated, 1);
    assert_eq!(dump(&s, account, false).await, before);
}

/// Between full reads, a type whose digest or count changed is read fingerprints first
/// (`src/sink/sift.rs`): a stored fingerprint that is missing, not text, or another
/// element's is rewritten, and what is left is exactly what the first sync wrote.
#[tokio::test]
async fn stored_fingerprints_missing_foreign_or_wrong_are_sifted_out_and_rewritten() {
    let account = code("CDIFFSIFT1");
    let (_sim, config) = acme(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let before = dump(&s, account, false).await;
    let user = |email: &str| format!("mimecast_user:{account}:{email}");
    let of_type = |t: &str| before.values().filter(|v| type_of(v) == t).count() as u64;
    let bobs_completions = before
        .values()
        .filter(|v| {
            type_of(v) == "mimecast_user_completed_awareness_campaign" && v["from"] == json!(user("bob@acme.com"))
        })
        .count() as u64;
    assert_eq!(bobs_completions, 1);
    for tamper in [
        // Bob deleted: the user type and Bob's relationship types no longer count as
        // the digests say, and are read.
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':bob@acme.com'}) DETACH DELETE u",
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':carol@acme.com'}) REMOVE u._fingerprint",
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':ann@acme.com'}) SET u._fingerprint = 42",
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':dave@acme.com'}) SET u._fingerprint = '0123456789abcdef'",
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':erin@acme.com'}) \
         MATCH (f:MimecastUser {_key: 'mimecast_user:' + $account + ':frank@acme.com'}) SET u._fingerprint = f._fingerprint",
        "MATCH (a:MimecastUser {accountCode: $account})-[r:COMPLETED]->(b) \
         WHERE a.email <> 'bob@acme.com' WITH r ORDER BY r._key LIMIT 1 REMOVE r._fingerprint",
    ] {
        crate::helpers::cypher(query(tamper).param("account", account)).await;
    }

    let outcome = sync(&config).await;

    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    assert!(
        outcome.load.content_verified.is_empty(),
        "read at the fingerprint depth"
    );
    let after = dump(&s, account, false).await;
    let differing: Vec<(&String, Option<&Json>, Option<&Json>)> = before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| (k, before.get(k), after.get(k)))
        .collect();
    assert_eq!(differing, vec![], "(key, before, after)");
    let t = &outcome.load.types;
    let users = of_type("mimecast_user");
    assert_eq!(users, 12);
    // Bob created; Carol, Ann, Dave and Erin rewritten; Frank, whose fingerprint Erin
    // carried, the same.
    assert_eq!(t["mimecast_user"].counts(), (1, 4, users - 5, 0));
    let completions = of_type("mimecast_user_completed_awareness_campaign");
    assert_eq!(
        t["mimecast_user_completed_awareness_campaign"].counts(),
        (bobs_completions, 1, completions - bobs_completions - 1, 0),
        "Bob's completion created, the one without a fingerprint rewritten"
    );

    // Frank's fingerprint copied onto Erin, and Frank deleted: Erin's stands in for
    // Frank's, Erin's `CREATE` collides with the stored Erin, and Frank's relationships
    // find no Frank. The sync fails, and makes the next one read the content in full,
    // which restores Frank.
    for tamper in [
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':erin@acme.com'}) \
         MATCH (f:MimecastUser {_key: 'mimecast_user:' + $account + ':frank@acme.com'}) SET u._fingerprint = f._fingerprint",
        "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':frank@acme.com'}) DETACH DELETE u",
    ] {
        crate::helpers::cypher(query(tamper).param("account", account)).await;
    }
    let fooled = sync(&config).await;
    assert_eq!(fooled.status, SyncStatus::Neo4jFailed, "{}", fooled.human());
    assert!(
        fooled
            .human()
            .contains("relationships have an endpoint missing in Neo4j"),
        "{}",
        fooled.human()
    );
    assert_eq!(
        fooled.load.types["mimecast_user"].counts(),
        (0, 1, users - 1, 0),
        "Erin rewritten by the MERGE"
    );
    let frank = "MATCH (u:MimecastUser {_key: 'mimecast_user:' + $account + ':frank@acme.com'}) RETURN count(u) AS n";
    assert_eq!(rows(&s, frank, account).await, vec![json!({"n": 0})]);
    let healed = sync(&config).await;
    assert_eq!(healed.status, SyncStatus::Success, "{}", healed.human());
    assert_eq!(healed.load.content_verified, vec![account.to_owned()]);
    assert_eq!(
        healed.load.types["mimecast_user"].counts(),
        (1, 0, users - 1, 0),
        "Frank"
    );
    assert_eq!(dump(&s, account, false).await, before);
}

#[tokio::test]
async fn users_join_other_graphs_and_relationships_do_not_store_what_neo4j_already_holds() {
    let account = code("CDIFFONT01");
    let (_sim, config) = acme(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let bob = rows(
        &s,
        "MATCH (u:UserAccount {_ont_email: 'bob@acme.com', accountCode: $account}) \
         RETURN u._ont_source AS source, u._key AS key",
        account,
    )
    .await;
    assert_eq!(
        bob,
        vec![json!({"source": "mimecast", "key": format!("mimecast_user:{account}:bob@acme.com")})]
    );
    // No relationship stores its class or endpoint keys again.
    let stored = rows(
        &s,
        "MATCH (a {accountCode: $account})-[r]->() WHERE r._type IS NOT NULL \
         RETURN count(r) AS all, count(r._class) AS class, count(r._fromEntityKey) AS from, \
                count(r._toEntityKey) AS to, count(r._fingerprint) AS fingerprints",
        account,
    )
    .await;
    assert_eq!(
        stored,
        vec![json!({"all": 51, "class": 0, "from": 0, "to": 0, "fingerprints": 51})]
    );
    // The range indexes joins and saved queries use exist.
    let indexes = rows(
        &s,
        "SHOW RANGE INDEXES YIELD name, labelsOrTypes, properties \
         WHERE name IN ['mg_mimecastuser_email', 'mg_mimecastuser_ont_email', 'mg_person_email', \
                        'mg_person_active', 'mg_trainingcategory_category'] \
         RETURN name, labelsOrTypes[0] AS label, properties[0] AS property ORDER BY name",
        account,
    )
    .await;
    assert_eq!(
        indexes,
        vec![
            json!({"name": "mg_mimecastuser_email", "label": "MimecastUser", "property": "email"}),
            json!({"name": "mg_mimecastuser_ont_email", "label": "MimecastUser", "property": "_ont_email"}),
            json!({"name": "mg_person_active", "label": "Person", "property": "active"}),
            json!({"name": "mg_person_email", "label": "Person", "property": "email"}),
            json!({"name": "mg_trainingcategory_category", "label": "TrainingCategory", "property": "category"}),
        ]
    );

    // A graph written by an older version stored the three (and no content
    // verification time): the next sync rewrites those relationships once without
    // them, and then leaves them alone.
    let before = dump(&s, account, false).await;
    crate::helpers::cypher(
        query(
            "MATCH (a {accountCode: $account})-[r:HAS]->(b) WHERE r._type IS NOT NULL \
             SET r._class = type(r), r._fromEntityKey = a._key, r._toEntityKey = b._key \
             REMOVE a._contentVerifiedOn",
        )
        .param("account", account),
    )
    .await;
    let migrated = sync(&config).await;
    assert_eq!(migrated.status, SyncStatus::Success, "{}", migrated.human());
    let has_types = [
        "mimecast_account_has_awareness_campaign",
        "mimecast_account_has_domain",
        "mimecast_account_has_phishing_campaign",
        "mimecast_domain_has_user",
    ];
    let updated: Vec<u64> = has_types.iter().map(|t| migrated.load.types[*t].updated).collect();
    assert_eq!(updated, [4, 2, 1, 12]);
    assert_eq!(dump(&s, account, false).await, before);
    let again = sync(&config).await;
    assert_eq!(data_written(&again).updated, 0);
}

/// A sync stopped as soon as `visible` (a count `n` for `$account`) finds something
/// it wrote.
async fn sync_stopped_when(
    config: &mimecast_graph::config::Config,
    visible: &str,
    account: &str,
    hold: Option<&str>,
) -> mimecast_graph::sync::SyncOutcome {
    let s = sink().await;
    let stop = mimecast_graph::stop::Stop::new();
    // `hold` write-locks what the sync writes later than what `visible` shows, in a
    // transaction of its own left open until the stop: the sync waits there, so the
    // stop always comes before the write is complete.
    let graph = crate::helpers::graph();
    let mut held = match hold {
        Some(statement) => {
            let mut txn = graph.start_txn().await.unwrap();
            txn.run(query(statement).param("account", account)).await.unwrap();
            Some(txn)
        }
        None => None,
    };
    let watcher = async {
        while rows(&s, visible, account).await[0]["n"] == json!(0) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        stop.trigger();
        if let Some(txn) = held.take() {
            txn.rollback().await.unwrap();
        }
    };
    let (cut, ()) = tokio::join!(
        async {
            let _guard = crate::sync::SYNC_LOCK.lock().await;
            mimecast_graph::sync::run_once(
                config,
                &mimecast_graph::collect::all_steps(),
                &mimecast_graph::queries::embedded(),
                &mimecast_graph::steps::SilentProgress,
                &stop,
            )
            .await
        },
        watcher
    );
    cut
}

#[tokio::test]
async fn a_write_cut_short_converges_on_the_next_sync() {
    let account = code("CDIFFSTOP1");
    let (_sim, mut config) = acme(account).await;
    config.neo4j.batch_size = 2;
    config.neo4j.max_connections = 1;
    let s = sink().await;
    // The reference: a clean sync.
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let clean = dump(&s, account, false).await;
    wipe(account).await;
    // A sync stopped as soon as its first nodes are visible.
    let cut = sync_stopped_when(
        &config,
        "MATCH (n {accountCode: $account}) WHERE n._type IS NOT NULL RETURN count(n) AS n",
        account,
        None,
    )
    .await;
    assert_eq!(cut.status, SyncStatus::Stopped, "{}", cut.human());
    let partial = dump(&s, account, false).await;
    assert!(
        !partial.is_empty() && partial.len() < clean.len(),
        "{} of {}",
        partial.len(),
        clean.len()
    );

    let next = sync(&config).await;

    assert_eq!(next.status, SyncStatus::Success, "{}", next.human());
    assert_eq!(dump(&s, account, false).await, clean);
    let created = data_written(&next).created;
    assert_eq!(
        created,
        (clean.len() - partial.len()) as u64,
        "only what the cut sync did not write"
    );
}

/// The type digests stand for what is stored only between writes: a write cut short
/// leaves none, so a tenant that changes back is read in full and converges, where
/// the digests of the last complete write would have matched and hidden the half-done
/// change.
#[tokio::test]
async fn a_write_cut_short_leaves_no_digests_and_a_tenant_changed_back_is_read() {
    let account = code("CDIFFDGST1");
    let (sim, mut config) = acme(account).await;
    config.neo4j.batch_size = 2;
    config.neo4j.max_connections = 1;
    let s = sink().await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let clean = dump(&s, account, false).await;
    let digests = "MATCH (a:MimecastAccount {accountCode: $account}) RETURN size(a._digests) AS n";
    let types = mimecast_graph::schema::schema();
    let snapshot_types = types
        .entities
        .iter()
        .filter(|e| e.is_account_scoped() && e.lifecycle == mimecast_graph::schema::Lifecycle::Snapshot)
        .count()
        + types
            .relationships
            .iter()
            .filter(|r| !types.is_event_relationship(r))
            .count();
    assert_eq!(rows(&s, digests, account).await, vec![json!({"n": snapshot_types})]);

    // The churned tenant, stopped as soon as Hal is written (nodes come first), while
    // Carol's new completion waits for Carol, held until the stop.
    sim.set_tenant(churned(acme_tenant(account)));
    let hal = "MATCH (u:MimecastUser {accountCode: $account, email: 'hal@acme.com'}) RETURN count(u) AS n";
    let carol = "MATCH (u:MimecastUser {accountCode: $account, email: 'carol@acme.com'}) SET u.held = true";
    let cut = sync_stopped_when(&config, hal, account, Some(carol)).await;
    assert_eq!(cut.status, SyncStatus::Stopped, "{}", cut.human());
    assert_eq!(
        rows(&s, digests, account).await,
        vec![json!({"n": null})],
        "{}",
        cut.human()
    );
    assert_ne!(dump(&s, account, false).await, clean, "Hal is in");

    // Back to the first tenant, between full reads: every type is read, none counted.
    sim.set_tenant(acme_tenant(account));
    let back = sync(&config).await;
    assert_eq!(back.status, SyncStatus::Success, "{}", back.human());
    assert!(back.load.content_verified.is_empty());
    assert_eq!(back.load.counted_elements, 0);
    assert_eq!(back.load.types["mimecast_user"].deleted, 1, "Hal is gone again");
    assert_eq!(dump(&s, account, false).await, clean);
    assert_eq!(rows(&s, digests, account).await, vec![json!({"n": snapshot_types})]);
}

/// Counts cover only what the diff reads: a relationship of ours to another tool's
/// node does not stand in for one of ours deleted by hand; and digests stored by a
/// sync count only until another sync marks the account (a version that writes
/// without digests, or a failed sync).
#[tokio::test]
async fn counts_are_not_fooled_by_other_tools_and_digests_expire_with_the_next_mark() {
    let account = code("CDIFFFOOL1");
    let (_sim, config) = acme(account).await;
    let s = sink().await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let clean = dump(&s, account, false).await;
    assert_eq!(sync(&config).await.load.counted_elements, 32 + 51);

    crate::helpers::cypher(
        query(
            "MATCH (u:MimecastUser {accountCode: $account, email: 'ann@acme.com'}) \
             CREATE (u)-[:ASSIGNED]->(:OtherToolCourse {name: 'theirs'}) \
             WITH u MATCH (u)-[r:ASSIGNED]->(:MimecastAwarenessCampaign) WITH r LIMIT 1 DELETE r",
        )
        .param("account", account),
    )
    .await;
    let healed = sync(&config).await;
    assert_eq!(healed.status, SyncStatus::Success, "{}", healed.human());
    assert_eq!(
        healed.load.types["mimecast_user_assigned_awareness_campaign"].created,
        1
    );
    assert_eq!(dump(&s, account, false).await, clean);

    // Another writer marks the account: the digests no longer count.
    crate::helpers::cypher(
        query("MATCH (a:MimecastAccount {accountCode: $account}) SET a.lastSyncOn = datetime()")
            .param("account", account),
    )
    .await;
    let after_mark = sync(&config).await;
    assert_eq!(after_mark.status, SyncStatus::Success, "{}", after_mark.human());
    assert_eq!(after_mark.load.counted_elements, 0);
    assert_eq!(after_mark.load.read_elements, 32 + 51);
    assert_eq!(sync(&config).await.load.counted_elements, 32 + 51);
}

#[tokio::test]
async fn three_syncs_leave_their_history_and_the_oldest_is_trimmed() {
    let account = code("CDIFFHIST1");
    let (sim, mut config) = acme(account).await;
    config.sync.history_runs = 2;
    let first = sync(&config).await;
    sim.set_tenant(churned(acme_tenant(account)));
    let second = sync(&config).await;
    let third = sync(&config).await;
    for o in [&first, &second, &third] {
        assert_eq!(o.status, SyncStatus::Success, "{}", o.human());
    }
    let s = sink().await;

    let runs = s.runs(Some(account), 10).await.unwrap();

    let ids: Vec<&str> = runs.iter().map(|r| r.sync_id.as_str()).collect();
    assert_eq!(ids, vec![third.sync_id.as_str(), second.sync_id.as_str()]);
    let (t2, t3) = (runs[1].totals(), runs[0].totals());
    assert_eq!(t2.counts(), data_written(&second).counts());
    assert_eq!((t3.created, t3.updated, t3.deleted), (0, 0, 0));
    assert_eq!(runs[0].types["mimecast_user"].unchanged, 12);
    assert_eq!(runs[0].status, "success");
    assert_eq!(runs[0].started_on, third.started_on);
    let rules: BTreeSet<&str> = runs[0].findings.keys().map(String::as_str).collect();
    let saved = mimecast_graph::queries::embedded();
    let expected_rules: BTreeSet<&str> = saved
        .iter()
        .filter(|d| d.reports_findings())
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(rules, expected_rules);
    // The counts are the rules' own, run now against the same graph.
    for def in saved.iter().filter(|d| d.reports_findings()) {
        let params = BTreeMap::from([("account".to_owned(), json!(account))]);
        let result = mimecast_graph::queries::run(&s, def, &params).await.unwrap();
        assert_eq!(runs[0].findings[&def.id], result.rows.len() as u64, "{}", def.id);
    }
    assert_eq!(
        runs[0].api_requests,
        third.collection.as_ref().unwrap().tenants[0].api.requests
            + third.collection.as_ref().unwrap().tenants[0].api.token_requests
    );
    // The saved query shows the same two runs.
    let listed = rows(
        &s,
        "MATCH (a:MimecastAccount {accountCode: $account})-[:HAS_SYNC_RUN]->(r:MimecastSyncRun) \
         RETURN r.syncId AS id, r.created AS created ORDER BY r.recordedMs",
        account,
    )
    .await;
    assert_eq!(
        listed,
        vec![
            json!({"id": second.sync_id, "created": t2.created}),
            json!({"id": third.sync_id, "created": 0})
        ]
    );
}

/// A schema with one snapshot and one event type, for the lifecycle.
const LIFECYCLE_SCHEMA: &str = r#"
[[entity]]
type = "test_snapshot"
class = "Record"
label = "MimecastTestSnapshot"
key = "test_snapshot:{accountCode}:{id}"
source = "test"
description = "A snapshot type."
[entity.properties]
accountCode = "string!"
id = "string!"

[[entity]]
type = "test_event"
class = "Finding"
label = "MimecastTestEvent"
key = "test_event:{accountCode}:{id}"
source = "test"
description = "An event type."
lifecycle = "event"
event_time = "occurredOn"
[entity.properties]
accountCode = "string!"
id = "string!"
occurredOn = "datetime!"

[[relationship]]
type = "test_snapshot_saw_test_event"
class = "SAW"
from = "test_snapshot"
to = "test_event"
"#;

fn store(account: &str, snapshots: &[&str], events: &[(&str, &str)], saw: &[(&str, &str)]) -> GraphStore {
    let mut g = GraphStore::new();
    for id in snapshots {
        g.add_entity(
            Entity::new(format!("test_snapshot:{account}:{id}"), "test_snapshot", "Record")
                .with("accountCode", account)
                .with("id", *id),
        )
        .unwrap();
    }
    for (id, on) in events {
        g.add_entity(
            Entity::new(format!("test_event:{account}:{id}"), "test_event", "Finding")
                .with("accountCode", account)
                .with("id", *id)
                .with("occurredOn", *on),
        )
        .unwrap();
    }
    for (s, e) in saw {
        g.add_relationship(
            Relationship::new(
                "test_snapshot_saw_test_event",
                "SAW",
                &format!("test_snapshot:{account}:{s}"),
                &format!("test_event:{account}:{e}"),
            )
            .with("accountCode", account),
        )
        .unwrap();
    }
    g
}

async fn write(s: &Sink, schema: &Schema, account: &str, g: &GraphStore, now: &str) -> LoadReport {
    let stamp = SyncStamp {
        sync_id: uuid::Uuid::new_v4().to_string(),
        now: now.to_owned(),
    };
    let mut report = LoadReport::default();
    s.write_account(
        g,
        schema,
        account,
        &BTreeSet::new(),
        &DeletePolicy::unlimited(),
        &stamp,
        &mut report,
    )
    .await
    .unwrap();
    report
}

async fn ids(s: &Sink, account: &str) -> Vec<String> {
    rows(
        s,
        "MATCH (n {accountCode: $account}) RETURN n._key AS key ORDER BY key",
        account,
    )
    .await
    .iter()
    .map(|r| r["key"].as_str().unwrap().replace(&format!(":{account}:"), ":"))
    .collect()
}

#[tokio::test]
async fn events_survive_their_absence_and_go_after_the_retention_window() {
    let schema = Schema::parse(LIFECYCLE_SCHEMA).unwrap();
    let s = sink().await;
    s.apply_schema(&schema).await.unwrap();
    let account = unique_account("EVT");
    let counts = |r: &LoadReport, t: &str| r.types.get(t).map(|w| w.counts()).unwrap_or_default();

    // Day 0: two snapshots, two events (one from day -10), one link.
    let day0 = store(
        &account,
        &["s1", "s2"],
        &[("e1", "2026-02-20T00:00:00Z"), ("e2", "2026-03-01T00:00:00Z")],
        &[("s1", "e1")],
    );
    let r0 = write(&s, &schema, &account, &day0, "2026-03-02T00:00:00Z").await;
    assert_eq!(counts(&r0, "test_event"), (2, 0, 0, 0));

    // Day 1: s2 and both events are absent; e3 happened.
    let day1 = store(&account, &["s1"], &[("e3", "2026-03-02T12:00:00Z")], &[]);
    let r1 = write(&s, &schema, &account, &day1, "2026-03-03T00:00:00Z").await;
    assert_eq!(counts(&r1, "test_snapshot"), (0, 0, 1, 1), "the absent snapshot goes");
    assert_eq!(counts(&r1, "test_event"), (1, 0, 0, 0), "absent events stay");
    assert_eq!(
        counts(&r1, "test_snapshot_saw_test_event"),
        (0, 0, 0, 0),
        "so does their link"
    );
    assert_eq!(
        ids(&s, &account).await,
        vec!["test_event:e1", "test_event:e2", "test_event:e3", "test_snapshot:s1"]
    );

    // Day 89 after e2: e1 (99 days old) expires with its link, e2 (89 days) stays.
    let r2 = write(&s, &schema, &account, &day1, "2026-05-29T00:00:00Z").await;
    assert_eq!(counts(&r2, "test_event"), (0, 0, 1, 1));
    assert_eq!(counts(&r2, "test_snapshot_saw_test_event"), (0, 0, 0, 1));
    assert_eq!(
        ids(&s, &account).await,
        vec!["test_event:e2", "test_event:e3", "test_snapshot:s1"]
    );
    let left = rows(
        &s,
        "MATCH (e:MimecastTestEvent:Finding {accountCode: $account}) RETURN e.id AS id, e.occurredOn AS on ORDER BY id",
        &account,
    )
    .await;
    assert_eq!(
        left,
        vec![
            json!({"id": "e2", "on": "2026-03-01T00:00:00Z"}),
            json!({"id": "e3", "on": "2026-03-02T12:00:00Z"})
        ]
    );
}
