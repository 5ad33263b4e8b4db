//! Unit tests of `sim::siem`.

use super::*;

fn events(n: usize, base_ms: i64) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"type": "av", "timestamp": base_ms + i as i64, "sha256": format!("h{i}")}))
        .collect()
}

fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

const NOW: i64 = 1_764_633_600_000 + 12 * 3_600_000; // 2025-12-02T12:00Z
const SETTINGS: Settings = Settings {
    events_per_file: 2,
    link_ttl_secs: 3600,
    seed: 9,
};

fn body(a: &Answer) -> Value {
    serde_json::from_slice(&a.body).unwrap()
}

#[test]
fn listing_pages_files_and_its_token_resumes_past_them() {
    let siem = Siem::new(events(5, NOW - DAY_MS));
    let first = listing(
        &siem,
        &q(&[("type", "av"), ("pageSize", "2"), ("dateRangeStartsAt", "2025-11-30")]),
        SETTINGS,
        "http://h",
        NOW,
    );
    assert_eq!(first.status, 200);
    let b = body(&first);
    let urls: Vec<&str> = b["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 2);
    assert!(
        urls[0].starts_with("http://h/siem/files/av/0-2.json.gz?se="),
        "{}",
        urls[0]
    );
    assert!(
        urls[1].starts_with("http://h/siem/files/av/2-4.json.gz?se="),
        "{}",
        urls[1]
    );
    assert_eq!(b["isCaughtUp"], json!(false));
    let next = b["@nextPage"].as_str().unwrap().to_owned();
    let second = body(&listing(
        &siem,
        &q(&[("type", "av"), ("nextPage", &next)]),
        SETTINGS,
        "http://h",
        NOW,
    ));
    assert_eq!(second["value"].as_array().unwrap().len(), 1);
    assert_eq!(second["isCaughtUp"], json!(true));
    // Caught up: the token lists nothing until more events arrive.
    let last = second["@nextPage"].as_str().unwrap().to_owned();
    let idle = body(&listing(
        &siem,
        &q(&[("type", "av"), ("nextPage", &last)]),
        SETTINGS,
        "http://h",
        NOW,
    ));
    assert_eq!(
        (idle["value"].as_array().unwrap().len(), &idle["isCaughtUp"]),
        (0, &json!(true))
    );
    let grown = Siem::new(events(7, NOW - DAY_MS));
    let more = body(&listing(
        &grown,
        &q(&[("type", "av"), ("nextPage", &last)]),
        SETTINGS,
        "http://h",
        NOW,
    ));
    assert!(more["value"][0]["url"].as_str().unwrap().contains("/av/5-7.json.gz"));
}

#[test]
fn listing_refuses_bad_requests() {
    let siem = Siem::new(events(1, NOW));
    let status = |pairs: &[(&str, &str)]| listing(&siem, &q(pairs), SETTINGS, "http://h", NOW).status;
    assert_eq!(status(&[("type", "mta"), ("dateRangeStartsAt", "2025-12-01")]), 400);
    assert_eq!(status(&[("dateRangeStartsAt", "2025-12-01")]), 400);
    assert_eq!(status(&[("type", "av")]), 400);
    assert_eq!(status(&[("type", "av"), ("dateRangeStartsAt", "2025-11-24")]), 400);
    assert_eq!(status(&[("type", "av"), ("dateRangeStartsAt", "2025-11-25")]), 200);
    assert_eq!(
        status(&[("type", "av"), ("pageSize", "101"), ("dateRangeStartsAt", "2025-12-01")]),
        400
    );
    assert_eq!(status(&[("type", "av"), ("nextPage", "garbage")]), 400);
    let other = token("spam", 0, None);
    assert_eq!(status(&[("type", "av"), ("nextPage", &other)]), 400);
}

#[test]
fn files_are_gzip_ndjson_behind_a_signed_expiring_link() {
    use std::io::Read as _;
    let mut evs = events(3, NOW - 10);
    evs.push(json!({"type": "av", "timestamp": NOW, "_raw": "{not json"}));
    let siem = Siem::new(evs);
    let b = body(&listing(
        &siem,
        &q(&[("type", "av"), ("dateRangeStartsAt", "2025-12-02")]),
        SETTINGS,
        "http://h",
        NOW,
    ));
    let url = b["value"][1]["url"].as_str().unwrap();
    let (path, query) = url.trim_start_matches("http://h").split_once('?').unwrap();
    let query: HashMap<String, String> = query
        .split('&')
        .map(|kv| kv.split_once('=').unwrap())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let got = file(&siem, path, &query, 9, false, NOW);
    assert_eq!(got.status, 200);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&got.body[..])
        .read_to_string(&mut text)
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(serde_json::from_str::<Value>(lines[0]).unwrap()["sha256"], json!("h2"));
    assert_eq!(lines[1], "{not json");
    assert_eq!(file(&siem, path, &query, 9, true, NOW).status, 403);
    assert_eq!(file(&siem, path, &query, 9, false, NOW + 3_601_000).status, 403);
    assert_eq!(file(&siem, path, &query, 8, false, NOW).status, 403);
    let gone = Siem::new(events(1, NOW));
    assert_eq!(file(&gone, path, &query, 9, false, NOW).status, 404);
}

#[test]
fn generated_events_are_recent_typed_and_deterministic() {
    let internal = ["a@acme.example", "b@acme.example"];
    let external = ["x@partner.example"];
    let until = NOW / 1000;
    let a = generate(&mut SplitMix64::new(3), 200, until, "acme", "C1", &internal, &external);
    let b = generate(&mut SplitMix64::new(3), 200, until, "acme", "C1", &internal, &external);
    assert_eq!(a, b);
    assert_eq!(a.len(), 200);
    for e in &a {
        let ts = event_time(e).unwrap();
        assert!((NOW - 6 * DAY_MS..NOW).contains(&ts), "{ts}");
        assert!(TYPES.contains(&e["type"].as_str().unwrap()));
    }
    let count = |t: &str| a.iter().filter(|e| e["type"] == t).count();
    assert_eq!(
        count("url protect")
            + count("impersonation protect")
            + count("attachment protect")
            + count("av")
            + count("spam"),
        200
    );
    assert!(count("url protect") > 0 && count("attachment protect") > 0 && count("av") > 0);
}
