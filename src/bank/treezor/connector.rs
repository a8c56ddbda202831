//! The Treezor connector: Treezor as the users' identity provider (authorization code, the
//! user's delegated token refreshed within its month), wallets read as accounts, and seed 000's
//! SCA rules as the freshness policy.

use chrono::{Duration, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::client::{Call, TreezorClient};
use super::{map, wire};
use crate::bank::connector::{
    AccessChoice, Answer, Connector, GrantAccess, ProviderWebhooks, ReadAccounts, ScaRequest,
};
use crate::bank::payments::InitiatePayments;
use crate::bank::policy::{Freshness, ScaFreshnessPolicy, UnattendedAccessPolicy};
use crate::bank::{
    BankError, BankErrorKind, BankResponse, DateRange, PsuContext, RawExchange, RetryGate,
    TokenSource,
};
use crate::model::{Account, Balance, BankResourceId, ScaAction, Transaction};
use crate::oauth::{OAuthClient, OAuthError, Refreshed, TokenSet};
use crate::registry::{Bank, TreezorProfile};

/// How long an SCA covers the balance and the last 90 days of operations (seed 000: "a
/// session with an SCA … in the last 180 days").
pub const EXEMPTION_DAYS: i64 = 180;

/// How long Passerelle counts a session opened with SCA as active: the life of the access
/// token that login gave (one hour, seed 001:551), less a margin so that a read the policy
/// allows is not refused by Treezor a minute later.
pub const SESSION_MINUTES: i64 = 55;

/// How many days back a read stays under the 180-day exemption. The seed says "the last 90
/// days"; asking from midnight (Paris) 89 days ago keeps every such read inside 90 × 24 hours,
/// whichever way Treezor counts.
pub const RECENT_DAYS: u32 = 89;

/// How many days back a read goes in a session opened with SCA (older operations are a
/// per-session read, seed 000): a year, which the first sync of a connection reads while the
/// user has just logged in.
pub const SESSION_HISTORY_DAYS: u32 = 365;

/// Most pages read for one list (a guard against a cursor that never ends).
const MAX_PAGES: usize = 200;

/// One Treezor program: its profile, Treezor's OAuth server and the API client.
pub struct TreezorConnector {
    bank: Bank,
    profile: TreezorProfile,
    oauth: OAuthClient,
    client: TreezorClient,
    webhooks: Option<super::webhooks::TreezorWebhooks>,
}

impl TreezorConnector {
    /// The connector over already-built clients; `None` when `bank` is not a Treezor profile.
    /// Webhooks are verified with `webhook_secret`; without one, none is accepted.
    pub fn new(
        bank: Bank,
        oauth: OAuthClient,
        client: TreezorClient,
        webhook_secret: Option<SecretString>,
    ) -> Option<Self> {
        let profile = bank.treezor()?.clone();
        let webhooks = webhook_secret
            .map(|secret| super::webhooks::TreezorWebhooks::new(bank.id.clone(), secret));
        Some(Self {
            bank,
            profile,
            oauth,
            client,
            webhooks,
        })
    }

    /// The API client.
    pub fn client(&self) -> &TreezorClient {
        &self.client
    }

    /// The scopes asked of Treezor (the profile's; Passerelle's own `aisp`/`cbpii` roles mean
    /// nothing there).
    fn scopes(&self) -> Vec<&'static str> {
        self.profile.scopes.iter().map(|s| s.as_str()).collect()
    }

    /// The Treezor user the token was issued to (its `userId` claim, else `sub`). The JWT is
    /// read, not verified: it came from Treezor's token endpoint over mutual TLS, and only
    /// names whose data the token may read, which Treezor checks itself.
    pub(super) fn user_id(
        &self,
        token: &dyn TokenSource,
        endpoint: &str,
    ) -> Result<String, BankError> {
        user_id_of(&token.access_token()).ok_or_else(|| {
            self.client.bad_response(
                endpoint,
                "access_token".into(),
                "not a Treezor user token (no userId claim)".into(),
            )
        })
    }

    pub(super) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: String,
        query: Vec<(&'static str, String)>,
        token: &dyn TokenSource,
        gate: &dyn RetryGate,
    ) -> Result<(Option<T>, Vec<RawExchange>), BankError> {
        self.client
            .call(Call {
                method: awc::http::Method::GET,
                endpoint,
                path,
                query,
                body: None,
                token,
                proof: None,
                gate,
            })
            .await
    }

    fn mapped<T>(&self, endpoint: &str, got: Result<T, map::MapError>) -> Result<T, BankError> {
        got.map_err(|e| self.client.bad_response(endpoint, e.field, e.message))
    }

    async fn operations(
        &self,
        token: &dyn TokenSource,
        wallet: &str,
        range: DateRange,
        gate: &dyn RetryGate,
        exchanges: &mut Vec<RawExchange>,
    ) -> Result<Vec<wire::Operation>, BankError> {
        const ENDPOINT: &str = "GET /core-connect/operations";
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("walletId", wallet.to_owned()), ("pageSize", "100".into())];
            if let Some(from) = range.from {
                query.push(("dateFrom", rfc3339(from, self.bank.time_zone)));
            }
            if let Some(to) = range.to {
                query.push(("dateTo", rfc3339(to, self.bank.time_zone)));
            }
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let (page, sent) = self
                .get::<wire::Operations>(
                    ENDPOINT,
                    "/core-connect/operations".into(),
                    query,
                    token,
                    gate,
                )
                .await?;
            exchanges.extend(sent);
            let Some(page) = page else { return Ok(out) };
            let done = page.operations.is_empty();
            out.extend(page.operations);
            match page.cursor.and_then(|c| c.next).filter(|n| !n.is_empty()) {
                Some(next) if !done && cursor.as_deref() != Some(next.as_str()) => {
                    cursor = Some(next);
                }
                _ => return Ok(out),
            }
        }
        Err(self.client.bad_response(
            ENDPOINT,
            "cursor".into(),
            format!("more than {MAX_PAGES} pages"),
        ))
    }

    async fn card_steps(
        &self,
        token: &dyn TokenSource,
        wallet: &str,
        range: DateRange,
        gate: &dyn RetryGate,
        exchanges: &mut Vec<RawExchange>,
    ) -> Result<Vec<wire::CardTransaction>, BankError> {
        const ENDPOINT: &str = "GET /v1/cardtransactions";
        let tz = self.bank.time_zone;
        let wall =
            |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut query = vec![
                ("walletId", wallet.to_owned()),
                ("pageNumber", page.to_string()),
                ("pageCount", "100".into()),
            ];
            if let Some(from) = range.from {
                query.push(("createdDateFrom", wall(from)));
            }
            if let Some(to) = range.to {
                query.push(("createdDateTo", wall(to)));
            }
            let (answer, sent) = self
                .get::<wire::CardTransactions>(
                    ENDPOINT,
                    "/v1/cardtransactions".into(),
                    query,
                    token,
                    gate,
                )
                .await?;
            exchanges.extend(sent);
            let Some(answer) = answer else { return Ok(out) };
            let empty = answer.cardtransactions.is_empty();
            out.extend(answer.cardtransactions);
            let total = answer
                .meta
                .as_ref()
                .and_then(|m| m.total_pages)
                .unwrap_or(1);
            if empty || u32::try_from(page).unwrap_or(u32::MAX) >= total {
                return Ok(out);
            }
        }
        Err(self.client.bad_response(
            ENDPOINT,
            "meta.totalPages".into(),
            format!("more than {MAX_PAGES} pages"),
        ))
    }
}

