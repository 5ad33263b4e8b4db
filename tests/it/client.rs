//! The Mimecast client against the simulator: every endpoint, paging, token expiry,
//! rate limits, server errors, bad credentials, Awareness Training unlicensed, the
//! read-only allowlist, and secrets kept out of logs and errors.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use mimecast_graph::config::{AuthConfig, ConnectionConfig, ProxyUrl, Secret};
use mimecast_graph::mimecast::{all, ApiError, Client, Endpoint};
use mimecast_graph::sim::{self, GenerateSpec, RateLimit, SimOptions, SimServer, Tenant};
use serde_json::json;

use crate::helpers::{acme_connection, acme_tenant, start_sim};

fn client(c: &ConnectionConfig) -> Client {
    Client::new(c).unwrap()
}

async fn domain_names(c: &Client) -> Vec<String> {
    c.get_internal_domains()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.domain)
        .collect()
}

/// The Acme tenant with every call to `path` answered `status`, and a client of it.
async fn failing(account: &str, path: &str, status: u16) -> (SimServer, Client) {
    let options = SimOptions {
        fail_paths: vec![(path.into(), status)],
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant(account), options).await;
    let c = client(&acme_connection("acme", &sim));
    (sim, c)
}

#[tokio::test]
async fn every_endpoint_returns_the_tenants_records() {
    let tenant = acme_tenant("CCLIENT001");
    let sim = start_sim(tenant.clone(), SimOptions::default()).await;
    let c = client(&acme_connection("acme", &sim));

    let account = c.get_account().await.unwrap();
    assert_eq!(account.account_code, "CCLIENT001");
    assert_eq!(account.account_name.as_deref(), Some("Acme Health"));
    assert!(account.has_awareness_training());

    assert_eq!(domain_names(&c).await, vec!["acme.com", "labs.acme.com"]);
    let acme_users = all(c.internal_users("acme.com")).await.unwrap();
    assert_eq!(acme_users.len(), 9);
    let labs: Vec<String> = all(c.internal_users("labs.acme.com"))
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email_address)
        .collect();
    assert_eq!(
        labs,
        vec!["abuse@labs.acme.com", "gina@labs.acme.com", "postmaster@labs.acme.com"]
    );

    let campaigns = c.get_training_campaigns().await.unwrap();
    let names: Vec<_> = campaigns.iter().filter_map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        vec![
            "Security Awareness Fundamentals",
            "Lunch and Learn",
            "HIPAA 101",
            "PCI DSS Essentials"
        ]
    );
    assert_eq!(campaigns[0].launch_date.as_deref(), Some("2024-01-10T09:00:00Z"));
    let enrolled = all(c.training_campaign_user_data("eNoTrainingSAF000001"))
        .await
        .unwrap();
    assert_eq!(enrolled.len(), 6);
    assert_eq!(enrolled[1].email, "Bob@Acme.com");

    let phishing = c.get_phishing_campaigns().await.unwrap();
    assert_eq!(phishing.len(), 1);
    assert_eq!(phishing[0].num_clicked, Some(2));
    let recipients = all(c.phishing_user_data("eNoPhishQ1Reset00001")).await.unwrap();
    assert_eq!(recipients.len(), 5);
    assert!(recipients[2].submitted() && recipients[2].clicked());
    assert_eq!(recipients[1].time_clicked.as_deref(), Some("2024-02-15T10:00:00Z"));

    let safe = all(c.safe_score_details()).await.unwrap();
    assert_eq!(
        safe.iter().map(|s| s.risk.clone().unwrap()).collect::<String>(),
        "AFDBCF"
    );
    assert_eq!(all(c.performance_details()).await.unwrap().len(), 3);
    let watch = all(c.watchlist_details()).await.unwrap();
    assert_eq!(watch[0].watchlist_count, Some(2));

    // One token for the whole run, never one per call.
    let stats = c.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(sim.stats().tokens_issued, 1);
}

