//! The Treezor simulator: Treezor Connect's API (seeds 000 and 001) as the sandbox serves it,
//! under `/treezor` on both sandbox listeners, following `notes/treezor-contract.md`.
//!
//! - API listener (client certificate required): `POST /treezor/oauth/token`,
//!   `GET /treezor/.well-known/jwks.json`, `/treezor/v1/…` and `/treezor/core-connect/…`.
//! - Pages listener (browsers, the user's phone): the hosted login
//!   `/treezor/oauth/authorize` and the device stand-in `/treezor/device/{userId}…`.
//!
//! State lives in [`state::TreezorState`] behind its own mutex, apart from the STET sandbox's;
//! every time comes from the sandbox clock. Personas: see [`personas`]. SCA: see [`sca`].
//!
//! Decisions where the seeds are silent (the contract's, repeated here):
//! - `/core-connect/operations` (undocumented): the statements' operation shape, cursor
//!   pagination, 204 when empty ([`operations`]). "The last 90 days" is judged by Paris day.
//! - An absent `dateFrom`/`createdDateFrom` means the last 90 days (180-day rule applies).
//! - Card transactions list oldest first (stable pages); operations newest first.
//! - scaOperations expire after 5 minutes ([`sca_operations`]).
//! - The proof's `dataToSign` is the hex SHA-256 of `{"body","url"}` as serde_json writes it.
//! - Webhook signature: base64 HMAC-SHA256 of the `object_payload` text ([`webhooks`]).
//! - Program (`client_credentials`) tokens get 403 on user resources: the simulator serves end
//!   users' data to delegated end-user tokens only; they may queue scaOperations (`requestBy`).
//! - Payouts hold their amount in `authorizations` while PENDING and settle 60 s later.
//! - Wallet ids: camille's payment account is 10 and her e-money wallet 9 (the contract's
//!   "wallet 10" and "wallet 9"), malo's 20, noor's 30; other ids are large numbers.
//! - Successful `POST /v1/transfers`, `/v1/beneficiaries`, `/v1/payouts` answer 200 (the seed
//!   shows the objects, not the status); scaOperations and External Operations answer 201.

pub mod auth;
pub mod balances;
pub mod card_transactions;
pub mod device;
pub mod error;
pub mod external_operations;
pub mod handle;
pub mod keys;
pub mod ledger;
pub mod oauth;
pub mod operations;
pub mod payouts;
pub mod personas;
pub mod sca;
pub mod sca_operations;
pub mod state;
pub mod statements;
pub mod transfers;
pub mod wallets;
pub mod webhooks;
pub mod wire;

use actix_web::{web, HttpResponse};

pub use error::TreezorError;
pub use handle::{TreezorHandle, WalletView};
pub use state::TreezorState;

async fn not_found() -> Result<HttpResponse, TreezorError> {
    Err(TreezorError::not_found("no such Treezor resource"))
}

/// The routes on the API listener, mounted under `/treezor`.
pub fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/treezor")
            .route("/oauth/token", web::post().to(oauth::token))
            .route("/.well-known/jwks.json", web::get().to(oauth::jwks))
            .route("/v1/wallets", web::get().to(wallets::list))
            .route("/v1/balances", web::get().to(balances::current))
            .route(
                "/v1/cardtransactions",
                web::get().to(card_transactions::list),
            )
            .route("/v1/transfers", web::post().to(transfers::create))
            .route("/v1/transfer", web::post().to(transfers::create))
            .route("/v1/transfers/{id}", web::get().to(transfers::get))
            .route(
                "/v1/beneficiaries",
                web::post().to(payouts::create_beneficiary),
            )
            .route(
                "/v1/beneficiaries",
                web::get().to(payouts::list_beneficiaries),
            )
            .route("/v1/payouts", web::post().to(payouts::create))
            .route("/v1/payout", web::post().to(payouts::create))
            .route("/v1/payouts/{id}", web::get().to(payouts::get))
            .route(
                "/core-connect/balances/{walletId}",
                web::get().to(balances::history),
            )
            .route("/core-connect/operations", web::get().to(operations::list))
            .route(
                "/core-connect/statements/{walletId}/raw",
                web::get().to(statements::statement),
            )
            .route(
                "/core-connect/account-details/{walletId}/raw",
                web::get().to(statements::account_details),
            )
            .route(
                "/core-connect/sca/scaOperations",
                web::post().to(sca_operations::create),
            )
            .route(
                "/core-connect/sca/scaOperations",
                web::get().to(sca_operations::list),
            )
            .route(
                "/core-connect/sca/scaOperations/{id}",
                web::get().to(sca_operations::get),
            )
            .route(
                "/core-connect/sca/externalOperations",
                web::post().to(external_operations::create),
            )
            .route(
                "/core-connect/sca/externalOperation/{id}",
                web::put().to(external_operations::update),
            )
            .route(
                "/core-connect/sca/externalOperations/{id}",
                web::put().to(external_operations::update),
            )
            .default_service(web::to(not_found)),
    );
}

/// The routes on the pages listener, mounted under `/treezor`.
pub fn page_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/treezor")
            .service(
                web::resource("/oauth/authorize")
                    .route(web::get().to(oauth::authorize_page))
                    .route(web::post().to(oauth::authorize_submit)),
            )
            .route("/device/{userId}/sign", web::post().to(device::sign))
            .route("/device/{userId}", web::get().to(device::pending))
            .route(
                "/device/{userId}/operations/{id}",
                web::post().to(device::answer),
            )
            .default_service(web::to(not_found)),
    );
}
