//! The TOML configuration, built from text and a stand-in environment (never the
//! process's own), then validated. The first input byte says which variables the
//! environment holds; the rest is the file.
//!
//! Invariants: no secret value appears in the configuration's Debug text, a parse
//! error or a validation error; roster and query paths come out absolute (they are
//! resolved against the file's folder); a configuration that validates has unique,
//! non-empty connection names, a base URL for every connection that is https:// or
//! plain http:// to this machine only, page sizes of 1 to 500, non-zero limits and
//! a bolt:// or neo4j:// URI; a proxy's password is gone from its redacted form.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mimecast_graph::config::Config;
use url::{Host, Url};

/// Every secret the stand-in environment hands out starts with this.
const SECRET: &str = "fz-secret-";

fn env(flags: u8) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        let upper = name.to_ascii_uppercase();
        let defaults = matches!(name, "MIMECAST_CLIENT_ID" | "MIMECAST_CLIENT_SECRET" | "NEO4J_PASSWORD");
        let secretish = ["SECRET", "KEY", "PASSWORD", "_ID"].iter().any(|w| upper.contains(w));
        if (flags & 1 != 0 && defaults) || (flags & 2 != 0 && secretish) {
            Some(format!("{SECRET}{name}"))
        } else if flags & 4 != 0 && upper == "HTTPS_PROXY" {
            Some(format!("http://fz-user:{SECRET}proxy@proxy.invalid:3128"))
        } else {
            None
        }
    }
}

/// Asserts that `text` holds no secret, unless the `input` itself spelled one out.
fn assert_no_secret(input: &str, what: &str, text: &str) {
    assert!(
        input.contains(SECRET) || !text.contains(SECRET),
        "a secret in the {what}: {text}"
    );
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let config = match Config::from_sources(Some(Path::new("/fuzz/config.toml")), Some(text), &env(flags)) {
        Ok(c) => c,
        Err(e) => return assert_no_secret(text, "parse error", &e.to_string()),
    };
    assert_no_secret(text, "configuration", &format!("{config:?}"));
    for c in &config.connections {
        for path in [&c.compliance.roster, &config.queries_dir].into_iter().flatten() {
            assert!(path.is_absolute(), "{path:?}");
        }
        if let Some(proxy) = &c.proxy {
            if let Ok(url) = Url::parse(proxy.expose()) {
                if let Some(password) = url.password().filter(|p| !p.is_empty()) {
                    let redacted = proxy.redacted();
                    assert!(!redacted.contains(&format!(":{password}@")), "{redacted}");
                    assert!(
                        Url::parse(&redacted).map_or(true, |u| u.password().is_none()),
                        "{redacted}"
                    );
                }
            }
        }
    }
    let errors = match config.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors,
    };
    for e in &errors {
        assert_no_secret(text, "validation error", &e.to_string());
        assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}");
    }
    if !errors.is_empty() {
        return;
    }
    let mut names = HashSet::new();
    for c in &config.connections {
        assert!(
            !c.name.trim().is_empty() && names.insert(c.name.as_str()),
            "{:?}",
            c.name
        );
        let base = c.resolved_base_url().expect("a valid connection has a base URL");
        if !base.starts_with("https://") {
            assert!(base.starts_with("http://"), "{base}");
            if let Ok(url) = Url::parse(&base) {
                assert!(is_loopback(&url), "plain http to {:?} ({base})", url.host());
            }
        }
        assert!((1..=500).contains(&c.page_size));
        assert!(c.max_attempts >= 1 && c.max_concurrent_requests >= 1);
        assert!(!c.request_timeout.is_zero() && !c.connect_timeout.is_zero());
    }
    let n = &config.neo4j;
    assert!(n.uri.starts_with("bolt") || n.uri.starts_with("neo4j"), "{}", n.uri);
    assert!((1..=100_000).contains(&n.batch_size) && n.cleanup_batch_size >= 1 && n.max_connections >= 1);
    assert!(n.password.value.is_some() && !n.user.is_empty());
});
