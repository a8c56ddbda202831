//! `POST /v1/users/{user_id}/payments`: the idempotency key first, then the body, then what the
//! bank can do — all before anything is recorded or sent — then the intent, the one bank call,
//! and the answer with the approval link.

use actix_web::middleware::from_fn;
use actix_web::{post, web, HttpRequest, HttpResponse};
use url::Url;

use super::device::{self, account_at, approval_kind};
use super::views::{CreatePayment, PaymentView};
use crate::api::auth::{require_api_key, ApiClient};
use crate::api::connections::{allowlist, redirect_allowed, valid_user_id, UserPath};
use crate::api::error::ApiError;
use crate::api::responses::{
    BankUnavailable, IdempotencyKeyInFlight, IdempotencyKeyRequired, Internal,
    PaymentUnprocessable, Unauthorized,
};
use crate::api::sca::ScaView;
use crate::bank::{factory, Connectors};
use crate::model::{PaymentStatus, ScaAction, ScaKindName};
use crate::payments::initiate::{bank_today, begin, send, Begin, NewPayment};
use crate::payments::validate::{self, Invalid};
use crate::payments::{approval, record::status_of, PaymentFlowError};
use crate::registry::{Bank, PaymentCapabilities};
use crate::state::AppState;
use crate::store::{self, accounts, connections, users};

/// The longest `Idempotency-Key` accepted.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::invalid(e.field, e.message)
    }
}

/// The `Idempotency-Key`: required (400 before anything else), 1 to 255 visible ASCII.
fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Err(ApiError::IdempotencyKeyRequired);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_MAX)
        .filter(|k| k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| ApiError::invalid("Idempotency-Key", "1 to 255 visible ASCII characters"))?;
    Ok(key.to_owned())
}

/// The body: a JSON object of the creation's fields.
fn body_of(req: &HttpRequest, body: &[u8]) -> Result<CreatePayment, ApiError> {
    let json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(ApiError::invalid(
            "body",
            "Content-Type must be application/json",
        ));
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not a JSON object: {e}")))?;
    serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|e| ApiError::invalid("body", e.to_string()))
}

/// What a body with the same fields always hashes to, whatever their order or spacing.
fn request_hash(body: &CreatePayment) -> Result<String, ApiError> {
    let canonical = serde_json::to_string(body).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(crate::connect::token_hash(&canonical))
}

fn unsupported(capability: &'static str, bank: &Bank, what: &str) -> ApiError {
    ApiError::UnsupportedByBank {
        capability,
        message: format!("{} does not offer {what}; nothing was sent", bank.name),
    }
}

/// Refuses what the bank cannot do, naming the capability.
fn check_capabilities(
    bank: &Bank,
    caps: &PaymentCapabilities,
    order: &NewPayment,
) -> Result<(), ApiError> {
    if !caps.pays_in(order.amount.currency.as_str()) {
        return Err(unsupported(
            "currency",
            bank,
            &format!("payments in {}", order.amount.currency.as_str()),
        ));
    }
    if order.instant && !caps.instant {
        return Err(unsupported("instant", bank, "instant transfers (SCT Inst)"));
    }
    if order.requested_execution_date.is_some() && !caps.future_dated {
        return Err(unsupported("future_dated", bank, "future-dated payments"));
    }
    if order.debtor_iban.is_none() && !caps.debtor_choice {
        return Err(unsupported(
            "debtor_choice",
            bank,
            "choosing the debited account at the bank: name it (debtor_account_id or debtor_iban)",
        ));
    }
    Ok(())
}

