//! Unit tests of the configuration: parsing, environment, validation.

use super::validate::is_loopback_http;
use super::*;
use secrecy::ExposeSecret;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
}

#[test]
fn proxy_urls_print_without_credentials() {
    assert_eq!(
        ProxyUrl::new("http://u:p@proxy:3128").redacted(),
        "http://***@proxy:3128"
    );
    assert_eq!(ProxyUrl::new("http://u@proxy:3128").redacted(), "http://***@proxy:3128");
    assert_eq!(ProxyUrl::new("http://proxy:3128").redacted(), "http://proxy:3128");
    assert_eq!(format!("{:?}", ProxyUrl::new("u:p@proxy")), r#""***@proxy""#);
    // Found by fuzz/ (target config): a "://" after the credentials was taken for
    // the end of the scheme, and the password was printed.
    assert_eq!(
        ProxyUrl::new("http:/|user:pass@proxxxxtp://user:pass@proxy:3128").redacted(),
        "***@proxy:3128"
    );
}

#[test]
fn env_only_single_tenant() {
    let env = env_of(&[
        ("MIMECAST_CLIENT_ID", "id"),
        ("MIMECAST_CLIENT_SECRET", "s3cret"),
        ("MIMECAST_REGION", "uk"),
        ("NEO4J_URI", "bolt://db:7687"),
        ("NEO4J_PASSWORD", "pw-pw-pw"),
    ]);
    let c = Config::from_sources(None, None, &env).unwrap();
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(c.connections.len(), 1);
    assert_eq!(c.connections[0].name, "default");
    assert_eq!(
        c.connections[0].resolved_base_url().as_deref(),
        Some("https://uk-api.services.mimecast.com")
    );
    assert_eq!(c.neo4j.uri, "bolt://db:7687");
    let AuthConfig::OAuth2 { client_secret, .. } = &c.connections[0].auth else {
        panic!()
    };
    assert_eq!(client_secret.value.as_ref().unwrap().expose_secret(), "s3cret");
}

#[test]
fn a_ca_file_goes_with_a_uri_that_checks_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let ca = ca.display().to_string();
    let check = |uri: &str, ca: &str| {
        let pairs = [
            ("MIMECAST_CLIENT_ID", "id"),
            ("MIMECAST_CLIENT_SECRET", "s3cret"),
            ("NEO4J_URI", uri),
            ("NEO4J_PASSWORD", "pw-pw-pw"),
            ("NEO4J_CA_FILE", ca),
        ];
        let env = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let c = Config::from_sources(None, None, &env).unwrap();
        assert_eq!(c.neo4j.ca_file.as_deref(), Some(Path::new(ca)));
        c.validate()
            .map_err(|e| e.into_iter().map(|f| f.to_string()).collect::<Vec<_>>())
    };
    assert_eq!(check("bolt+s://db:7687", &ca), Ok(()));
    assert_eq!(check("neo4j+s://db:7687", &ca), Ok(()));
    assert_eq!(
        check("bolt://db:7687", &ca),
        Err(vec![
            "neo4j.ca_file: is only used with a bolt+s:// or neo4j+s:// URI, which checks the server's certificate (got \"bolt://db:7687\")"
                .to_owned()
        ])
    );
}

#[test]
fn the_environment_only_connection_uses_https_proxy_and_no_proxy() {
    let env = env_of(&[
        ("MIMECAST_CLIENT_ID", "id"),
        ("MIMECAST_CLIENT_SECRET", "s3cret"),
        ("HTTPS_PROXY", "http://proxy.corp:3128"),
        ("NO_PROXY", "mimecast.internal,.corp"),
    ]);
    let c = Config::from_sources(None, None, &env).unwrap();
    let conn = &c.connections[0];
    assert_eq!(conn.proxy, Some(ProxyUrl::new("http://proxy.corp:3128")));
    assert_eq!(conn.no_proxy.as_deref(), Some("mimecast.internal,.corp"));
    // The same variables for a file connection that names no proxy of its own.
    let text = "[[connection]]\nname = \"a\"\n[[connection]]\nname = \"b\"\nproxy = \"http://own:8080\"\n";
    let c = Config::from_sources(None, Some(text), &env).unwrap();
    let proxies: Vec<_> = c.connections.iter().map(|c| c.proxy.clone()).collect();
    assert_eq!(
        proxies,
        vec![
            Some(ProxyUrl::new("http://proxy.corp:3128")),
            Some(ProxyUrl::new("http://own:8080"))
        ]
    );
    assert_eq!(c.connections[1].no_proxy.as_deref(), Some("mimecast.internal,.corp"));
}

