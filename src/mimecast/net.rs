//! The wire: the HTTP client of a connection (timeouts, proxy, no redirects), reading
//! a body up to the cap, and network errors in words a user can act on.

use reqwest::redirect::Policy;

use crate::config::ConnectionConfig;

/// Builds the HTTP client of one connection. Redirects are never followed: a
/// redirected token request would re-send the client secret, a redirected API call
/// the bearer token, to wherever the `Location` points.
///
/// # Errors
/// A proxy URL reqwest does not accept, or a client reqwest cannot build; the text
/// never shows the proxy's credentials.
pub(crate) fn http_client(cfg: &ConnectionConfig) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.request_timeout)
        .user_agent(concat!("mimecast-graph/", env!("CARGO_PKG_VERSION")))
        .danger_accept_invalid_certs(cfg.tls_insecure_skip_verify)
        .redirect(Policy::none())
        .no_proxy();
    if let Some(proxy) = &cfg.proxy {
        let p = reqwest::Proxy::all(proxy.expose())
            .map_err(|e| {
                let e = e.to_string().replace(proxy.expose(), &proxy.redacted());
                format!("invalid proxy {proxy:?}: {e}")
            })?
            .no_proxy(reqwest::NoProxy::from_string(&no_proxy_list(cfg.no_proxy.as_deref())));
        builder = builder.proxy(p);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Hosts that bypass the proxy: the configured `NO_PROXY` list and always this
/// machine, so a local simulator or gateway is reached directly behind a proxy.
fn no_proxy_list(configured: Option<&str>) -> String {
    [configured.unwrap_or(""), "localhost", "127.0.0.1", "::1"]
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Why a body was not read whole.
pub(crate) enum ReadError {
    /// More than the cap (announced by `Content-Length` or counted while reading).
    TooLarge,
    Network(reqwest::Error),
}

/// Reads a body chunk by chunk and stops at `cap` bytes instead of buffering
/// whatever the server sends.
pub(crate) async fn read_capped(mut response: reqwest::Response, cap: u64) -> Result<Vec<u8>, ReadError> {
    let announced = response.content_length();
    if announced.is_some_and(|n| n > cap) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(0).min(cap).min(1 << 20) as usize);
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Network)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What went wrong on the wire, in words a user can act on: reqwest's own message
/// ("client error (Connect)") says nothing, so the whole source chain is named, with
/// the usual causes first. reqwest's messages name the URL, never headers or bodies.
pub(crate) fn network_detail(e: &reqwest::Error) -> String {
    let chain = error_chain(e);
    let lower = chain.to_lowercase();
    let cause = if e.is_timeout() {
        "the request timed out (request_timeout_secs)"
    } else if is_certificate_error(e) {
        "the TLS certificate was not accepted (a TLS-inspecting proxy needs its CA in the system store; check base_url)"
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        "the host name did not resolve (check region or base_url, and DNS)"
    } else if lower.contains("connection refused") {
        "the connection was refused (nothing listens there; check base_url and the proxy)"
    } else if e.is_connect() {
        "the connection failed"
    } else {
        return chain;
    };
    format!("{cause}: {chain}")
}

/// The error and its sources, each distinct message once.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A certificate refusal does not heal on retry.
pub(crate) fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string().to_lowercase();
        if text.contains("certificate") || text.contains("unknownissuer") {
            return true;
        }
        source = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_always_bypasses_the_proxy() {
        assert_eq!(no_proxy_list(None), "localhost,127.0.0.1,::1");
        assert_eq!(
            no_proxy_list(Some("corp.example,.internal")),
            "corp.example,.internal,localhost,127.0.0.1,::1"
        );
    }
}
