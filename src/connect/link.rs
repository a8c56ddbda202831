//! The connect link: the journey's `redirect` SCA challenge. Its random token travels only in
//! the URL given to the app (a bearer: never stored in clear, never logged); its hash is stored
//! as a `connect_link` secret that is also the challenge `GET /v1/sca/{id}` shows.

use chrono::{Duration, NaiveDateTime};
use url::Url;

use super::{random_token, token_hash};
use crate::model::{ScaAction, ScaKindName};
use crate::store::models::ScaChallengeRow;
use crate::store::{sca_challenges, DbConnection, StoreError};

/// How long a connect link stays usable.
pub const CONNECT_LINK_TTL_MINUTES: i64 = 60;

/// Why a link could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No randomness.
    #[error("no random bytes for a connect link")]
    Random(#[from] openssl::error::ErrorStack),
    /// The public URL cannot carry the link.
    #[error("the public URL cannot carry a connect link")]
    Url(#[from] url::ParseError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for LinkError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(e))
    }
}

/// A link just issued: the only time its URL exists in clear.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    /// The challenge's id (`GET /v1/sca/{id}`).
    pub challenge_id: String,
    /// Where the app sends its user.
    pub url: Url,
    /// When it was issued.
    pub created_at: NaiveDateTime,
    /// When it stops working.
    pub expires_at: NaiveDateTime,
}

/// Issues a connect link for `connection_id`, a `redirect` challenge for `action`.
pub fn issue(
    conn: &mut DbConnection,
    public_url: &Url,
    connection_id: &str,
    action: ScaAction,
    now: NaiveDateTime,
) -> Result<IssuedLink, LinkError> {
    let token = random_token()?;
    let expires_at = now + Duration::minutes(CONNECT_LINK_TTL_MINUTES);
    let mut row = ScaChallengeRow::secret(
        "connect_link",
        connection_id,
        token_hash(&token),
        now,
        expires_at,
    );
    row.kind = Some(ScaKindName::Redirect.as_str().to_owned());
    row.action = Some(action.as_str().to_owned());
    let url = public_url.join(&format!("connect/{token}"))?;
    sca_challenges::insert(conn, &row)?;
    Ok(IssuedLink {
        challenge_id: row.id,
        url,
        created_at: now,
        expires_at,
    })
}
