//! Payments: `POST /v1/users/{user_id}/payments` (under an `Idempotency-Key`), `GET
//! /v1/payments/{id}`, `GET /v1/users/{user_id}/payments`. The work is `crate::payments`'s;
//! this file checks the request, maps outcomes to answers and shapes the views.

pub mod create;
pub mod device;
pub mod views;

use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpResponse};

use super::auth::{require_api_key, ApiClient};
use super::connections::{valid_user_id, UserPath};
use super::error::ApiError;
use super::responses::{Internal, NotFound, Unauthorized, ValidationFailed};
use crate::state::AppState;
use crate::store::models::PaymentRow;
use crate::store::{self, payments, users, DbConnection};
use views::{PaymentList, PaymentView};

/// The view of a payment with its history and its user's external id.
pub(crate) fn view(conn: &mut DbConnection, row: PaymentRow) -> Result<PaymentView, ApiError> {
    let user = users::find_by_id(conn, &row.user_id)?
        .map(|u| u.external_id)
        .unwrap_or_default();
    let history = payments::history(conn, &row.id)?;
    Ok(PaymentView::of(row, user, history))
}

/// A payment of this API client.
#[utoipa::path(
    get,
    path = "/v1/payments/{id}",
    operation_id = "get_payment",
    params(("id" = String, Path, description = "The payment id")),
    responses(
        (status = 200, description = "The payment, with its status history", body = PaymentView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/payments/{id}", wrap = "from_fn(require_api_key)")]
pub async fn show(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("payment"));
    }
    let view = store::run(&state.pool, move |conn| {
        Ok(match payments::find_for_client(conn, &id, &client.0.id)? {
            Some(row) => view(conn, row),
            None => Err(ApiError::NotFound("payment")),
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

/// A user's payments.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/payments",
    operation_id = "list_payments",
    params(UserPath),
    responses(
        (status = 200, description = "The user's payments, newest first", body = PaymentList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/users/{user_id}/payments", wrap = "from_fn(require_api_key)")]
pub async fn list(
    client: ApiClient,
    state: web::Data<AppState>,
    path: web::Path<UserPath>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner().user_id;
    valid_user_id(&user_id)?;
    let list = store::run(&state.pool, move |conn| {
        let Some(user) = users::find(conn, &client.0.id, &user_id)? else {
            return Ok(Err(ApiError::NotFound("user")));
        };
        Ok(payments::list_for_user(conn, &user.id)?
            .into_iter()
            .map(|row| view(conn, row))
            .collect::<Result<Vec<_>, _>>())
    })
    .await??;
    Ok(HttpResponse::Ok().json(PaymentList { payments: list }))
}
