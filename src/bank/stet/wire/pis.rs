//! PIS resources: payment requests, their creation answer, confirmation.

use serde::{Deserialize, Serialize};

use super::{
    open_enum, AccountIdentification, AmountType, Beneficiary, FinancialInstitutionIdentification,
    Link, PartyIdentification, RemittanceInformation, StetDate,
};

open_enum! {
    /// `AppliedAuthenticationApproach` (also the items of `acceptedAuthenticationApproach`).
    AuthenticationApproach { /// Redirect to the bank.
        Redirect = "REDIRECT", /// Decoupled (bank app).
        Decoupled = "DECOUPLED", /// Embedded.
        Embedded = "EMBEDDED" }
}

open_enum! {
    /// `PriorityCode`.
    PriorityCode { /// High.
        High = "HIGH", /// Normal.
        Norm = "NORM" }
}

open_enum! {
    /// `ServiceLevelCode`.
    ServiceLevelCode { /// SEPA.
        Sepa = "SEPA", /// Non-urgent (non-SEPA).
        Nurg = "NURG" }
}

open_enum! {
    /// `LocalInstrumentCode`.
    LocalInstrumentCode { /// SEPA instant.
        Inst = "INST" }
}

open_enum! {
    /// `CategoryPurposeCode`.
    CategoryPurposeCode { /// Cash management.
        Cash = "CASH", /// Delivery versus payment.
        Dvpm = "DVPM" }
}

open_enum! {
    /// `PurposeCode`.
    PurposeCode { /// Account management.
        Acct = "ACCT", /// Cash management.
        Cash = "CASH", /// Commercial.
        Comc = "COMC", /// Car park.
        Cpkc = "CPKC", /// Transport.
        Trpt = "TRPT" }
}

open_enum! {
    /// `ChargeBearerCode`.
    ChargeBearerCode { /// Following the service level.
        Slev = "SLEV" }
}

open_enum! {
    /// `PaymentInformationStatusCode`.
    PaymentInformationStatus {
        /// Accepted customer profile.
        Accp = "ACCP", /// Settlement completed.
        Acsc = "ACSC", /// Settlement in process.
        Acsp = "ACSP", /// Technical validation passed.
        Actc = "ACTC", /// Accepted with change.
        Acwc = "ACWC", /// Accepted without posting.
        Acwp = "ACWP", /// Partially accepted.
        Part = "PART", /// Received.
        Rcvd = "RCVD", /// Pending.
        Pdng = "PDNG", /// Rejected.
        Rjct = "RJCT" }
}

open_enum! {
    /// `TransactionIndividualStatusCode`.
    TransactionIndividualStatus { /// Rejected.
        Rjct = "RJCT", /// Pending.
        Pdng = "PDNG", /// Settlement in process.
        Acsp = "ACSP", /// Settlement completed.
        Acsc = "ACSC" }
}

open_enum! {
    /// `StatusReasonInformation`.
    StatusReason {
        /// Incorrect account number.
        Ac01 = "AC01", /// Closed account.
        Ac04 = "AC04", /// Blocked account.
        Ac06 = "AC06", /// Transaction forbidden.
        Ag01 = "AG01", /// Invalid execution date.
        Ch03 = "CH03", /// Customer decision.
        Cust = "CUST", /// Order cancelled.
        Ds02 = "DS02", /// Invalid file format.
        Ff01 = "FF01", /// Fraud.
        Frad = "FRAD", /// Not specified by the agent.
        Ms03 = "MS03", /// No answer from customer.
        Noas = "NOAS", /// Missing debtor account.
        Rr01 = "RR01", /// Missing creditor name or address.
        Rr03 = "RR03", /// Regulatory reason.
        Rr04 = "RR04", /// Invalid identification code.
        Rr12 = "RR12" }
}

open_enum! {
    /// `ExecutionRule`.
    ExecutionRule { /// Following.
        Fwng = "FWNG", /// Preceding.
        Prec = "PREC" }
}

open_enum! {
    /// `FrequencyCode`.
    FrequencyCode { /// Daily.
        Dail = "DAIL", /// Weekly.
        Week = "WEEK", /// Every two weeks.
        Towk = "TOWK", /// Monthly.
        Mnth = "MNTH", /// Every two months.
        Tomn = "TOMN", /// Quarterly.
        Qutr = "QUTR", /// Half-yearly.
        Semi = "SEMI", /// Yearly.
        Year = "YEAR" }
}

open_enum! {
    /// `scaHint`.
    ScaHint { /// SCA required.
        NoScaExemption = "noScaExemption", /// SCA exemption asked.
        ScaExemption = "scaExemption" }
}

