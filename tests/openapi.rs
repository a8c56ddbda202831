//! The OpenAPI document is generated from the code; this snapshot makes every API change visible
//! in review. After an intended change: `UPDATE_SNAPSHOTS=1 cargo test --test openapi`.
//!
//! The document must describe what is served: every status an operation answers, with the
//! content type and schema it is served in, and the parameter rules the handlers enforce.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::header::{ALLOW, CONTENT_TYPE};
use common::api::{connected_account, Api};
use common::openapi::{assert_as_documented, document, resolve};
use common::{TestApp, TestDb};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

#[test]
fn openapi_document_matches_the_snapshot() {
    let generated = passerelle::api::openapi::document_json();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(SNAPSHOT).parent().unwrap()).unwrap();
        std::fs::write(SNAPSHOT, &generated).unwrap();
    }
    let snapshot = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        generated == snapshot,
        "the OpenAPI document changed; review it and run `UPDATE_SNAPSHOTS=1 cargo test --test openapi`"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/banks",
        "/v1/users/{user_id}/connections",
        "/v1/connections/{id}",
        "/v1/connections/{id}/reauthorize",
        "/v1/users/{user_id}/accounts",
        "/v1/accounts/{id}",
        "/v1/accounts/{id}/balances",
        "/v1/accounts/{id}/transactions",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
}

#[actix_web::test]
async fn the_document_and_a_readable_page_are_served() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let client = awc::Client::default();
    let mut json = client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(json.status(), 200);
    let body = json.body().limit(1 << 22).await.unwrap();
    assert_eq!(body, passerelle::api::openapi::document_json().as_bytes());
    let mut page = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = String::from_utf8(page.body().limit(1 << 22).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("/v1/accounts/{id}/transactions"));
    assert!(html.contains("<h1>Passerelle</h1>"));
}

/// Every documented `(path, method)`, methods lower case as in the document.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            all.push((path.clone(), method.clone()));
        }
    }
    all
}

/// `path` with every `{param}` filled with `value`.
fn concrete(path: &str, value: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                value
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends `method path` (with the key when given) and returns status, content type, `Allow`
/// and the body parsed as JSON (null when empty).
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, String, String, Value) {
    let client = awc::Client::default();
    let mut request = client.request(method.parse().unwrap(), app.url(path));
    if let Some(key) = key {
        request = request.insert_header(("Authorization", format!("Bearer {key}")));
    }
    let mut response = match body {
        Some(body) => request.send_json(&body).await.unwrap(),
        None => request.send().await.unwrap(),
    };
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let content_type = header(CONTENT_TYPE);
    let allow = header(ALLOW);
    let bytes = response.body().limit(1 << 22).await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (response.status().as_u16(), content_type, allow, value)
}

