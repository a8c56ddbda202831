//! Request bodies: a JSON object, and only an object.
//!
//! `web::Json<T>` hands the body to serde, whose derived `Deserialize` for a struct also takes
//! a JSON *array* of the fields in order: `[null, null]` is a valid `ScaSubmission` to serde
//! and an invalid one to the OpenAPI document (`type: object`). [`JsonObject`] reads the body
//! as an object first, so an array, a string or `null` is answered 422 like any other body the
//! document does not allow, and nothing is done with it.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::error::ApiError;

/// A JSON request body that must be an object, deserialized into `T`.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    /// The deserialized body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The size limit, the content type and syntax errors stay `web::Json`'s (and the
        // `JsonConfig` error handler's): only the shape check and the typed read are added.
        let object = web::Json::<Map<String, Value>>::from_request(req, payload);
        Box::pin(async move {
            let object = object.await?.into_inner();
            serde_json::from_value(Value::Object(object))
                .map(JsonObject)
                .map_err(|e| {
                    ApiError::invalid("body", format!("Json deserialize error: {e}")).into()
                })
        })
    }
}

/// For an optional field the document does not mark nullable: absent is `None` (with
/// `#[serde(default)]`), `null` is refused like any other wrong type — `Option<T>` alone would
/// read `{"proof": null}` as absent.
pub fn absent_or_value<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Both {
        #[serde(default, deserialize_with = "absent_or_value")]
        a: Option<String>,
        #[serde(default, deserialize_with = "absent_or_value")]
        b: Option<String>,
    }

    async fn read(body: &'static str) -> Result<Both, String> {
        let (req, mut payload) = TestRequest::post()
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
            .to_http_parts();
        JsonObject::<Both>::from_request(&req, &mut payload)
            .await
            .map(JsonObject::into_inner)
            .map_err(|e| e.to_string())
    }

    #[actix_web::test]
    async fn an_object_is_read_into_the_type() {
        assert_eq!(
            read(r#"{"a":"x"}"#).await,
            Ok(Both {
                a: Some("x".into()),
                b: None
            })
        );
    }

    #[actix_web::test]
    async fn an_array_of_the_fields_is_refused() {
        // serde alone accepts this as `Both { a: None, b: None }`.
        let error = read("[null, null]").await.unwrap_err();
        assert!(error.contains("expected a map"), "{error}");
        assert!(read("null").await.is_err());
        assert!(read(r#""a""#).await.is_err());
    }

    #[actix_web::test]
    async fn an_explicit_null_is_not_an_absent_field() {
        assert_eq!(read("{}").await, Ok(Both { a: None, b: None }));
        let error = read(r#"{"a": null}"#).await.unwrap_err();
        assert!(error.contains("invalid type: null"), "{error}");
    }

    #[actix_web::test]
    async fn unknown_fields_are_still_refused() {
        let error = read(r#"{"c":"x"}"#).await.unwrap_err();
        assert!(error.contains("unknown field"), "{error}");
    }
}