/// An instant as RFC 3339 in the provider's zone (`2024-02-16T14:37:04+01:00`), as Treezor
/// writes its own core-connect dates.
pub fn rfc3339(t: chrono::DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// The `userId` (else `sub`) claim of a Treezor JWT, unverified.
pub fn user_id_of(token: &SecretString) -> Option<String> {
    use base64::Engine as _;
    let payload = token.expose_secret().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    claims
        .get("userId")
        .and_then(text)
        .or_else(|| claims.get("sub").and_then(text))
}

impl ReadAccounts for TreezorConnector {
    fn accounts_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        _psu: Option<&'a PsuContext>,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Account>>, BankError>> {
        async move {
            const ENDPOINT: &str = "GET /v1/wallets";
            let user = self.user_id(token, ENDPOINT)?;
            let (wallets, exchanges) = self
                .get::<wire::Wallets>(
                    ENDPOINT,
                    "/v1/wallets".into(),
                    vec![("userId", user)],
                    token,
                    gate,
                )
                .await?;
            let wallets = wallets.map(|w| w.wallets).unwrap_or_default();
            let value = self.mapped(ENDPOINT, map::accounts(&wallets))?;
            Ok(BankResponse { value, exchanges })
        }
        .boxed_local()
    }

    fn balances_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        _psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Balance>>, BankError>> {
        async move {
            const ENDPOINT: &str = "GET /v1/balances";
            let query = vec![("walletId", account.as_str().to_owned())];
            let (answer, exchanges) = self
                .get::<wire::Balances>(ENDPOINT, "/v1/balances".into(), query, token, gate)
                .await?;
            let list = answer.map(|a| a.balances).unwrap_or_default();
            let Some((i, entry)) = list
                .iter()
                .enumerate()
                .find(|(_, b)| b.wallet_id.0 == account.as_str())
            else {
                return Err(self.client.bad_response(
                    ENDPOINT,
                    "balances".into(),
                    format!("no entry for wallet {}", account.as_str()),
                ));
            };
            let value = self.mapped(
                ENDPOINT,
                map::balances(entry, self.bank.time_zone, &format!("balances[{i}]")),
            )?;
            Ok(BankResponse { value, exchanges })
        }
        .boxed_local()
    }

    fn transactions_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        _psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        range: DateRange,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Transaction>>, BankError>> {
        async move {
            let tz = self.bank.time_zone;
            let mut exchanges = Vec::new();
            let wallet = account.as_str();
            let ops = match self
                .operations(token, wallet, range, gate, &mut exchanges)
                .await
            {
                Ok(ops) => ops,
                // The route is not in Treezor's documentation: where a program does not serve
                // it, the monthly statements (documented, per session) give the history.
                Err(e) if matches!(e.kind, BankErrorKind::NotFound { .. }) => {
                    self.statement_operations(token, wallet, range, gate, &mut exchanges)
                        .await?
                }
                Err(e) => return Err(e),
            };
            let steps = self
                .card_steps(token, wallet, range, gate, &mut exchanges)
                .await?;
            let mut value =
                self.mapped("GET /core-connect/operations", map::operations(&ops, tz))?;
            value.extend(self.mapped("GET /v1/cardtransactions", map::card_payments(&steps, tz))?);
            Ok(BankResponse { value, exchanges })
        }
        .boxed_local()
    }
}

