//! Bank connections: one user at one bank, its status, consent lifetime and refresh lease.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::ConnectionRow;
use super::schema::{connections, users};
use super::{now, DbConnection};
use crate::model::ConnectionStatus;

/// Stores a new connection.
pub fn insert(conn: &mut DbConnection, row: &ConnectionRow) -> QueryResult<()> {
    diesel::insert_into(connections::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The connection with this id, whoever owns it (for internal callers only).
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ConnectionRow>> {
    connections::table
        .find(id)
        .select(ConnectionRow::as_select())
        .first(conn)
        .optional()
}

/// The user a connection belongs to.
pub fn user_of(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    connections::table
        .find(id)
        .select(connections::user_id)
        .first(conn)
        .optional()
}

/// The API client a connection belongs to (through its user).
pub fn api_client_of(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    connections::table
        .inner_join(users::table)
        .filter(connections::id.eq(id))
        .select(users::api_client_id)
        .first(conn)
        .optional()
}

/// The connection with this id if it belongs to `api_client_id`; another tenant's connection is
/// indistinguishable from a missing one.
pub fn find_for_client(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
) -> QueryResult<Option<ConnectionRow>> {
    connections::table
        .inner_join(users::table)
        .filter(connections::id.eq(id))
        .filter(users::api_client_id.eq(api_client_id))
        .select(ConnectionRow::as_select())
        .first(conn)
        .optional()
}

/// A user's connections, oldest first.
pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<ConnectionRow>> {
    connections::table
        .filter(connections::user_id.eq(user_id))
        .order((connections::created_at.asc(), connections::id.asc()))
        .select(ConnectionRow::as_select())
        .load(conn)
}

/// Every named state change of a connection; each becomes one changeset.
#[derive(Debug, Clone)]
pub enum ConnectionUpdate {
    /// The PSU passed SCA and the tokens are stored.
    Authorized {
        /// When the SCA happened.
        sca_at: NaiveDateTime,
        /// SCA + 180 days.
        consent_expires_at: NaiveDateTime,
        /// Scopes the bank granted, space-separated.
        scopes: String,
        /// SHA-256 of the journey cookie of the browser that passed the SCA.
        browser_hash: Option<String>,
        /// How the PSU authenticated (RFC 8176 `amr`, space-separated).
        amr: String,
    },
    /// The PSU passed an SCA outside a journey (a device proof): the SCA time and methods
    /// change, nothing else; no browser passed it.
    ScaPassed {
        /// When.
        sca_at: NaiveDateTime,
        /// How (RFC 8176 `amr` or the provider's method, space-separated).
        amr: String,
    },
    /// The consent is in force and data can be read.
    Activated,
    /// The bank refused the refresh token; the PSU must pass SCA again.
    ReauthRequired,
    /// The connection was revoked by the app or the PSU.
    Revoked,
    /// Something failed; `code` is the stable error code shown to the app.
    Failed {
        /// Stable error code.
        code: String,
    },
    /// A sync finished.
    Synced {
        /// When it finished.
        at: NaiveDateTime,
    },
}

#[derive(AsChangeset)]
#[diesel(table_name = connections)]
struct ConnectionChangeset {
    status: Option<String>,
    scopes: Option<String>,
    sca_at: Option<Option<NaiveDateTime>>,
    consent_expires_at: Option<Option<NaiveDateTime>>,
    last_synced_at: Option<Option<NaiveDateTime>>,
    error_code: Option<Option<String>>,
    sca_browser_hash: Option<Option<String>>,
    sca_amr: Option<Option<String>>,
    updated_at: NaiveDateTime,
}

impl From<ConnectionUpdate> for ConnectionChangeset {
    fn from(update: ConnectionUpdate) -> Self {
        let mut set = ConnectionChangeset {
            status: None,
            scopes: None,
            sca_at: None,
            consent_expires_at: None,
            last_synced_at: None,
            error_code: None,
            sca_browser_hash: None,
            sca_amr: None,
            updated_at: now(),
        };
        match update {
            ConnectionUpdate::Authorized {
                sca_at,
                consent_expires_at,
                scopes,
                browser_hash,
                amr,
            } => {
                set.sca_at = Some(Some(sca_at));
                set.sca_amr = Some(Some(amr));
                set.sca_browser_hash = Some(browser_hash);
                set.consent_expires_at = Some(Some(consent_expires_at));
                set.scopes = Some(scopes);
                set.error_code = Some(None);
            }
            ConnectionUpdate::ScaPassed { sca_at, amr } => {
                set.sca_at = Some(Some(sca_at));
                set.sca_amr = Some(Some(amr));
                set.sca_browser_hash = Some(None);
            }
            ConnectionUpdate::Activated => {
                set.status = Some(ConnectionStatus::Active.as_str().into());
                set.error_code = Some(None);
            }
            ConnectionUpdate::ReauthRequired => {
                set.status = Some(ConnectionStatus::ReauthRequired.as_str().into())
            }
            ConnectionUpdate::Revoked => {
                set.status = Some(ConnectionStatus::Revoked.as_str().into())
            }
            ConnectionUpdate::Failed { code } => {
                set.status = Some(ConnectionStatus::Error.as_str().into());
                set.error_code = Some(Some(code));
            }
            ConnectionUpdate::Synced { at } => set.last_synced_at = Some(Some(at)),
        }
        set
    }
}

/// Applies one named change to a connection; returns the rows touched (0 if it is gone).
pub fn update(conn: &mut DbConnection, id: &str, change: ConnectionUpdate) -> QueryResult<usize> {
    diesel::update(connections::table.find(id))
        .set(ConnectionChangeset::from(change))
        .execute(conn)
}

/// Takes the connection's refresh lease for `owner` until `until`, unless someone else holds a
/// live one. The single conditional UPDATE makes it atomic on both backends, so two workers never
/// spend the same refresh token.
pub fn try_acquire_lease(
    conn: &mut DbConnection,
    id: &str,
    owner: &str,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let at = now();
    let taken = diesel::update(
        connections::table.find(id).filter(
            connections::lease_until
                .is_null()
                .or(connections::lease_until.lt(at))
                .or(connections::lease_owner.eq(owner)),
        ),
    )
    .set((
        connections::lease_owner.eq(Some(owner)),
        connections::lease_until.eq(Some(until)),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives the lease back, if `owner` still holds it.
pub fn release_lease(conn: &mut DbConnection, id: &str, owner: &str) -> QueryResult<()> {
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::lease_owner.eq(owner)),
    )
    .set((
        connections::lease_owner.eq(None::<String>),
        connections::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
    .map(drop)
}

/// Marks `reauth_required` every `active` connection whose consent ended at or before `at`, and
/// returns them as they now are. One conditional UPDATE: two processes sweeping at once never
/// both take the same connection (PostgreSQL re-checks the condition after the row lock; SQLite
/// has one writer), so the caller audits each expiry once.
pub fn expire_due(conn: &mut DbConnection, at: NaiveDateTime) -> QueryResult<Vec<ConnectionRow>> {
    let due = connections::status
        .eq(ConnectionStatus::Active.as_str())
        .and(connections::consent_expires_at.le(at));
    let set = (
        connections::status.eq(ConnectionStatus::ReauthRequired.as_str()),
        connections::updated_at.eq(now()),
    );
    // RETURNING exists on both backends, but the multi-backend query builder does not offer it.
    match conn {
        DbConnection::Sqlite(c) => diesel::update(connections::table.filter(due))
            .set(set)
            .returning(ConnectionRow::as_returning())
            .get_results(c),
        DbConnection::Pg(c) => diesel::update(connections::table.filter(due))
            .set(set)
            .returning(ConnectionRow::as_returning())
            .get_results(c),
    }
}

/// Fails every `pending` connection whose journey was interrupted after the SCA (the process
/// died between the consent and the first sync's commit, or the browser never came back): the
/// SCA is older than `stale_before` and no link, state or form of it is still live. They turn
/// `error` with `journey_interrupted`, so the app learns the user must start again instead of
/// waiting on `pending` forever. Returns their ids.
pub fn fail_interrupted_journeys(
    conn: &mut DbConnection,
    at: NaiveDateTime,
    stale_before: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    use super::schema::sca_challenges;
    let live = sca_challenges::table
        .filter(sca_challenges::connection_id.eq(connections::id.nullable()))
        .filter(sca_challenges::consumed_at.is_null())
        .filter(sca_challenges::expires_at.gt(at));
    let due = connections::status
        .eq(ConnectionStatus::Pending.as_str())
        .and(connections::sca_at.le(stale_before))
        .and(diesel::dsl::not(diesel::dsl::exists(live)));
    let set = (
        connections::status.eq(ConnectionStatus::Error.as_str()),
        connections::error_code.eq(Some("journey_interrupted")),
        connections::updated_at.eq(now()),
    );
    match conn {
        DbConnection::Sqlite(c) => diesel::update(connections::table.filter(due))
            .set(set)
            .returning(connections::id)
            .get_results(c),
        DbConnection::Pg(c) => diesel::update(connections::table.filter(due))
            .set(set)
            .returning(connections::id)
            .get_results(c),
    }
}
