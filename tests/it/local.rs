//! Tiny local servers for what the simulator never does (redirects, echoes, odd
//! rate-limit headers, endless bodies): an axum router on 127.0.0.1, stopped when
//! the handle is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::post;
use serde_json::json;

pub struct Local {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Local {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(app: axum::Router) -> Local {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Local { url, task }
}

/// Counts the requests a handler sees.
#[derive(Clone, Default)]
pub struct Hits(Arc<AtomicUsize>);

impl Hits {
    /// This call's number, from 1.
    pub fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A router whose `/oauth/token` issues `token`.
pub fn with_token(token: &'static str) -> axum::Router {
    axum::Router::new().route(
        "/oauth/token",
        post(move || async move { axum::Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 1799})) }),
    )
}

/// A one-account `get-account` answer.
pub fn account_body(code: &str) -> serde_json::Value {
    json!({"meta": {"status": 200}, "data": [{"accountCode": code}], "fail": []})
}
