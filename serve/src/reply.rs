//! Responses: pictures, JSON, and errors as JSON with the right status.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A request that cannot be served, with the status that says why.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            (self.status, [(header::RETRY_AFTER, "1")], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

/// PNG bytes.
pub fn png(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
}

/// Any path the server does not have.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: use GET /v1/models, GET or POST /v1/generate (the web page is \
         served when the server is given its folder: gan serve --web web/page)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 503 tells the client when to retry; other errors do not; both are JSON.
    #[test]
    fn errors_are_json_and_a_503_says_retry_after() {
        let busy = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        assert_eq!(busy.headers()[header::CONTENT_TYPE], "application/json");
        let bad = ApiError::bad_request("no").into_response();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(bad.headers()[header::CONTENT_TYPE], "application/json");
    }
}
