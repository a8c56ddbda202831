//! Ready-made [`TokenSource`]s.

use std::cell::RefCell;

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use secrecy::{ExposeSecret, SecretString};

use super::TokenSource;
use crate::oauth::{OAuthClient, OAuthError, Refreshed};

/// A token that cannot be refreshed (client credentials, probes, tests): a 401 stays a 401.
#[derive(Debug, Clone)]
pub struct FixedToken(pub SecretString);

impl TokenSource for FixedToken {
    fn access_token(&self) -> SecretString {
        self.0.clone()
    }

    fn refresh(&self) -> LocalBoxFuture<'_, Result<SecretString, OAuthError>> {
        async {
            Err(OAuthError::NotRefreshable(
                "this access token cannot be refreshed",
            ))
        }
        .boxed_local()
    }
}

/// An access/refresh pair refreshed through the bank's OAuth client; `persist` is called with
/// every refresh result **before** the new tokens are used, so the caller can seal and store a
/// rotated refresh token first. If `persist` fails, the new tokens are not used.
pub struct RefreshingToken<'o, P> {
    oauth: &'o OAuthClient,
    access: RefCell<SecretString>,
    refresh: RefCell<SecretString>,
    persist: P,
}

impl<'o, P> RefreshingToken<'o, P>
where
    P: Fn(&Refreshed) -> Result<(), String>,
{
    /// Starts from the stored pair.
    pub fn new(
        oauth: &'o OAuthClient,
        access: SecretString,
        refresh: SecretString,
        persist: P,
    ) -> Self {
        Self {
            oauth,
            access: RefCell::new(access),
            refresh: RefCell::new(refresh),
            persist,
        }
    }
}

impl<P> TokenSource for RefreshingToken<'_, P>
where
    P: Fn(&Refreshed) -> Result<(), String>,
{
    fn access_token(&self) -> SecretString {
        self.access.borrow().clone()
    }

    fn refresh(&self) -> LocalBoxFuture<'_, Result<SecretString, OAuthError>> {
        async move {
            let current = self.refresh.borrow().clone();
            let refreshed = self.oauth.refresh(&current).await?;
            (self.persist)(&refreshed).map_err(|e| OAuthError::Store {
                what: "persisting the new tokens",
                source: e.into(),
            })?;
            let access = refreshed.tokens.access_token.clone();
            if let Some(new) = refreshed.tokens.refresh_token {
                *self.refresh.borrow_mut() = new;
            }
            *self.access.borrow_mut() = access.clone();
            debug_assert!(!access.expose_secret().is_empty());
            Ok(access)
        }
        .boxed_local()
    }
}
