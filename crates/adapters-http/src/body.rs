//! Reading request bodies with a size limit, so that an oversized body is a
//! JSON:API `413` rather than actix's plain-text answer.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt as _;

use crate::error::ApiError;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "Payload too large",
        format!("the request body exceeds {limit} bytes"),
    )
}

/// Reads the whole body, refusing more than `limit` bytes.
///
/// # Errors
/// `413` over the limit, `400` when the body cannot be read.
pub async fn read(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                "unreadable_body",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The deepest nesting of arrays and objects a JSON body may have (the
/// document itself is level 1; a JSON:API attribute holding an object is at
/// level 4).
pub const MAX_JSON_DEPTH: usize = 32;

/// The deepest nesting of arrays and objects in `body`, read without
/// parsing (strings and escapes are skipped); malformed JSON is left to the
/// parser.
fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in body {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The JSON pointer of the first array or object nested at `level` (the
/// document is level 1), if any.
fn pointer_at_level(value: &serde_json::Value, level: usize) -> Option<String> {
    fn walk(value: &serde_json::Value, depth: usize, level: usize, path: &str) -> Option<String> {
        let children: Vec<(String, &serde_json::Value)> = match value {
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            serde_json::Value::Object(members) => members
                .iter()
                .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
                .collect(),
            _ => return None,
        };
        if depth == level {
            return Some(path.to_owned());
        }
        children
            .into_iter()
            .find_map(|(key, child)| walk(child, depth + 1, level, &format!("{path}/{key}")))
    }
    walk(value, 1, level, "")
}

/// Parses a JSON body, refusing one nested deeper than [`MAX_JSON_DEPTH`]
/// (`400 nesting_too_deep`, pointing at the first too-deep member when the
/// document can be read at all).
///
/// # Errors
/// `400 nesting_too_deep`; `400 malformed_json` for a body that is not JSON.
pub fn json(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let too_deep = nesting_depth(body) > MAX_JSON_DEPTH;
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) if too_deep => Err(nesting_error(
            pointer_at_level(&value, MAX_JSON_DEPTH + 1).unwrap_or_default(),
        )),
        Ok(value) => Ok(value),
        // serde_json stops at 128 levels; past it the pointer is unknown.
        Err(_) if too_deep => Err(nesting_error(String::new())),
        Err(e) => Err(ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
        .at("")),
    }
}

fn nesting_error(pointer: String) -> ApiError {
    ApiError::bad_request(
        "nesting_too_deep",
        format!("the document nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"),
    )
    .at(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert_eq!(nesting_depth(br#"{"a": "[[[{{", "b": [1, {"c": []}]}"#), 4);
        assert_eq!(nesting_depth(br#"{"a": "\"[[["}"#), 1);
        assert_eq!(nesting_depth(b"7"), 0);
    }

    #[test]
    fn documents_nested_too_deep_are_refused_with_a_pointer() {
        assert!(json(nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
        let error = json(nested(MAX_JSON_DEPTH + 1).as_bytes()).expect_err("too deep");
        assert_eq!(error.errors()[0].code, "nesting_too_deep");
        let pointer = format!("/0{}", "/0".repeat(MAX_JSON_DEPTH - 1));
        assert_eq!(
            error.errors()[0].source,
            Some(crate::error::Source::Pointer(pointer))
        );
        // Past serde_json's own limit (128) the answer is the same error.
        let error = json(nested(10_000).as_bytes()).expect_err("far too deep");
        assert_eq!(error.errors()[0].code, "nesting_too_deep");
        let error = json(br#"{"a": "#).expect_err("malformed");
        assert_eq!(error.errors()[0].code, "malformed_json");
    }
}
