//! A stop signal shared by the daemon, the sync and the sink: set once (SIGINT,
//! SIGTERM), checked between batches, awaited in `select!`.

use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct Stop {
    tx: std::sync::Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Stop {
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Stop {
            tx: std::sync::Arc::new(tx),
            rx,
        }
    }

    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the stop is triggered.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Triggers on SIGINT or SIGTERM (from a background task). A second signal calls
    /// `on_second` (the CLI exits at once with `Exit::Interrupted`, for a batch that
    /// hangs).
    pub fn on_signals(&self, on_second: impl FnOnce() + Send + 'static) {
        let stop = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stop requested; finishing the batch in flight (a second signal exits at once)");
            stop.trigger();
            wait_for_signal().await;
            eprintln!("second stop signal: exiting without waiting for the batch in flight");
            on_second();
        });
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn wait_resolves_after_trigger() {
        let stop = super::Stop::new();
        assert!(!stop.is_set());
        let waiter = {
            let s = stop.clone();
            tokio::spawn(async move { s.wait().await })
        };
        stop.trigger();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(stop.is_set());
    }
}
