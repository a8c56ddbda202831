//! The JSON API as a budgeting app calls it in tests: a client with one key, and a connected
//! account seeded straight into the store (no bank journey needed).

use chrono::NaiveDate;
use serde_json::{json, Value};

use passerelle::store::models::{AccountRow, BalanceRow, TransactionRow};
use passerelle::store::{self, accounts, balances, transactions};

use super::TestApp;

/// A budgeting app calling the API with one key.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub key: String,
    pub client: awc::Client,
}

impl<'a> Api<'a> {
    pub fn new(app: &'a TestApp, key: &str) -> Self {
        Self {
            app,
            key: key.to_owned(),
            client: awc::Client::default(),
        }
    }

    /// Calls `method path` with the key; the status and the body as JSON (null when empty).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, value) = self.call_typed(method, path, body).await;
        (status, value)
    }

    /// [`Api::call`], with the answer's content type.
    pub async fn call_typed(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let request = self
            .client
            .request(method.parse().unwrap(), self.app.url(path))
            .insert_header(("Authorization", format!("Bearer {}", self.key)));
        let mut response = match body {
            Some(body) => request.send_json(&body).await.unwrap(),
            None => request.send().await.unwrap(),
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("Content-Type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.body().limit(1 << 22).await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, content_type, value)
    }
}

/// A valid body for `POST /v1/users/{user_id}/connections`.
pub fn new_connection_body() -> Value {
    json!({"bank_id": "test-bcp", "redirect_url": "https://app.example/banks/done"})
}

/// Stores one account with a balance and 250 transactions under the connection; returns its id.
pub async fn seed_account(app: &TestApp, connection_id: &str) -> String {
    let connection_id = connection_id.to_owned();
    store::run(&app.state.pool, move |conn| {
        let t = store::now();
        let account = AccountRow {
            id: store::new_id(),
            connection_id,
            account_key: "FR7612579000920400430518020".into(),
            bank_resource_id: Some("125790009204004305180".into()),
            iban: Some("FR7612579000920400430518020".into()),
            iban_valid: false,
            name: "Compte de LEA".into(),
            currency: "EUR".into(),
            cash_account_type: "CACC".into(),
            usage: Some("PRIV".into()),
            product: None,
            status: "active".into(),
            created_at: t,
            updated_at: t,
            identification_scheme: Some("iban".into()),
            identification: Some("FR7612579000920400430518020".into()),
            linked_resource_id: None,
        };
        accounts::upsert(conn, &account)?;
        balances::upsert(
            conn,
            &BalanceRow {
                id: store::new_id(),
                account_id: account.id.clone(),
                balance_type: "booked".into(),
                name: Some("Solde comptable".into()),
                amount_minor: -15_000,
                currency: "EUR".into(),
                reference_date: None,
                as_of_day: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
                fetched_at: t,
            },
        )?;
        for n in 0..250i64 {
            let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(n / 3);
            transactions::upsert(
                conn,
                &TransactionRow {
                    id: store::new_id(),
                    account_id: account.id.clone(),
                    fingerprint: format!("fp-{n}"),
                    amount_minor: if n % 2 == 0 { -(n + 1) * 101 } else { n * 1000 },
                    currency: "EUR".into(),
                    status: if n >= 248 {
                        "pending".into()
                    } else {
                        "booked".into()
                    },
                    booking_date: (n < 248).then_some(day),
                    value_date: Some(day),
                    transaction_date: Some(day),
                    sort_date: day,
                    description: format!("operation {n}"),
                    bank_transaction_code: None,
                    entry_reference: Some(format!("ref-{n}")),
                    bank_resource_id: None,
                    first_seen_at: t,
                    updated_at: t,
                },
            )?;
        }
        Ok(account.id)
    })
    .await
    .unwrap()
}

/// Creates a connection for user `u-1` through the API and seeds an account under it, with a
/// balance and 250 transactions (see [`seed_account`]); returns the account's id.
pub async fn connected_account(api: &Api<'_>) -> String {
    let (_, created) = api
        .call(
            "POST",
            "/v1/users/u-1/connections",
            Some(new_connection_body()),
        )
        .await;
    seed_account(api.app, created["id"].as_str().unwrap()).await
}