#[test]
fn throttling_and_body_limits_are_read_with_defaults() {
    let text = "[[connection]]\nname = \"a\"\nrate_limit_max_wait_secs = 120\nmax_response_bytes = 1048576\n[[connection]]\nname = \"b\"\nmax_response_bytes = 10\n";
    let env = env_of(&[
        ("MIMECAST_CLIENT_ID", "i"),
        ("MIMECAST_CLIENT_SECRET", "s"),
        ("NEO4J_PASSWORD", "p"),
    ]);
    let c = Config::from_sources(None, Some(text), &env).unwrap();
    let a = &c.connections[0];
    assert_eq!(
        (a.rate_limit_max_wait, a.max_response_bytes),
        (Duration::from_secs(120), 1 << 20)
    );
    let defaults = ConnectionConfig::oauth2("d", "", "", "");
    assert_eq!(
        (defaults.rate_limit_max_wait, defaults.max_response_bytes),
        (Duration::from_secs(300), 64 << 20)
    );
    let errors = c.validate().unwrap_err();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["connection[b].max_response_bytes: must be at least 1024 (got 10)"]
    );
}

#[test]
fn validate_names_every_bad_field() {
    let text = r#"
        [[connection]]
        name = "prod"
        region = "mars"
        page_size = 900
        client_secret_env = "PROD_SECRET"
        campaign_categories = { "HIPAA 101" = ["hipaa", "astrology"] }
        group_requirements = { Clinical = ["hipaa"], clinical = ["general"] }

        [neo4j]
        uri = "http://localhost:7474"
        batch_size = 0
    "#;
    let env = env_of(&[("MIMECAST_CLIENT_ID", "id")]);
    let c = Config::from_sources(Some(Path::new("/etc/mg.toml")), Some(text), &env).unwrap();
    let errors = c.validate().unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "connection[prod].region",
            "connection[prod].client_secret_env",
            "connection[prod].page_size",
            "connection[prod].campaign_categories.\"HIPAA 101\"",
            "connection[prod].group_requirements.\"clinical\"",
            "neo4j.uri",
            "neo4j.password_env",
            "neo4j.batch_size",
        ]
    );
    assert_eq!(
        errors[1].message,
        "environment variable PROD_SECRET is not set or empty"
    );
    assert_eq!(
        errors[4].message,
        "differs from \"Clinical\" only in case; roster groups match case-insensitively, so keep one"
    );
}

#[test]
fn a_domain_alias_with_a_control_character_is_refused() {
    // Found by fuzz/ (target roster): a NUL in a primary domain reached the normalized emails.
    let text =
        "[compliance]\ndomain_aliases = { \"acme.co.uk\" = \"acme.gro\\u0000ccom\" }\n[[connection]]\nname = \"p\"\n";
    let env = env_of(&[
        ("MIMECAST_CLIENT_ID", "id"),
        ("MIMECAST_CLIENT_SECRET", "s"),
        ("NEO4J_PASSWORD", "pw"),
    ]);
    let errors = Config::from_sources(None, Some(text), &env)
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(
        errors,
        vec![FieldError {
            field: "connection[p].domain_aliases.\"acme.co.uk\"".into(),
            message: "must map a domain to a domain, such as \"acme.co.uk\" = \"acme.com\" (got \"acme.gro\\0ccom\")"
                .into(),
        }]
    );
}

#[test]
fn plain_http_is_only_for_this_machine() {
    assert!(is_loopback_http("http://127.0.0.1:8080"));
    assert!(is_loopback_http("http://localhost/api"));
    assert!(is_loopback_http("http://[::1]:9"));
    assert!(!is_loopback_http("http://api.services.mimecast.com"));
    assert!(!is_loopback_http("http://127.0.0.1.evil.example:80"));
    let text = "[[connection]]\nname = \"x\"\nbase_url = \"http://mimecast.example.com\"\n";
    let env = env_of(&[
        ("MIMECAST_CLIENT_ID", "i"),
        ("MIMECAST_CLIENT_SECRET", "s"),
        ("NEO4J_PASSWORD", "p"),
    ]);
    let errors = Config::from_sources(None, Some(text), &env)
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "connection[x].base_url: must start with https:// (plain http:// only for 127.0.0.1 or localhost; got \"http://mimecast.example.com\")"
    );
}

