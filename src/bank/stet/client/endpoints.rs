//! Every STET 1.4.2 call the client makes, and the [`ReadAccounts`] over them: the AIS reads are
//! GETs retried through a [`RetryGate`]; `PUT /consents`, payment requests and their
//! confirmations, and funds confirmations are sent once.

use awc::http::Method;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;

use super::super::map;
use super::super::request::path_segment;
use super::super::wire::ais::{
    Access, EndUserIdentity, HalAccounts, HalBalances, HalBeneficiaries, HalPaymentCoverageReport,
    HalTransactions, PaymentCoverageRequestResource,
};
use super::super::wire::pis::{
    ConfirmationResource, HalPaymentRequest, HalPaymentRequestCreation, PaymentRequestResource,
};
use super::{Call, PaymentCreated, StetClient};
use crate::bank::retry::{default_gate, FreeRetries, RetryGate};
use crate::bank::{
    BankError, BankErrorKind, BankResponse, DateRange, PsuContext, ReadAccounts, TokenSource,
};
use crate::model::{Account, Balance, BankResourceId, Transaction};

impl StetClient {
    /// A call whose answer is a resource (`None` on 204 or an empty body).
    async fn get<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<BankResponse<Option<T>>, BankError> {
        let (value, _, exchanges) = self.call(call).await?;
        Ok(BankResponse { value, exchanges })
    }

    /// `GET /accounts`, retried through [`default_gate`].
    pub async fn get_accounts(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
    ) -> Result<BankResponse<Option<HalAccounts>>, BankError> {
        self.get_accounts_gated(token, psu, default_gate(psu)).await
    }

    /// `GET /accounts`, each retry allowed by `gate`.
    pub async fn get_accounts_gated(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        gate: &dyn RetryGate,
    ) -> Result<BankResponse<Option<HalAccounts>>, BankError> {
        let path = "/accounts".into();
        self.get(Call::read("GET /accounts", path, token, psu, gate))
            .await
    }

    /// `GET /accounts/{accountResourceId}/balances`, retried through [`default_gate`].
    pub async fn get_balances(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        account: &BankResourceId,
    ) -> Result<BankResponse<Option<HalBalances>>, BankError> {
        self.get_balances_gated(token, psu, account, default_gate(psu))
            .await
    }

    /// `GET /accounts/{accountResourceId}/balances`, each retry allowed by `gate`.
    pub async fn get_balances_gated(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        account: &BankResourceId,
        gate: &dyn RetryGate,
    ) -> Result<BankResponse<Option<HalBalances>>, BankError> {
        let path = format!("/accounts/{}/balances", path_segment(account.as_str()));
        let endpoint = "GET /accounts/{id}/balances";
        self.get(Call::read(endpoint, path, token, psu, gate)).await
    }

    /// `GET /accounts/{accountResourceId}/transactions?dateFrom&dateTo` (from inclusive, to
    /// exclusive), retried through [`default_gate`].
    pub async fn get_transactions(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        account: &BankResourceId,
        range: DateRange,
    ) -> Result<BankResponse<Option<HalTransactions>>, BankError> {
        self.get_transactions_gated(token, psu, account, range, default_gate(psu))
            .await
    }

    /// `GET /accounts/{accountResourceId}/transactions?dateFrom&dateTo`, each retry allowed by
    /// `gate`.
    pub async fn get_transactions_gated(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        account: &BankResourceId,
        range: DateRange,
        gate: &dyn RetryGate,
    ) -> Result<BankResponse<Option<HalTransactions>>, BankError> {
        let path = format!("/accounts/{}/transactions", path_segment(account.as_str()));
        let endpoint = "GET /accounts/{id}/transactions";
        let mut call = Call::read(endpoint, path, token, psu, gate);
        if let Some(from) = range.from {
            call.query.push(("dateFrom", stet_date_time(from)));
        }
        if let Some(to) = range.to {
            call.query.push(("dateTo", stet_date_time(to)));
        }
        self.get(call).await
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
        let path = "/consents".into();
        let call = Call::write(Method::PUT, endpoint, path, body, token, psu);
        let (_, _, exchanges) = self.call::<serde::de::IgnoredAny>(call).await?;
        Ok(BankResponse {
            value: (),
            exchanges,
        })
    }

    /// `GET /end-user-identity` (the bank requires `PSU-IP-Address`: pass the PSU context),
    /// retried through [`default_gate`].
    pub async fn get_end_user_identity(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
    ) -> Result<BankResponse<Option<EndUserIdentity>>, BankError> {
        let path = "/end-user-identity".into();
        let gate = default_gate(psu);
        self.get(Call::read("GET /end-user-identity", path, token, psu, gate))
            .await
    }

    /// `GET /trusted-beneficiaries`, retried through [`default_gate`].
    pub async fn get_trusted_beneficiaries(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
    ) -> Result<BankResponse<Option<HalBeneficiaries>>, BankError> {
        let path = "/trusted-beneficiaries".into();
        let (endpoint, gate) = ("GET /trusted-beneficiaries", default_gate(psu));
        self.get(Call::read(endpoint, path, token, psu, gate)).await
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
        let path = "/funds-confirmations".into();
        self.get(Call::write(Method::POST, endpoint, path, body, token, psu))
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
        let path = "/payment-requests".into();
        let call = Call::write(Method::POST, endpoint, path, body, token, psu);
        let (value, raw, exchanges) = self.call::<HalPaymentRequestCreation>(call).await?;
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

    /// `GET /payment-requests/{id}`. Its retries are free even without the PSU: the banks'
    /// batch limit counts AIS calls, and no ledger spends anything for this one.
    pub async fn get_payment_request(
        &self,
        token: &dyn TokenSource,
        psu: Option<&PsuContext>,
        id: &BankResourceId,
    ) -> Result<BankResponse<Option<HalPaymentRequest>>, BankError> {
        let path = format!("/payment-requests/{}", path_segment(id.as_str()));
        let endpoint = "GET /payment-requests/{id}";
        self.get(Call::read(endpoint, path, token, psu, &FreeRetries))
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
        let path = format!("/payment-requests/{}", path_segment(id.as_str()));
        self.get(Call::write(Method::PUT, endpoint, path, body, token, psu))
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
        let id = path_segment(id.as_str());
        let path = format!("/payment-requests/{id}/confirmation");
        self.get(Call::write(Method::POST, endpoint, path, body, token, psu))
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
        let endpoint = "POST /payment-requests/{id}/o-confirmation";
        let id = path_segment(id.as_str());
        let path = format!("/payment-requests/{id}/o-confirmation");
        let body = Bytes::from_static(b"{}");
        self.get(Call::write(Method::POST, endpoint, path, body, token, psu))
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

impl ReadAccounts for StetClient {
    fn accounts_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Account>>, BankError>> {
        async move {
            let response = self.get_accounts_gated(token, psu, gate).await?;
            self.normalize(response, "GET /accounts", map::accounts)
        }
        .boxed_local()
    }

    fn balances_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Balance>>, BankError>> {
        async move {
            let response = self.get_balances_gated(token, psu, account, gate).await?;
            self.normalize(response, "GET /accounts/{id}/balances", map::balances)
        }
        .boxed_local()
    }

    fn transactions_gated<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        account: &'a BankResourceId,
        range: DateRange,
        gate: &'a dyn RetryGate,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Transaction>>, BankError>> {
        async move {
            let response = self
                .get_transactions_gated(token, psu, account, range, gate)
                .await?;
            self.normalize(
                response,
                "GET /accounts/{id}/transactions",
                map::transactions,
            )
        }
        .boxed_local()
    }
}
