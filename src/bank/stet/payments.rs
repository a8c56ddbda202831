//! STET payment initiation (PISP): the domain's [`PaymentOrder`] as a `PaymentRequestResource`,
//! the `consentApproval` link as a `redirect` SCA, the ISO 20022 status as a
//! [`BankPaymentStatus`], the confirmation with the user's token (`o-confirmation`) or the TPP's.

use chrono_tz::Tz;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use serde_json::json;

use super::connector::StetConnector;
use super::wire::pis::{ConfirmationResource, HalPaymentRequest, PaymentRequestResource};
use crate::bank::connector::{Answer, ScaRequest};
use crate::bank::payments::{InitiatePayments, InitiatedPayment, PaymentError};
use crate::bank::{BankResponse, FixedToken, PsuContext, TokenSource};
use crate::model::{BankPaymentStatus, BankResourceId, PaymentOrder, ScaKind};

/// The request body for `order`, created in the bank's time zone `tz`.
pub fn payment_request(
    order: &PaymentOrder,
    tz: Tz,
) -> Result<PaymentRequestResource, PaymentError> {
    let created = order
        .created_at
        .with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    let mut body = json!({
        "paymentInformationId": order.instruction_id,
        "creationDateTime": created,
        "numberOfTransactions": 1,
        "initiatingParty": {"name": "Passerelle"},
        "paymentTypeInformation": {"serviceLevel": "SEPA", "categoryPurpose": "DVPM"},
        "beneficiary": {
            "creditor": {"name": order.creditor_name},
            "creditorAccount": {"iban": order.creditor.as_str()}
        },
        "chargeBearer": "SLEV",
        "creditTransferTransaction": [{
            "paymentId": {
                "instructionId": order.instruction_id,
                "endToEndId": order.end_to_end_id
            },
            "instructedAmount": {
                "currency": order.amount.currency.as_str(),
                "amount": order.amount.to_decimal().to_string()
            },
            "remittanceInformation": order.remittance.iter().collect::<Vec<_>>()
        }],
        "supplementaryData": {
            "acceptedAuthenticationApproach": ["REDIRECT"],
            "successfulReportUrl": order.return_ok.as_str(),
            "unsuccessfulReportUrl": order.return_ko.as_str()
        }
    });
    if let Some(debtor) = &order.debtor {
        body["debtorAccount"] = json!({"iban": debtor.as_str()});
    }
    if order.instant {
        body["paymentTypeInformation"]["localInstrument"] = json!("INST");
    }
    if let Some(date) = order.requested_execution_date {
        // A calendar day at the bank: its midnight, in its own time zone.
        let at = date
            .and_hms_opt(0, 0, 0)
            .and_then(|midnight| midnight.and_local_timezone(tz).earliest())
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string())
            .ok_or(PaymentError::Unusable("requestedExecutionDate"))?;
        body["requestedExecutionDate"] = json!(at);
    }
    serde_json::from_value(body).map_err(PaymentError::Order)
}

/// The status a payment request answer carries, with its reason.
fn status_of(answer: &Option<HalPaymentRequest>) -> Result<BankPaymentStatus, PaymentError> {
    let request = answer.as_ref().map(|a| &a.payment_request);
    let reason = request
        .and_then(|r| r.status_reason_information.as_ref())
        .map(|r| r.as_str());
    request
        .and_then(|r| r.payment_information_status.as_ref())
        .and_then(|s| BankPaymentStatus::from_iso20022(s.as_str(), reason))
        .ok_or(PaymentError::Unusable("paymentInformationStatus"))
}

impl StetConnector {
    /// A client-credentials token with the `pisp` scope: payments are the TPP's own calls.
    async fn pisp_token(&self) -> Result<FixedToken, PaymentError> {
        let tokens = self.oauth().client_credentials(&["pisp"]).await?;
        Ok(FixedToken(tokens.access_token))
    }
}

impl InitiatePayments for StetConnector {
    fn initiate<'a>(
        &'a self,
        psu: Option<&'a PsuContext>,
        order: &'a PaymentOrder,
    ) -> LocalBoxFuture<'a, Result<BankResponse<InitiatedPayment>, PaymentError>> {
        async move {
            let request = payment_request(order, self.bank_profile().time_zone)?;
            let token = self.pisp_token().await?;
            let created = self
                .client()
                .post_payment_request(&token, psu, &request)
                .await?;
            let id = created
                .value
                .location
                .as_deref()
                .and_then(|l| l.rsplit('/').next())
                .filter(|id| !id.is_empty())
                .ok_or(PaymentError::Unusable("location"))?;
            let next = match created.value.creation.links.consent_approval {
                Some(link) => Answer::Sca(ScaRequest {
                    kind: ScaKind::Redirect {
                        url: Some(link.href),
                    },
                    state: None,
                    pkce_verifier: None,
                }),
                None => Answer::Done(
                    BankPaymentStatus::from_iso20022("RCVD", None)
                        .ok_or(PaymentError::Unusable("paymentInformationStatus"))?,
                ),
            };
            Ok(BankResponse {
                value: InitiatedPayment {
                    id: BankResourceId(id.to_owned()),
                    next,
                },
                exchanges: created.exchanges,
            })
        }
        .boxed_local()
    }

    fn status<'a>(
        &'a self,
        psu: Option<&'a PsuContext>,
        id: &'a BankResourceId,
    ) -> LocalBoxFuture<'a, Result<BankResponse<BankPaymentStatus>, PaymentError>> {
        async move {
            let token = self.pisp_token().await?;
            let answer = self.client().get_payment_request(&token, psu, id).await?;
            Ok(BankResponse {
                value: status_of(&answer.value)?,
                exchanges: answer.exchanges,
            })
        }
        .boxed_local()
    }

    fn confirm<'a>(
        &'a self,
        psu: Option<&'a PsuContext>,
        id: &'a BankResourceId,
        user_token: Option<&'a dyn TokenSource>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<BankPaymentStatus>, PaymentError>> {
        async move {
            let answer = match user_token {
                Some(token) => self.client().post_o_confirmation(token, psu, id).await?,
                None => {
                    let token = self.pisp_token().await?;
                    let confirmation = ConfirmationResource::default();
                    self.client()
                        .post_confirmation(&token, psu, id, &confirmation)
                        .await?
                }
            };
            Ok(BankResponse {
                value: status_of(&answer.value)?,
                exchanges: answer.exchanges,
            })
        }
        .boxed_local()
    }
}
