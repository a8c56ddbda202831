//! The STET connector: the OAuth2 redirect of each bank, the signed STET client, and BPCE's
//! rules as policies (an SCA covers reads for 180 days; four unattended calls per PSU, account
//! and method each Europe/Paris day).

use chrono::Duration;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use secrecy::SecretString;
use url::Url;

use super::wire::ais::Access;
use super::wire::AccountIdentification;
use super::StetClient;
use crate::bank::connector::{
    AccessChoice, Answer, Connector, GrantAccess, ProviderWebhooks, ReadAccounts, Renormalize,
    Reread, ScaRequest,
};
use crate::bank::payments::InitiatePayments;
use crate::bank::policy::{Freshness, ScaFreshnessPolicy, UnattendedAccessPolicy};
use crate::bank::{BankError, BankErrorKind, BankResponse, PsuContext, TokenSource};
use crate::model::{Account, ScaAction};
use crate::oauth::{OAuthClient, OAuthError, Refreshed, TokenSet};
use crate::registry::{Bank, Scope, StetProfile};

/// How long an SCA at a BPCE bank covers reads, and how long its refresh token lives.
pub const SCA_VALIDITY_DAYS: i64 = 180;

/// One STET bank: its profile and STET section, its OAuth endpoints and its signed API client.
pub struct StetConnector {
    bank: Bank,
    stet: StetProfile,
    oauth: OAuthClient,
    client: StetClient,
}

impl StetConnector {
    /// The connector over already-built clients; `None` when `bank` does not speak STET.
    pub fn new(bank: Bank, oauth: OAuthClient, client: StetClient) -> Option<Self> {
        let stet = bank.stet()?.clone();
        Some(Self {
            bank,
            stet,
            oauth,
            client,
        })
    }

    /// The signed STET client (for the probe and STET-specific tools).
    pub fn client(&self) -> &StetClient {
        &self.client
    }

    /// The bank's OAuth client.
    pub fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    /// The bank's registry profile.
    pub fn bank_profile(&self) -> &Bank {
        &self.bank
    }
}

/// How STET identifies an account in a consent: by IBAN, else by the other identification
/// the bank listed it with (a card's masked number, under the bank's scheme name).
fn identification(account: &Account) -> Option<AccountIdentification> {
    match (&account.iban, &account.other_identification) {
        (Some(iban), _) => Some(AccountIdentification {
            iban: Some(iban.as_str().to_owned()),
            other: None,
            currency: None,
        }),
        (None, Some(other)) => Some(AccountIdentification {
            iban: None,
            other: Some(super::wire::GenericIdentification {
                identification: other.clone(),
                scheme_name: account
                    .other_scheme
                    .clone()
                    .unwrap_or_else(|| "CPAN".into()),
                issuer: None,
            }),
            currency: None,
        }),
        (None, None) => None,
    }
}

/// The `PUT /consents` body for what the user chose.
pub fn access_of(choice: &AccessChoice) -> Access {
    Access {
        balances: choice.balances.iter().filter_map(identification).collect(),
        transactions: choice
            .transactions
            .iter()
            .filter_map(identification)
            .collect(),
        trusted_beneficiaries: false,
        psu_identity: choice.identity,
    }
}

impl GrantAccess for StetConnector {
    fn start(&self, redirect_uri: &Url, scopes: &[&str], state: &str) -> ScaRequest {
        ScaRequest::oauth_redirect(self.oauth.authorize_url(redirect_uri, scopes, state))
    }