fn one_domain_tenant(users: usize) -> Tenant {
    let mut t = acme_tenant("CPAGING001");
    t.domains = vec![
        json!({"id": "eNoD1", "domain": "big.example", "sendOnly": false, "local": false, "inboundType": "known"}),
    ];
    t.users = (0..users)
        .map(|i| {
            json!({"name": format!("User {i}"), "emailAddress": format!("user{i:05}@big.example"), "domain": "big.example",
                   "alias": false, "addressType": "created_manually", "source": "cloud"})
        })
        .collect();
    t
}

#[tokio::test]
async fn paging_returns_every_user_exactly_once_across_page_boundaries() {
    let sim = start_sim(one_domain_tenant(1234), SimOptions::default()).await;
    let c = client(&acme_connection("big", &sim));
    let mut pages = c.internal_users("big.example");
    let mut sizes = Vec::new();
    let mut emails = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        sizes.push(page.len());
        emails.extend(page.into_iter().map(|u| u.email_address));
    }
    assert_eq!(sizes, vec![500, 500, 234]);
    let unique: BTreeSet<&String> = emails.iter().collect();
    assert_eq!((emails.len(), unique.len()), (1234, 1234));
    assert_eq!(emails[0], "user00000@big.example");
    assert_eq!(emails[1233], "user01233@big.example");
    assert_eq!(sim.stats().calls_to("/api/user/get-internal-users"), 3);
}

#[tokio::test]
async fn smaller_pages_follow_next_until_it_is_absent() {
    let sim = start_sim(one_domain_tenant(7), SimOptions::default()).await;
    let mut cfg = acme_connection("small", &sim);
    cfg.page_size = 3;
    let c = client(&cfg);
    let users = all(c.internal_users("big.example")).await.unwrap();
    assert_eq!(users.len(), 7);
    assert_eq!(sim.stats().calls_to("/api/user/get-internal-users"), 3);
}

#[tokio::test]
async fn an_expired_token_in_the_middle_of_a_paged_stream_is_renewed_once() {
    let sim = start_sim(one_domain_tenant(1234), SimOptions::default()).await;
    let c = client(&acme_connection("expiry", &sim));
    let mut pages = c.internal_users("big.example");
    let first = pages.next().await.unwrap().unwrap();
    sim.expire_tokens();
    let mut total = first.len();
    while let Some(page) = pages.next().await {
        total += page.unwrap().len();
    }
    assert_eq!(total, 1234);
    let stats = c.stats();
    assert_eq!(stats.reauthentications, 1);
    assert_eq!(stats.token_requests, 2);
    assert_eq!(sim.stats().unauthorized, 1);
}

#[tokio::test]
async fn a_429_storm_is_ridden_out_by_honouring_retry_after() {
    let options = SimOptions {
        rate_limit: Some(RateLimit {
            calls: 3,
            window: Duration::from_millis(500),
        }),
        ..SimOptions::default()
    };
    let sim = start_sim(one_domain_tenant(40), options).await;
    let mut cfg = acme_connection("storm", &sim);
    cfg.page_size = 4;
    cfg.max_attempts = 10;
    cfg.max_concurrent_requests = 4;
    let c = client(&cfg);
    let (a, b) = tokio::join!(
        all(c.internal_users("big.example")),
        all(c.internal_users("big.example"))
    );
    assert_eq!(a.unwrap().len(), 40);
    assert_eq!(b.unwrap().len(), 40);
    let stats = c.stats();
    assert!(stats.rate_limited > 0, "the simulator never rate-limited: {stats:?}");
    assert_eq!(stats.rate_limited, sim.stats().rate_limited);
    assert_eq!(stats.retries, stats.rate_limited);
}

