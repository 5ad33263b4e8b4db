//! Typed errors of the Mimecast client. Each message says what to fix. None of them
//! ever carries a credential, a token or a signature.

use std::fmt;
use std::time::Duration;

use super::endpoints::{Area, Endpoint};

/// One error entry of a `fail[]` array, in either shape: API 1.0 and function-level
/// errors (`fail[].errors[]{code,message,retryable}`) or API 2.0 auth errors
/// (`fail[]{code,message}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailError {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl fmt::Display for FailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

fn join(errors: &[FailError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{path} is not on the client's read-only allowlist; the worker never writes to Mimecast")]
    NotAllowed { path: String },

    #[error("Mimecast refused the credentials of connection {connection} at {url} (HTTP {status}): {detail}. {hint}")]
    Auth {
        connection: String,
        url: String,
        status: u16,
        detail: String,
        hint: &'static str,
    },

    #[error("Mimecast refused access to {endpoint} for connection {connection} (HTTP {status}: {detail}). {hint}", endpoint = endpoint.path(), hint = forbidden_hint(endpoint.area()))]
    Forbidden {
        connection: String,
        endpoint: Endpoint,
        status: u16,
        detail: String,
    },

    #[error("{endpoint} answered HTTP 404 for connection {connection}: {hint}", endpoint = endpoint.path(), hint = not_found_hint(*endpoint))]
    NotFound { connection: String, endpoint: Endpoint },

    #[error("Mimecast kept rate-limiting {url} for connection {connection}: {throttled} answers of HTTP 429 and {waited_secs:.1} s waited, and the next wait would pass rate_limit_max_wait_secs ({max_wait_secs} s); lower max_concurrent_requests, raise rate_limit_max_wait_secs or run less often", waited_secs = waited.as_secs_f64(), max_wait_secs = max_wait.as_secs())]
    RateLimited {
        connection: String,
        url: String,
        throttled: u32,
        waited: Duration,
        max_wait: Duration,
    },

    #[error("{url} answered HTTP {status} redirecting to {location} (connection {connection}); redirects are never followed, so credentials and tokens stay with their origin: set base_url (or region) to the host that serves the API itself")]
    Redirected {
        connection: String,
        url: String,
        status: u16,
        location: String,
    },

    #[error("the response of {url} for connection {connection} is larger than max_response_bytes ({limit} bytes); reading stopped at the cap. Lower page_size or raise max_response_bytes")]
    TooLarge {
        connection: String,
        url: String,
        limit: u64,
    },

    #[error("Mimecast answered HTTP {status} for {endpoint} on all {attempts} attempts (connection {connection}); the service may be degraded, try again later", endpoint = endpoint.path())]
    Server {
        connection: String,
        endpoint: Endpoint,
        status: u16,
        attempts: u32,
    },

    #[error("cannot reach Mimecast at {url} for connection {connection} after {attempts} attempts: {detail}. Check the region or base_url, the proxy and the network")]
    Network {
        connection: String,
        url: String,
        detail: String,
        attempts: u32,
    },

    #[error("Mimecast reported an error for {endpoint} (connection {connection}): {errors}", endpoint = endpoint.path(), errors = join(.errors))]
    Fail {
        connection: String,
        endpoint: Endpoint,
        errors: Vec<FailError>,
    },

    #[error("cannot decode the response of {endpoint} (connection {connection}): {detail}", endpoint = endpoint.path())]
    Decode {
        connection: String,
        endpoint: Endpoint,
        detail: String,
    },

    #[error("pagination of {endpoint} returned a page token it had already returned (connection {connection}); stopping instead of looping", endpoint = endpoint.path())]
    PaginationLoop { connection: String, endpoint: Endpoint },

    #[error("{endpoint} returned an empty page after {received} of the {total} records it announced (connection {connection}); the list would be incomplete, so it is not used", endpoint = endpoint.path())]
    Truncated {
        connection: String,
        endpoint: Endpoint,
        received: i64,
        total: i64,
    },

    #[error("the token endpoint {url} answered HTTP {status} on all {attempts} attempts (connection {connection}); Mimecast is rate-limiting or degraded, try again later")]
    TokenUnavailable {
        connection: String,
        url: String,
        status: u16,
        attempts: u32,
    },

    #[error("the API 1.0 binding of connection {connection} has expired (HTTP 418); create new access and secret keys, with the user's authentication cache TTL set to never expire")]
    BindingExpired { connection: String },

    #[error("connection {connection}: {detail}")]
    Setup { connection: String, detail: String },
}

impl ApiError {
    /// The endpoint is not available to this tenant (403 or 404 on an Awareness
    /// Training endpoint, 403 on a TTP log the product or the role does not allow):
    /// report it as unavailable instead of failing loudly.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ApiError::Forbidden { endpoint, .. } | ApiError::NotFound { endpoint, .. }
                if endpoint.area() == Area::AwarenessTraining =>
            {
                true
            }
            ApiError::Forbidden { endpoint, .. } => matches!(
                endpoint.area(),
                Area::UrlProtection
                    | Area::AttachmentProtection
                    | Area::ImpersonationProtection
                    | Area::Groups
                    | Area::MessageTracking
                    | Area::Siem
            ),
            _ => false,
        }
    }

    /// A credential problem: nothing else will work for this connection.
    pub fn is_auth(&self) -> bool {
        matches!(self, ApiError::Auth { .. } | ApiError::BindingExpired { .. })
    }

    /// The same error with `f` applied to every text a server or a request could have
    /// put in it (URLs, details, `fail[]` codes and messages): the one place redaction
    /// reaches every error the client returns.
    pub(crate) fn map_text(self, f: &dyn Fn(String) -> String) -> ApiError {
        use ApiError as E;
        match self {
            E::Auth {
                connection,
                url,
                status,
                detail,
                hint,
            } => E::Auth {
                connection,
                url: f(url),
                status,
                detail: f(detail),
                hint,
            },
            E::Forbidden {
                connection,
                endpoint,
                status,
                detail,
            } => E::Forbidden {
                connection,
                endpoint,
                status,
                detail: f(detail),
            },
            E::Network {
                connection,
                url,
                detail,
                attempts,
            } => E::Network {
                connection,
                url: f(url),
                detail: f(detail),
                attempts,
            },
            E::Fail {
                connection,
                endpoint,
                errors,
            } => E::Fail {
                connection,
                endpoint,
                errors: errors
                    .into_iter()
                    .map(|e| FailError {
                        code: f(e.code),
                        message: f(e.message),
                        retryable: e.retryable,
                    })
                    .collect(),
            },
            E::Decode {
                connection,
                endpoint,
                detail,
            } => E::Decode {
                connection,
                endpoint,
                detail: f(detail),
            },
            E::Redirected {
                connection,
                url,
                status,
                location,
            } => E::Redirected {
                connection,
                url: f(url),
                status,
                location: f(location),
            },
            E::RateLimited {
                connection,
                url,
                throttled,
                waited,
                max_wait,
            } => E::RateLimited {
                connection,
                url: f(url),
                throttled,
                waited,
                max_wait,
            },
            E::TooLarge { connection, url, limit } => E::TooLarge {
                connection,
                url: f(url),
                limit,
            },
            E::TokenUnavailable {
                connection,
                url,
                status,
                attempts,
            } => E::TokenUnavailable {
                connection,
                url: f(url),
                status,
                attempts,
            },
            E::Setup { connection, detail } => E::Setup {
                connection,
                detail: f(detail),
            },
            other @ (E::NotAllowed { .. }
            | E::NotFound { .. }
            | E::Server { .. }
            | E::PaginationLoop { .. }
            | E::Truncated { .. }
            | E::BindingExpired { .. }) => other,
        }
    }
}

