//! The OpenAPI 3.1 document, generated from the handlers' annotations, and a readable page.

use actix_web::{get, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, PathItem};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, banks, connections, error, funds, gocardless, health, json, payments, responses, sca,
    simplefin, syncs, webhooks,
};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Passerelle",
        description = "One normalized JSON API over the banks' STET PSD2 APIs. \
                       Every /v1 call needs `Authorization: Bearer <api key>`; errors are \
                       RFC 9457 problem documents with a stable `code`."
    ),
    paths(
        health::healthz_doc,
        health::readyz_doc,
        banks::list_doc,
        connections::create,
        connections::list,
        connections::show,
        connections::reauthorize,
        sca::open_session,
        connections::remove,
        syncs::request,
        syncs::list,
        accounts::list_for_user,
        accounts::show,
        accounts::list_balances,
        accounts::list_transactions,
        accounts::changes::list_changes,
        payments::create::create,
        payments::list,
        payments::show,
        funds::confirm,
        gocardless::create,
        gocardless::revoke,
        simplefin::create,
        simplefin::list,
        simplefin::revoke,
        sca::show,
        sca::submit,
        webhooks::create,
        webhooks::list,
        webhooks::remove,
        webhooks::deliveries,
        webhooks::actions::rotate_secret,
        webhooks::actions::test,
        webhooks::actions::redeliver,
    ),
    components(
        schemas(
            error::Problem,
            error::ProblemCode,
            json::Amount,
            accounts::TransactionStatus,
            crate::model::ConnectionStatus,
            crate::model::ContinuityVerdict,
            syncs::IpAddress,
            crate::model::EventType,
            crate::model::PaymentStatus
        ),
        responses(
            responses::Unauthorized,
            responses::NotFound,
            responses::ValidationFailed,
            responses::Conflict,
            responses::Internal,
            responses::IdempotencyKeyRequired,
            responses::IdempotencyKeyInFlight,
            responses::PaymentUnprocessable,
            responses::BankUnavailable,
        )
    ),
    modifiers(&ApiKeyAuth)
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pas_<prefix>_<secret>")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON (what `/openapi.json` serves and the snapshot test compares).
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// `GET /openapi.json`.
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

/// `GET /docs`: the document as a plain HTML page (no JavaScript, nothing fetched elsewhere).
#[get("/docs")]
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(render(&ApiDoc::openapi()))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The methods a path has in the document, upper case, in a fixed order (for `Allow`).
pub fn methods(item: &PathItem) -> Vec<&'static str> {
    operations(item).into_iter().map(|(m, _)| m).collect()
}

fn operations(item: &PathItem) -> Vec<(&'static str, &utoipa::openapi::path::Operation)> {
    [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

fn render(doc: &Document) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Passerelle API</title><style>body{font-family:system-ui,sans-serif;\
         max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#f3f3f3;\
         padding:0 .2rem}h2{border-top:1px solid #ddd;padding-top:1rem}.m{font-weight:bold;\
         display:inline-block;min-width:4.5rem}</style></head><body>",
    );
    html.push_str(&format!("<h1>{}</h1>", escape(&doc.info.title)));
    if let Some(description) = &doc.info.description {
        html.push_str(&format!("<p>{}</p>", escape(description)));
    }
    html.push_str("<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a></p>");
    for (path, item) in doc.paths.paths.iter() {
        for (method, op) in operations(item) {
            html.push_str(&format!(
                "<h2><span class=\"m\">{method}</span> <code>{}</code></h2>",
                escape(path)
            ));
            let summary = op
                .summary
                .as_deref()
                .or(op.description.as_deref())
                .unwrap_or("");
            html.push_str(&format!("<p>{}</p>", escape(summary)));
            if let Some(params) = &op.parameters {
                html.push_str("<ul>");
                for p in params {
                    html.push_str(&format!(
                        "<li><code>{}</code> {}</li>",
                        escape(&p.name),
                        escape(p.description.as_deref().unwrap_or(""))
                    ));
                }
                html.push_str("</ul>");
            }
            let codes: Vec<_> = op.responses.responses.keys().map(|c| escape(c)).collect();
            html.push_str(&format!("<p>Responses: {}</p>", codes.join(", ")));
        }
    }
    html.push_str("</body></html>");
    html
}
