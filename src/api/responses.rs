//! The error responses of the OpenAPI document, one component per problem code, so every
//! operation lists exactly the failures it can answer with the content type they are served in.
//!
//! Each is a `Problem` whose `code` and `status` are pinned to that response's, which lets a
//! schema-driven client (or a fuzzer checking conformance) tell a 404 answered with the wrong
//! code from the right one.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::ToResponse;

use super::error::ProblemCode;

/// The media type of every error the API answers (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A response carrying a problem document with `code` and `status` fixed.
fn problem(code: ProblemCode, status: u16, description: &str) -> ResponseBuilder {
    let pinned = ObjectBuilder::new()
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([code.as_str()])),
        )
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([status])),
        );
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(pinned);
    ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new().schema(Some(schema)).build(),
    )
}

/// 401: no API key, or a key that does not authenticate.
pub struct Unauthorized;

impl<'r> ToResponse<'r> for Unauthorized {
    fn response() -> (&'r str, RefOr<Response>) {
        let challenge = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some("`Bearer`: send the API key as a bearer token"))
            .build();
        let response = problem(
            ProblemCode::Unauthorized,
            401,
            "No API key, or one that is unknown or revoked, or whose client is disabled",
        )
        .header("WWW-Authenticate", challenge)
        .build();
        ("Unauthorized", response.into())
    }
}

/// 404: nothing by that id for this API client.
pub struct NotFound;

impl<'r> ToResponse<'r> for NotFound {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = problem(
            ProblemCode::NotFound,
            404,
            "Nothing by that id for this API client (another client's ids answer the same)",
        )
        .build();
        ("NotFound", response.into())
    }
}

/// 422: a field of the path, query or body is invalid.
pub struct ValidationFailed;

impl<'r> ToResponse<'r> for ValidationFailed {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = problem(
            ProblemCode::ValidationFailed,
            422,
            "A path, query or body field is invalid; `field` names it",
        )
        .build();
        ("ValidationFailed", response.into())
    }
}

/// 409: the request conflicts with the resource's state.
pub struct Conflict;

impl<'r> ToResponse<'r> for Conflict {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = problem(
            ProblemCode::Conflict,
            409,
            "The request conflicts with the resource's state",
        )
        .build();
        ("Conflict", response.into())
    }
}

/// 500: Passerelle failed (its database, most likely); the cause is logged, never shown.
pub struct Internal;

impl<'r> ToResponse<'r> for Internal {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = problem(
            ProblemCode::Internal,
            500,
            "Passerelle failed; the cause is logged, never shown",
        )
        .build();
        ("Internal", response.into())
    }
}

/// Declares a response component for a problem code.
macro_rules! problem_response {
    ($(#[$doc:meta])* $name:ident, $code:ident, $status:literal, $text:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                let response = problem(ProblemCode::$code, $status, $text).build();
                (stringify!($name), response.into())
            }
        }
    };
}

problem_response!(
    /// 400: a payment creation without `Idempotency-Key`.
    IdempotencyKeyRequired,
    IdempotencyKeyRequired,
    400,
    "The `Idempotency-Key` header is required (checked before the body)"
);
problem_response!(
    /// 409: the first request with this key is still being processed.
    IdempotencyKeyInFlight,
    IdempotencyKeyInFlight,
    409,
    "A request with this `Idempotency-Key` is still being processed; retry later"
);
/// 422 of a payment creation: a field is invalid (`validation_failed`), the idempotency key
/// was used with another body (`idempotency_key_reused`), or the bank cannot do what was asked
/// (`unsupported_by_bank`, `field` naming the capability). Nothing was recorded or sent.
pub struct PaymentUnprocessable;

impl<'r> ToResponse<'r> for PaymentUnprocessable {
    fn response() -> (&'r str, RefOr<Response>) {
        let codes = [
            ProblemCode::ValidationFailed,
            ProblemCode::IdempotencyKeyReused,
            ProblemCode::UnsupportedByBank,
        ]
        .map(ProblemCode::as_str);
        let pinned = ObjectBuilder::new()
            .property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes)),
            )
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .enum_values(Some([422])),
            );
        let schema = AllOfBuilder::new()
            .item(Ref::from_schema_name("Problem"))
            .item(pinned);
        let response = ResponseBuilder::new()
            .description(
                "A field is invalid (`validation_failed`), the `Idempotency-Key` was used with \
                 another body (`idempotency_key_reused`), or the bank cannot do what was asked \
                 (`unsupported_by_bank`; `field` names the capability). Nothing was recorded or \
                 sent",
            )
            .content(
                PROBLEM_JSON,
                ContentBuilder::new().schema(Some(schema)).build(),
            )
            .build();
        ("PaymentUnprocessable", response.into())
    }
}
problem_response!(
    /// 502: the bank failed or refused the call.
    BankUnavailable,
    BankUnavailable,
    502,
    "The bank failed or refused a call the request needed; nothing changed"
);
