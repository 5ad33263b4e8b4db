//! The `meta`/`data`/`fail` envelope, decoded for every record type as the client does.
//!
//! Invariants: a body that decodes as `Envelope<T>` also decodes with its data ignored,
//! with as many data elements, the same `fail[]` errors and the same next token, and
//! decodes to the same value once re-encoded; a `Fail` outcome carries the errors of
//! `fail[]` (never none); `Shape` is valid JSON and `Malformed` is not; the error
//! description of any body is never empty.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use mimecast_graph::mimecast::envelope::{decode, describe_error, error_body, DecodeOutcome, Envelope};
use mimecast_graph_fuzz::{assert_same_after_reencode, for_each_record};
use serde::de::{DeserializeOwned, IgnoredAny};

fn check<T: DeserializeOwned + Debug>(body: &[u8]) {
    let ignored = serde_json::from_slice::<Envelope<IgnoredAny>>(body);
    match decode::<T>(body) {
        Ok(env) => {
            let ignored = ignored.expect("a body that decodes as T decodes with its data ignored");
            assert_eq!(env.data.len(), ignored.data.len());
            assert_eq!(env.fail_errors(), ignored.fail_errors());
            assert_eq!(env.next_token(), ignored.next_token());
            assert!(env.next_token().is_none_or(|t| !t.is_empty()));
            assert_same_after_reencode(body, &env, |b| decode::<T>(b).map_err(|_| "no longer decodes"));
        }
        Err(DecodeOutcome::Fail(errors)) => {
            let ignored = ignored.expect("a Fail outcome is an envelope");
            assert!(!errors.is_empty(), "a Fail outcome without errors");
            assert_eq!(errors, ignored.fail_errors());
        }
        Err(DecodeOutcome::Shape(message)) => {
            assert!(ignored.is_ok(), "Shape for a body that is no envelope: {message}");
            assert!(!message.is_empty());
        }
        Err(DecodeOutcome::Malformed(message)) => {
            assert!(ignored.is_err(), "Malformed for an envelope: {message}");
            assert!(!message.is_empty());
        }
    }
}

fuzz_target!(|body: &[u8]| {
    for_each_record!(check, body);
    let _ = error_body(body);
    assert!(!describe_error(500, body).is_empty());
});