/// One call per 1.9 s, spent by another client (as another worker would) after this
/// one took its token: this client has seen no low X-RateLimit-Remaining to slow
/// down for, so its next call (within 0.9 s, however busy the machine) meets a 429
/// with Retry-After: 2.
pub(crate) async fn quota_spent_by_another_worker(account: &str, max_attempts: u32) -> (SimServer, Client) {
    let options = SimOptions {
        rate_limit: Some(RateLimit {
            calls: 1,
            window: Duration::from_millis(1900),
        }),
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant(account), options).await;
    let mut cfg = acme_connection("acme", &sim);
    cfg.max_attempts = max_attempts;
    let c = client(&cfg);
    c.check_token().await.unwrap();
    client(&cfg).get_account().await.unwrap();
    (sim, c)
}

#[tokio::test]
async fn a_429_waits_for_retry_after_not_for_the_backoff() {
    // The second call is limited with Retry-After: 2. Two attempts with a 5 ms
    // backoff would both be refused; honouring the header, the retry lands.
    let (_sim, c) = quota_spent_by_another_worker("C429WAIT01", 2).await;
    let started = std::time::Instant::now();
    assert_eq!(c.get_internal_domains().await.unwrap().len(), 2);
    let waited = started.elapsed();
    assert_eq!((c.stats().rate_limited, c.stats().retries), (1, 1));
    // It waited at least the Retry-After of 2 s (plus jitter; no upper bound asserted).
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn persistent_server_errors_fail_after_the_configured_attempts() {
    let (sim, c) = failing("C5XX000001", "/api/domain/get-internal-domain", 503).await;
    let started = std::time::Instant::now();
    let err = c.get_internal_domains().await.unwrap_err();
    // The 503's Retry-After (1 s) was honoured before each of the two retries,
    // not the 5 ms backoff.
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(
        matches!(
            err,
            ApiError::Server {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Mimecast answered HTTP 503 for /api/domain/get-internal-domain on all 3 attempts (connection acme); the service may be degraded, try again later"
    );
    assert_eq!(sim.stats().calls_to("/api/domain/get-internal-domain"), 3);
}

#[tokio::test]
async fn random_server_errors_and_truncated_bodies_are_retried_to_success() {
    let options = SimOptions {
        error_rate: 0.3,
        malformed_rate: 0.2,
        seed: 11,
        ..SimOptions::default()
    };
    let sim = start_sim(one_domain_tenant(300), options).await;
    let mut cfg = acme_connection("flaky", &sim);
    cfg.page_size = 10;
    cfg.max_attempts = 12;
    let c = client(&cfg);
    let users = all(c.internal_users("big.example")).await.unwrap();
    assert_eq!(users.len(), 300);
    let s = sim.stats();
    assert!(s.server_errors > 0 && s.malformed > 0, "{s:?}");
    assert_eq!(c.stats().retries, s.server_errors + s.malformed);
}

#[tokio::test]
async fn always_truncated_bodies_end_in_a_decode_error() {
    let options = SimOptions {
        malformed_rate: 1.0,
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant("CMALFORM01"), options).await;
    let c = client(&acme_connection("acme", &sim));
    let err = c.get_account().await.unwrap_err();
    assert!(matches!(err, ApiError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("malformed body on all 3 attempts"), "{err}");
}

#[tokio::test]
async fn bad_credentials_say_what_to_check_and_never_echo_the_secret() {
    let sim = start_sim(acme_tenant("CBADCRED01"), SimOptions::default()).await;
    let mut cfg = acme_connection("prod", &sim);
    cfg.auth = AuthConfig::OAuth2 {
        client_id: Secret::literal("acme-client-id"),
        client_secret: Secret::literal("wrong-secret-12345"),
    };
    let c = client(&cfg);
    let err = c.get_account().await.unwrap_err();
    assert!(err.is_auth());
    let text = err.to_string();
    assert_eq!(
        text,
        format!(
            "Mimecast refused the credentials of connection prod at {}/oauth/token (HTTP 401): Invalid client credentials (invalid_client). \
             Check the client id and secret (mistyped, revoked or expired?) and the region: use the host of the application's region (global, us or uk) or set base_url",
            sim.base_url()
        )
    );
    assert!(!text.contains("wrong-secret-12345"));
    assert!(!format!("{err:?}").contains("wrong-secret-12345"));
    assert_eq!(sim.stats().calls_to("/api/account/get-account"), 0);
}

#[tokio::test]
async fn a_refused_token_is_not_reused_by_the_next_call() {
    let (_sim, c) = failing("CREFUSED01", "/api/account/get-account", 401).await;
    let err = c.get_account().await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert!(
        err.to_string()
            .contains("The access token was refused (it is renewed on the next call)"),
        "{err}"
    );
    assert_eq!(c.get_internal_domains().await.unwrap().len(), 2);
    assert_eq!(c.stats().token_requests, 2);
}

#[tokio::test]
async fn a_token_endpoint_that_keeps_failing_is_not_called_a_network_problem() {
    let (sim, _) = failing("CTOKEN5XX1", "/oauth/token", 503).await;
    let mut cfg = acme_connection("acme", &sim);
    cfg.max_attempts = 2;
    let err = client(&cfg).get_account().await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::TokenUnavailable {
                status: 503,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the token endpoint {}/oauth/token answered HTTP 503 on all 2 attempts (connection acme); Mimecast is rate-limiting or degraded, try again later",
            sim.base_url()
        )
    );
}

#[tokio::test]
async fn a_refused_connection_says_so() {
    // Nothing listens on port 9.
    let mut cfg = ConnectionConfig::oauth2("down", "http://127.0.0.1:9", "id", "secret-value");
    cfg.max_attempts = 1;
    let err = client(&cfg).get_account().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ApiError::Network { attempts: 1, .. }), "{err:?}");
    assert!(
        text.starts_with("cannot reach Mimecast at http://127.0.0.1:9/oauth/token for connection down after 1 attempts: the connection was refused (nothing listens there; check base_url and the proxy): "),
        "{text}"
    );
}

#[tokio::test]
async fn awareness_training_unlicensed_is_reported_as_unavailable() {
    let options = SimOptions {
        awareness_training_licensed: false,
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant("CNOAT00001"), options).await;
    let c = client(&acme_connection("acme", &sim));
    assert!(!c.get_account().await.unwrap().has_awareness_training());
    let err = all(c.safe_score_details()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        err.to_string()
            .contains("The Awareness Training package is missing from the tenant"),
        "{err}"
    );
    let err = c.get_training_campaigns().await.unwrap_err();
    assert!(err.is_unavailable());
}

/// `mimecast-sim --tenant FILE` whose account lists no Awareness Training package
/// answers 403 there, as Mimecast does, without `--at-unlicensed`.
#[tokio::test]
async fn a_tenant_file_without_awareness_training_is_served_403_there() {
    let tmp = crate::cli::temp_dir();
    let dir = tmp.path();
    let mut tenant = acme_tenant("CNOATFILE1");
    tenant.account["packages"] = json!(["Mimecast Platform [1033]"]);
    let path = dir.join("tenant.json");
    std::fs::write(&path, serde_json::to_string(&tenant).unwrap()).unwrap();
    let sim = crate::cli::spawn_sim(&["--tenant", path.to_str().unwrap()]);
    let mut cfg = ConnectionConfig::oauth2("acme", &sim.url, "acme-client-id", "acme-client-secret-value");
    cfg.retry_backoff = Duration::from_millis(5);
    let c = client(&cfg);
    assert!(!c.get_account().await.unwrap().has_awareness_training());
    assert_eq!(domain_names(&c).await, vec!["acme.com", "labs.acme.com"]);
    let err = all(c.safe_score_details()).await.unwrap_err();
    assert!(
        matches!(err, ApiError::Forbidden { status: 403, .. }) && err.is_unavailable(),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Mimecast refused access to /api/awareness-training/company/get-safe-score-details for connection acme \
         (HTTP 403: Forbidden (err_forbidden)). The Awareness Training package is missing from the tenant, or the API \
         application is not allowed the Awareness Training product or its role lacks Awareness Training | Dashboard | Read"
    );
    assert!(c.get_phishing_campaigns().await.unwrap_err().is_unavailable());
    assert!(c.get_training_campaigns().await.unwrap_err().is_unavailable());
}

#[tokio::test]
async fn training_campaigns_answering_404_are_unavailable_with_the_reason() {
    // The training-campaign endpoints are documented for API 1.0 only.
    let (_sim, c) = failing("C404TRAIN1", "/api/awareness-training/campaign/get-campaigns", 404).await;
    let err = c.get_training_campaigns().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "/api/awareness-training/campaign/get-campaigns answered HTTP 404 for connection acme: training-campaign endpoints are documented for API 1.0 only; this tenant does not serve them, so training campaigns are unavailable"
    );
    // A 404 is an answer, not a fault to retry.
    assert_eq!((c.stats().requests, c.stats().retries), (1, 0));
    assert_eq!(c.get_phishing_campaigns().await.unwrap().len(), 1);
}

