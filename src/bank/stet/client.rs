//! The STET HTTP client: every AIS, PIS and CBPII call of STET 1.4.2, signed and sent over
//! the bank's mutual-TLS client, with one refresh-and-replay on an expired token.

use std::sync::Arc;

use awc::http::Method;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::map;
use super::request::{self, path_segment, StetRequest};
use super::wire::ais::{
    Access, EndUserIdentity, HalAccounts, HalBalances, HalBeneficiaries, HalPaymentCoverageReport,
    HalTransactions, PaymentCoverageRequestResource,
};
use super::wire::pis::{
    ConfirmationResource, HalPaymentRequest, HalPaymentRequestCreation, PaymentRequestResource,
};
use crate::bank::{
    BankError, BankErrorDetails, BankErrorKind, BankResponse, Connector, DateRange, PsuContext,
    RawExchange, TokenSource,
};
use crate::httpsig::Signer;
use crate::model::{Account, Balance, BankResourceId, Transaction};
use crate::registry::{Bank, BankId, Endpoints, Environment, SignatureProfile};
use crate::tls::client::{BankHttpClient, RawResponse, TransportError};

/// The answer to `POST /payment-requests`: the body and the `location` of the new resource.
#[derive(Debug, Clone)]
pub struct PaymentCreated {
    /// `HalPaymentRequestCreation` (`consentApproval` link for the PSU).
    pub creation: HalPaymentRequestCreation,
    /// The `location` header, when sent.
    pub location: Option<String>,
}

/// A STET client for one bank and environment.
#[derive(Debug, Clone)]
pub struct StetClient {
    bank: BankId,
    time_zone: Tz,
    api: Endpoints,
    profile: SignatureProfile,
    http: BankHttpClient,
    signer: Arc<Signer>,
}

/// One call: method, endpoint template (for errors and the vault), path and body.
struct Call<'a> {
    method: Method,
    endpoint: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Bytes,
    token: &'a dyn TokenSource,
    psu: Option<&'a PsuContext>,
}

impl StetClient {
    /// A client for `bank`'s `environment`, sending through `http` and signing with `signer`
    /// (built from the QSEAL key and the profile's keyId format).
    pub fn new(
        bank: &Bank,
        environment: Environment,
        http: BankHttpClient,
        signer: Arc<Signer>,
    ) -> Self {
        Self {
            bank: bank.id.clone(),
            time_zone: bank.time_zone,
            api: bank.endpoints(environment).clone(),
            profile: bank.signature.clone(),
            http,
            signer,
        }
    }

    /// The bank's id.
    pub fn bank_id(&self) -> &BankId {
        &self.bank
    }

    fn error(&self, endpoint: &str, request_id: &str, kind: BankErrorKind) -> BankError {
        BankError::from(BankErrorDetails {
            bank: self.bank.clone(),
            endpoint: endpoint.to_owned(),
            request_id: request_id.to_owned(),
            status: None,
            raw_body: None,
            kind,
        })
    }

