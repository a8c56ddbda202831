//! `GET /v1/banks`: the bank registry with each bank's capabilities.

use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpResponse};
use serde_json::json;
use utoipa::ToSchema;

use super::auth::{require_api_key, ApiClient};
use crate::bank::factory;
use crate::state::AppState;

// The shapes below only describe, for the document, how the registry's profiles serialize
// (`crate::registry::Bank`); they are never built. `deny_unknown_fields` makes the document
// close each object, so the test that checks served banks against the document fails as soon
// as a profile gains, loses or renames a field without them.

/// `{"banks": [...]}`: every bank Passerelle can connect to.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BankList {
    /// Sorted by id.
    banks: Vec<BankProfile>,
}

/// A bank's profile from the registry.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BankProfile {
    /// The bank id to create connections with.
    #[schema(example = "banque-bcp")]
    id: String,
    /// Name shown to the user.
    name: String,
    /// Commercial brand, for grouping in a bank picker.
    brand: String,
    /// French bank code (code établissement).
    #[schema(pattern = "^[0-9]{5}$", example = "12579")]
    bank_code: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(example = "FR")]
    country: String,
    /// API standard: `stet`.
    #[schema(example = "stet")]
    protocol: String,
    /// API standard version.
    #[schema(example = "1.4.2")]
    protocol_version: String,
    /// Consent model: `mixed` (BPCE's: the user picks accounts in Passerelle after SCA).
    #[schema(example = "mixed")]
    consent_model: String,
    /// OAuth scopes the bank grants (`aisp`, `pisp`, `cbpii`, …).
    scopes: Vec<String>,
    /// STET balance types the bank serves (`CLBD`, `XPCD`, …).
    balance_types: Vec<String>,
    /// IANA time zone of the bank's calendar day.
    #[schema(example = "Europe/Paris")]
    time_zone: String,
    /// A profile of Passerelle's built-in sandbox bank.
    sandbox: bool,
    /// Whether the bank offers the PSD2 fallback access.
    fallback: bool,
    /// Whether the bank accepts PKCE.
    pkce: bool,
    /// Sandbox and live URLs.
    endpoints: BankEndpointsDoc,
    /// Data and call limits the bank enforces.
    limits: BankLimits,
    /// How requests to the bank are signed.
    signature: BankSignature,
    /// Weekly maintenance windows, in `time_zone`.
    maintenance: Vec<MaintenanceWindowDoc>,
    /// What the bank lets an app do with payments; absent: no payment initiation.
    #[schema(nullable = false)]
    payments: Option<BankPayments>,
}

/// A bank's payment capabilities: a payment that needs one the bank lacks is refused with 422
/// before anything is sent.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BankPayments {
    /// ISO 4217 currencies it pays in.
    currencies: Vec<String>,
    /// SEPA Instant Credit Transfers (`instant: true`).
    instant: bool,
    /// Future-dated payments (`requested_execution_date`).
    future_dated: bool,
    /// The user may choose the debited account at the bank (the app may leave it out).
    debtor_choice: bool,
    /// How the bank waits for Passerelle's confirmation of the user's approval: `none`,
    /// `confirmation` (the TPP's token) or `o-confirmation` (the user's token, from the
    /// approval's return).
    #[schema(example = "o-confirmation")]
    confirmation: String,
    /// Funds confirmations (`POST /v1/accounts/{id}/funds-confirmations`).
    funds_confirmation: bool,
}

/// A bank's URLs on both platforms.
#[derive(ToSchema)]
#[schema(as = BankEndpoints)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BankEndpointsDoc {
    /// Test platform.
    sandbox: BankUrls,
    /// Production platform.
    live: BankUrls,
}

/// A bank's URLs on one platform.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BankUrls {
    /// API base, version path included.
    #[schema(format = "uri")]
    api_base: String,
    /// OAuth authorization endpoint.
    #[schema(format = "uri")]
    authorize: String,
    /// OAuth token endpoint.
    #[schema(format = "uri")]
    token: String,
    /// Token revocation endpoint, when the bank has one.
    #[schema(format = "uri")]
    revoke: Option<String>,
    /// Authorization endpoint opening the bank's mobile app, when offered.
    #[schema(format = "uri")]
    app2app_authorize: Option<String>,
}

/// Data and call limits a bank enforces.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BankLimits {
    /// Transaction history for retail users, in days.
    history_days_retail: u32,
    /// Transaction history for corporate users, in days.
    history_days_corporate: u32,
    /// Most operations in one transactions call.
    max_operations_per_call: u32,
    /// Unattended calls a day per account and endpoint; `0`: none.
    batch_calls_per_day: u32,
}

/// How requests to a bank are signed.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BankSignature {
    /// The `keyId` rule: `{"format": "client-id" | "cert-url" | "sn-ca", …}`.
    key_id: serde_json::Map<String, serde_json::Value>,
    /// Headers signed on every request.
    headers: Vec<String>,
    /// `PSU-*` headers signed when the user is present.
    psu_headers: Vec<String>,
    /// Whether GET requests carry a `Digest` of the empty body.
    digest_on_get: bool,
}

/// A weekly maintenance window.
#[derive(ToSchema)]
#[schema(as = MaintenanceWindow)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct MaintenanceWindowDoc {
    /// Lowercase English day name.
    #[schema(example = "monday")]
    weekday: String,
    /// Local start time, `HH:MM`.
    #[schema(example = "00:00")]
    start: String,
    /// Local end time, `HH:MM` (up to `24:00`).
    #[schema(example = "06:00")]
    end: String,
}

/// Every bank Passerelle can connect to, with its capabilities.
#[utoipa::path(get, path = "/v1/banks", operation_id = "list_banks",
    responses(
        (status = 200, description = "The registry's bank profiles", body = BankList),
        (status = 401, response = super::responses::Unauthorized),
        (status = 500, response = super::responses::Internal),
    ),
    security(("api_key" = [])))]
#[allow(dead_code)]
pub(crate) fn list_doc() {}

/// Lists every bank Passerelle can connect to: the registry's profiles whose protocol has a
/// connector in this build (a profile of another protocol is loaded and checked, not offered).
#[get("/v1/banks", wrap = "from_fn(require_api_key)")]
pub async fn list(_client: ApiClient, state: web::Data<AppState>) -> HttpResponse {
    let banks: Vec<_> = state
        .registry
        .banks()
        .filter(|bank| factory::supports(bank))
        .collect();
    HttpResponse::Ok().json(json!({ "banks": banks }))
}
