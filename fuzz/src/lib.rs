//! What the fuzz targets share: running a check for every record type, and the
//! re-encoding invariant.

use std::fmt::Debug;

use serde::de::DeserializeOwned;

/// Calls `$check::<T>($input)` for every typed record of `mimecast::records`.
#[macro_export]
macro_rules! for_each_record {
    ($check:ident, $input:expr) => {{
        use mimecast_graph::mimecast::records::*;
        $check::<Account>($input);
        $check::<InternalDomain>($input);
        $check::<UsersPage>($input);
        $check::<InternalUser>($input);
        $check::<TargetGroup>($input);
        $check::<CampaignsPage>($input);
        $check::<TrainingCampaign>($input);
        $check::<TrainingTitle>($input);
        $check::<ItemsPage<CampaignUserData>>($input);
        $check::<CampaignUserData>($input);
        $check::<PhishingCampaign>($input);
        $check::<PhishingSender>($input);
        $check::<PhishingTemplate>($input);
        $check::<ItemsPage<PhishingUserData>>($input);
        $check::<PhishingUserData>($input);
        $check::<SafeScore>($input);
        $check::<PerformanceDetail>($input);
        $check::<WatchlistDetail>($input);
    }};
}

/// The JSON `body`, parsed and written out again by serde_json (keys in order, no
/// white space, numbers in their shortest form); `None` when it is not strict JSON.
/// (serde_json skips an ignored field without checking its UTF-8 or its `\u`
/// escapes, so a body that is not quite JSON can still decode.)
pub fn reencoded(body: &[u8]) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(serde_json::to_vec(&value).expect("a JSON value encodes"))
}

/// Asserts that `decoded`, decoded from the JSON `body`, is what `decode` makes of the
/// re-encoded body: the meaning of a body is its JSON, not its spelling.
pub fn assert_same_after_reencode<T: Debug, E: Debug>(
    body: &[u8],
    decoded: &T,
    decode: impl Fn(&[u8]) -> Result<T, E>,
) {
    let Some(body) = reencoded(body) else { return };
    let again = decode(&body).expect("a body that decodes still decodes once re-encoded");
    assert_eq!(
        format!("{decoded:?}"),
        format!("{again:?}"),
        "re-encoding changed the decoded value"
    );
}

/// Decodes one record as serde_json does, for [`assert_same_after_reencode`].
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(body)
}
