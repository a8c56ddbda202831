//! Row types, one per table: what is read, and (where every column is given) what is inserted.
//! Tables with a database-assigned id (`outbox_events`, `audit_log`) have a separate `New…` form.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::*;

pub use super::gocardless::{
    GocardlessAgreementRow, GocardlessRequisitionRow, GocardlessSecretRow, GocardlessTokenRow,
};
use crate::model::ConnectionStatus;

/// A budgeting app (tenant).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = api_clients)]
pub struct ApiClientRow {
    pub id: String,
    pub name: String,
    /// JSON array of allowed redirect URL prefixes.
    pub redirect_allowlist: String,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

/// An API key; only its SHA-256 hash is kept.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub api_client_id: String,
    pub prefix: String,
    pub key_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// An end user (PSU) of one API client.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub api_client_id: String,
    pub external_id: String,
    pub created_at: NaiveDateTime,
}

/// A user's connection to one bank.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = connections)]
pub struct ConnectionRow {
    pub id: String,
    pub user_id: String,
    pub bank_id: String,
    pub status: String,
    pub scopes: String,
    pub redirect_url: String,
    pub sca_at: Option<NaiveDateTime>,
    pub consent_expires_at: Option<NaiveDateTime>,
    pub last_synced_at: Option<NaiveDateTime>,
    pub error_code: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// SHA-256 of the journey cookie of the browser that passed the last SCA.
    pub sca_browser_hash: Option<String>,
    /// The last SCA's methods (RFC 8176 `amr`), space-separated.
    pub sca_amr: Option<String>,
    /// The provider's session state after the last SCA (JSON), for providers that keep one.
    pub sca_session: Option<String>,
}

impl ConnectionRow {
    /// Whether the connection stands at `status`.
    pub fn is(&self, status: ConnectionStatus) -> bool {
        self.status == status.as_str()
    }
}

/// A sealed token of one kind (`access` or `refresh`) for a connection.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = tokens)]
pub struct TokenRow {
    pub connection_id: String,
    pub kind: String,
    pub sealed: Vec<u8>,
    pub key_id: String,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One version of the consent sent to the bank.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: String,
    pub connection_id: String,
    pub version: i64,
    /// JSON array of IBANs whose balances are shared.
    pub balances_ibans: String,
    /// JSON array of IBANs whose transactions are shared.
    pub transactions_ibans: String,
    pub psu_identity: bool,
    pub trusted_beneficiaries: bool,
    pub granted_at: NaiveDateTime,
    pub superseded_at: Option<NaiveDateTime>,
}

/// A bank account seen through a connection.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: String,
    pub connection_id: String,
    pub account_key: String,
    pub bank_resource_id: Option<String>,
    pub iban: Option<String>,
    pub iban_valid: bool,
    pub name: String,
    pub currency: String,
    pub cash_account_type: String,
    pub usage: Option<String>,
    pub product: Option<String>,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// `iban`, or the bank's scheme for another identification (STET: `CPAN`).
    pub identification_scheme: Option<String>,
    /// The IBAN or the other identification (a masked card number).
    pub identification: Option<String>,
    /// A card account's `linkedAccount`: the bank's `resourceId` of the account it debits.
    pub linked_resource_id: Option<String>,
}

/// A balance snapshot for one bank calendar day.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = balances)]
pub struct BalanceRow {
    pub id: String,
    pub account_id: String,
    pub balance_type: String,
    pub name: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub reference_date: Option<NaiveDateTime>,
    pub as_of_day: NaiveDate,
    pub fetched_at: NaiveDateTime,
}

