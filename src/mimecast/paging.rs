//! Pagination (docs/mimecast-api.md §4.3): one helper follows `meta.pagination.next` for
//! every paged endpoint, and for the lists documented without paging.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value as Json};

use super::client::Client;
use super::endpoints::Endpoint;
use super::error::ApiError;
use super::records::ItemsPage;

/// A paged result: one `Vec` per page.
pub type Pages<T> = BoxStream<'static, Result<Vec<T>, ApiError>>;

/// Collects every page of a paged result.
///
/// # Errors
/// The first page that fails.
pub async fn all<T: Send + 'static>(pages: Pages<T>) -> Result<Vec<T>, ApiError> {
    pages.try_concat().await
}

/// The rows of `data[0].items` pages.
pub(crate) fn items<T>(pages: Vec<ItemsPage<T>>) -> Vec<T> {
    pages.into_iter().flat_map(|p| p.items).collect()
}

struct State {
    token: Option<String>,
    seen: HashSet<String>,
    done: bool,
    received: i64,
    total: Option<i64>,
}

impl Client {
    /// A list documented without paging: the first request is the documented
    /// `{"data": []}`, with no page size, and a `next` in the answer is followed so a
    /// tenant that pages it anyway loses nothing.
    pub(super) fn listed<E, I, F>(&self, endpoint: Endpoint, unwrap: F) -> Pages<I>
    where
        E: DeserializeOwned + Send + 'static,
        I: Send + 'static,
        F: Fn(Vec<E>) -> Vec<I> + Send + Sync + 'static,
    {
        self.pages(endpoint, None, false, unwrap)
    }

    pub(super) fn paged<E, I, F>(&self, endpoint: Endpoint, params: Option<Json>, unwrap: F) -> Pages<I>
    where
        E: DeserializeOwned + Send + 'static,
        I: Send + 'static,
        F: Fn(Vec<E>) -> Vec<I> + Send + Sync + 'static,
    {
        self.pages(endpoint, params, true, unwrap)
    }

    /// Follows `meta.pagination.next` until it is absent or a page is empty; a token
    /// seen before is an error, not a loop. `sized` sends the configured page size.
    fn pages<E, I, F>(&self, endpoint: Endpoint, params: Option<Json>, sized: bool, unwrap: F) -> Pages<I>
    where
        E: DeserializeOwned + Send + 'static,
        I: Send + 'static,
        F: Fn(Vec<E>) -> Vec<I> + Send + Sync + 'static,
    {
        let client = self.clone();
        let unwrap = Arc::new(unwrap);
        let start = State {
            token: None,
            seen: HashSet::new(),
            done: false,
            received: 0,
            total: None,
        };
        futures::stream::try_unfold(start, move |mut st| {
            let client = client.clone();
            let params = params.clone();
            let unwrap = unwrap.clone();
            async move {
                if st.done {
                    return Ok(None);
                }
                let mut pagination = serde_json::Map::new();
                if sized {
                    pagination.insert("pageSize".into(), json!(client.inner.page_size));
                }
                if let Some(t) = &st.token {
                    pagination.insert("pageToken".into(), Json::String(t.clone()));
                }
                // Resend the same data with the token, as Sentinel and JupiterOne do.
                let mut body = json!({"data": params.into_iter().collect::<Vec<_>>()});
                if !pagination.is_empty() {
                    body["meta"] = json!({ "pagination": pagination });
                }
                let env = client.call::<E>(endpoint, &body).await?;
                let next = env.next_token().map(str::to_owned);
                if st.total.is_none() {
                    st.total = env.meta.pagination.as_ref().and_then(|p| p.total_count);
                }
                let page = unwrap(env.data);
                st.received += page.len() as i64;
                match next {
                    // An empty page ends paging even with a token (Elastic's mock does
                    // this), but not silently short of the announced total: the caller
                    // would otherwise take a truncated list for the whole.
                    Some(_) if page.is_empty() && st.total.is_some_and(|t| st.received < t) => {
                        return Err(ApiError::Truncated {
                            connection: client.connection().to_owned(),
                            endpoint,
                            received: st.received,
                            total: st.total.unwrap_or_default(),
                        });
                    }
                    Some(t) if !page.is_empty() => {
                        if !st.seen.insert(t.clone()) {
                            return Err(ApiError::PaginationLoop {
                                connection: client.connection().to_owned(),
                                endpoint,
                            });
                        }
                        st.token = Some(t);
                    }
                    _ => st.done = true,
                }
                Ok(Some((page, st)))
            }
        })
        .boxed()
    }
}
