//! Logs: `tracing` with one root span per request that records the route's template, never the
//! path as sent nor its query string: OAuth codes and states travel in the query, and the
//! journey's links (`/connect/{token}`, `/consent/{token}`) carry a bearer secret in the path.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Keeps the log writer's thread alive; dropping it gives the writer about a second to drain the
/// lines still queued (tracing-appender's guard). Hold it until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
}

/// Installs the global subscriber (`RUST_LOG` filters, default `info`). Safe to call twice: the
/// second call installs nothing and returns an empty guard.
///
/// Lines are written to stderr by a thread of their own, so a request never waits on the
/// terminal or the log shipper's pipe: the synchronous writer cost the transactions feed about
/// 15 % of its throughput (benches/transactions_feed.sh). The queue is not lossy: when it is full
/// (128,000 lines behind), logging blocks rather than dropping lines.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("passerelle-log")
        .finish(std::io::stderr());
    // Colours only on a terminal: escape codes in a file or a log shipper's pipe are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    LogGuard {
        _writer: installed.ok().map(|()| guard),
    }
}

/// The root span of every request: method, route template (no path segment, no query), request
/// id, status.
pub struct RouteOnlyRootSpan;

impl RootSpanBuilder for RouteOnlyRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        // The template comes from the app's resource map, known before routing; a path that
        // matches no route is not logged at all (it could be a mistyped link token).
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "(no route)".to_owned());
        tracing::info_span!(
            "http",
            method = %request.method(),
            route = %route,
            request_id = %request_id,
            status = tracing::field::Empty,
            error = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        match outcome {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                if let Some(error) = response.response().error() {
                    // The error's Display is written by us and never carries a secret.
                    span.record("error", tracing::field::display(error));
                }
            }
            Err(error) => {
                span.record("error", tracing::field::display(error));
            }
        }
        let _entered = span.enter();
        tracing::info!("request finished");
    }
}
