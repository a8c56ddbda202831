//! Diesel's view of the tables in `migrations/{sqlite,postgres}`; kept by hand so both backends
//! share one definition (the SQL types used here exist on both).

diesel::table! {
    api_clients (id) {
        id -> Text,
        name -> Text,
        redirect_allowlist -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        api_client_id -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        api_client_id -> Text,
        external_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    connections (id) {
        id -> Text,
        user_id -> Text,
        bank_id -> Text,
        status -> Text,
        scopes -> Text,
        redirect_url -> Text,
        sca_at -> Nullable<Timestamp>,
        consent_expires_at -> Nullable<Timestamp>,
        last_synced_at -> Nullable<Timestamp>,
        error_code -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sca_browser_hash -> Nullable<Text>,
        sca_amr -> Nullable<Text>,
        sca_session -> Nullable<Text>,
        next_sync_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tokens (connection_id, kind) {
        connection_id -> Text,
        kind -> Text,
        sealed -> Binary,
        key_id -> Text,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        connection_id -> Text,
        version -> BigInt,
        balances_ibans -> Text,
        transactions_ibans -> Text,
        psu_identity -> Bool,
        trusted_beneficiaries -> Bool,
        granted_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        connection_id -> Text,
        account_key -> Text,
        bank_resource_id -> Nullable<Text>,
        iban -> Nullable<Text>,
        iban_valid -> Bool,
        name -> Text,
        currency -> Text,
        cash_account_type -> Text,
        usage -> Nullable<Text>,
        product -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        feed_version -> BigInt,
        identification_scheme -> Nullable<Text>,
        identification -> Nullable<Text>,
        linked_resource_id -> Nullable<Text>,
    }
}

diesel::table! {
    balances (id) {
        id -> Text,
        account_id -> Text,
        balance_type -> Text,
        name -> Nullable<Text>,
        amount_minor -> BigInt,
        currency -> Text,
        reference_date -> Nullable<Timestamp>,
        as_of_day -> Date,
        fetched_at -> Timestamp,
    }
}

diesel::table! {
    transactions (id) {
        id -> Text,
        account_id -> Text,
        fingerprint -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        booking_date -> Nullable<Date>,
        value_date -> Nullable<Date>,
        transaction_date -> Nullable<Date>,
        sort_date -> Date,
        description -> Text,
        bank_transaction_code -> Nullable<Text>,
        entry_reference -> Nullable<Text>,
        bank_resource_id -> Nullable<Text>,
        first_seen_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sync_runs (id) {
        id -> Text,
        connection_id -> Text,
        trigger_kind -> Text,
        status -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        transactions_added -> BigInt,
        transactions_updated -> BigInt,
        transactions_cancelled -> BigInt,
        skipped_for_quota -> BigInt,
    }
}

diesel::table! {
    transaction_changes (id) {
        id -> Text,
        sync_run_id -> Text,
        account_id -> Text,
        transaction_id -> Text,
        kind -> Text,
        status -> Text,
        amount_minor -> BigInt,
        previous_status -> Nullable<Text>,
        previous_amount_minor -> Nullable<BigInt>,
        changed_at -> Timestamp,
        user_id -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    balance_continuity (sync_run_id, account_id) {
        sync_run_id -> Text,
        account_id -> Text,
        verdict -> Text,
        booked_minor -> Nullable<BigInt>,
        previous_booked_minor -> Nullable<BigInt>,
        booked_between_minor -> BigInt,
        gap_minor -> Nullable<BigInt>,
        checked_at -> Timestamp,
    }
}

diesel::table! {
    quota_ledger (bank_id, client_id, psu_id, iban, method, day) {
        bank_id -> Text,
        client_id -> Text,
        psu_id -> Text,
        iban -> Text,
        method -> Text,
        day -> Date,
        calls -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        dedup_key -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        run_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        api_client_id -> Text,
        user_id -> Text,
        bank_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        creditor_name -> Text,
        creditor_iban -> Text,
        debtor_iban -> Nullable<Text>,
        remittance -> Text,
        end_to_end_id -> Text,
        status -> Text,
        bank_payment_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        instruction_id -> Text,
        status_reason -> Nullable<Text>,
        bank_status -> Nullable<Text>,
        requested_execution_date -> Nullable<Date>,
        instant -> Bool,
        redirect_url -> Text,
        debtor_account_id -> Nullable<Text>,
        approval_url_sealed -> Nullable<Binary>,
        approval_deadline -> Nullable<Timestamp>,
        confirmed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payment_status_changes (id) {
        id -> Text,
        payment_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        bank_status -> Nullable<Text>,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    gocardless_secrets (id) {
        id -> Text,
        api_client_id -> Text,
        secret_key_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    gocardless_tokens (token_hash) {
        token_hash -> Text,
        secret_id -> Text,
        kind -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    gocardless_agreements (id) {
        id -> Text,
        api_client_id -> Text,
        institution_id -> Text,
        max_historical_days -> Integer,
        access_valid_for_days -> Integer,
        access_scope -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    gocardless_requisitions (id) {
        id -> Text,
        api_client_id -> Text,
        connection_id -> Text,
        institution_id -> Text,
        agreement_id -> Nullable<Text>,
        redirect -> Text,
        reference -> Text,
        user_language -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    simplefin_accesses (id) {
        id -> Text,
        api_client_id -> Text,
        user_id -> Text,
        claim_hash -> Text,
        claim_expires_at -> Timestamp,
        claimed_at -> Nullable<Timestamp>,
        username -> Nullable<Text>,
        secret_hash -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sca_challenges (id) {
        id -> Text,
        purpose -> Text,
        connection_id -> Nullable<Text>,
        payment_id -> Nullable<Text>,
        state_hash -> Text,
        pkce_verifier_sealed -> Nullable<Binary>,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        browser_hash -> Nullable<Text>,
        proof -> Nullable<Text>,
        kind -> Nullable<Text>,
        status -> Text,
        action -> Nullable<Text>,
        details -> Nullable<Text>,
        attempts_left -> Nullable<Integer>,
        resolved_at -> Nullable<Timestamp>,
        amr -> Nullable<Text>,
        failure -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        api_client_id -> Text,
        url -> Text,
        secret_sealed -> Binary,
        event_types -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        previous_secret_sealed -> Nullable<Binary>,
        previous_secret_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> BigInt,
        api_client_id -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> Timestamp,
        seq -> BigInt,
        connection_id -> Nullable<Text>,
        dedup_key -> Nullable<Text>,
    }
}

diesel::table! {
    change_sequences (user_id) {
        user_id -> Text,
        last_seq -> BigInt,
    }
}

diesel::table! {
    event_sequences (api_client_id) {
        api_client_id -> Text,
        last_seq -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        event_id -> BigInt,
        endpoint_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_status_code -> Nullable<Integer>,
        delivered_at -> Nullable<Timestamp>,
        lane -> Text,
        seq -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        api_client_id -> Nullable<Text>,
        connection_id -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    bank_responses (id) {
        id -> Text,
        bank_id -> Text,
        connection_id -> Nullable<Text>,
        method -> Text,
        endpoint -> Text,
        status_code -> Integer,
        x_request_id -> Text,
        body -> Binary,
        received_at -> Timestamp,
        sync_run_id -> Nullable<Text>,
        account_key -> Nullable<Text>,
        covered_from -> Nullable<Timestamp>,
    }
}

diesel::table! {
    bank_pauses (bank_id) {
        bank_id -> Text,
        until -> Timestamp,
        reason -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    provider_webhook_events (bank_id, webhook_id) {
        bank_id -> Text,
        webhook_id -> Text,
        kind -> Text,
        received_at -> Timestamp,
    }
}

diesel::joinable!(api_keys -> api_clients (api_client_id));
diesel::joinable!(users -> api_clients (api_client_id));
diesel::joinable!(connections -> users (user_id));
diesel::joinable!(tokens -> connections (connection_id));
diesel::joinable!(consents -> connections (connection_id));
diesel::joinable!(accounts -> connections (connection_id));
diesel::joinable!(balances -> accounts (account_id));
diesel::joinable!(transactions -> accounts (account_id));
diesel::joinable!(sync_runs -> connections (connection_id));
diesel::joinable!(transaction_changes -> sync_runs (sync_run_id));
diesel::joinable!(transaction_changes -> transactions (transaction_id));
diesel::joinable!(balance_continuity -> sync_runs (sync_run_id));
diesel::joinable!(balance_continuity -> accounts (account_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(payment_status_changes -> payments (payment_id));
diesel::joinable!(simplefin_accesses -> users (user_id));
diesel::joinable!(gocardless_tokens -> gocardless_secrets (secret_id));
diesel::joinable!(gocardless_requisitions -> connections (connection_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_clients,
    api_keys,
    users,
    connections,
    tokens,
    consents,
    accounts,
    balances,
    transactions,
    sync_runs,
    transaction_changes,
    balance_continuity,
    quota_ledger,
    jobs,
    payments,
    payment_status_changes,
    simplefin_accesses,
    gocardless_secrets,
    gocardless_tokens,
    gocardless_agreements,
    gocardless_requisitions,
    sca_challenges,
    webhook_endpoints,
    outbox_events,
    webhook_deliveries,
    audit_log,
    bank_responses,
    bank_pauses,
    provider_webhook_events,
    event_sequences,
    change_sequences,
);
