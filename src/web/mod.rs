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

/// Renders a template, or a bare error when the template itself fails.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().body("internal error")
        }
    }
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
        .service(journey::consent_submit);
    if let Some(demo) = demo {
        demo::routes(cfg, demo);
    }
}