    fn complete<'a>(
        &'a self,
        code: &'a SecretString,
        redirect_uri: &'a Url,
        pkce_verifier: Option<&'a SecretString>,
    ) -> LocalBoxFuture<'a, Result<TokenSet, OAuthError>> {
        self.oauth
            .exchange_code(code, redirect_uri, pkce_verifier)
            .boxed_local()
    }

    fn refresh<'a>(
        &'a self,
        refresh_token: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<Refreshed, OAuthError>> {
        self.oauth.refresh(refresh_token).boxed_local()
    }

    fn change_access<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        choice: &'a AccessChoice,
    ) -> LocalBoxFuture<'a, Result<Answer<BankResponse<()>>, BankError>> {
        async move {
            let access = access_of(choice);
            Ok(Answer::Done(
                self.client.put_consents(token, psu, &access).await?,
            ))
        }
        .boxed_local()
    }

    fn revoke<'a>(
        &'a self,
        refresh_token: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<(), OAuthError>> {
        self.oauth.revoke_refresh_token(refresh_token).boxed_local()
    }
}

impl Connector for StetConnector {
    fn bank(&self) -> &Bank {
        &self.bank
    }

    fn sca_policy(&self) -> ScaFreshnessPolicy {
        let reads = Freshness::Within(Duration::days(SCA_VALIDITY_DAYS));
        ScaFreshnessPolicy::new([
            (ScaAction::AccountDetails, reads),
            (ScaAction::Balances, reads),
            (ScaAction::RecentTransactions, reads),
            (ScaAction::OlderHistory, reads),
            (ScaAction::GrantAccess, Freshness::EveryTime),
            (ScaAction::OwnAccountTransfer, Freshness::EveryTime),
            (ScaAction::ThirdPartyPayment, Freshness::EveryTime),
        ])
    }

    fn unattended_policy(&self) -> UnattendedAccessPolicy {
        UnattendedAccessPolicy {
            calls_per_day: Some(self.stet.limits.batch_calls_per_day),
            time_zone: self.bank.time_zone,
            // The portal counts `GET /accounts` too, per PSU (its key has no IBAN): the fifth
            // unattended list of the day is refused like any other call.
            counts_account_list: true,
        }
    }

    fn max_transactions_per_call(&self) -> Option<u32> {
        Some(self.stet.limits.max_operations_per_call).filter(|max| *max > 0)
    }

    fn history_days(&self) -> u32 {
        // BPCE serves 62 days to retail and small professional PSUs, which is what the first
        // sync asks for; corporates get 180 (`history_days_corporate`).
        self.stet.limits.history_days_retail
    }

    fn history_days_for(&self, account: &Account) -> u32 {
        // The portal gives 180 days to large professional and corporate customers, a property
        // of the customer that STET does not send. The rule chosen: an account the bank lists
        // with `usage: ORGA` is asked the corporate depth; a small professional's 400 makes the
        // sync ask again with the retail depth.
        if account.usage.as_deref() == Some("ORGA") {
            self.stet.limits.history_days_corporate
        } else {
            self.stet.limits.history_days_retail
        }
    }

    fn accounts(&self) -> &dyn ReadAccounts {
        &self.client
    }

    fn access(&self) -> &dyn GrantAccess {
        self
    }

    fn webhooks(&self) -> Option<&dyn ProviderWebhooks> {
        // STET pushes nothing.
        None
    }

    fn payments(&self) -> Option<&dyn InitiatePayments> {
        // Only banks that grant the PISP role initiate payments.
        self.stet
            .has_scope(Scope::Pisp)
            .then_some(self as &dyn InitiatePayments)
    }

    fn funds(&self) -> Option<&dyn crate::bank::funds::ConfirmFunds> {
        // The CBPII role, where the bank grants it and its profile lets Passerelle use it.
        let allowed = self
            .bank
            .payments
            .as_ref()
            .is_some_and(|p| p.funds_confirmation);
        (allowed && self.stet.has_scope(Scope::Cbpii))
            .then_some(self as &dyn crate::bank::funds::ConfirmFunds)
    }

    fn renormalize(&self) -> Option<&dyn Renormalize> {
        Some(self)
    }
}

impl Renormalize for StetConnector {
    fn reread(&self, endpoint: &str, status: u16, body: &[u8]) -> Result<Reread, BankErrorKind> {
        super::replay::reread(self.bank.time_zone, endpoint, status, body)
    }
}
