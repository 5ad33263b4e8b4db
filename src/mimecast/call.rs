//! One typed `POST /api/...`: the request with fresh credentials, and what each
//! answer means (docs/mimecast-api.md §4.4). Sending and retrying is [`Client::send`]'s.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use tracing::debug;

use super::auth::Credentials;
use super::client::Client;
use super::endpoints::Endpoint;
use super::envelope::{self, DecodeOutcome, Envelope};
use super::error::{ApiError, FailError, BEARER_HINT, HMAC_HINT};
use super::retry::{Answer, Exchange, Failure, Kind, Verdict};
use super::throttle::retry_after;

impl Client {
    /// One typed POST with auth, the concurrency limit and bounded retries.
    pub(super) async fn call<E: DeserializeOwned + Send>(
        &self,
        endpoint: Endpoint,
        body: &Json,
    ) -> Result<Envelope<E>, ApiError> {
        self.send(ApiCall::<E> {
            client: self,
            endpoint,
            url: format!("{}{}", self.base_url(), endpoint.path()),
            body,
            query: None,
            generation: None,
            reauthenticated: false,
            data: PhantomData,
        })
        .await
    }
}

impl Client {
    /// One typed GET answered with plain JSON (the SIEM batch listing), with the same
    /// auth, limits and retries as [`Client::call`].
    pub(super) async fn get_plain<E: DeserializeOwned + Send>(
        &self,
        endpoint: Endpoint,
        query: &[(&'static str, String)],
    ) -> Result<E, ApiError> {
        let env = self
            .send(ApiCall::<E> {
                client: self,
                endpoint,
                url: format!("{}{}", self.base_url(), endpoint.path()),
                body: &Json::Null,
                query: Some(query),
                generation: None,
                reauthenticated: false,
                data: PhantomData,
            })
            .await?;
        env.data.into_iter().next().ok_or_else(|| ApiError::Decode {
            connection: self.connection().to_owned(),
            endpoint,
            detail: "an empty answer".into(),
        })
    }
}

struct ApiCall<'a, E> {
    client: &'a Client,
    endpoint: Endpoint,
    url: String,
    body: &'a Json,
    /// `Some`: a GET with this query string, answered with plain JSON (no envelope).
    query: Option<&'a [(&'static str, String)]>,
    /// The token generation the last request used (OAuth2 only).
    generation: Option<u64>,
    reauthenticated: bool,
    data: PhantomData<fn() -> E>,
}

