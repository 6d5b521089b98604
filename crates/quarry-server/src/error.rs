use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quarry_s3::{FailureKind, S3Error, S3Failure};
use quarry_sql::SqlError;

/// An API failure: a status and `{error, message}` JSON, where `message`
/// is one sentence for the panel to show as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `not_found`.
    pub error: &'static str,
    /// One sentence the panel shows as is.
    pub message: String,
}

impl ApiError {
    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error: "bad_request",
            message: message.into(),
        }
    }

    /// 403 with a specific `error` code (`xsrf`, `cross_site`, …).
    pub fn forbidden(error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            error,
            message: message.into(),
        }
    }

    /// 409: the request conflicts with what is there.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            error: "conflict",
            message: message.into(),
        }
    }

    /// 404: nothing is there.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            error: "not_found",
            message: message.into(),
        }
    }

    /// 503 `busy`: the backend is at a limit of its own; retrying shortly works.
    pub fn busy(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "busy",
            message: message.into(),
        }
    }

    /// 500: the backend itself failed.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "internal",
            message: message.into(),
        }
    }

    /// Maps an explained S3 failure onto HTTP.
    pub fn from_failure(failure: S3Failure) -> Self {
        let (status, error) = match failure.kind {
            FailureKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            FailureKind::AccessDenied => (StatusCode::FORBIDDEN, "access_denied"),
            FailureKind::Credentials => (StatusCode::FORBIDDEN, "credentials"),
            FailureKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            FailureKind::QuotaFull => (StatusCode::INSUFFICIENT_STORAGE, "quota_full"),
            FailureKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            FailureKind::Invalid => (StatusCode::BAD_REQUEST, "bad_request"),
            FailureKind::Other => (StatusCode::BAD_GATEWAY, "s3_error"),
        };
        ApiError {
            status,
            error,
            message: failure.message,
        }
    }

    /// A credential or address problem found before S3 was asked.
    pub fn from_s3(err: &S3Error) -> Self {
        ApiError::from_failure(S3Failure::from(err))
    }

    /// A query that read a file: S3's refusals by their kind, anything
    /// else (a file that does not parse as its format) 422.
    pub fn from_sql(err: SqlError) -> Self {
        match err.kind.s3() {
            Some(kind) => ApiError::from_failure(S3Failure {
                kind,
                message: err.message,
            }),
            None => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                error: "unreadable",
                message: err.message,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(crate::responses::ErrorBody {
                error: self.error,
                message: &self.message,
            }),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quarry_sql::engine::ErrorKind;

    /// The panel's status and the kernel's `ename` come from one kind.
    #[test]
    fn statuses_derive_from_the_failure_kind() {
        let failure = |kind| S3Failure {
            kind,
            message: "m".into(),
        };
        let full = ApiError::from_failure(failure(FailureKind::QuotaFull));
        assert_eq!((full.status.as_u16(), full.error), (507, "quota_full"));
        let via_sql = ApiError::from_sql(SqlError::from_failure(failure(FailureKind::QuotaFull)));
        assert_eq!(via_sql, full);
        assert_eq!(
            SqlError::from_failure(failure(FailureKind::QuotaFull))
                .kind
                .ename(),
            "S3QuotaFull"
        );
        let conflict = ApiError::from_failure(failure(FailureKind::Conflict));
        assert_eq!(conflict.status.as_u16(), 409);
        // A file that is not what its name says is 422, not an S3 status.
        let unreadable = ApiError::from_sql(SqlError::new(ErrorKind::Execution, "bad CSV"));
        assert_eq!(
            (unreadable.status.as_u16(), unreadable.error),
            (422, "unreadable")
        );
    }
}
