//! The OpenAPI document as tests read it: its declared responses, and checks that an answer is
//! the one it declares (content type and schema).

use serde_json::Value;

/// The generated document.
pub fn document() -> Value {
    serde_json::from_str(&passerelle::api::openapi::document_json()).unwrap()
}

/// Follows a local `$ref` (`#/components/...`) once, or gives `value` back.
pub fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => doc.pointer(pointer.trim_start_matches('#')).unwrap(),
        None => value,
    }
}

/// `operation`'s declared response for `status`, with its `$ref` followed.
pub fn declared<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} does not document {status}"
    );
    resolve(doc, response)
}

/// Checks `value` against `schema`, whose references point into the document's components.
pub fn assert_valid(doc: &Value, schema: &Value, value: &Value, what: &str) {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {}\n{value:#}",
        errors.join("\n")
    );
}

/// Asserts that an answer is the document's `status` response for the operation: the content
/// type it declares and a body its schema accepts.
pub fn assert_as_documented(
    doc: &Value,
    (path, method): (&str, &str),
    (status, content_type, body): (u16, &str, &Value),
) {
    let response = declared(doc, path, method, status);
    let content = response["content"].as_object().unwrap();
    let (declared_type, media) = content.iter().next().unwrap();
    assert_eq!(
        content_type, declared_type,
        "{method} {path} {status}: served content type"
    );
    assert_valid(
        doc,
        &media["schema"],
        body,
        &format!("{method} {path} {status}"),
    );
}
