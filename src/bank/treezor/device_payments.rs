//! Treezor's payments as [`DevicePayments`]: a transfer when the creditor is another of the
//! user's own wallets, else a SEPA payout to a beneficiary — added first (its own signed
//! operation) unless the user already has one with exactly that IBAN. Treezor lists
//! beneficiaries with their IBAN masked (001:8525), so in practice one is added for each
//! payout: a look-alike (same first and last characters) is never paid. Each operation carries its
//! per-operation proof (seed 000); a proof presented on the call itself is Treezor's own SCA,
//! so nothing is declared as an External Operation.

use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::client::Call;
use super::connector::TreezorConnector;
use super::payments::TreezorOrder;
use super::wire::Id;
use crate::bank::device_payments::{
    DeviceOrder, DevicePayments, PaymentStep, PlanError, StepOutcome, StepPurpose,
};
use crate::bank::retry::FreeRetries;
use crate::bank::sessions::{Approval, ScaSessions};
use crate::bank::{BankError, BankResponse, PaymentError, TokenSource};
use crate::model::{BankPaymentStatus, Iban, Money};

/// The longest label Passerelle sends (the remittance the creditor reads, SEPA's 140).
const LABEL_MAX: usize = 140;

/// A step as kept between two requests: the order Treezor is sent, and — for a beneficiary —
/// the payout waiting for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Operation {
    order: TreezorOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    then: Option<Payout>,
}

/// A payout waiting for its beneficiary.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Payout {
    wallet_id: String,
    amount: Money,
    label: String,
    end_to_end_id: String,
}

impl Payout {
    fn to(self, beneficiary_id: String) -> TreezorOrder {
        TreezorOrder::Payout {
            wallet_id: self.wallet_id,
            beneficiary_id,
            amount: self.amount,
            label: self.label,
            end_to_end_id: self.end_to_end_id,
        }
    }
}

impl Operation {
    fn only(order: TreezorOrder) -> Self {
        Self { order, then: None }
    }

    /// Treezor's `actionName` for the approval asked in its app (seed 001:12090).
    fn action(&self) -> (&'static str, &'static str) {
        match self.order {
            TreezorOrder::Transfer { .. } => ("postTransfers", "Transfer between your wallets"),
            TreezorOrder::Beneficiary { .. } => ("postBeneficiaries", "Add a beneficiary"),
            TreezorOrder::Payout { .. } => ("postPayouts", "Send a SEPA transfer"),
        }
    }

    fn step(&self) -> Result<PaymentStep, PaymentError> {
        let purpose = match self.order {
            TreezorOrder::Beneficiary { .. } => StepPurpose::AddBeneficiary,
            _ => StepPurpose::Pay,
        };
        Ok(PaymentStep {
            purpose,
            operation: serde_json::to_value(self).map_err(PaymentError::Order)?,
        })
    }

    fn of(step: &PaymentStep) -> Result<Self, PaymentError> {
        serde_json::from_value(step.operation.clone()).map_err(PaymentError::Order)
    }
}

