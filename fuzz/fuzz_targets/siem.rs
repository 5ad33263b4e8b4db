//! SIEM batch file bytes through the line splitter and the detection converter.
//!
//! Invariants: any bytes given as gzip never panic the splitter; text compressed and
//! cut into any two chunks comes back as exactly its non-blank lines; every line that
//! parses as JSON converts (or is refused) without panicking, and a converted event
//! has a key of its account and a 32-hex-digit fingerprint, the same key when
//! converted again, and a normalized `eventTime`.
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use mimecast_graph::converters::siem::detection;
use mimecast_graph::graph::Element as _;
use mimecast_graph::mimecast::siem::decode_lines;

fuzz_target!(|data: &[u8]| {
    // Raw bytes as if they were a file.
    let _ = decode_lines(&[data], |_| {});

    // The bytes as the text of a file: compressed, split anywhere, read back.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    let body = gz.finish().unwrap();
    let cut = usize::from(data.first().copied().unwrap_or(0)) % (body.len() + 1);
    let (a, b) = body.split_at(cut);
    let mut got: Vec<Vec<u8>> = Vec::new();
    decode_lines(&[a, b], |line| got.push(line.expect("no line here is overlong").to_vec())).unwrap();
    let want: Vec<Vec<u8>> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(got, want);

    let is_user = |k: &str| k.ends_with("@acme.example");
    for line in got {
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        let Ok(d) = detection("F1", &event, &is_user) else {
            continue;
        };
        let id = d.finding.key.strip_prefix("mimecast_siem_detection:F1:").expect("key of its account");
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(detection("F1", &event, &is_user).unwrap().finding.key, d.finding.key);
        let at = d.finding.str("eventTime").expect("an eventTime");
        assert!(mimecast_graph::time::is_normalized(at), "{at}");
        for l in &d.links {
            assert!(is_user(&l.from_key), "{}", l.from_key);
        }
    }
});
