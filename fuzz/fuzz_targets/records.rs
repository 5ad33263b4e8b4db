//! One JSON record into each record type, through the lenient field decoders.
//!
//! Invariants, for a record that decodes: it decodes to the same value once re-encoded;
//! a date-time field holds the normalized form of the text it was given; a whole-number
//! field holds exactly the number (or the numeric text) it was given; a number field
//! is finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimecast_graph::mimecast::records::*;
use mimecast_graph::time;
use mimecast_graph_fuzz::{assert_same_after_reencode, for_each_record, from_json};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The field checks of one record type, against the JSON object it came from.
trait Fields {
    fn check_fields(&self, json: &Value);
}

/// Serde also fills a struct from a JSON array, by position; the field checks look at
/// objects only.
fn field<'a>(json: &'a Value, key: &str) -> Option<&'a Value> {
    json.as_object().map(|o| o.get(key).unwrap_or(&Value::Null))
}

fn datetime(json: &Value, key: &str, decoded: &Option<String>) {
    let (Some(text), Some(given)) = (decoded, field(json, key)) else {
        return;
    };
    assert!(time::is_normalized(text), "{key} = {text:?} is not normalized");
    let given = given.as_str().expect("a date-time comes from a string");
    assert_eq!(time::normalize(given).as_deref(), Ok(text.as_str()), "{key}");
}

fn whole(json: &Value, key: &str, decoded: Option<i64>) {
    let (Some(n), Some(given)) = (decoded, field(json, key)) else {
        return;
    };
    match given {
        Value::Number(given) => match given.as_i64() {
            Some(i) => assert_eq!(i, n, "{key}"),
            None => {
                let f = given.as_f64().expect("a JSON number is an f64");
                // i64 covers [-2^63, 2^63); 2^63 is exactly representable as f64.
                let two_63 = 2f64.powi(63);
                assert!(
                    (-two_63..two_63).contains(&f) && n as f64 == f,
                    "{key} = {given} decoded as {n}"
                );
            }
        },
        Value::String(s) => assert_eq!(s.trim().parse::<i64>(), Ok(n), "{key}"),
        other => panic!("{key} = {other} decoded as {n}"),
    }
}

fn number(key: &str, decoded: Option<f64>) {
    if let Some(f) = decoded {
        assert!(f.is_finite(), "{key} decoded as {f}");
    }
}

impl Fields for Account {
    fn check_fields(&self, json: &Value) {
        whole(json, "userCount", self.user_count);
        whole(json, "maxRetention", self.max_retention);
    }
}

impl Fields for UsersPage {
    fn check_fields(&self, json: &Value) {
        whole(json, "userCount", self.user_count);
    }
}

impl Fields for TargetGroup {
    fn check_fields(&self, json: &Value) {
        whole(json, "userCount", self.user_count);
    }
}

impl Fields for CampaignsPage {
    fn check_fields(&self, json: &Value) {
        for (c, j) in self
            .campaigns
            .iter()
            .zip(json["campaigns"].as_array().into_iter().flatten())
        {
            c.check_fields(j);
        }
    }
}

impl Fields for TrainingCampaign {
    fn check_fields(&self, json: &Value) {
        datetime(json, "launchDate", &self.launch_date);
        datetime(json, "createDate", &self.create_date);
        whole(json, "numSent", self.num_sent);
        whole(json, "numCompleted", self.num_completed);
        number("percentComplete", self.percent_complete);
        number("percentCorrect", self.percent_correct);
        if let Some(g) = &self.group {
            g.check_fields(&json["group"]);
        }
    }
}

impl Fields for PhishingCampaign {
    fn check_fields(&self, json: &Value) {
        datetime(json, "launchDate", &self.launch_date);
        whole(json, "numSent", self.num_sent);
        whole(json, "numOpened", self.num_opened);
        whole(json, "numClicked", self.num_clicked);
        whole(json, "numSubmitted", self.num_submitted);
        whole(json, "numReported", self.num_reported);
        if let Some(g) = &self.group {
            g.check_fields(&json["group"]);
        }
    }
}

impl Fields for PhishingUserData {
    fn check_fields(&self, json: &Value) {
        datetime(json, "timeScheduled", &self.time_scheduled);
        datetime(json, "timeOpened", &self.time_opened);
        datetime(json, "timeClicked", &self.time_clicked);
        datetime(json, "timeSubmitted", &self.time_submitted);
        datetime(json, "timeReported", &self.time_reported);
        number("reactionTime", self.reaction_time);
    }
}

impl Fields for ItemsPage<PhishingUserData> {
    fn check_fields(&self, json: &Value) {
        for (u, j) in self.items.iter().zip(json["items"].as_array().into_iter().flatten()) {
            u.check_fields(j);
        }
    }
}

impl Fields for PerformanceDetail {
    fn check_fields(&self, json: &Value) {
        whole(json, "numCorrect", self.num_correct);
        whole(json, "numIncorrect", self.num_incorrect);
        whole(json, "numNotWatched", self.num_not_watched);
    }
}

impl Fields for WatchlistDetail {
    fn check_fields(&self, json: &Value) {
        whole(json, "watchlistCount", self.watchlist_count);
    }
}

/// Records without lenient fields: only the re-encoding invariant.
macro_rules! no_lenient_fields {
    ($($t:ty),*) => {$(
        impl Fields for $t {
            fn check_fields(&self, _: &Value) {}
        }
    )*};
}
no_lenient_fields!(
    InternalDomain,
    InternalUser,
    TrainingTitle,
    ItemsPage<CampaignUserData>,
    CampaignUserData,
    PhishingSender,
    PhishingTemplate,
    SafeScore
);

fn check<T: DeserializeOwned + std::fmt::Debug + Fields>(body: &[u8]) {
    let Ok(record) = from_json::<T>(body) else { return };
    assert_same_after_reencode(body, &record, from_json::<T>);
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    record.check_fields(&json);
}

fuzz_target!(|body: &[u8]| {
    for_each_record!(check, body);
});
