//! The end user's journey, server-rendered (no JavaScript needed), in French and English:
//! the connect page, the bank's callback and the consent page; and the demo app (`/demo`).

pub mod demo;
pub mod i18n;
pub mod journey;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use i18n::Texts;

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// Texts.
    pub t: &'a Texts,
    /// What went wrong, for the user.
    pub message: &'a str,
}

/// The pages' Content Security Policy: no script at all, the layout's inline style, forms that
/// post to Passerelle and redirect to a bank or back to an app (https, or an app on loopback
/// http), and no framing by anyone.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src 'self' data:; form-action 'self' https: http://127.0.0.1:* http://localhost:*; \
     frame-ancestors 'none'; base-uri 'none'";

/// Headers every page and redirect of the journey and the demo carries: no framing
/// (clickjacking the consent form), no `Referer` (the consent page's URL carries the code and
/// the state, its form's action a single-use token), no content sniffing, and the CSP.
pub fn page_headers(response: &mut HttpResponse) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}

/// Renders a template, or a bare error when the template itself fails.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    let mut response = match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().body("internal error")
        }
    };
    page_headers(&mut response);
    response
}

/// An error page with `status`.
pub fn error_page(status: StatusCode, t: &Texts, message: &str) -> HttpResponse {
    render(status, &ErrorPage { t, message })
}

/// Mounts the journey's routes, and the demo's when it runs (only with the sandbox bank).
pub fn routes(cfg: &mut web::ServiceConfig, demo: Option<web::Data<demo::DemoClient>>) {
    cfg.service(journey::connect_page)
        .service(journey::connect_continue)
        .service(journey::callback)
        .service(journey::consent_submit)
        .service(journey::pay_page)
        .service(journey::pay_continue)
        .service(journey::pay_return)
        .service(crate::compat::simplefin::claim::claim)
        .service(crate::compat::simplefin::accounts::account_set);
    let mut pages = vec![
        ("/connect/{token}", "GET, POST"),
        ("/callback", "GET"),
        ("/consent/{token}", "POST"),
        ("/pay/{token}", "GET, POST"),
        ("/pay/return/{payment_id}", "GET"),
        ("/simplefin/claim/{token}", "POST"),
        ("/simplefin/accounts", "GET"),
    ];
    if let Some(demo) = demo {
        demo::routes(cfg, demo);
        pages.extend([
            ("/demo", "GET"),
            ("/demo/connect", "POST"),
            ("/demo/done", "GET"),
            ("/demo/pay", "POST"),
            ("/demo/paid", "GET"),
        ]);
    }
    for (path, allow) in pages {
        method_not_allowed(cfg, path, allow);
    }
}

/// A page's other methods (TRACE, PUT, …) answer 405 with `Allow`, not the 404 of an unknown
/// path. Registered after the handlers, so only a request no handler's method matched gets here.
fn method_not_allowed(cfg: &mut web::ServiceConfig, path: &str, allow: &'static str) {
    cfg.service(
        web::resource(path).default_service(web::to(move || async move {
            let mut response = HttpResponse::MethodNotAllowed()
                .insert_header(("Allow", allow))
                .content_type("text/plain; charset=utf-8")
                .body("method not allowed");
            page_headers(&mut response);
            response
        })),
    );
}