impl GrantAccess for TreezorConnector {
    fn start(&self, redirect_uri: &Url, _scopes: &[&str], state: &str) -> ScaRequest {
        // Treezor's own scopes, whatever Passerelle's roles (`aisp`, `cbpii`) ask.
        ScaRequest::oauth_redirect(
            self.oauth
                .authorize_url(redirect_uri, &self.scopes(), state),
        )
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
        _token: &'a dyn TokenSource,
        _psu: Option<&'a PsuContext>,
        _choice: &'a AccessChoice,
    ) -> LocalBoxFuture<'a, Result<Answer<BankResponse<()>>, BankError>> {
        // Treezor keeps no consent object: the user's token sees all their wallets, and what
        // they chose to share is Passerelle's to enforce (the sync reads only those wallets).
        async {
            Ok(Answer::Done(BankResponse {
                value: (),
                exchanges: Vec::new(),
            }))
        }
        .boxed_local()
    }

    fn revoke<'a>(
        &'a self,
        refresh_token: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<(), OAuthError>> {
        async move {
            if self
                .bank
                .endpoints(crate::bank::factory::environment(&self.bank))
                .oauth
                .as_ref()
                .is_some_and(|o| o.revoke.is_some())
            {
                return self.oauth.revoke_refresh_token(refresh_token).await;
            }
            // Treezor documents no revocation: the refresh token dies a month after the login,
            // and Passerelle has already forgotten it.
            Ok(())
        }
        .boxed_local()
    }
}