impl<E: DeserializeOwned + Send> Exchange for ApiCall<'_, E> {
    type Output = Envelope<E>;
    const KIND: Kind = Kind::Api;

    fn url(&self) -> &str {
        &self.url
    }

    async fn request(&mut self) -> Result<reqwest::RequestBuilder, ApiError> {
        let (headers, generation) = self.client.auth_headers(self.endpoint.path()).await?;
        self.generation = generation;
        let http = &self.client.inner.http;
        Ok(match self.query {
            Some(query) => http.get(&self.url).headers(headers).query(query),
            None => http.post(&self.url).headers(headers).json(self.body),
        })
    }

    async fn judge(&mut self, answer: Answer, attempt: u32) -> Verdict<Envelope<E>> {
        let connection = self.client.connection().to_owned();
        let endpoint = self.endpoint;
        let Answer { status, headers, body } = answer;
        let stop = Verdict::Stop;
        match status.as_u16() {
            200..=299 if self.query.is_some() => match serde_json::from_slice::<E>(&body) {
                Ok(data) => Verdict::Done(Envelope {
                    meta: envelope::Meta::default(),
                    data: vec![data],
                    fail: Vec::new(),
                }),
                Err(e) if e.is_eof() => Verdict::Retry(Failure::Malformed(e.to_string()), None),
                Err(e) => stop(ApiError::Decode {
                    connection,
                    endpoint,
                    detail: e.to_string(),
                }),
            },
            200..=299 => match envelope::decode::<E>(&body) {
                Ok(env) => {
                    let errors = env.fail_errors();
                    if errors.is_empty() {
                        Verdict::Done(env)
                    } else {
                        self.classify_fail(errors, attempt)
                    }
                }
                Err(DecodeOutcome::Fail(errors)) => self.classify_fail(errors, attempt),
                Err(DecodeOutcome::Shape(detail)) => stop(ApiError::Decode {
                    connection,
                    endpoint,
                    detail,
                }),
                Err(DecodeOutcome::Malformed(detail)) => Verdict::Retry(Failure::Malformed(detail), None),
            },
            401 => {
                let errors = envelope::error_body(&body);
                let expired = errors
                    .iter()
                    .any(|e| e.code == "token_expired" || e.message.contains("Access Token Expired"));
                if expired && !self.reauthenticated && self.generation.is_some() {
                    // One renewal and one retry, not counted as an attempt.
                    self.reauthenticated = true;
                    self.client
                        .inner
                        .stats
                        .reauthentications
                        .fetch_add(1, Ordering::Relaxed);
                    self.client.invalidate_token(self.generation).await;
                    debug!(connection = %connection, "token expired; renewing once");
                    return Verdict::Again;
                }
                // A refused token is not reused by later calls.
                self.client.invalidate_token(self.generation).await;
                let hint = match self.client.inner.credentials {
                    Credentials::Hmac { .. } => HMAC_HINT,
                    Credentials::OAuth2 { .. } => BEARER_HINT,
                };
                stop(ApiError::Auth {
                    connection,
                    url: self.url.clone(),
                    status: 401,
                    detail: envelope::describe_error(401, &body),
                    hint,
                })
            }
            403 => stop(ApiError::Forbidden {
                connection,
                endpoint,
                status: 403,
                detail: envelope::describe_error(403, &body),
            }),
            404 => stop(ApiError::NotFound { connection, endpoint }),
            418 => stop(ApiError::BindingExpired { connection }),
            500..=599 => Verdict::Retry(Failure::Status(status.as_u16()), retry_after(&headers)),
            other => {
                let mut errors = envelope::error_body(&body);
                if errors.is_empty() {
                    errors.push(FailError {
                        code: format!("http_{other}"),
                        message: envelope::describe_error(other, &body),
                        retryable: false,
                    });
                }
                stop(ApiError::Fail {
                    connection,
                    endpoint,
                    errors,
                })
            }
        }
    }

    fn exhausted(&self, failure: Failure, attempts: u32) -> ApiError {
        let connection = self.client.connection().to_owned();
        let endpoint = self.endpoint;
        match failure {
            Failure::Network(detail) => ApiError::Network {
                connection,
                url: self.url.clone(),
                detail,
                attempts,
            },
            Failure::Status(status) => ApiError::Server {
                connection,
                endpoint,
                status,
                attempts,
            },
            Failure::Malformed(detail) => ApiError::Decode {
                connection,
                endpoint,
                detail: format!("malformed body on all {attempts} attempts: {detail}"),
            },
            Failure::Retryable(errors) => ApiError::Fail {
                connection,
                endpoint,
                errors,
            },
        }
    }
}

impl<E> ApiCall<'_, E> {
    /// A 200 with `fail[]`: retry when Mimecast marks every error retryable.
    /// `err_developer_key` is known to be intermittent, so the first attempt retries it.
    fn classify_fail<T>(&self, errors: Vec<FailError>, attempt: u32) -> Verdict<T> {
        let developer_key = errors.iter().any(|e| e.code == "err_developer_key");
        if developer_key && attempt == 1 && self.client.inner.policy.max_attempts > 1 {
            return Verdict::Retry(Failure::Retryable(errors), None);
        }
        if developer_key {
            return Verdict::Stop(ApiError::Auth {
                connection: self.client.connection().to_owned(),
                url: self.url.clone(),
                status: 200,
                detail: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                hint: HMAC_HINT,
            });
        }
        if errors.iter().all(|e| e.retryable) {
            return Verdict::Retry(Failure::Retryable(errors), None);
        }
        Verdict::Stop(ApiError::Fail {
            connection: self.client.connection().to_owned(),
            endpoint: self.endpoint,
            errors,
        })
    }
}