fn forbidden_hint(area: Area) -> &'static str {
    match area {
        Area::Account => "Grant the API application's role Accounts | Dashboard | Read",
        Area::Directory => "Grant the API application's role Directories | Internal | Read",
        Area::AwarenessTraining => {
            "The Awareness Training package is missing from the tenant, or the API application is not allowed the Awareness Training product or its role lacks Awareness Training | Dashboard | Read"
        }
        Area::UrlProtection => {
            "The tenant lacks URL Protection, or the API application is not allowed it or its role lacks Monitoring | URL Protection | Read"
        }
        Area::AttachmentProtection => {
            "The tenant lacks Attachment Protection, or the API application is not allowed it or its role lacks Monitoring | Attachment Protection | Read"
        }
        Area::ImpersonationProtection => {
            "The tenant lacks Impersonation Protection, or the API application is not allowed it or its role lacks Monitoring | Impersonation Protection | Read"
        }
        Area::Groups => "Grant the API application's role Directories | Groups | Read",
        Area::Siem => {
            "Grant the API application's role Security Events and Data Retrieval | Threat and Security Events (SIEM) | Read (the SIEM batch also needs the Threats, Security Events and Data product)"
        }
        Area::MessageTracking => {
            "Grant the API application's role Gateway | Tracking | Read (Message Finder), or turn [connection.message_activity] off"
        }
    }
}

fn not_found_hint(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::GetCampaigns | Endpoint::GetCampaignUserData => {
            "training-campaign endpoints are documented for API 1.0 only; this tenant does not serve them, so training campaigns are unavailable"
        }
        _ => "the endpoint is unknown at this host; check the region or base_url",
    }
}

/// The hint for a refused token request.
pub(crate) const TOKEN_HINT: &str = "Check the client id and secret (mistyped, revoked or expired?) and the region: use the host of the application's region (global, us or uk) or set base_url";

/// The hint for a 200 from the token URL that is not a token.
pub(crate) const TOKEN_BODY_HINT: &str = "The answer is not an OAuth token response: check that base_url is the Mimecast API host and that no proxy answers in its place";

/// The hint for a refused API 1.0 signature.
pub(crate) const HMAC_HINT: &str =
    "Check the application id and key and the access and secret keys of the API 1.0 binding, and the 1.0 region host";

/// The hint for a refused bearer token on a data call.
pub(crate) const BEARER_HINT: &str = "The access token was refused (it is renewed on the next call); check that the API application is enabled, allowed the products used, and in this region";
