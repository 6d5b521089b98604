//! `s3://bucket/key` URLs.

use std::fmt;

use crate::S3Error;

/// A bucket and an optional key or prefix, parsed from `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket name (validated).
    pub bucket: String,
    /// The key or prefix after the bucket, without a leading `/`; may be empty.
    pub key: String,
}

impl S3Location {
    /// Parses `s3://bucket[/key]` (also `s3a://`, which Spark users type).
    pub fn parse(url: &str) -> Result<Self, S3Error> {
        let rest = url
            .strip_prefix("s3://")
            .or_else(|| url.strip_prefix("s3a://"))
            .ok_or_else(|| S3Error::NotAnS3Url {
                url: url.to_string(),
            })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        validate_bucket_name(bucket)?;
        Ok(S3Location {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Checks the S3 bucket naming rules that matter for safety and for clear
/// errors: 3–63 characters of lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit.
pub fn validate_bucket_name(bucket: &str) -> Result<(), S3Error> {
    let invalid = |reason| {
        Err(S3Error::InvalidBucketName {
            bucket: bucket.to_string(),
            reason,
        })
    };
    if bucket.len() < 3 || bucket.len() > 63 {
        return invalid("bucket names are 3 to 63 characters long");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return invalid("use only lowercase letters, digits, '.' and '-'");
    }
    let first_last_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !first_last_ok(bucket.as_bytes()[0]) || !first_last_ok(bucket.as_bytes()[bucket.len() - 1]) {
        return invalid("start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return invalid("two dots in a row are not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_key() {
        let loc = S3Location::parse("s3://demo/sensors/2024/data.parquet").unwrap();
        assert_eq!(loc.bucket, "demo");
        assert_eq!(loc.key, "sensors/2024/data.parquet");
        assert_eq!(loc.to_string(), "s3://demo/sensors/2024/data.parquet");
        let bare = S3Location::parse("s3://demo").unwrap();
        assert_eq!(bare.key, "");
        assert_eq!(S3Location::parse("s3a://demo/x").unwrap().bucket, "demo");
    }

    #[test]
    fn rejects_bad_buckets_and_schemes() {
        assert!(matches!(
            S3Location::parse("gs://demo/x"),
            Err(S3Error::NotAnS3Url { .. })
        ));
        for bad in [
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://a..b",
            "s3://-abc",
            "s3://a/b/../..",
            "s3://../etc",
        ] {
            let parsed = S3Location::parse(bad);
            // "a/b/../.." has a valid bucket "a"? No: "a" is too short.
            assert!(parsed.is_err(), "{bad} should be rejected");
        }
    }
}
