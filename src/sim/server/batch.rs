//! The SIEM batch routes: the file listing (an API call, admitted like the others)
//! and the files behind their signed, expiring links.

use super::*;

/// The query string of a GET, as a map (an unreadable one is empty).
pub(super) async fn query_of(req: Request) -> HashMap<String, String> {
    Form::<HashMap<String, String>>::from_request(req, &())
        .await
        .map(|Form(q)| q)
        .unwrap_or_default()
}

/// `GET /siem/v1/batch/events/cg`: bearer tokens only, rate-limited, refused without
/// the SIEM permission.
pub(super) async fn siem_listing(shared: &Shared, req: Request) -> Reply {
    let anonymous = RateState::UNLIMITED;
    if req.method() != Method::GET {
        return Reply::new(
            Answer::error(405, "err_method_not_allowed", "Method Not Allowed", false),
            anonymous,
        );
    }
    let options = shared.options();
    let served = shared.served();
    let now = Instant::now();
    let headers = req.headers();
    let authorization = header(headers, "authorization");
    if !authorization.is_some_and(|a| a.trim_start().to_ascii_lowercase().starts_with("bearer ")) {
        return Reply::new(auth_failure(&AuthProblem::UnknownToken), anonymous);
    }
    let auth_headers = AuthHeaders {
        authorization,
        app_id: None,
        date: None,
        request_id: None,
    };
    let rate = match admit(shared, &auth_headers, siem::LISTING_PATH, &served, &options, now) {
        Ok(rate) => rate,
        Err(reply) => return reply,
    };
    if served.missing_permissions.iter().any(|p| p == siem::PERMISSION) {
        return Reply::new(Answer::error(403, "err_forbidden", "Forbidden", false), rate);
    }
    if let Some(status) = forced_status(&options, siem::LISTING_PATH) {
        return forced_reply(status, rate);
    }
    let origin = format!("http://{}", header(headers, "host").unwrap_or("127.0.0.1"));
    let settings = siem::Settings {
        events_per_file: options.siem_events_per_file,
        link_ttl_secs: options.siem_link_ttl.as_secs(),
        seed: options.seed,
    };
    let query = query_of(req).await;
    Reply::new(siem::listing(&served.siem, &query, settings, &origin, now_ms()), rate)
}

/// `GET /siem/files/...`: a signed link, no credentials, never rate-limited.
pub(super) async fn siem_file(shared: &Shared, req: Request, path: &str) -> Reply {
    let anonymous = RateState::UNLIMITED;
    if req.method() != Method::GET {
        return Reply::new(
            Answer::error(405, "err_method_not_allowed", "Method Not Allowed", false),
            anonymous,
        );
    }
    if req.headers().contains_key("authorization") {
        lock(&shared.stats).siem_files_with_authorization += 1;
        return Reply::new(
            Answer::error(
                400,
                "err_authorization",
                "A file link takes no Authorization header",
                false,
            ),
            anonymous,
        );
    }
    let options = shared.options();
    // The write lock only while injected expiries remain (checked again under it).
    let expired = options.siem_expire_next_files > 0 && {
        let mut o = shared.options.write().unwrap_or_else(PoisonError::into_inner);
        let expired = o.siem_expire_next_files > 0;
        o.siem_expire_next_files = o.siem_expire_next_files.saturating_sub(1);
        expired
    };
    if let Some(status) = forced_status(&options, path) {
        return forced_reply(status, anonymous);
    }
    let served = shared.served();
    let query = query_of(req).await;
    Reply::new(
        siem::file(&served.siem, path, &query, options.seed, expired, now_ms()),
        anonymous,
    )
}