#[test]
fn unknown_field_is_a_parse_error_naming_it() {
    let err = Config::from_sources(Some(Path::new("x.toml")), Some("[neo4j]\nbatchsize = 5\n"), &|_| None).unwrap_err();
    assert!(err.to_string().contains("unknown field `batchsize`"), "{err}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let env = env_of(&[
        ("MIMECAST_CLIENT_ID", "id"),
        ("MIMECAST_CLIENT_SECRET", "very-secret-value"),
        ("NEO4J_PASSWORD", "another-secret"),
    ]);
    let c = Config::from_sources(None, None, &env).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("very-secret-value"));
    assert!(!debug.contains("another-secret"));
    assert!(debug.contains("Secret($MIMECAST_CLIENT_SECRET set)"));
}

#[test]
fn threat_log_settings_are_read_with_defaults_and_checked() {
    let env = env_of(&[("NEO4J_PASSWORD", "p"), ("ID", "i"), ("SECRET", "s")]);
    let text = "[sync]\nthreat_lookback_days = 3\nthreat_overlap_minutes = 15\n\
        [[connection]]\nname = \"a\"\nclient_id_env = \"ID\"\nclient_secret_env = \"SECRET\"\n\
        threat_logs = [\"impersonation\", \"url\", \"url\"]\n\
        [[connection]]\nname = \"b\"\nclient_id_env = \"ID\"\nclient_secret_env = \"SECRET\"\n";
    let c = Config::from_sources(None, Some(text), &env).unwrap();
    assert_eq!((c.sync.threat_lookback_days, c.sync.threat_overlap_minutes), (3, 15));
    assert_eq!(
        c.connections[0].threat_logs,
        vec![ThreatLog::Url, ThreatLog::Impersonation]
    );
    assert_eq!(c.connections[1].threat_logs, ThreatLog::ALL.to_vec());
    let defaults = Config::from_sources(None, None, &env).unwrap();
    assert_eq!(
        (defaults.sync.threat_lookback_days, defaults.sync.threat_overlap_minutes),
        (7, 60)
    );
    let bad = |text: &str| {
        Config::from_sources(None, Some(text), &env)
            .unwrap()
            .validate()
            .unwrap_err()
    };
    assert_eq!(
        bad("[sync]\nthreat_lookback_days = 0\n"),
        vec![FieldError {
            field: "sync.threat_lookback_days".into(),
            message: "must be at least 1 (days the first read of a TTP log looks back)".into()
        }]
    );
    assert_eq!(
        bad("[sync]\nthreat_lookback_days = 30\nevent_retention_days = 14\n")[0].message,
        "must not exceed sync.event_retention_days (14): older events would be deleted as soon as they are written"
    );
    let unknown = Config::from_sources(
        None,
        Some("[[connection]]\nname = \"a\"\nthreat_logs = [\"siem\"]\n"),
        &env,
    );
    assert!(unknown.unwrap_err().to_string().contains("siem"));
}

#[test]
fn retry_window_and_deletion_share_are_read_and_checked() {
    let env = env_of(&[("NEO4J_PASSWORD", "p")]);
    let text = "[neo4j]\nunavailable_retry_secs = 30\n[sync]\nmax_delete_share = 0.25\n";
    let c = Config::from_sources(None, Some(text), &env).unwrap();
    assert_eq!(c.neo4j.unavailable_retry, Duration::from_secs(30));
    assert_eq!(c.sync.max_delete_share, 0.25);
    assert!(
        !c.sync.allow_mass_delete,
        "only the command-line flag allows mass deletion"
    );
    let defaults = Config::from_sources(None, None, &env).unwrap();
    assert_eq!(defaults.neo4j.unavailable_retry, Duration::from_secs(120));
    assert_eq!(defaults.sync.max_delete_share, 0.5);
    let bad = Config::from_sources(None, Some("[sync]\nmax_delete_share = 1.5\n"), &env).unwrap();
    assert_eq!(
        bad.validate().unwrap_err(),
        vec![FieldError {
            field: "sync.max_delete_share".into(),
            message: "must be 0 to 1, a share of an account's elements of one type (got 1.5)".into()
        }]
    );
}

#[test]
fn roster_paths_resolve_against_the_config_folder() {
    let text = "[compliance]\nroster = \"people.csv\"\n[[connection]]\nname = \"a\"\n";
    let c = Config::from_sources(Some(Path::new("/etc/mg/config.toml")), Some(text), &|_| None).unwrap();
    assert_eq!(
        c.connections[0].compliance.roster.as_deref(),
        Some(Path::new("/etc/mg/people.csv"))
    );
}

