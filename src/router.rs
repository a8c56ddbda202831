//! Which handler answers which path: the JSON API under `/v1`, providers' webhooks
//! (`/webhooks/providers/{bank_id}`), the journey and demo pages, and the middleware every
//! response goes through (request id, tracing).

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, App, Error, HttpMessage};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::bank::Connectors;
use crate::state::AppState;
use crate::telemetry::RouteOnlyRootSpan;
use crate::web::demo::DemoClient;

/// One worker's application: shared state, this worker's bank connectors (awc clients are bound
/// to their worker thread), the routes and the middleware.
pub fn build(
    state: web::Data<AppState>,
    demo: Option<web::Data<DemoClient>>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let connectors = web::Data::new(Connectors::new(
        state.config.clone(),
        state.registry.clone(),
        state.clock.clone(),
    ));
    App::new()
        .wrap_fn(|req, srv| {
            let id = req.extensions().get::<RequestId>().map(|id| id.to_string());
            let call = srv.call(req);
            async move {
                let mut response = call.await?;
                if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static("x-request-id"), value);
                }
                Ok(response)
            }
        })
        .wrap(TracingLogger::<RouteOnlyRootSpan>::new())
        .app_data(state)
        .app_data(connectors)
        .configure(crate::api::routes)
        .configure(crate::api::provider_webhooks::routes)
        .configure(crate::compat::gocardless::routes)
        .configure(|cfg| crate::web::routes(cfg, demo))
}