impl Connector for TreezorConnector {
    fn bank(&self) -> &Bank {
        &self.bank
    }

    fn sca_policy(&self) -> ScaFreshnessPolicy {
        let exempt = Freshness::Within(Duration::days(EXEMPTION_DAYS));
        let session = Freshness::Within(Duration::minutes(SESSION_MINUTES));
        ScaFreshnessPolicy::new([
            // Seed 000, "per-session operations with 180 days exemption".
            (ScaAction::Balances, exempt),
            (ScaAction::RecentTransactions, exempt),
            // "Per-session operations": /v1/wallets, account details, statements, operations
            // older than 90 days, a transfer to one's own wallet.
            (ScaAction::AccountDetails, session),
            (ScaAction::OlderHistory, session),
            (ScaAction::OwnAccountTransfer, session),
            // "Individual operations".
            (ScaAction::ThirdPartyPayment, Freshness::EveryTime),
            (ScaAction::GrantAccess, Freshness::EveryTime),
        ])
    }

    fn unattended_policy(&self) -> UnattendedAccessPolicy {
        UnattendedAccessPolicy {
            // Treezor sets no daily count of unattended reads; its SCA rules are the limit.
            calls_per_day: None,
            time_zone: self.bank.time_zone,
            counts_account_list: false,
        }
    }

    fn history_days(&self) -> u32 {
        RECENT_DAYS
    }

    fn session_history_days(&self) -> Option<u32> {
        Some(SESSION_HISTORY_DAYS)
    }

    fn account_list_needs_session(&self) -> bool {
        true
    }

    fn accounts(&self) -> &dyn ReadAccounts {
        self
    }

    fn access(&self) -> &dyn GrantAccess {
        self
    }

    fn webhooks(&self) -> Option<&dyn ProviderWebhooks> {
        self.webhooks.as_ref().map(|w| w as &dyn ProviderWebhooks)
    }

    fn payments(&self) -> Option<&dyn InitiatePayments> {
        None
    }

    fn sca_sessions(&self) -> Option<&dyn crate::bank::sessions::ScaSessions> {
        Some(self)
    }

    fn device_payments(&self) -> Option<&dyn crate::bank::device_payments::DevicePayments> {
        Some(self)
    }
}

impl std::fmt::Debug for TreezorConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreezorConnector")
            .field("bank", &self.bank.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_user_is_read_from_the_token_claims() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = |claims: &str| {
            SecretString::from(format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims)))
        };
        assert_eq!(
            user_id_of(&token(r#"{"userId":100218468,"sub":"x"}"#)).as_deref(),
            Some("100218468")
        );
        assert_eq!(user_id_of(&token(r#"{"sub":"42"}"#)).as_deref(), Some("42"));
        assert_eq!(user_id_of(&token(r#"{"clientId":"p"}"#)), None);
        assert_eq!(user_id_of(&SecretString::from("opaque".to_owned())), None);
    }

    #[test]
    fn core_connect_dates_carry_the_paris_offset() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-02-16T13:37:04Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            rfc3339(t, chrono_tz::Europe::Paris),
            "2024-02-16T14:37:04+01:00"
        );
    }
}
