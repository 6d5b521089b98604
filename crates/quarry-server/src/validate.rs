//! Input checks: every bucket, key and limit is validated before it gets
//! near S3, so path tricks and oversized requests are refused with 400.

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

pub fn bucket(bucket: &str) -> Result<&str, ApiError> {
    quarry_s3::S3Location::parse(&format!("s3://{bucket}"))
        .map(|_| bucket)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A validated object address: the bucket, the key and its `s3://` URL
/// (for messages).
pub struct Target<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub url: String,
}

pub fn target<'a>(bucket_name: &'a str, object_key: &'a str) -> Result<Target<'a>, ApiError> {
    let bucket = bucket(bucket_name)?;
    let key = key(object_key)?;
    Ok(Target {
        bucket,
        key,
        url: format!("s3://{bucket}/{key}"),
    })
}

/// Page sizes: 1–1000 (S3's own maximum per request), default 200.
pub fn limit(limit: Option<i32>) -> Result<i32, ApiError> {
    match limit {
        None => Ok(200),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
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
        assert!(limit(Some(0)).is_err());
        assert_eq!(limit(None).unwrap(), 200);
    }
}
