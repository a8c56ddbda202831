//! The GoCardless-compatible API's rows: secret pairs, their tokens (found by hash), agreements
//! and requisitions, each scoped to its API client.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    gocardless_agreements, gocardless_requisitions, gocardless_secrets, gocardless_tokens,
};
use super::DbConnection;

/// A GoCardless-compatible secret pair of an API client (the key hashed).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = gocardless_secrets)]
pub struct GocardlessSecretRow {
    pub id: String,
    pub api_client_id: String,
    pub secret_key_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A token a secret pair got (`access` or `refresh`), by its SHA-256.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = gocardless_tokens)]
pub struct GocardlessTokenRow {
    pub token_hash: String,
    pub secret_id: String,
    pub kind: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// An end-user agreement, as the app asked for it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = gocardless_agreements)]
pub struct GocardlessAgreementRow {
    pub id: String,
    pub api_client_id: String,
    pub institution_id: String,
    pub max_historical_days: i32,
    pub access_valid_for_days: i32,
    /// JSON array of the scopes.
    pub access_scope: String,
    pub created_at: NaiveDateTime,
}

/// A requisition: one connection, under GoCardless's name.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = gocardless_requisitions)]
pub struct GocardlessRequisitionRow {
    pub id: String,
    pub api_client_id: String,
    pub connection_id: String,
    pub institution_id: String,
    pub agreement_id: Option<String>,
    pub redirect: String,
    pub reference: String,
    pub user_language: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Stores a new secret pair.
pub fn insert_secret(conn: &mut DbConnection, row: &GocardlessSecretRow) -> QueryResult<()> {
    diesel::insert_into(gocardless_secrets::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// A live (not revoked) secret pair.
pub fn live_secret(conn: &mut DbConnection, id: &str) -> QueryResult<Option<GocardlessSecretRow>> {
    gocardless_secrets::table
        .find(id)
        .filter(gocardless_secrets::revoked_at.is_null())
        .select(GocardlessSecretRow::as_select())
        .first(conn)
        .optional()
}

/// Revokes an API client's secret pair (its tokens stop working at once).
pub fn revoke_secret(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        gocardless_secrets::table
            .find(id)
            .filter(gocardless_secrets::api_client_id.eq(api_client_id)),
    )
    .set(gocardless_secrets::revoked_at.eq(Some(at)))
    .execute(conn)
}

/// Stores a token.
pub fn insert_token(conn: &mut DbConnection, row: &GocardlessTokenRow) -> QueryResult<()> {
    diesel::insert_into(gocardless_tokens::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The live secret pair behind a `kind` token with this hash, unexpired at `at`.
pub fn secret_of_token(
    conn: &mut DbConnection,
    token_hash: &str,
    kind: &str,
    at: NaiveDateTime,
) -> QueryResult<Option<GocardlessSecretRow>> {
    gocardless_tokens::table
        .inner_join(gocardless_secrets::table)
        .filter(gocardless_tokens::token_hash.eq(token_hash))
        .filter(gocardless_tokens::kind.eq(kind))
        .filter(gocardless_tokens::expires_at.gt(at))
        .filter(gocardless_secrets::revoked_at.is_null())
        .select(GocardlessSecretRow::as_select())
        .first(conn)
        .optional()
}

/// Deletes the tokens that expired before `before`.
pub fn prune_tokens(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(gocardless_tokens::table.filter(gocardless_tokens::expires_at.lt(before)))
        .execute(conn)
}

/// Stores an agreement.
pub fn insert_agreement(conn: &mut DbConnection, row: &GocardlessAgreementRow) -> QueryResult<()> {
    diesel::insert_into(gocardless_agreements::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// An API client's agreement.
pub fn agreement(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
) -> QueryResult<Option<GocardlessAgreementRow>> {
    gocardless_agreements::table
        .find(id)
        .filter(gocardless_agreements::api_client_id.eq(api_client_id))
        .select(GocardlessAgreementRow::as_select())
        .first(conn)
        .optional()
}

/// Stores a requisition.
pub fn insert_requisition(
    conn: &mut DbConnection,
    row: &GocardlessRequisitionRow,
) -> QueryResult<()> {
    diesel::insert_into(gocardless_requisitions::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// An API client's requisition.
pub fn requisition(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
) -> QueryResult<Option<GocardlessRequisitionRow>> {
    gocardless_requisitions::table
        .find(id)
        .filter(gocardless_requisitions::api_client_id.eq(api_client_id))
        .select(GocardlessRequisitionRow::as_select())
        .first(conn)
        .optional()
}

/// An API client's requisitions, newest first.
pub fn requisitions(
    conn: &mut DbConnection,
    api_client_id: &str,
) -> QueryResult<Vec<GocardlessRequisitionRow>> {
    gocardless_requisitions::table
        .filter(gocardless_requisitions::api_client_id.eq(api_client_id))
        .order((
            gocardless_requisitions::created_at.desc(),
            gocardless_requisitions::id.desc(),
        ))
        .select(GocardlessRequisitionRow::as_select())
        .load(conn)
}

/// Deletes a requisition (its connection is revoked by the caller).
pub fn delete_requisition(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(gocardless_requisitions::table.find(id)).execute(conn)
}

/// The agreement of the requisition behind `connection_id`, if it has one.
pub fn agreement_of_connection(
    conn: &mut DbConnection,
    connection_id: &str,
) -> QueryResult<Option<GocardlessAgreementRow>> {
    gocardless_requisitions::table
        .inner_join(
            gocardless_agreements::table
                .on(gocardless_requisitions::agreement_id.eq(gocardless_agreements::id.nullable())),
        )
        .filter(gocardless_requisitions::connection_id.eq(connection_id))
        .select(GocardlessAgreementRow::as_select())
        .first(conn)
        .optional()
}