/// A normalized transaction; `id` is the stable Passerelle id.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = transactions)]
pub struct TransactionRow {
    pub id: String,
    pub account_id: String,
    pub fingerprint: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    pub transaction_date: Option<NaiveDate>,
    /// Booking date, else transaction or value date, else the day first seen: never null, so
    /// the feed orders the same on both backends.
    pub sort_date: NaiveDate,
    pub description: String,
    pub bank_transaction_code: Option<String>,
    pub entry_reference: Option<String>,
    pub bank_resource_id: Option<String>,
    pub first_seen_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The columns of a transaction that the API's feed shows (and its cursor needs). The feed loads
/// this rather than [`TransactionRow`]: on SQLite every date and timestamp is text that Diesel
/// parses per row, and skipping `first_seen_at`/`updated_at` (timestamps tried against several
/// formats) and the unshown strings halved the decoding cost of a 100-row page in the profile of
/// `benches/transactions_feed.sh`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = transactions)]
pub struct FeedTransactionRow {
    pub id: String,
    pub account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    pub transaction_date: Option<NaiveDate>,
    pub sort_date: NaiveDate,
    pub description: String,
    pub bank_transaction_code: Option<String>,
    pub entry_reference: Option<String>,
}

/// One synchronisation of a connection.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = sync_runs)]
pub struct SyncRunRow {
    pub id: String,
    pub connection_id: String,
    pub trigger_kind: String,
    pub status: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub error: Option<String>,
    pub transactions_added: i64,
    pub transactions_updated: i64,
    pub transactions_cancelled: i64,
    /// Calls not sent because the day's unattended quota was spent.
    pub skipped_for_quota: i64,
}

/// One change of a transaction, made by one sync run (see [`crate::model::ChangeKind`]).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = transaction_changes)]
pub struct TransactionChangeRow {
    pub id: String,
    pub sync_run_id: String,
    pub account_id: String,
    pub transaction_id: String,
    pub kind: String,
    /// Status and amount after the change.
    pub status: String,
    pub amount_minor: i64,
    /// Status and amount before it (`None` when the transaction was added).
    pub previous_status: Option<String>,
    pub previous_amount_minor: Option<i64>,
    pub changed_at: NaiveDateTime,
    /// The account's user (whose changes feed holds the change).
    pub user_id: String,
    /// The change's number in its user's sequence (given by
    /// [`crate::store::transaction_changes::insert_all`]).
    pub seq: i64,
}

/// The balance continuity verdict of one account at one sync (see
/// [`crate::model::ContinuityVerdict`]).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = balance_continuity)]
pub struct ContinuityRow {
    pub sync_run_id: String,
    pub account_id: String,
    pub verdict: String,
    /// The booked balance this sync read.
    pub booked_minor: Option<i64>,
    /// The booked balance of the previous checked sync.
    pub previous_booked_minor: Option<i64>,
    /// What booked in between, as this sync's reconciliation saw it.
    pub booked_between_minor: i64,
    /// For a gap: `(booked − previous) − booked_between`.
    pub gap_minor: Option<i64>,
    pub checked_at: NaiveDateTime,
}

/// Unattended calls spent on one quota key for one bank calendar day.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = quota_ledger)]
pub struct QuotaRow {
    pub bank_id: String,
    pub client_id: String,
    pub psu_id: String,
    pub iban: String,
    pub method: String,
    pub day: NaiveDate,
    pub calls: i64,
    pub updated_at: NaiveDateTime,
}

/// A durable background job.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub dedup_key: Option<String>,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub run_at: NaiveDateTime,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl JobRow {
    /// A new job of `kind`, queued to run at `run_at`, with no attempt made yet.
    pub fn queued(
        kind: crate::model::JobKind,
        dedup_key: Option<String>,
        payload: String,
        run_at: NaiveDateTime,
    ) -> Self {
        Self {
            id: crate::store::new_id(),
            kind: kind.as_str().to_owned(),
            dedup_key,
            payload,
            status: crate::model::JobStatus::Queued.as_str().to_owned(),
            attempts: 0,
            run_at,
            locked_by: None,
            locked_until: None,
            last_error: None,
            created_at: run_at,
            updated_at: run_at,
        }
    }
}

/// A payment initiated through a bank.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: String,
    pub api_client_id: String,
    pub user_id: String,
    pub bank_id: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub amount_minor: i64,
    pub currency: String,
    pub creditor_name: String,
    pub creditor_iban: String,
    pub debtor_iban: Option<String>,
    pub remittance: String,
    pub end_to_end_id: String,
    pub status: String,
    pub bank_payment_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The `paymentInformationId`/`instructionId` sent to the bank (35 characters at most).
    pub instruction_id: String,
    /// Why the payment is `rejected`, `cancelled` or `expired` (a bank code or Passerelle's).
    pub status_reason: Option<String>,
    /// The bank's last status code (ISO 20022 for STET).
    pub bank_status: Option<String>,
    pub requested_execution_date: Option<NaiveDate>,
    pub instant: bool,
    /// Where the PSU's browser returns after the approval.
    pub redirect_url: String,
    /// The Passerelle account debited, when the app named one.
    pub debtor_account_id: Option<String>,
    /// The bank's approval link, sealed (bound to the row's id).
    pub approval_url_sealed: Option<Vec<u8>>,
    /// Until when the PSU may approve.
    pub approval_deadline: Option<NaiveDateTime>,
    /// When Passerelle's confirmation was accepted by the bank.
    pub confirmed_at: Option<NaiveDateTime>,
}

