//! Input checks: every bucket, key and limit is validated before it gets
//! near S3, so path tricks and oversized requests are refused with 400.

use quarry_s3::S3Location;

use crate::ApiError;

/// Object keys: 1–1024 bytes, no control characters, no `.`/`..` segments,
/// no leading `/` (which some servers read as a different path).
pub fn key(key: &str) -> Result<&str, ApiError> {
    if key.is_empty() || key.len() > 1024 {
        return Err(ApiError::bad_request(
            "Object keys are 1 to 1024 bytes long.",
        ));
    }
    if key.starts_with('/') {
        return Err(ApiError::bad_request("Object keys do not start with '/'."));
    }
    if key.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "Object keys cannot contain control characters.",
        ));
    }
    if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(ApiError::bad_request(
            "Object keys cannot contain '.' or '..' path segments.",
        ));
    }
    Ok(key)
}

/// A prefix may be empty (the bucket root) and otherwise follows key rules.
pub fn prefix(prefix: &str) -> Result<&str, ApiError> {
    if prefix.is_empty() {
        Ok(prefix)
    } else {
        key(prefix)
    }
}

/// The whole string is one bucket name (S3's naming rules).
pub fn bucket(bucket: &str) -> Result<&str, ApiError> {
    quarry_s3::validate_bucket_name(bucket)
        .map(|()| bucket)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A validated object address.
pub fn target(bucket_name: &str, object_key: &str) -> Result<S3Location, ApiError> {
    Ok(S3Location {
        bucket: bucket(bucket_name)?.to_string(),
        key: key(object_key)?.to_string(),
    })
}

/// A validated folder address: the bucket root or a prefix ending in `/`.
pub fn folder(bucket_name: &str, prefix_text: &str) -> Result<S3Location, ApiError> {
    Ok(S3Location {
        bucket: bucket(bucket_name)?.to_string(),
        key: prefix(prefix_text)?.to_string(),
    })
}

/// Page sizes: 1–1000 (S3's own maximum per request), default 200.
pub fn limit(limit: Option<i32>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(200),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and 1000, not {n}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_path_tricks() {
        for bad in ["", "/etc/passwd", "a/../b", "..", "./x", "a\nb", "a/./b"] {
            assert!(key(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "dir/file.csv", "dir/", "weird name (1).txt", "a..b"] {
            assert!(key(good).is_ok(), "{good:?}");
        }
        assert!(bucket("ok-bucket").is_ok());
        assert!(bucket("../x").is_err());
        assert!(bucket("Bad").is_err());
        // The whole value is the name: nothing after a '/' slips through.
        assert!(bucket("ok-bucket/anything").is_err());
        assert!(bucket("ok-bucket/").is_err());
        assert!(limit(Some(0)).is_err());
        assert_eq!(limit(None).unwrap(), 200);
    }
}
