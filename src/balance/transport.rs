//! How the order service's balance client reaches the balance service: one HTTP exchange per
//! call, request in, whole response out.
//!
//! [`Reqwest`] sends each exchange over the network; another transport can answer it in
//! the same process, so that a test runs the client's own code without a server.

use std::future::Future;
use std::time::Duration;

/// A request to the balance service. Its URI is a path (`/accounts/1`); the transport knows
/// where the service is.
pub type Request = http::Request<Vec<u8>>;

/// The balance service's answer, with its whole body.
pub type Response = http::Response<Vec<u8>>;

/// Why an exchange brought back no answer at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("could not connect to the balance service: {0}")]
    Connect(String),
    #[error("balance service connection failed: {0}")]
    Broken(String),
}

/// Carries one request to the balance service and brings back its response.
pub trait Transport: Send + Sync + 'static {
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send;
}

/// [`Transport`] over HTTP with reqwest, giving each exchange its own timeout.
#[derive(Debug, Clone)]
pub struct Reqwest {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl Reqwest {
    /// The balance service at `base_url`, giving each exchange `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            // Only ever a loopback or compose-network peer: never route it through a proxy
            // taken from the environment.
            .no_proxy()
            .build()
            .expect("a reqwest client with no custom TLS always builds");
        Reqwest {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn error(&self, error: reqwest::Error) -> TransportError {
        if error.is_timeout() {
            return TransportError::Timeout(self.timeout);
        }
        // The source chain says what actually went wrong ("connection refused").
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            text = format!("{text}: {inner}");
            source = inner.source();
        }
        if error.is_connect() {
            TransportError::Connect(text)
        } else {
            TransportError::Broken(text)
        }
    }
}

impl Transport for Reqwest {
    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        let (parts, body) = request.into_parts();
        let started = std::time::Instant::now();
        let (method, path) = (parts.method.clone(), parts.uri.clone());
        let sent = self
            .http
            .request(parts.method, format!("{}{}", self.base, parts.uri))
            .headers(parts.headers)
            .body(body)
            .timeout(self.timeout)
            .send()
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let response = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::debug!(%method, %path, status, elapsed_ms, "balance service answered");
                response
            }
            Err(error) => {
                let error = self.error(error);
                tracing::debug!(%method, %path, %error, elapsed_ms, "no answer from the balance service");
                return Err(error);
            }
        };
        let mut answer = http::Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            *headers = response.headers().clone();
        }
        let body = response.bytes().await.map_err(|e| self.error(e))?;
        answer
            .body(body.to_vec())
            .map_err(|e| TransportError::Broken(e.to_string()))
    }
}