/// Creates a payment and answers it with the link the user approves it through.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/payments",
    operation_id = "create_payment",
    params(
        UserPath,
        ("Idempotency-Key" = String, Header, description = "Required: 1 to 255 visible ASCII characters. The same key with the same body answers the same payment; with another body, 422.", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),
    ),
    request_body = CreatePayment,
    responses(
        (status = 201, description = "The payment: `awaiting_approval` with `sca` (a `redirect`: send the user's browser to `sca.url`; a `signed_proof`: have the user's device sign `sca.data`; a `decoupled`: poll while the user approves in the provider's app), or already final when the bank refused it", body = PaymentView),
        (status = 400, response = IdempotencyKeyRequired),
        (status = 401, response = Unauthorized),
        (status = 409, response = IdempotencyKeyInFlight),
        (status = 422, response = PaymentUnprocessable),
        (status = 500, response = Internal),
        (status = 502, response = BankUnavailable),
    ),
    security(("api_key" = []))
)]
#[post("/v1/users/{user_id}/payments", wrap = "from_fn(require_api_key)")]
pub async fn create(
    req: HttpRequest,
    client: ApiClient,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    path: web::Path<UserPath>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner().user_id;
    valid_user_id(&user_id)?;
    let key = idempotency_key(&req)?;
    let body = body_of(&req, &body)?;
    let hash = request_hash(&body)?;

    // The debtor account, when named: one of this user's, and its bank.
    let debtor_account = match body.debtor_account_id.clone() {
        None => None,
        Some(id) => {
            let (client_id, external) = (client.0.id.clone(), user_id.clone());
            let found = store::run(&state.pool, move |conn| {
                let Some(account) = accounts::find_for_client(conn, &id, &client_id)? else {
                    return Ok(None);
                };
                let Some(connection) = connections::find(conn, &account.connection_id)? else {
                    return Ok(None);
                };
                let owner = users::find_by_id(conn, &connection.user_id)?;
                Ok(owner
                    .filter(|u| u.external_id == external)
                    .map(|_| (account, connection.bank_id)))
            })
            .await?;
            Some(found.ok_or_else(|| {
                ApiError::invalid("debtor_account_id", "not an account of this user")
            })?)
        }
    };
    let bank_id = match (&body.bank_id, &debtor_account) {
        (Some(b), Some((_, a))) if b != a => {
            return Err(ApiError::invalid(
                "bank_id",
                "the debtor account is at another bank",
            ))
        }
        (Some(b), _) => b.clone(),
        (None, Some((_, a))) => a.clone(),
        (None, None) => {
            return Err(ApiError::invalid(
                "bank_id",
                "required unless debtor_account_id names an account",
            ))
        }
    };
    let bank = match state.registry.get(&bank_id) {
        Some(bank) if factory::supports(bank) => bank,
        Some(_) => return Err(ApiError::invalid("bank_id", "this bank cannot be used")),
        None => return Err(ApiError::invalid("bank_id", "unknown bank")),
    };
    let Some(caps) = bank.payments.as_ref() else {
        return Err(unsupported("payments", bank, "payment initiation"));
    };

    // A device-approved payment is made with the user's own connection: it pays from one of
    // the user's connected accounts there, named by its id or its IBAN.
    let connector = connectors
        .get(&bank_id)
        .map_err(|e| ApiError::Bank(e.to_string()))?;
    let device = connector.device_payments().is_some();
    let sca_kind = approval_kind(bank, device, body.sca_kind)?;
    let mut debtor_account = debtor_account;
    let mut debtor_iban_given = body.debtor_iban.clone();
    if device && debtor_account.is_none() {
        let Some(iban) = debtor_iban_given.take() else {
            return Err(ApiError::invalid(
                "debtor_account_id",
                "required: this provider pays from one of the user's connected accounts",
            ));
        };
        let iban = crate::model::Iban::new(&iban);
        let (client_id, external, bank) = (client.0.id.clone(), user_id.clone(), bank_id.clone());
        let found = store::run(&state.pool, move |conn| {
            account_at(conn, &client_id, &external, &bank, &iban)
        })
        .await?;
        debtor_account = Some(found.ok_or_else(|| {
            ApiError::invalid(
                "debtor_iban",
                "not a connected account of this user at this bank",
            )
        })?);
    }
    let debtor_iban = match (&debtor_account, &debtor_iban_given) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "debtor_iban",
                "give debtor_account_id or debtor_iban, not both",
            ))
        }
        // The account's IBAN as its bank gave it: the bank knows its own accounts (sandbox
        // portals' IBANs even fail the mod-97 check), so it is not checked again here.
        (Some((account, _)), None) => Some(
            account
                .iban
                .as_deref()
                .map(crate::model::Iban::new)
                .ok_or_else(|| {
                    ApiError::invalid("debtor_account_id", "this account has no IBAN to pay from")
                })?,
        ),
        (None, Some(iban)) => Some(validate::sepa_iban("debtor_iban", iban)?),
        (None, None) => None,
    };
    let redirect = match (&body.redirect_url, sca_kind) {
        (Some(url), _) => {
            let redirect =
                Url::parse(url).map_err(|e| ApiError::invalid("redirect_url", e.to_string()))?;
            if !redirect_allowed(&allowlist(&client.0), &redirect) {
                return Err(ApiError::invalid(
                    "redirect_url",
                    "must be https (or loopback http) and within the API client's redirect \
                     allow-list",
                ));
            }
            Some(redirect)
        }
        (None, ScaKindName::Redirect) => {
            return Err(ApiError::invalid(
                "redirect_url",
                "required: the user approves at the bank and comes back there",
            ))
        }
        (None, _) => None,
    };
    let creditor_bic = body
        .creditor_bic
        .as_deref()
        .map(validate::bic)
        .transpose()?;
    let today = bank_today(bank.time_zone, state.clock.now());
    let order = NewPayment {
        user_id: user_id.clone(),
        bank_id: bank_id.clone(),
        debtor_account_id: debtor_account.as_ref().map(|(a, _)| a.id.clone()),
        debtor_iban,
        creditor_name: validate::creditor_name(&body.creditor_name)?,
        creditor_iban: validate::sepa_iban("creditor_iban", &body.creditor_iban)?,
        amount: validate::amount(&body.amount, &body.currency)?,
        remittance: body
            .remittance
            .as_deref()
            .map(validate::remittance)
            .transpose()?,
        end_to_end_id: validate::end_to_end_id(&body.end_to_end_id)?,
        requested_execution_date: body
            .requested_execution_date
            .as_deref()
            .map(|d| validate::execution_date(d, today))
            .transpose()?,
        instant: body.instant,
        redirect_url: redirect,
    };
    check_capabilities(bank, caps, &order)?;
    let debtor = match (&debtor_account, device) {
        (Some((account, _)), true) => Some(device::debtor(&state, account).await?),
        _ => None,
    };

    let now = state.clock.stored_now();
    let client_id = client.0.id.clone();
    let begun = store::run(&state.pool, move |conn| {
        begin(conn, &client_id, &key, &hash, &order, now)
    })
    .await?;
    let payment = match begun {
        Begin::Reused => return Err(ApiError::IdempotencyKeyReused),
        Begin::InFlight => return Err(ApiError::IdempotencyKeyInFlight),
        Begin::Existing(row) if device => {
            let live = device::live_challenge(&state, &row).await?;
            return answer_device(&state, row, live).await;
        }
        Begin::Existing(row) => row,
        Begin::Fresh(row) if device => {
            let Some(debtor) = debtor else {
                return Err(ApiError::invalid("debtor_account_id", "required"));
            };
            let (row, challenge) = device::start(
                &state,
                &connectors,
                row,
                &debtor,
                creditor_bic.as_deref(),
                sca_kind,
            )
            .await?;
            return answer_device(&state, row, Some(challenge)).await;
        }
        Begin::Fresh(row) => {
            // The TPP's own call (client credentials): the user is not at the bank yet.
            match send(&state.sync_context(), &connectors, row, None).await {
                Ok(row) => row,
                Err(PaymentFlowError::Bank(e)) => return Err(ApiError::Bank(e.to_string())),
                Err(e) => return Err(ApiError::Internal(Box::new(e))),
            }
        }
    };
    let app = state.clone();
    let view = store::run(&state.pool, move |conn| {
        let awaiting = status_of(&payment) == PaymentStatus::AwaitingApproval;
        let link = if awaiting {
            Some(approval::issue_link(
                conn,
                &app.config.public_url,
                &payment,
                app.clock.stored_now(),
            ))
        } else {
            None
        };
        let mut view = match super::view(conn, payment) {
            Ok(view) => view,
            Err(e) => return Ok(Err(e)),
        };
        view.sca = match link {
            Some(Ok(issued)) => {
                let mut sca = ScaView::redirect_issued(&issued, "");
                sca.connection_id = None;
                sca.action = ScaAction::ThirdPartyPayment;
                Some(sca)
            }
            Some(Err(e)) => return Ok(Err(ApiError::Link(e))),
            None => None,
        };
        Ok(Ok(view))
    })
    .await??;
    Ok(HttpResponse::Created().json(view))
}

/// The 201 of a device-approved payment: the payment and, while the user has to approve, the
/// challenge the app has them sign (`signed_proof`) or approve in the provider's app.
async fn answer_device(
    state: &AppState,
    payment: crate::store::models::PaymentRow,
    challenge: Option<crate::connect::sca::ScaChallenge>,
) -> Result<HttpResponse, ApiError> {
    let mut view = store::run(&state.pool, move |conn| Ok(super::view(conn, payment))).await??;
    view.sca = challenge.as_ref().map(device::view_of);
    Ok(HttpResponse::Created().json(view))
}