/// A SimpleFIN Bridge access: a claim token, then the Basic credentials an app holds.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = simplefin_accesses)]
pub struct SimplefinAccessRow {
    pub id: String,
    pub api_client_id: String,
    pub user_id: String,
    /// SHA-256 of the claim token (the setup token carries it once).
    pub claim_hash: String,
    pub claim_expires_at: NaiveDateTime,
    pub claimed_at: Option<NaiveDateTime>,
    /// The access URL's user name (public: it finds the row).
    pub username: Option<String>,
    /// SHA-256 of the access URL's password.
    pub secret_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// One status a payment took.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = payment_status_changes)]
pub struct PaymentStatusChangeRow {
    pub id: String,
    pub payment_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub bank_status: Option<String>,
    pub changed_at: NaiveDateTime,
}

/// A journey secret found again by its hash (a connect link, an OAuth `state`, a consent form);
/// one with a `kind` is also an SCA challenge the API shows (see [`crate::model::ScaStatus`]).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = sca_challenges)]
pub struct ScaChallengeRow {
    pub id: String,
    pub purpose: String,
    pub connection_id: Option<String>,
    pub payment_id: Option<String>,
    pub state_hash: String,
    pub pkce_verifier_sealed: Option<Vec<u8>>,
    pub expires_at: NaiveDateTime,
    pub consumed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// SHA-256 of the journey cookie of the browser it is bound to, if any.
    pub browser_hash: Option<String>,
    /// How a consent form was reached: `sca` (a fresh SCA) or `same_browser`.
    pub proof: Option<String>,
    /// `redirect`, `otp`, `decoupled` or `signed_proof` for an SCA challenge; `None` for the
    /// journey's internal secrets.
    pub kind: Option<String>,
    /// The challenge's [`crate::model::ScaStatus`].
    pub status: String,
    /// What it authenticates for ([`crate::model::ScaAction`]).
    pub action: Option<String>,
    /// The kind's public details, JSON.
    pub details: Option<String>,
    /// Wrong submissions still allowed.
    pub attempts_left: Option<i32>,
    /// When it succeeded, failed, expired or locked.
    pub resolved_at: Option<NaiveDateTime>,
    /// The methods of a passed challenge (RFC 8176), space-separated.
    pub amr: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

impl ScaChallengeRow {
    /// A journey secret of `purpose` for a connection, not (yet) an SCA challenge the API shows.
    pub fn secret(
        purpose: &str,
        connection_id: &str,
        state_hash: String,
        created_at: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Self {
        Self {
            id: crate::store::new_id(),
            purpose: purpose.to_owned(),
            connection_id: Some(connection_id.to_owned()),
            payment_id: None,
            state_hash,
            pkce_verifier_sealed: None,
            expires_at,
            consumed_at: None,
            created_at,
            browser_hash: None,
            proof: None,
            kind: None,
            status: crate::model::ScaStatus::Created.as_str().to_owned(),
            action: None,
            details: None,
            attempts_left: None,
            resolved_at: None,
            amr: None,
            failure: None,
        }
    }
}

/// Where an API client wants its events delivered.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = webhook_endpoints)]
pub struct WebhookEndpointRow {
    pub id: String,
    pub api_client_id: String,
    pub url: String,
    /// The `whsec_…` secret, sealed (bound to the row's id).
    pub secret_sealed: Vec<u8>,
    /// JSON array of the event types sent; empty: all.
    pub event_types: String,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
    /// When deliveries to it started failing (reset by a success).
    pub failing_since: Option<NaiveDateTime>,
    /// After a rotation: the secret replaced, sealed, which keeps signing beside the new one
    /// until `previous_secret_until`.
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_until: Option<NaiveDateTime>,
}

/// An event in the outbox, as read.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = outbox_events)]
pub struct OutboxEventRow {
    pub id: i64,
    pub api_client_id: String,
    pub event_type: String,
    /// The JSON body delivered, byte for byte (the signature covers it).
    pub payload: String,
    pub created_at: NaiveDateTime,
    /// The API client's own sequence number: 1, 2, 3… in commit order.
    pub seq: i64,
    pub connection_id: Option<String>,
    pub dedup_key: Option<String>,
}

/// An event to put in the outbox; the database numbers it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox_events)]
pub struct NewOutboxEvent {
    pub api_client_id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub seq: i64,
    pub connection_id: Option<String>,
    pub dedup_key: Option<String>,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = webhook_deliveries)]
pub struct WebhookDeliveryRow {
    pub id: String,
    pub event_id: i64,
    pub endpoint_id: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_status_code: Option<i32>,
    pub delivered_at: Option<NaiveDateTime>,
    /// Deliveries of one lane (a connection) go in sequence order, one at a time.
    pub lane: String,
    /// The event's sequence number.
    pub seq: i64,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
}

/// An audit log entry, as read.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntryRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub api_client_id: Option<String>,
    pub connection_id: Option<String>,
    pub details: String,
}

/// An audit log entry to append; the database numbers it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry {
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub api_client_id: Option<String>,
    pub connection_id: Option<String>,
    pub details: String,
}

/// A raw bank response body kept for diagnosis.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = bank_responses)]
pub struct BankResponseRow {
    pub id: String,
    pub bank_id: String,
    pub connection_id: Option<String>,
    pub method: String,
    pub endpoint: String,
    pub status_code: i32,
    pub x_request_id: String,
    pub body: Vec<u8>,
    pub received_at: NaiveDateTime,
    /// The sync that read it (`None` for a call outside a sync, e.g. the journey's).
    pub sync_run_id: Option<String>,
    /// The account it is about (its key), for a balances or transactions call.
    pub account_key: Option<String>,
    /// For a transactions call, the `dateFrom` asked.
    pub covered_from: Option<NaiveDateTime>,
}
