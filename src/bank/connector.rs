//! The provider boundary: one [`Connector`] per registry profile, built by
//! [`super::factory`], offering capabilities through traits. Every call that may need the user
//! answers an [`Answer`]: its result, or the SCA the caller must have resolved first.
//!
//! Nothing above `bank/` names a protocol's wire types: the services speak the domain model
//! (`Account`, `AccessChoice`, `ScaKind`), and each protocol folder (`bank/stet/`) maps it.

use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use secrecy::SecretString;
use url::Url;

use super::payments::InitiatePayments;
use super::policy::{ScaFreshnessPolicy, UnattendedAccessPolicy};
use super::{
    BankError, BankErrorKind, BankResponse, DateRange, PsuContext, RetryGate, TokenSource,
};
#[cfg(doc)]
use crate::model::ScaAction;
use crate::model::{Account, Balance, BankResourceId, ScaKind, Transaction};
use crate::oauth::{OAuthError, Refreshed, TokenSet};
use crate::registry::Bank;

/// A call's answer when the provider may ask for the user first.
#[derive(Debug)]
pub enum Answer<T> {
    /// The call went through.
    Done(T),
    /// The provider needs the user to authenticate; nothing happened yet.
    Sca(ScaRequest),
}

/// What a provider asks of the user, with what the caller must keep (sealed) until it
/// resolves.
#[derive(Debug)]
pub struct ScaRequest {
    /// How the user resolves it.
    pub kind: ScaKind,
    /// The secret that comes back with the user (an OAuth `state`), when there is one.
    pub state: Option<SecretString>,
    /// A PKCE verifier to present when the authorization completes.
    pub pkce_verifier: Option<SecretString>,
}

impl ScaRequest {
    /// The redirect to an OAuth provider's authorization page (STET banks, Treezor's hosted
    /// login): the URL, the `state` sent and the PKCE verifier to keep.
    pub fn oauth_redirect(redirect: crate::oauth::AuthorizationRedirect) -> Self {
        Self {
            kind: ScaKind::Redirect {
                url: Some(redirect.url.to_string()),
            },
            state: Some(SecretString::from(redirect.state)),
            pkce_verifier: redirect.pkce_verifier,
        }
    }
}

/// Reads of the user's accounts. Lists answered empty come back empty. A transient failure is
/// retried as [`super::retry`] says, each retry first allowed by the caller's [`RetryGate`] (an
/// unattended caller spends its quota ledger there).
pub trait ReadAccounts {
    /// The user's accounts, each retry allowed by `gate`.
    fn accounts_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Account>>, BankError>>;

    /// An account's balances, each retry allowed by `gate`.
    fn balances_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Balance>>, BankError>>;

    /// An account's transactions in a date range, each retry allowed by `gate`.
    fn transactions_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        range: DateRange,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Transaction>>, BankError>>;

    /// The user's accounts, retried through [`super::retry::default_gate`].
    fn accounts<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Account>>, BankError>> {
        self.accounts_gated(token, psu, super::retry::default_gate(psu))
    }

    /// An account's balances, retried through [`super::retry::default_gate`].
    fn balances<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Balance>>, BankError>> {
        self.balances_gated(token, psu, account, super::retry::default_gate(psu))
    }

    /// An account's transactions in a date range, retried through
    /// [`super::retry::default_gate`].
    fn transactions<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        range: DateRange,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Transaction>>, BankError>> {
        self.transactions_gated(token, psu, account, range, super::retry::default_gate(psu))
    }
}

/// What the user chose to share: accounts as the provider listed them, so each connector
/// identifies them its own way (an IBAN, a card's masked number, a provider id).
#[derive(Debug, Clone, Default)]
pub struct AccessChoice {
    /// Accounts whose balances are shared.
    pub balances: Vec<Account>,
    /// Accounts whose transactions are shared.
    pub transactions: Vec<Account>,
    /// Whether the user's identity is shared.
    pub identity: bool,
}

/// Granting, renewing, changing and revoking what a connection may do.
pub trait GrantAccess {
    /// Starts the user's authorization for `scopes`: what the user must do (for a redirect
    /// provider, the URL to send the browser to, carrying `state` back to `redirect_uri`).
    fn start(&self, redirect_uri: &Url, scopes: &[&str], state: &str) -> ScaRequest;

    /// Completes it with what the provider sent back (an authorization code).
    fn complete<'a>(
        &'a self,
        code: &'a SecretString,
        redirect_uri: &'a Url,
        pkce_verifier: Option<&'a SecretString>,
    ) -> LocalBoxFuture<'a, Result<TokenSet, OAuthError>>;

    /// New credentials from the long-lived one (OAuth refresh, with rotation).
    fn refresh<'a>(
        &'a self,
        refresh_token: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<Refreshed, OAuthError>>;

    /// Tells the provider what the user chose to share.
    fn change_access<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        choice: &'a AccessChoice,
    ) -> LocalBoxFuture<'a, Result<Answer<BankResponse<()>>, BankError>>;

    /// Ends the grant at the provider.
    fn revoke<'a>(
        &'a self,
        refresh_token: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<(), OAuthError>>;
}