#[derive(Deserialize)]
struct Beneficiaries {
    #[serde(default)]
    beneficiaries: Vec<Beneficiary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Beneficiary {
    id: Id,
    #[serde(default)]
    iban: String,
    #[serde(default)]
    usable_for_sct: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Transfers {
    #[serde(default)]
    transfers: Vec<TransferItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransferItem {
    transfer_status: String,
}

impl TreezorConnector {
    /// The user's beneficiary usable for SEPA with `iban`, if any (`GET /v1/beneficiaries`).
    async fn beneficiary_for(
        &self,
        token: &dyn TokenSource,
        user_id: &str,
        iban: &Iban,
    ) -> Result<Option<String>, BankError> {
        let (answer, _) = self
            .client()
            .call::<Beneficiaries>(Call {
                method: awc::http::Method::GET,
                endpoint: "GET /v1/beneficiaries",
                path: "/v1/beneficiaries".into(),
                query: vec![("userId", user_id.to_owned())],
                body: None,
                token,
                proof: None,
                gate: &FreeRetries,
            })
            .await?;
        Ok(answer
            .into_iter()
            .flat_map(|a| a.beneficiaries)
            .find_map(|b| {
                (Iban::new(&b.iban) == *iban && b.usable_for_sct != Some(false)).then_some(b.id.0)
            }))
    }
}

impl DevicePayments for TreezorConnector {
    fn plan<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        order: DeviceOrder<'a>,
    ) -> LocalBoxFuture<'a, Result<PaymentStep, PlanError>> {
        async move {
            let o = order.order;
            let label: String = o
                .remittance
                .clone()
                .unwrap_or_else(|| o.end_to_end_id.clone())
                .chars()
                .take(LABEL_MAX)
                .collect();
            let own = order
                .own_accounts
                .iter()
                .find(|(iban, id)| *iban == o.creditor && id != order.debtor);
            if let Some((_, wallet)) = own {
                return Ok(Operation::only(TreezorOrder::Transfer {
                    wallet_id: order.debtor.to_owned(),
                    beneficiary_wallet_id: wallet.clone(),
                    amount: o.amount,
                    label,
                })
                .step()?);
            }
            let payout = Payout {
                wallet_id: order.debtor.to_owned(),
                amount: o.amount,
                label,
                end_to_end_id: o.end_to_end_id.clone(),
            };
            let user = self
                .user_id(token, "GET /v1/beneficiaries")
                .map_err(PaymentError::from)?;
            let known = self
                .beneficiary_for(token, &user, &o.creditor)
                .await
                .map_err(PaymentError::from)?;
            if let Some(beneficiary_id) = known {
                return Ok(Operation::only(payout.to(beneficiary_id)).step()?);
            }
            let Some(bic) = order.creditor_bic else {
                return Err(PlanError::Missing {
                    field: "creditor_bic",
                    message: "Treezor pays a new creditor only once they are a beneficiary, \
                              which needs their BIC"
                        .into(),
                });
            };
            let beneficiary = TreezorOrder::Beneficiary {
                user_id: user,
                name: o.creditor_name.clone(),
                iban: o.creditor.clone(),
                bic: bic.to_owned(),
            };
            Ok(Operation {
                order: beneficiary,
                then: Some(payout),
            }
            .step()?)
        }
        .boxed_local()
    }

    fn data_to_sign(&self, step: &PaymentStep, now: DateTime<Utc>) -> Result<String, PaymentError> {
        let signable = self.signable(&Operation::of(step)?.order)?;
        Ok(signable.data_to_sign(now))
    }

    fn request_approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        step: &'a PaymentStep,
        now: DateTime<Utc>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<String>, PaymentError>> {
        async move {
            let operation = Operation::of(step)?;
            let data = self.signable(&operation.order)?.data_to_sign(now);
            let (name, description) = operation.action();
            Ok(self.queue_approval(token, &data, name, description).await?)
        }
        .boxed_local()
    }

    fn approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        reference: &'a str,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Approval>, PaymentError>> {
        async move { Ok(ScaSessions::approval(self, token, reference).await?) }.boxed_local()
    }

    fn send<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        step: &'a PaymentStep,
        proof: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<BankResponse<StepOutcome>, PaymentError>> {
        async move {
            let operation = Operation::of(step)?;
            let signable = self.signable(&operation.order)?;
            let sent = self.send_signed(token, &signable, proof).await?;
            let value = match (operation.order, operation.then) {
                (TreezorOrder::Beneficiary { .. }, Some(then)) => {
                    StepOutcome::Next(Operation::only(then.to(sent.value.id)).step()?)
                }
                (TreezorOrder::Beneficiary { .. }, None) => {
                    return Err(PaymentError::Unusable("payout after the beneficiary"))
                }
                (TreezorOrder::Transfer { .. }, _) => StepOutcome::Paid {
                    id: format!("transfer:{}", sent.value.id),
                    status: sent.value.status,
                },
                (TreezorOrder::Payout { .. }, _) => StepOutcome::Paid {
                    id: format!("payout:{}", sent.value.id),
                    status: sent.value.status,
                },
            };
            Ok(BankResponse {
                value,
                exchanges: sent.exchanges,
            })
        }
        .boxed_local()
    }

    fn status<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        id: &'a str,
    ) -> LocalBoxFuture<'a, Result<BankResponse<BankPaymentStatus>, PaymentError>> {
        async move {
            match id.split_once(':') {
                Some(("payout", id)) => Ok(self.payout_status(token, id).await?),
                Some(("transfer", id)) => Ok(self
                    .status_of::<Transfers>(token, "GET /v1/transfers/{id}", "transfers", id, |a| {
                        a.transfers.into_iter().next().map(|t| t.transfer_status)
                    })
                    .await?),
                _ => Err(PaymentError::Unusable("Treezor payment reference")),
            }
        }
        .boxed_local()
    }
}
