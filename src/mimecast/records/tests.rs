//! Unit tests of `mimecast::records`.

use super::*;

#[test]
fn completion_follows_jupiterone() {
    let mut u: CampaignUserData = serde_json::from_value(serde_json::json!({
        "email": "a@b.c", "results": {"forQuestion1": "SENT"}
    }))
    .unwrap();
    assert_eq!(u.outcome(), None);
    u.results.insert("forQuestion1".into(), "INCORRECT".into());
    u.results.insert("forQuestion2".into(), "CORRECT".into());
    let o = u.outcome().unwrap();
    assert_eq!(
        o,
        TrainingOutcome {
            correct: 1,
            incorrect: 1
        }
    );
    assert!(!o.passed());
}

#[test]
fn lenient_numbers_and_nulls() {
    let p: PerformanceDetail = serde_json::from_value(serde_json::json!({
        "email": "a@b.c", "numCorrect": 7.0, "numIncorrect": "2", "numNotWatched": null, "extra": [1]
    }))
    .unwrap();
    assert_eq!(
        (p.num_correct, p.num_incorrect, p.num_not_watched),
        (Some(7), Some(2), None)
    );
    let bad = serde_json::from_value::<PerformanceDetail>(serde_json::json!({"email": "a", "numCorrect": 1.5}));
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("expected a whole number, got 1.5"));
}

#[test]
fn awareness_training_package_detection() {
    let a: Account = serde_json::from_value(serde_json::json!({
        "accountCode": "C1", "packages": ["Mimecast Platform [1033]", "Awareness Training [1078]"]
    }))
    .unwrap();
    assert!(a.has_awareness_training());
    let b: Account = serde_json::from_value(serde_json::json!({
        "accountCode": "C1", "packages": ["Awareness Training Plus Something [9]"]
    }))
    .unwrap();
    assert!(!b.has_awareness_training());
}

#[test]
fn phishing_stages_imply_earlier_ones() {
    let u: PhishingUserData = serde_json::from_value(serde_json::json!({
        "email": "a@b.c", "status": "SUBMITTED", "timeClicked": null, "timeReported": null
    }))
    .unwrap();
    assert!(u.submitted() && u.clicked() && u.opened() && !u.reported());
}

#[test]
fn ttp_logs_parse_the_documented_samples() {
    let page: ClickLogsPage = serde_json::from_str(
            r#"{"clickLogs": [{"category": "Computers & Technology", "userEmailAddress": "user@domain.com", "url": "https://www.mimecast.com", "userAwarenessAction": "NA", "route": "outbound", "adminOverride": "N/A", "date": "2017-04-05T09:59:37+0000", "scanResult": "clean", "action": "allow", "ttpDefinition": "Default URL Protection Definition", "userOverride": "None", "emailPartsDescription": ["Body"]}]}"#,
        )
        .unwrap();
    let c = &page.click_logs[0];
    assert_eq!(c.user_email_address, "user@domain.com");
    assert_eq!(c.date.as_deref(), Some("2017-04-05T09:59:37Z"));
    assert_eq!(
        (
            c.scan_result.as_deref(),
            c.action.as_deref(),
            c.user_override.as_deref()
        ),
        (Some("clean"), Some("allow"), Some("None"))
    );
    assert_eq!(c.message_id, None);
    let page: AttachmentLogsPage = serde_json::from_str(
            r#"{"attachmentLogs": [{"result": "malicious", "date": "2017-04-05T09:59:37+0000", "senderAddress": "a@evil.example.net", "fileName": "x.exe", "actionTriggered": "sandbox, block", "route": "inbound", "details": "Malicious", "recipientAddress": "user@domain.com", "fileType": "Windows Executable", "fileHash": "ABCD"}]}"#,
        )
        .unwrap();
    let a = &page.attachment_logs[0];
    assert_eq!(
        (a.result.as_deref(), a.file_hash.as_deref()),
        (Some("malicious"), Some("ABCD"))
    );
    let page: ImpersonationLogsPage = serde_json::from_str(
            r#"{"impersonationLogs": [{"id": "MTOKEN:eNq1", "action": "Hold", "definition": "Default", "eventTime": "2017-04-05T09:59:37+0000", "hits": 2, "identifiers": ["similar_internal_domain", "newly_observed_domain"], "recipientAddress": "user@domain.com", "senderAddress": "ceo@evil.example.net", "taggedExternal": true, "taggedMalicious": true, "impersonationResults": []}]}"#,
        )
        .unwrap();
    let i = &page.impersonation_logs[0];
    assert_eq!(
        (i.id.as_str(), i.hits, i.tagged_malicious),
        ("MTOKEN:eNq1", Some(2), Some(true))
    );
    assert_eq!(i.identifiers, vec!["similar_internal_domain", "newly_observed_domain"]);
}