#[tokio::test]
async fn api_1_0_hmac_signing_is_accepted_and_a_wrong_key_refused() {
    let sim = start_sim(acme_tenant("CHMAC00001"), SimOptions::default()).await;
    let mut cfg = acme_connection("legacy", &sim);
    cfg.auth = AuthConfig::Hmac {
        app_id: Secret::literal("acme-app-id"),
        app_key: Secret::literal("acme-app-key"),
        access_key: Secret::literal("acme-access-key"),
        secret_key: Secret::literal("YWNtZS1zZWNyZXQta2V5LWJ5dGVz"),
    };
    let c = client(&cfg);
    assert_eq!(c.get_account().await.unwrap().account_code, "CHMAC00001");
    assert_eq!(all(c.internal_users("acme.com")).await.unwrap().len(), 9);
    assert_eq!(sim.stats().token_requests, 0);

    cfg.auth = AuthConfig::Hmac {
        app_id: Secret::literal("acme-app-id"),
        app_key: Secret::literal("acme-app-key"),
        access_key: Secret::literal("acme-access-key"),
        secret_key: Secret::literal("d3Jvbmcta2V5"),
    };
    let err = client(&cfg).get_account().await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert!(
        err.to_string()
            .contains("0004 Invalid Signature (err_xdk_invalid_signature)"),
        "{err}"
    );

    cfg.auth = AuthConfig::Hmac {
        app_id: Secret::literal("not-an-app"),
        app_key: Secret::literal("acme-app-key"),
        access_key: Secret::literal("acme-access-key"),
        secret_key: Secret::literal("YWNtZS1zZWNyZXQta2V5LWJ5dGVz"),
    };
    let c = client(&cfg);
    let err = c.get_account().await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert!(err.to_string().contains("(err_developer_key)"), "{err}");
    // err_developer_key is known to be intermittent: one retry, then the error.
    assert_eq!((c.stats().requests, c.stats().retries), (2, 1));
}