/// `PaymentIdentification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentIdentification {
    /// The bank's id of the instruction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Instruction id shared by PISP and bank.
    pub instruction_id: String,
    /// End-to-end id shared by merchant and PSU.
    pub end_to_end_id: String,
}

/// `PaymentTypeInformation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentTypeInformation {
    /// Priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_priority: Option<PriorityCode>,
    /// Service level.
    pub service_level: ServiceLevelCode,
    /// `INST` for instant payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_instrument: Option<LocalInstrumentCode>,
    /// Category purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_purpose: Option<CategoryPurposeCode>,
}

/// `CreditTransferTransaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditTransferTransaction {
    /// Identifications (schema names `instructionId`/`endToEndId`, not the example's).
    pub payment_id: PaymentIdentification,
    /// Requested execution date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_execution_date: Option<StetDate>,
    /// End date of a standing order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<StetDate>,
    /// Standing order execution rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_rule: Option<ExecutionRule>,
    /// Standing order frequency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<FrequencyCode>,
    /// Amount.
    pub instructed_amount: AmountType,
    /// Creditor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<Beneficiary>,
    /// Ultimate creditor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ultimate_creditor: Option<PartyIdentification>,
    /// Regulatory reporting codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulatory_reporting_codes: Option<Vec<String>>,
    /// Remittance information.
    pub remittance_information: RemittanceInformation,
    /// Status of this instruction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_status: Option<TransactionIndividualStatus>,
    /// Reason of the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason_information: Option<StatusReason>,
}

/// `SupplementaryData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupplementaryData {
    /// Approaches the PISP accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_authentication_approach: Option<Vec<AuthenticationApproach>>,
    /// Approach the bank chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_authentication_approach: Option<AuthenticationApproach>,
    /// SCA exemption hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sca_hint: Option<ScaHint>,
    /// Where the bank sends the PSU after success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_report_url: Option<String>,
    /// Where the bank sends the PSU after failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsuccessful_report_url: Option<String>,
}

/// `PaymentRequestResource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequestResource {
    /// The bank's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The PISP's id.
    pub payment_information_id: String,
    /// Creation time.
    pub creation_date_time: StetDate,
    /// Number of instructions.
    pub number_of_transactions: i32,
    /// The PISP.
    pub initiating_party: PartyIdentification,
    /// Payment type.
    pub payment_type_information: PaymentTypeInformation,
    /// Debtor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debtor: Option<PartyIdentification>,
    /// Debtor account (optional at BPCE: the PSU picks it at the bank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debtor_account: Option<AccountIdentification>,
    /// Debtor's bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debtor_agent: Option<FinancialInstitutionIdentification>,
    /// Creditor for all instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<Beneficiary>,
    /// Ultimate creditor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ultimate_creditor: Option<PartyIdentification>,
    /// Purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<PurposeCode>,
    /// Charge bearer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_bearer: Option<ChargeBearerCode>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_information_status: Option<PaymentInformationStatus>,
    /// Reason of the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason_information: Option<StatusReason>,
    /// Funds availability, after confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funds_availability: Option<bool>,
    /// Booking information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<bool>,
    /// Requested execution date for all instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_execution_date: Option<StetDate>,
    /// The instructions.
    pub credit_transfer_transaction: Vec<CreditTransferTransaction>,
    /// Authentication preferences and report URLs.
    pub supplementary_data: SupplementaryData,
}

/// `PaymentRequestLinks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequestLinks {
    /// This resource.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// Confirmation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Link>,
}

/// `HalPaymentRequest`: `GET`/`PUT /payment-requests/{id}` and confirmation answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HalPaymentRequest {
    /// The payment request.
    pub payment_request: PaymentRequestResource,
    /// Links.
    #[serde(rename = "_links", default)]
    pub links: PaymentRequestLinks,
}

/// `PaymentRequestResourceCreationLinks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequestCreationLinks {
    /// Where to send the PSU for SCA (BPCE: `templated: null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_approval: Option<Link>,
}

/// `HalPaymentRequestCreation`: the 201 answer to `POST /payment-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HalPaymentRequestCreation {
    /// Approach the bank chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_authentication_approach: Option<AuthenticationApproach>,
    /// Links.
    #[serde(rename = "_links", default)]
    pub links: PaymentRequestCreationLinks,
}

/// `ConfirmationResource`: body of `POST …/confirmation` (`{}` for `o-confirmation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmationResource {
    /// Authentication factor (embedded approach); absent for redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_authentication_factor: Option<String>,
}
