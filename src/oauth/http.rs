//! The `oauth2` crate's async HTTP client, written on awc so that token, refresh, revocation
//! and client-credentials calls go through the bank's mutual-TLS client like any API call.

use bytes::Bytes;
use oauth2::{HttpRequest, HttpResponse};

use crate::tls::client::{BankHttpClient, OutboundRequest, TransportError};

/// Sends one `oauth2` request over the bank's mTLS client.
pub(crate) async fn send(
    http: &BankHttpClient,
    request: HttpRequest,
) -> Result<HttpResponse, TransportError> {
    let (parts, body) = request.into_parts();
    let method = awc::http::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|e| TransportError::Other(format!("bad method: {e}")))?;
    let headers = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let response = http
        .send(OutboundRequest {
            method,
            url: parts.uri.to_string(),
            headers,
            body: Bytes::from(body),
        })
        .await?;
    let mut builder = oauth2::http::Response::builder().status(response.status.as_u16());
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(response.body.to_vec())
        .map_err(|e| TransportError::Other(format!("bad response head: {e}")))
}