/// One notification a provider pushed, verified.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEvent {
    /// The provider's event id (for deduplication).
    pub id: String,
    /// The provider's event type.
    pub kind: String,
    /// The provider's ids of the accounts the event concerns (what Passerelle stores as an
    /// account's `bank_resource_id`), read from the signed part only; empty for an event about
    /// none, or of a kind Passerelle does not act on.
    pub resource_ids: Vec<String>,
    /// The body, parsed.
    pub payload: serde_json::Value,
}

/// Notifications a provider pushes (Treezor, Contis, Currencycloud; STET has none).
pub trait ProviderWebhooks {
    /// Verifies the notification's authenticity and parses it; a forged or malformed one is
    /// an error and nothing is trusted from it.
    fn verify(
        &self,
        headers: &[(String, String)],
        body: &Bytes,
    ) -> Result<ProviderEvent, BankError>;
}

/// A kept answer read again (see [`Renormalize`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Reread {
    /// The list of accounts.
    Accounts(Vec<Account>),
    /// One account's balances.
    Balances(Vec<Balance>),
    /// One account's transactions.
    Transactions(Vec<Transaction>),
    /// An answer the replay has no use for (a consent, a token, an error).
    Other,
}

/// Reading kept raw answers again with today's normalizer, without calling the provider
/// (`passerelle replay`, after a normalizer fix).
pub trait Renormalize {
    /// Reads the answer kept for `endpoint` (as the vault stores it: the path template, e.g.
    /// `/accounts/{id}/transactions`) with HTTP `status` and `body`. A body the normalizer
    /// refuses is an error naming the field.
    fn reread(&self, endpoint: &str, status: u16, body: &[u8]) -> Result<Reread, BankErrorKind>;
}

/// One provider as the services see it: its profile, its policies and its capabilities.
pub trait Connector {
    /// The registry profile it was built from.
    fn bank(&self) -> &Bank;
    /// How recent an SCA must be for each action.
    fn sca_policy(&self) -> ScaFreshnessPolicy;
    /// What the provider allows without the user present.
    fn unattended_policy(&self) -> UnattendedAccessPolicy;
    /// How many calendar days back from today (in the provider's time zone) a transactions
    /// read may start, for any customer.
    fn history_days(&self) -> u32;
    /// The same for `account`'s customer: some providers serve some customers more (BPCE:
    /// 180 days to large professional and corporate customers). A read asked that deep and
    /// refused is asked again with [`Connector::history_days`].
    fn history_days_for(&self, account: &Account) -> u32 {
        let _ = account;
        self.history_days()
    }
    /// How many days back a transactions read may start while the user's SCA session is
    /// fresh enough for [`ScaAction::OlderHistory`] (Treezor: operations older than 90 days
    /// are a per-session read); `None` when the depth does not depend on the session.
    fn session_history_days(&self) -> Option<u32> {
        None
    }
    /// Most rows one transactions answer holds, without paging (BPCE: 500); `None` when the
    /// provider pages or has no such limit. A full answer proves less: see
    /// [`crate::sync::reconcile::coverage`].
    fn max_transactions_per_call(&self) -> Option<u32> {
        None
    }
    /// Whether listing the user's accounts needs an SCA session (Treezor: `/v1/wallets` is a
    /// per-session endpoint). Between sessions, a sync then reads the balances and
    /// transactions of the accounts it already knows instead of listing them again.
    fn account_list_needs_session(&self) -> bool {
        false
    }
    /// Reading accounts, balances and transactions.
    fn accounts(&self) -> &dyn ReadAccounts;
    /// Granting and changing access.
    fn access(&self) -> &dyn GrantAccess;
    /// Pushed notifications, when the provider sends any.
    fn webhooks(&self) -> Option<&dyn ProviderWebhooks>;
    /// Payment initiation, when the provider (and this bank) offers it.
    fn payments(&self) -> Option<&dyn InitiatePayments>;
    /// Funds confirmations (CBPII), when the provider (and this bank) offers them.
    fn funds(&self) -> Option<&dyn super::funds::ConfirmFunds> {
        None
    }
    /// SCA sessions opened with a proof the user's device signed, when the provider has them.
    fn sca_sessions(&self) -> Option<&dyn super::sessions::ScaSessions> {
        None
    }
    /// Payments the user's device approves operation by operation, with the user's own token
    /// (Treezor), when the provider pays that way rather than through [`Self::payments`].
    fn device_payments(&self) -> Option<&dyn super::device_payments::DevicePayments> {
        None
    }
    /// Reading kept answers again, when the provider's answers can be replayed.
    fn renormalize(&self) -> Option<&dyn Renormalize> {
        None
    }
}