#[test]
fn directory_groups_and_message_activity_are_read_with_defaults_and_checked() {
    let env = env_of(&[("NEO4J_PASSWORD", "p"), ("ID", "i"), ("SECRET", "s")]);
    let conn = "[[connection]]\nname = \"a\"\nclient_id_env = \"ID\"\nclient_secret_env = \"SECRET\"\n";
    let c = Config::from_sources(None, Some(conn), &env).unwrap();
    assert!(c.connections[0].directory_groups);
    assert_eq!(
        c.connections[0].message_activity,
        MessageActivity {
            enabled: false,
            lookback_days: 30,
            max_calls_per_sync: 2000
        }
    );
    let text = format!(
        "{conn}directory_groups = false\n[connection.message_activity]\nenabled = true\nmax_calls_per_sync = 50\n"
    );
    let c = Config::from_sources(None, Some(&text), &env).unwrap();
    assert!(!c.connections[0].directory_groups);
    assert_eq!(
        c.connections[0].message_activity,
        MessageActivity {
            enabled: true,
            lookback_days: 30,
            max_calls_per_sync: 50
        }
    );
    c.validate().unwrap();
    let bad =
        format!("{conn}[connection.message_activity]\nenabled = true\nlookback_days = 0\nmax_calls_per_sync = 0\n");
    let errors = Config::from_sources(None, Some(&bad), &env)
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(
        errors,
        vec![
            FieldError {
                field: "connection[a].message_activity.lookback_days".into(),
                message: "must be 1 to 365 (got 0)".into()
            },
            FieldError {
                field: "connection[a].message_activity.max_calls_per_sync".into(),
                message: "must be at least 1 (or set enabled = false)".into()
            },
        ]
    );
    let typo = format!("{conn}[connection.message_activity]\nenable = true\n");
    assert!(Config::from_sources(None, Some(&typo), &env)
        .unwrap_err()
        .to_string()
        .contains("enable"));
}

#[test]
fn the_siem_batch_is_opt_in_with_detection_types_and_checked() {
    let env = env_of(&[("NEO4J_PASSWORD", "p"), ("ID", "i"), ("SECRET", "s")]);
    let conn = "[[connection]]\nname = \"a\"\nclient_id_env = \"ID\"\nclient_secret_env = \"SECRET\"\n";
    let c = Config::from_sources(None, Some(conn), &env).unwrap();
    assert_eq!(
        c.connections[0].siem,
        SiemConfig {
            enabled: false,
            types: vec![
                "av".into(),
                "attachment protect".into(),
                "impersonation protect".into(),
                "url protect".into()
            ],
            page_size: 100
        }
    );
    let text = format!("{conn}[connection.siem]\nenabled = true\ntypes = [\"spam\"]\npage_size = 10\n");
    let c = Config::from_sources(None, Some(&text), &env).unwrap();
    assert_eq!(
        c.connections[0].siem,
        SiemConfig {
            enabled: true,
            types: vec!["spam".into()],
            page_size: 10
        }
    );
    c.validate().unwrap();
    let bad = format!("{conn}[connection.siem]\nenabled = true\ntypes = [\"mta\"]\npage_size = 101\n");
    let errors = Config::from_sources(None, Some(&bad), &env)
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(
        errors,
        vec![
            FieldError {
                field: "connection[a].siem.types".into(),
                message: "\"mta\" is not a SIEM batch type (known: av, delivery, internal email protect, impersonation protect, journal, process, receipt, attachment protect, spam, url protect)".into()
            },
            FieldError {
                field: "connection[a].siem.page_size".into(),
                message: "must be 1 to 100 (got 101)".into()
            },
        ]
    );
    let env = env_of(&[
        ("NEO4J_PASSWORD", "p"),
        ("APP", "a"),
        ("KEY", "k"),
        ("AK", "ak"),
        ("SK", "sk"),
    ]);
    let hmac = "[[connection]]\nname = \"a\"\nauth = \"hmac\"\nregion = \"eu\"\napp_id_env = \"APP\"\napp_key_env = \"KEY\"\naccess_key_env = \"AK\"\nsecret_key_env = \"SK\"\n[connection.siem]\nenabled = true\n";
    let errors = Config::from_sources(None, Some(hmac), &env)
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(
        errors,
        vec![FieldError {
            field: "connection[a].siem.enabled".into(),
            message: "the SIEM batch takes API 2.0 (OAuth2) credentials; this connection uses API 1.0 keys".into()
        }]
    );
}