#[test]
fn every_v1_operation_documents_401_with_the_api_key_and_errors_as_problem_json() {
    let doc = document();
    let mut checked = 0;
    for (path, method) in operations(&doc) {
        let operation = &doc["paths"][&path][&method];
        let responses = operation["responses"].as_object().unwrap();
        for (status, response) in responses {
            let response = resolve(&doc, response);
            let error = status.starts_with('4') || status.starts_with('5');
            if error && path.starts_with("/v1") {
                let types: Vec<_> = response["content"].as_object().unwrap().keys().collect();
                assert_eq!(
                    types,
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
            }
        }
        if path.starts_with("/v1") {
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
            assert!(responses.contains_key("500"), "{method} {path}: no 500");
            assert_eq!(
                operation["security"],
                json!([{"api_key": []}]),
                "{method} {path}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 32, "every /v1 operation was checked");
    let mut ids: Vec<_> = operations(&doc)
        .iter()
        .map(|(path, method)| doc["paths"][path][method]["operationId"].to_string())
        .collect();
    ids.sort();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");
}

#[actix_web::test]
async fn every_v1_operation_answers_401_without_a_key_as_documented() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document();
    for (path, method) in operations(&doc) {
        if !path.starts_with("/v1") {
            continue;
        }
        // A malformed body or query must not be answered before the key is checked.
        let body = (method == "post").then(|| json!({}));
        for key in [None, Some("pas_0000_nope")] {
            let url = format!("{}?limit=many", concrete(&path, "x"));
            let (status, content_type, _, problem) =
                send(&app, &method.to_uppercase(), &url, key, body.clone()).await;
            assert_eq!(status, 401, "{method} {url} with {key:?}: {problem}");
            assert_eq!(problem["code"], "unauthorized");
            assert_as_documented(&doc, (&path, &method), (status, &content_type, &problem));
        }
    }
}

#[actix_web::test]
async fn error_answers_have_the_content_type_and_schema_the_document_declares() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document();
    let key = Some(app.api_key.as_str());
    let cases: [(&str, &str, String, Option<Value>, u16); 8] = [
        (
            "/v1/connections/{id}",
            "get",
            "/v1/connections/nope".into(),
            None,
            404,
        ),
        (
            "/v1/connections/{id}",
            "delete",
            "/v1/connections/nope".into(),
            None,
            404,
        ),
        (
            "/v1/connections/{id}/reauthorize",
            "post",
            "/v1/connections/nope/reauthorize".into(),
            None,
            404,
        ),
        (
            "/v1/accounts/{id}/balances",
            "get",
            "/v1/accounts/nope/balances".into(),
            None,
            404,
        ),
        (
            "/v1/accounts/{id}/transactions",
            "get",
            "/v1/accounts/nope/transactions?limit=0".into(),
            None,
            422,
        ),
        (
            "/v1/users/{user_id}/connections",
            "post",
            "/v1/users/u-1/connections".into(),
            Some(json!({"bank_id": "no-such-bank", "redirect_url": "https://app.example/"})),
            422,
        ),
        (
            "/v1/users/{user_id}/accounts",
            "get",
            format!("/v1/users/{}/accounts", "u".repeat(129)),
            None,
            422,
        ),
        (
            "/v1/users/{user_id}/accounts",
            "get",
            "/v1/users/nobody/accounts".into(),
            None,
            404,
        ),
    ];
    for (path, method, url, body, expected) in cases {
        let (status, content_type, _, problem) =
            send(&app, &method.to_uppercase(), &url, key, body).await;
        assert_eq!(status, expected, "{method} {url}: {problem}");
        assert_as_documented(&doc, (path, method), (status, &content_type, &problem));
    }

    // A revoked connection cannot be reauthorized: 409, as documented.
    let (_, _, _, created) = send(
        &app,
        "POST",
        "/v1/users/u-1/connections",
        key,
        Some(json!({"bank_id": "test-bcp", "redirect_url": "https://app.example/done"})),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (status, ..) = send(&app, "DELETE", &format!("/v1/connections/{id}"), key, None).await;
    assert_eq!(status, 204);
    let url = format!("/v1/connections/{id}/reauthorize");
    let (status, content_type, _, problem) = send(&app, "POST", &url, key, None).await;
    assert_eq!(status, 409, "{problem}");
    let operation = ("/v1/connections/{id}/reauthorize", "post");
    assert_as_documented(&doc, operation, (status, &content_type, &problem));
}

#[actix_web::test]
async fn successful_answers_match_the_documented_schemas() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document();
    let key = Some(app.api_key.as_str());
    for path in ["/healthz", "/readyz"] {
        let (status, content_type, _, body) = send(&app, "GET", path, None, None).await;
        assert_eq!(status, 200, "{path}");
        assert_as_documented(&doc, (path, "get"), (status, &content_type, &body));
    }
    let (status, content_type, _, banks) = send(&app, "GET", "/v1/banks", key, None).await;
    assert_eq!(status, 200);
    assert!(!banks["banks"].as_array().unwrap().is_empty());
    assert_as_documented(&doc, ("/v1/banks", "get"), (status, &content_type, &banks));

    let body = json!({"bank_id": "test-bcp", "redirect_url": "https://app.example/done"});
    let path = "/v1/users/{user_id}/connections";
    let url = "/v1/users/u-1/connections";
    let (status, content_type, _, created) = send(&app, "POST", url, key, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_as_documented(&doc, (path, "post"), (status, &content_type, &created));
    let (status, content_type, _, list) = send(&app, "GET", url, key, None).await;
    assert_as_documented(&doc, (path, "get"), (status, &content_type, &list));
    let id = created["id"].as_str().unwrap();
    let url = format!("/v1/connections/{id}");
    let (status, content_type, _, shown) = send(&app, "GET", &url, key, None).await;
    let operation = ("/v1/connections/{id}", "get");
    assert_as_documented(&doc, operation, (status, &content_type, &shown));
}

#[actix_web::test]
async fn the_declared_parameter_constraints_reject_what_the_server_rejects() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document();
    let key = Some(app.api_key.as_str());
    let feed = &doc["paths"]["/v1/accounts/{id}/transactions"]["get"]["parameters"];
    let param = |name: &str| {
        feed.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    let limit = param("limit");
    assert_eq!(limit["minimum"], 1);
    assert_eq!(limit["maximum"], passerelle::api::accounts::MAX_PAGE);
    assert_eq!(limit["default"], passerelle::api::accounts::DEFAULT_PAGE);
    let status = param("status");
    assert_eq!(
        status["enum"],
        json!(["pending", "booked", "other", "cancelled"])
    );

    // An account nobody has: what passes the declared rules is answered 404, what breaks them
    // 422 naming the parameter.
    for (query, schema, value, valid) in [
        ("limit=1", &limit, json!(1), true),
        ("limit=500", &limit, json!(500), true),
        ("limit=0", &limit, json!(0), false),
        ("limit=501", &limit, json!(501), false),
        ("status=booked", &status, json!("booked"), true),
        ("status=pending", &status, json!("pending"), true),
        ("status=other", &status, json!("other"), true),
        ("status=cancelled", &status, json!("cancelled"), true),
        ("status=lost", &status, json!("lost"), false),
    ] {
        let mut root = schema.clone();
        root["components"] = doc["components"].clone();
        let validator = jsonschema::validator_for(&root).unwrap();
        assert_eq!(validator.is_valid(&value), valid, "the document on {query}");
        let url = format!("/v1/accounts/nope/transactions?{query}");
        let (code, _, _, problem) = send(&app, "GET", &url, key, None).await;
        let field = query.split('=').next().unwrap();
        if valid {
            assert_eq!(code, 404, "{query}: {problem}");
        } else {
            assert_eq!(
                (code, problem["field"].as_str()),
                (422, Some(field)),
                "{query}"
            );
        }
    }

    let user = &doc["paths"]["/v1/users/{user_id}/accounts"]["get"]["parameters"][0];
    assert_eq!(user["name"], "user_id");
    let user_schema = jsonschema::validator_for(&user["schema"]).unwrap();
    for (user_id, valid) in [
        ("user-42".to_owned(), true),
        ("é".repeat(128), true),
        ("x".repeat(129), false),
        ("a\u{0}b".to_owned(), false),
        ("a\u{85}b".to_owned(), false),
        ("a\u{7f}b".to_owned(), false),
        ("a b/c".to_owned(), true),
    ] {
        assert_eq!(
            user_schema.is_valid(&json!(user_id)),
            valid,
            "the document on {user_id:?}"
        );
        let encoded = utf8_percent_encode(&user_id, NON_ALPHANUMERIC).to_string();
        let url = format!("/v1/users/{encoded}/accounts");
        let (code, _, _, problem) = send(&app, "GET", &url, key, None).await;
        let expected = if valid { 404 } else { 422 };
        assert_eq!(code, expected, "{user_id:?}: {problem}");
    }
}

#[actix_web::test]
async fn an_unsupported_method_on_a_known_path_is_405_with_allow_and_unknown_paths_404() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let key = Some(app.api_key.as_str());
    for (method, path, allow) in [
        ("TRACE", "/v1/banks", "GET"),
        ("POST", "/v1/banks", "GET"),
        ("HEAD", "/v1/banks", "GET"),
        ("PATCH", "/v1/connections/x", "GET, DELETE"),
        ("GET", "/v1/connections/x/reauthorize", "POST"),
        ("PUT", "/v1/users/u-1/connections", "GET, POST"),
        ("OPTIONS", "/v1/accounts/x/transactions", "GET"),
        ("DELETE", "/healthz", "GET"),
        ("TRACE", "/openapi.json", "GET"),
    ] {
        let (status, content_type, allowed, problem) = send(&app, method, path, key, None).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(allowed, allow, "{method} {path}");
        if method != "HEAD" {
            assert_eq!(content_type, "application/problem+json", "{method} {path}");
            assert_eq!(problem["code"], "method_not_allowed");
            assert_eq!(problem["status"], 405);
        }
    }
    for path in ["/v1/nothing", "/v1/connections", "/v1/banks/x"] {
        let (status, ..) = send(&app, "TRACE", path, key, None).await;
        assert_eq!(status, 404, "TRACE {path}");
    }
}

/// What a connected account's calls answer is what the OpenAPI document declares (a fuzzer
/// against the document never reaches an account: no bank journey completes for it).
#[actix_web::test]
async fn account_answers_are_the_ones_the_document_declares() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let api = Api::new(&app, &app.api_key);
    let account = connected_account(&api).await;
    let doc = document();
    let (_, list) = api.call("GET", "/v1/users/u-1/connections", None).await;
    let connection = list["connections"][0]["id"].as_str().unwrap().to_owned();
    let first_page = format!("/v1/accounts/{account}/transactions?limit=2");
    let (_, page) = api.call("GET", &first_page, None).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    for (path, url) in [
        (
            "/v1/users/{user_id}/connections",
            "/v1/users/u-1/connections".to_owned(),
        ),
        (
            "/v1/connections/{id}",
            format!("/v1/connections/{connection}"),
        ),
        (
            "/v1/users/{user_id}/accounts",
            "/v1/users/u-1/accounts".to_owned(),
        ),
        ("/v1/accounts/{id}", format!("/v1/accounts/{account}")),
        (
            "/v1/accounts/{id}/balances",
            format!("/v1/accounts/{account}/balances"),
        ),
        ("/v1/accounts/{id}/transactions", first_page.clone()),
        (
            "/v1/accounts/{id}/transactions",
            format!("/v1/accounts/{account}/transactions?status=booked&cursor={cursor}"),
        ),
        (
            "/v1/accounts/{id}/transactions",
            format!("/v1/accounts/{account}/transactions?cursor=garbage!"),
        ),
        (
            "/v1/accounts/{id}/transactions",
            format!("/v1/accounts/{account}/transactions?from=2026-02-01&to=2026-01-01"),
        ),
    ] {
        let (status, content_type, body) = api.call_typed("GET", &url, None).await;
        assert!(status == 200 || status == 422, "{url}: {status} {body}");
        assert_as_documented(&doc, (path, "get"), (status, &content_type, &body));
    }
}

/// Every `$ref` of the document names a component it has (a schema referenced by a parameter
/// but never registered once left a dangling reference behind).
#[test]
fn every_reference_resolves() {
    fn walk(value: &Value, doc: &Value, seen: &mut usize) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let path = reference.trim_start_matches("#/");
                    let target = path.split('/').fold(doc, |node, part| &node[part]);
                    assert!(!target.is_null(), "dangling {reference}");
                    *seen += 1;
                }
                for child in map.values() {
                    walk(child, doc, seen);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, doc, seen)),
            _ => {}
        }
    }
    let doc = document();
    let mut seen = 0;
    walk(&doc, &doc, &mut seen);
    assert!(seen > 10, "the document has references: {seen}");
}