    /// Sends once with `token`; the raw answer, or a transport/build error.
    async fn send_once(
        &self,
        call: &Call<'_>,
        token: &secrecy::SecretString,
    ) -> Result<(RawResponse, RawExchange), BankError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let fail = |kind| self.error(call.endpoint, &request_id, kind);
        let mut url: Url = self
            .api
            .api_url(&call.path)
            .map_err(|e| fail(BankErrorKind::Request(format!("bad URL: {e}"))))?;
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let outbound = request::build(
            StetRequest {
                method: call.method.clone(),
                url,
                body: call.body.clone(),
                token,
                psu: call.psu,
                request_id: &request_id,
                date: Utc::now(),
            },
            &self.profile,
            &self.signer,
        )
        .map_err(fail)?;
        let raw = self.http.send(outbound).await.map_err(|e| {
            fail(match e {
                TransportError::BodyTooLarge { limit } => BankErrorKind::TooLarge { limit },
                other => BankErrorKind::Unavailable {
                    status: None,
                    reason: other.to_string(),
                },
            })
        })?;
        let exchange = RawExchange {
            endpoint: call.endpoint.to_owned(),
            request_id: request_id.clone(),
            status: raw.status.as_u16(),
            body: raw.body.clone(),
            received_at: Utc::now(),
        };
        Ok((raw, exchange))
    }

    /// Sends, refreshes once and replays once on 401 `invalid_token`, and reads the answer.
    async fn call<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<(Option<T>, RawResponse, Vec<RawExchange>), BankError> {
        let mut exchanges = Vec::with_capacity(1);
        let (mut raw, mut exchange) = self.send_once(&call, &call.token.access_token()).await?;
        if !raw.status.is_success() {
            if let BankErrorKind::Unauthorized {
                invalid_token: true,
            } = request::failure(&raw)
            {
                let request_id = exchange.request_id.clone();
                exchanges.push(exchange);
                let token = call.token.refresh().await.map_err(|e| {
                    let mut err = self.error(
                        call.endpoint,
                        &request_id,
                        BankErrorKind::Refresh(e.to_string()),
                    );
                    err.status = Some(raw.status.as_u16());
                    err.raw_body = Some(raw.body.clone());
                    err
                })?;
                (raw, exchange) = self.send_once(&call, &token).await?;
            }
        }
        let request_id = exchange.request_id.clone();
        exchanges.push(exchange);
        let result = if raw.status.is_success() {
            request::success(&raw)
        } else {
            Err(request::failure(&raw))
        };
        match result {
            Ok(value) => Ok((value, raw, exchanges)),
            Err(kind) => {
                let mut err = self.error(call.endpoint, &request_id, kind);
                err.status = Some(raw.status.as_u16());
                err.raw_body = Some(raw.body);
                Err(err)
            }
        }
    }

    fn json<B: Serialize>(&self, endpoint: &str, body: &B) -> Result<Bytes, BankError> {
        serde_json::to_vec(body).map(Bytes::from).map_err(|e| {
            self.error(
                endpoint,
                "-",
                BankErrorKind::Request(format!("cannot encode: {e}")),
            )
        })
    }

    /// A call whose answer is a resource (`None` on 204 or an empty body).
    async fn get<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<BankResponse<Option<T>>, BankError> {
        let (value, _, exchanges) = self.call(call).await?;
        Ok(BankResponse { value, exchanges })
    }

    /// `GET /accounts`.
    pub async fn get_accounts(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
    ) -> Result<BankResponse<Option<HalAccounts>>, BankError> {
        self.get(Call {
            method: Method::GET,
            endpoint: "GET /accounts",
            path: "/accounts".into(),
            query: Vec::new(),
            body: Bytes::new(),
            token,
            psu,
        })
        .await
    }

    /// `GET /accounts/{accountResourceId}/balances`.
    pub async fn get_balances(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        account: &BankResourceId,
    ) -> Result<BankResponse<Option<HalBalances>>, BankError> {
        self.get(Call {
            method: Method::GET,
            endpoint: "GET /accounts/{id}/balances",
            path: format!("/accounts/{}/balances", path_segment(account.as_str())),
            query: Vec::new(),
            body: Bytes::new(),
            token,
            psu,
        })
        .await
    }

    /// `GET /accounts/{accountResourceId}/transactions?dateFrom&dateTo` (from inclusive, to
    /// exclusive).
    pub async fn get_transactions(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        account: &BankResourceId,
        range: DateRange,
    ) -> Result<BankResponse<Option<HalTransactions>>, BankError> {
        let mut query = Vec::new();
        if let Some(from) = range.from {
            query.push(("dateFrom", stet_date_time(from)));
        }
        if let Some(to) = range.to {
            query.push(("dateTo", stet_date_time(to)));
        }
        self.get(Call {
            method: Method::GET,
            endpoint: "GET /accounts/{id}/transactions",
            path: format!("/accounts/{}/transactions", path_segment(account.as_str())),
            query,
            body: Bytes::new(),
            token,
            psu,
        })
        .await
    }

    /// `PUT /consents`: replaces the PSU's whole consent; 200 or 201, body ignored.
    pub async fn put_consents(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        access: &Access,
    ) -> Result<BankResponse<()>, BankError> {
        let endpoint = "PUT /consents";
        let body = self.json(endpoint, access)?;
        let (_, _, exchanges) = self
            .call::<serde::de::IgnoredAny>(Call {
                method: Method::PUT,
                endpoint,
                path: "/consents".into(),
                query: Vec::new(),
                body,
                token,
                psu,
            })
            .await?;
        Ok(BankResponse {
            value: (),
            exchanges,
        })
    }

    /// `GET /end-user-identity` (the bank requires `PSU-IP-Address`: pass the PSU context).
    pub async fn get_end_user_identity(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
    ) -> Result<BankResponse<Option<EndUserIdentity>>, BankError> {
        self.get(Call {
            method: Method::GET,
            endpoint: "GET /end-user-identity",
            path: "/end-user-identity".into(),
            query: Vec::new(),
            body: Bytes::new(),
            token,
            psu,
        })
        .await
    }

    /// `GET /trusted-beneficiaries`.
    pub async fn get_trusted_beneficiaries(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
    ) -> Result<BankResponse<Option<HalBeneficiaries>>, BankError> {
        self.get(Call {
            method: Method::GET,
            endpoint: "GET /trusted-beneficiaries",
            path: "/trusted-beneficiaries".into(),
            query: Vec::new(),
            body: Bytes::new(),
            token,
            psu,
        })
        .await
    }

    /// `POST /funds-confirmations` (CBPII).
    pub async fn post_funds_confirmation(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        request: &PaymentCoverageRequestResource,
    ) -> Result<BankResponse<Option<HalPaymentCoverageReport>>, BankError> {
        let endpoint = "POST /funds-confirmations";
        // The body is the `PaymentCoverageRequestResource` itself (the spec's `paymentCoverage`
        // body parameter is a `$ref` to it), not wrapped in an object: a wrapped body is refused
        // for lacking `paymentCoverageRequestId`, as the sandbox showed.
        let body = self.json(endpoint, request)?;
        self.get(Call {
            method: Method::POST,
            endpoint,
            path: "/funds-confirmations".into(),
            query: Vec::new(),
            body,
            token,
            psu,
        })
        .await
    }

    /// `POST /payment-requests` (PISP): 201 with the SCA link and a `location` header.
    pub async fn post_payment_request(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        payment: &PaymentRequestResource,
    ) -> Result<BankResponse<PaymentCreated>, BankError> {
        let endpoint = "POST /payment-requests";
        let body = self.json(endpoint, payment)?;
        let (value, raw, exchanges) = self
            .call::<HalPaymentRequestCreation>(Call {
                method: Method::POST,
                endpoint,
                path: "/payment-requests".into(),
                query: Vec::new(),
                body,
                token,
                psu,
            })
            .await?;
        let creation = value.ok_or_else(|| {
            let last = exchanges.last();
            let mut err = self.error(
                endpoint,
                last.map_or("-", |e| e.request_id.as_str()),
                BankErrorKind::BadResponse {
                    field: ".".into(),
                    message: "empty answer to a payment creation".into(),
                },
            );
            err.status = Some(raw.status.as_u16());
            err.raw_body = Some(raw.body.clone());
            err
        })?;
        Ok(BankResponse {
            value: PaymentCreated {
                creation,
                location: raw.header("location").map(str::to_owned),
            },
            exchanges,
        })
    }

    /// `GET /payment-requests/{id}`.
    pub async fn get_payment_request(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        id: &BankResourceId,
    ) -> Result<BankResponse<Option<HalPaymentRequest>>, BankError> {
        self.get(Call {
            method: Method::GET,
            endpoint: "GET /payment-requests/{id}",
            path: format!("/payment-requests/{}", path_segment(id.as_str())),
            query: Vec::new(),
            body: Bytes::new(),
            token,
            psu,
        })
        .await
    }

    /// `PUT /payment-requests/{id}` (cancellation or modification).
    pub async fn put_payment_request(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        id: &BankResourceId,
        payment: &PaymentRequestResource,
    ) -> Result<BankResponse<Option<HalPaymentRequest>>, BankError> {
        let endpoint = "PUT /payment-requests/{id}";
        let body = self.json(endpoint, payment)?;
        self.get(Call {
            method: Method::PUT,
            endpoint,
            path: format!("/payment-requests/{}", path_segment(id.as_str())),
            query: Vec::new(),
            body,
            token,
            psu,
        })
        .await
    }

    /// `POST /payment-requests/{id}/confirmation`.
    pub async fn post_confirmation(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        id: &BankResourceId,
        confirmation: &ConfirmationResource,
    ) -> Result<BankResponse<Option<HalPaymentRequest>>, BankError> {
        let endpoint = "POST /payment-requests/{id}/confirmation";
        let body = self.json(endpoint, confirmation)?;
        self.get(Call {
            method: Method::POST,
            endpoint,
            path: format!(
                "/payment-requests/{}/confirmation",
                path_segment(id.as_str())
            ),
            query: Vec::new(),
            body,
            token,
            psu,
        })
        .await
    }

    /// `POST /payment-requests/{id}/o-confirmation` (STET 1.4.2; body `{}`): the bank waits
    /// for it before executing.
    pub async fn post_o_confirmation(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        id: &BankResourceId,
    ) -> Result<BankResponse<Option<HalPaymentRequest>>, BankError> {
        self.get(Call {
            method: Method::POST,
            endpoint: "POST /payment-requests/{id}/o-confirmation",
            path: format!(
                "/payment-requests/{}/o-confirmation",
                path_segment(id.as_str())
            ),
            query: Vec::new(),
            body: Bytes::from_static(b"{}"),
            token,
            psu,
        })
        .await
    }

    /// Normalizes a response with `map`, turning a failure into a `BadResponse` on the last
    /// exchange (whose body is kept).
    fn normalize<W, M>(
        &self,
        response: BankResponse<Option<W>>,
        endpoint: &str,
        map: impl FnOnce(&W, Tz) -> Result<Vec<M>, map::MapError>,
    ) -> Result<BankResponse<Vec<M>>, BankError> {
        let value = match &response.value {
            None => Vec::new(),
            Some(wire) => map(wire, self.time_zone).map_err(|e| {
                let last = response.exchanges.last();
                let mut err = self.error(
                    endpoint,
                    last.map_or("-", |x| x.request_id.as_str()),
                    BankErrorKind::BadResponse {
                        field: e.field,
                        message: e.message,
                    },
                );
                err.status = last.map(|x| x.status);
                err.raw_body = last.map(|x| x.body.clone());
                err
            })?,
        };
        Ok(BankResponse {
            value,
            exchanges: response.exchanges,
        })
    }
}

/// `dateFrom`/`dateTo` as BPCE documents them: `YYYY-MM-DDTHH:MM:SS.SSSZ`.
fn stet_date_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Connector for StetClient {
    fn accounts<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Account>>, BankError>> {
        async move {
            let response = self.get_accounts(token, psu).await?;
            self.normalize(response, "GET /accounts", map::accounts)
        }
        .boxed_local()
    }

    fn balances<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Balance>>, BankError>> {
        async move {
            let response = self.get_balances(token, psu, account).await?;
            self.normalize(response, "GET /accounts/{id}/balances", map::balances)
        }
        .boxed_local()
    }

    fn transactions<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        range: DateRange,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Transaction>>, BankError>> {
        async move {
            let response = self.get_transactions(token, psu, account, range).await?;
            self.normalize(
                response,
                "GET /accounts/{id}/transactions",
                map::transactions,
            )
        }
        .boxed_local()
    }
}
