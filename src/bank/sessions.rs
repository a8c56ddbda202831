//! SCA sessions opened with a proof the user's device signed, and the declarations a provider
//! wants of the actions such a proof secured (Treezor's External Operations, seed 000).
//!
//! A provider whose per-session reads (Treezor: the wallets list, operations older than 90
//! days) need "a session opened with SCA" can have that session opened by a proof instead of
//! a new login: Passerelle hands the app the data to sign ([`SessionChallenge`]), the user's
//! device (the provider's SDK) signs it, and the proof is presented once. Because that SCA
//! happened outside the provider's own services, each action Passerelle then performs under it
//! is declared ([`Declaration`]) within the provider's delay.

use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use secrecy::SecretString;

use super::{BankError, BankResponse, TokenSource};
use crate::model::Account;

/// What the user's device must sign to open a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChallenge {
    /// The data to sign, exactly as the provider's SDK takes it (Treezor: the JSON
    /// `{"iat": ms, "url": …, "body": {}}` of the call that opens the session).
    pub data: String,
}

/// An action secured by a proof, as the provider names it (Treezor's `actionName`s, seed 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecuredAction {
    /// `externalGetBalance`: a wallet's balance (180-day exemption).
    GetBalance,
    /// `externalOperationView90Days`: the last 90 days of operations (180-day exemption).
    OperationView90Days,
    /// `externalOperationView`: operations older than 90 days (per session).
    OperationView,
    /// `externalDisplayAccountDetails`: a wallet's details (per session).
    DisplayAccountDetails,
    /// `externalGetStatement`: a month's statement (per session).
    GetStatement,
}

impl SecuredAction {
    /// The provider's name for it.
    pub fn action_name(self) -> &'static str {
        match self {
            Self::GetBalance => "externalGetBalance",
            Self::OperationView90Days => "externalOperationView90Days",
            Self::OperationView => "externalOperationView",
            Self::DisplayAccountDetails => "externalDisplayAccountDetails",
            Self::GetStatement => "externalGetStatement",
        }
    }
}

/// One declaration: what was done, under which proof, when, on what.
#[derive(Debug, Clone)]
pub struct Declaration {
    /// The action.
    pub action: SecuredAction,
    /// The proof that secured it.
    pub proof: SecretString,
    /// When it was performed.
    pub action_date: DateTime<Utc>,
    /// The objects it was about (Treezor: wallet ids).
    pub resource_ids: Vec<String>,
}

/// What the provider recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The provider's id for the declaration.
    pub id: String,
    /// The provider's note after scoring it (Treezor's `externalOperationNote`), when it
    /// found an issue; Passerelle logs any note as an error.
    pub note: Option<String>,
}

/// Where an approval asked in the user's app stands (Treezor's `scaOperations`).
#[derive(Debug, Clone)]
pub enum Approval {
    /// Not answered yet.
    Pending,
    /// Approved: the proof the provider made of it.
    Approved(SecretString),
    /// Refused by the user.
    Refused,
    /// Not answered in time.
    Expired,
}

/// Opening SCA sessions with a proof, and declaring what they secured.
pub trait ScaSessions {
    /// Asks the user to approve the session in the provider's app on their phone
    /// (cross-device: Treezor's `scaOperations`); returns the provider's reference to poll.
    fn request_approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        now: DateTime<Utc>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<String>, BankError>>;

    /// Where the approval `reference` stands.
    fn approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        reference: &'a str,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Approval>, BankError>>;

    /// What the user's device must sign to open a session for `token`'s user.
    fn session_challenge(
        &self,
        token: &dyn TokenSource,
        now: DateTime<Utc>,
    ) -> Result<SessionChallenge, BankError>;

    /// Opens the session with `proof` (the provider counts `token`'s session as opened with
    /// SCA from then on) and returns the accounts it lists, now readable in that session.
    fn open_session<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        proof: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Account>>, BankError>>;

    /// Declares an action `proof` secured; a note in the answer is logged as an error.
    fn declare<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        declaration: &'a Declaration,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Declared>, BankError>>;
}