#[tokio::test]
async fn lists_documented_without_paging_are_followed_when_a_tenant_pages_them() {
    let options = SimOptions {
        list_page_size: Some(1),
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant("CLISTPAGE1"), options).await;
    let c = client(&acme_connection("acme", &sim));
    assert_eq!(domain_names(&c).await, vec!["acme.com", "labs.acme.com"]);
    let names: Vec<String> = c
        .get_training_campaigns()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        vec![
            "Security Awareness Fundamentals",
            "Lunch and Learn",
            "HIPAA 101",
            "PCI DSS Essentials"
        ]
    );
    assert_eq!(c.get_phishing_campaigns().await.unwrap().len(), 1);
    // One request per item: 2 domains, 4 training campaigns, 1 phishing campaign.
    assert_eq!((c.stats().requests, c.stats().retries), (7, 0));
}

#[tokio::test]
async fn loopback_bypasses_the_proxy_and_proxy_credentials_are_never_printed() {
    let sim = start_sim(acme_tenant("CPROXY0001"), SimOptions::default()).await;
    let mut cfg = acme_connection("acme", &sim);
    // Nothing listens on port 9: a request through this proxy would fail.
    cfg.proxy = Some(ProxyUrl::new("http://proxyuser:proxy-pass-123@127.0.0.1:9"));
    let c = client(&cfg);
    assert_eq!(c.get_account().await.unwrap().account_code, "CPROXY0001");
    let debug = format!("{cfg:?}");
    assert!(debug.contains(r#"proxy: Some("http://***@127.0.0.1:9")"#), "{debug}");
    assert!(
        !debug.contains("proxy-pass-123") && !debug.contains("proxyuser"),
        "{debug}"
    );
}

#[tokio::test]
async fn the_client_refuses_anything_off_its_read_only_list() {
    let sim = start_sim(acme_tenant("CREADONLY1"), SimOptions::default()).await;
    let c = client(&acme_connection("acme", &sim));
    for path in [
        "/api/user/delete-user",
        "/api/user/create-user",
        "/api/domain/create-domain",
        "/api/account/update-account",
    ] {
        let err = c
            .post_path(path, &json!({"data": [{"emailAddress": "ann@acme.com"}]}))
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::NotAllowed { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("{path} is not on the client's read-only allowlist; the worker never writes to Mimecast")
        );
    }
    let ok = c
        .post_path(Endpoint::GetAccount.path(), &json!({"data": []}))
        .await
        .unwrap();
    assert_eq!(ok.data.len(), 1);
    let stats = sim.stats();
    assert_eq!(
        stats.calls.keys().cloned().collect::<Vec<_>>(),
        vec!["/api/account/get-account", "/oauth/token"]
    );
}

#[tokio::test]
async fn a_generated_tenant_serves_every_user_and_campaign() {
    let spec = GenerateSpec {
        users: 600,
        domains: 3,
        campaigns: 5,
        phishing: 2,
        seed: 42,
        ..GenerateSpec::default()
    };
    let tenant = sim::generate(&spec);
    let expected_users = tenant.users.len();
    let sim = start_sim(tenant.clone(), SimOptions::default()).await;
    let c = client(&acme_connection_for(&sim, &tenant));
    let mut total = 0;
    for d in c.get_internal_domains().await.unwrap() {
        total += all(c.internal_users(&d.domain)).await.unwrap().len();
    }
    assert_eq!(total, expected_users);
    let campaigns = c.get_training_campaigns().await.unwrap();
    assert_eq!(campaigns.len(), 5);
    for (record, served) in tenant.training_campaigns.iter().zip(&campaigns) {
        let rows = all(c.training_campaign_user_data(&served.id)).await.unwrap();
        assert_eq!(rows.len(), record["user_data"].as_array().unwrap().len());
    }
}

fn acme_connection_for(sim: &sim::SimServer, tenant: &Tenant) -> ConnectionConfig {
    let mut cfg = acme_connection("generated", sim);
    if let Some(sim::Credential::OAuth2 {
        client_id,
        client_secret,
    }) = tenant.credentials.first()
    {
        cfg.auth = AuthConfig::OAuth2 {
            client_id: Secret::literal(client_id),
            client_secret: Secret::literal(client_secret),
        };
    }
    cfg
}

/// Captures everything logged at TRACE during a run that includes a refused
/// credential, and checks no secret or token appears.
#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_the_logs() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = start_sim(acme_tenant("CSECRET001"), SimOptions::default()).await;
    let good = acme_connection("good", &sim);
    let mut bad = acme_connection("bad", &sim);
    bad.auth = AuthConfig::OAuth2 {
        client_id: Secret::literal("acme-client-id"),
        client_secret: Secret::literal("wrong-secret-67890"),
    };
    let config = crate::helpers::config_with(vec![good, bad]);
    let collection = mimecast_graph::collect::collect(
        &config,
        &mimecast_graph::collect::all_steps(),
        &mimecast_graph::steps::SilentProgress,
    )
    .await;
    let summary = serde_json::to_string(&collection.summary()).unwrap();
    drop(_guard);

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("step finished"), "nothing was captured");
    for text in [&logs, &summary] {
        for secret in ["acme-client-secret-value", "wrong-secret-67890", "Bearer "] {
            assert!(!text.contains(secret), "{secret:?} leaked");
        }
        // Tokens are 40 alphanumeric characters; no such run may appear.
        let longest = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 40, "a token-like string appears in the output");
    }
    assert!(summary.contains("Mimecast refused the credentials of connection bad"));
}

