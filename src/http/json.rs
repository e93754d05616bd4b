//! `StrictJson`: a JSON request body typed strictly by serde (no coercion of
//! numbers into strings, as poem-openapi's `Json` does), with 400 for
//! malformed JSON and 422 naming the field for a body of the wrong shape.
//! `JsonOut`: a JSON answer written straight from its type by serde.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, read_body_error};
use super::json_value::{self, ParseError};

/// A JSON request body of type `T`, parsed strictly.
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

impl<T: Type> Payload for StrictJson<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(mime) if mime.type_() == "application"
            && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Parses a JSON body: 400 if it is not JSON, 422 if it repeats a key or
/// does not fit `T` (naming the field).
pub fn parse_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = json_value::parse(bytes).map_err(|e| match e {
        ParseError::Syntax(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, format!("Invalid JSON body: {e}"))
        }
        ParseError::Duplicate(key) => ApiError::invalid(format!("Duplicate field: {key}")),
    })?;
    // serde would read a struct from an array in field order: refuse it.
    if !value.is_object() {
        return Err(ApiError::invalid("body: must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::invalid(format!("body: {inner}"))
        } else {
            ApiError::invalid(format!("{path}: {inner}"))
        }
    })
}

impl<T: Type + DeserializeOwned + Send> ParsePayload for StrictJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = body
            .take()?
            .into_bytes()
            .await
            .map_err(|e| read_body_error(&e))?;
        Ok(Self(parse_strict(&bytes)?))
    }
}

impl<'a, T: Type + DeserializeOwned + Send> ApiExtractor<'a> for StrictJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: Self::CONTENT_TYPE,
                schema: Self::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if Self::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(ct) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported Media Type: {ct}; expected application/json"),
            )
            .into()),
            None => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type: a Content-Type of application/json is required",
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        published: Option<bool>,
    }

    #[test]
    fn strict_types_and_field_names() {
        assert!(parse_strict::<Body>(br#"{"title": "x", "extra": 1}"#).is_ok());
        let e = parse_strict::<Body>(br#"{"title": 5}"#).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.detail().starts_with("title: "), "{}", e.detail());
        let e = parse_strict::<Body>(br#"{"title": "x", "published": "true"}"#).unwrap_err();
        assert!(e.detail().starts_with("published: "), "{}", e.detail());
        let e = parse_strict::<Body>(br#"{}"#).unwrap_err();
        assert!(e.detail().contains("title"), "{}", e.detail());
        let e = parse_strict::<Body>(b"[1]").unwrap_err();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e = parse_strict::<Body>(br#"["x", true]"#).unwrap_err();
        assert_eq!(
            e.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no struct from an array"
        );
        let e = parse_strict::<Body>(br#"{"title": "x", "title": "y"}"#).unwrap_err();
        assert_eq!(
            (e.status(), e.detail()),
            (StatusCode::UNPROCESSABLE_ENTITY, "Duplicate field: title")
        );
        let e = parse_strict::<Body>(b"{").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.detail().starts_with("Invalid JSON body: "));
    }
}

/// The content type of every JSON answer.
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A JSON answer, documented by `T`'s schema and written by serde.
///
/// poem-openapi's `Json` first builds a `serde_json::Value` tree (a map
/// and a string per field) and then serialises that; on the hot read
/// routes the tree cost more than the rest of the answer.
#[derive(Debug)]
pub struct JsonOut<T>(pub T);

impl<T: Type> Payload for JsonOut<T> {
    const CONTENT_TYPE: &'static str = JSON_UTF8;

    fn check_content_type(content_type: &str) -> bool {
        StrictJson::<T>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for JsonOut<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            // A static header value: `content_type` would copy the string.
            Ok(body) => Response::builder()
                .header(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8))
                .body(body),
            // Only a map with non-string keys can fail; no answer has one.
            Err(e) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
            }
        }
    }
}

/// Serialises a time as RFC 3339, exactly as poem-openapi writes
/// `OffsetDateTime` (and documents it: `format: date-time`).
pub fn rfc3339<S: serde::Serializer>(
    time: &time::OffsetDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let text = time
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(&text)
}
