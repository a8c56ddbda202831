//! The sync engine as a scheduler would call it: unattended, for one connection.

use passerelle::bank::Connectors;
use passerelle::connect::tokens::StoredToken;
use passerelle::store::{connections, consents};
use passerelle::sync::{SyncError, SyncOutcome, SyncRequest};

use super::TestApp;

/// Runs connection `id`'s sync without the PSU (batch), as a scheduler would.
pub async fn batch_sync(app: &TestApp, id: &str) -> Result<SyncOutcome, SyncError> {
    let state = &app.state;
    let connectors = Connectors::new(
        state.config.clone(),
        state.registry.clone(),
        state.clock.clone(),
    );
    let cid = id.to_owned();
    let (connection, consent) = passerelle::store::run(&state.pool, move |conn| {
        let connection = connections::find(conn, &cid)?.unwrap();
        Ok((connection, consents::current(conn, &cid)?.unwrap()))
    })
    .await
    .unwrap();
    let connector = connectors.get(&connection.bank_id).unwrap();
    let keyring = state.keyring.clone();
    let token = StoredToken::load(&state.pool, keyring, connector.clone(), id)
        .await
        .unwrap();
    SyncRequest {
        pool: &state.pool,
        public_url: &state.config.public_url,
        clock: &state.clock,
        connector: connector.as_ref(),
        token: &token,
        connection: &connection,
        consent: &consent,
        psu: None,
        client_id: &state.config.client_id,
        trigger: "batch",
        activate: false,
        run_id: None,
    }
    .run()
    .await
}

/// A sync with the user present, as an app asks for it (`POST /v1/connections/{id}/sync`),
/// run by `worker`; returns its recorded run.
pub async fn sync_now(
    app: &TestApp,
    worker: &passerelle::jobs::Worker,
    id: &str,
) -> passerelle::store::models::SyncRunRow {
    let (code, queued) = super::http_browser::api_with_headers(
        app,
        "POST",
        &format!("/v1/connections/{id}/sync"),
        &[("PSU-IP-Address", "198.51.100.4")],
    )
    .await;
    assert_eq!(code, 202, "{queued}");
    worker.drain().await.unwrap();
    let run = queued["sync_id"].as_str().unwrap().to_owned();
    passerelle::store::run(&app.state.pool, move |conn| {
        Ok(passerelle::store::sync_runs::find(conn, &run)?)
    })
    .await
    .unwrap()
    .expect("the run")
}