/// A hand-made server for behaviour the simulator never shows: a page token that
/// repeats, and a last page that still carries `next` but has no items.
async fn odd_pager(mode: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::post;
    let page = move || async move {
        let body = match mode {
            "loop" => json!({"meta": {"status": 200, "pagination": {"pageSize": 1, "next": "SAME"}},
                             "data": [{"users": [{"emailAddress": "a@x.com"}], "userCount": 9}], "fail": []}),
            _ => json!({"meta": {"status": 200, "pagination": {"pageSize": 0, "next": "MORE"}},
                        "data": [{"users": [], "userCount": 0}], "fail": []}),
        };
        axum::Json(body)
    };
    let app = axum::Router::new()
        .route(
            "/oauth/token",
            post(|| async { axum::Json(json!({"access_token": "t", "token_type": "Bearer", "expires_in": 1799})) }),
        )
        .route("/api/user/get-internal-users", post(page));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

#[tokio::test]
async fn a_repeating_page_token_is_an_error_not_a_loop() {
    let (url, task) = odd_pager("loop").await;
    let c = Client::new(&ConnectionConfig::oauth2("odd", &url, "id", "secret")).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), all(c.internal_users("x.com")))
        .await
        .expect("paging stopped")
        .unwrap_err();
    assert!(matches!(err, ApiError::PaginationLoop { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "pagination of /api/user/get-internal-users returned a page token it had already returned (connection odd); stopping instead of looping"
    );
    task.abort();
}

#[tokio::test]
async fn an_empty_page_ends_paging_even_with_a_next_token() {
    let (url, task) = odd_pager("empty").await;
    let c = Client::new(&ConnectionConfig::oauth2("odd", &url, "id", "secret")).unwrap();
    let users = all(c.internal_users("x.com")).await.unwrap();
    assert!(users.is_empty());
    assert_eq!(c.stats().requests, 1);
    task.abort();
}

#[tokio::test]
async fn an_empty_page_short_of_the_announced_total_is_an_error() {
    use axum::routing::post;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let page = move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let users = if n == 0 {
                json!([{"emailAddress": "a@x.com"}, {"emailAddress": "b@x.com"}])
            } else {
                json!([])
            };
            axum::Json(
                json!({"meta": {"status": 200, "pagination": {"pageSize": 2, "totalCount": 5, "next": format!("P{}", n + 2)}},
                              "data": [{"users": users, "userCount": 5}], "fail": []}),
            )
        }
    };
    let app = axum::Router::new()
        .route(
            "/oauth/token",
            post(|| async { axum::Json(json!({"access_token": "t", "expires_in": 1799})) }),
        )
        .route("/api/user/get-internal-users", post(page));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c = Client::new(&ConnectionConfig::oauth2("short", &url, "id", "secret")).unwrap();
    let err = all(c.internal_users("x.com")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "/api/user/get-internal-users returned an empty page after 2 of the 5 records it announced (connection short); the list would be incomplete, so it is not used"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    task.abort();
}
