//! STET funds confirmation (CBPII): `POST /funds-confirmations` with the PSU's token.

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;

use super::connector::StetConnector;
use super::wire::ais::PaymentCoverageRequestResource;
use crate::bank::funds::ConfirmFunds;
use crate::bank::{
    BankError, BankErrorDetails, BankErrorKind, BankResponse, PsuContext, TokenSource,
};
use crate::model::{Iban, Money};

impl ConfirmFunds for StetConnector {
    fn confirm_funds<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        iban: &'a Iban,
        amount: &'a Money,
    ) -> LocalBoxFuture<'a, Result<BankResponse<bool>, BankError>> {
        async move {
            let request: PaymentCoverageRequestResource =
                serde_json::from_value(serde_json::json!({
                    "paymentCoverageRequestId": format!("PAS{}", uuid::Uuid::new_v4().simple()),
                    "instructedAmount": {
                        "currency": amount.currency.as_str(),
                        "amount": amount.to_decimal().to_string(),
                    },
                    "accountId": {"iban": iban.as_str()},
                }))
                .map_err(|e| self.request_error(e.to_string()))?;
            let answer = self
                .client()
                .post_funds_confirmation(token, psu, &request)
                .await?;
            let result = answer
                .value
                .map(|report| report.result)
                .ok_or_else(|| self.request_error("an empty funds confirmation answer".into()))?;
            Ok(BankResponse {
                value: result,
                exchanges: answer.exchanges,
            })
        }
        .boxed_local()
    }
}

impl StetConnector {
    fn request_error(&self, message: String) -> BankError {
        BankError::from(BankErrorDetails {
            bank: self.bank_profile().id.clone(),
            endpoint: "POST /funds-confirmations".into(),
            request_id: "-".into(),
            status: None,
            raw_body: None,
            retry_after: None,
            kind: BankErrorKind::BadResponse {
                field: ".".into(),
                message,
            },
        })
    }
}
