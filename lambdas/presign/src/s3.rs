//! The signer over `aws_sdk_s3::Client`: [`S3Presigner`] signs uploads and downloads.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;

use crate::ports::{GetRequest, PresignError, PresignedGet, PresignedPut, Presigner, UploadRequest};

/// [`Presigner`] over one S3 bucket, with the client's credentials (on Lambda, the role's
/// temporary credentials: the URL then carries `X-Amz-Security-Token`).
#[derive(Debug, Clone)]
pub struct S3Presigner {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Presigner {
    /// Wraps a client and a bucket name.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

/// The value of `X-Amz-Expires` in a presigned URL.
fn signed_expiry(url: &str) -> Option<Duration> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Expires=")?.parse().ok())
        .map(Duration::from_secs)
}

/// The header the SDK adds inside Lambda to trace (and detect recursion in) its calls.
const TRACE_ID_HEADER: &str = "x-amzn-trace-id";

/// The signing time SigV4 uses: whole seconds.
fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

impl Presigner for S3Presigner {
    async fn presign_put(&self, request: &UploadRequest) -> Result<PresignedPut, PresignError> {
        let fail = |message: String| PresignError { key: request.key.clone(), message };
        let config = PresigningConfig::builder()
            .start_time(request.start)
            .expires_in(request.expires_in)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let length = i64::try_from(request.content_length).map_err(|e| fail(e.to_string()))?;
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&request.key)
            .content_type(&request.content_type)
            .content_length(length);
        if request.if_none_match_any {
            put = put.if_none_match("*");
        }
        for (name, value) in &request.metadata {
            put = put.metadata(name, value);
        }
        let presigned = put
            .customize()
            // Inside Lambda the SDK adds `x-amzn-trace-id` (recursion detection) and would sign
            // it: the browser would then have to send a header the bucket's CORS rule does not
            // allow, and every upload from the page would fail its preflight.
            .mutate_request(|request| {
                request.headers_mut().remove(TRACE_ID_HEADER);
            })
            .presigned(config)
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let url = presigned.uri().to_owned();
        // The SDK shortens the URL's life to the credentials' expiry; trust what it signed.
        let expires_in = signed_expiry(&url).unwrap_or(request.expires_in);
        let headers: BTreeMap<String, String> = presigned
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        Ok(PresignedPut { url, headers, expires_at: whole_seconds(request.start) + expires_in })
    }

    async fn presign_get(&self, request: &GetRequest) -> Result<PresignedGet, PresignError> {
        let fail = |message: String| PresignError { key: request.key.clone(), message };
        let config = PresigningConfig::builder()
            .start_time(request.start)
            .expires_in(request.expires_in)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&request.key)
            .response_content_type(&request.response_content_type)
            .response_content_disposition(&request.response_content_disposition)
            .customize()
            // A browser following the redirect sends no `x-amzn-trace-id`: signed, it would make
            // every download fail its signature check.
            .mutate_request(|request| {
                request.headers_mut().remove(TRACE_ID_HEADER);
            })
            .presigned(config)
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let url = presigned.uri().to_owned();
        let expires_in = signed_expiry(&url).unwrap_or(request.expires_in);
        Ok(PresignedGet { url, expires_at: whole_seconds(request.start) + expires_in })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

    use super::*;

    fn client(session_token: Option<&str>) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("eu-west-1"))
            .credentials_provider(Credentials::new(
                "ASIAEXAMPLEEXAMPLE00",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                session_token.map(str::to_owned),
                None,
                "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    fn request() -> UploadRequest {
        UploadRequest {
            key: "raw/0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e.jpg".into(),
            content_type: "image/jpeg".into(),
            content_length: 352_727,
            metadata: BTreeMap::from([("filename".into(), "IMG%202041.JPG".into())]),
            if_none_match_any: true,
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(1_741_788_191_500),
            expires_in: Duration::from_secs(300),
        }
    }

    fn query(url: &str) -> BTreeMap<String, String> {
        let query = url.split_once('?').unwrap().1;
        query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_owned(), percent_encoding::percent_decode_str(v).decode_utf8().unwrap().into_owned())
            })
            .collect()
    }

    #[tokio::test]
    async fn presigns_with_temporary_credentials() {
        let presigner = S3Presigner::new(client(Some("FwoGZXIvYXdzEBYaDH+session/token==")), "media-bucket");
        let put = presigner.presign_put(&request()).await.unwrap();
        assert!(
            put.url.starts_with(
                "https://media-bucket.s3.eu-west-1.amazonaws.com/raw/0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e.jpg?"
            ),
            "{}",
            put.url
        );
        let q = query(&put.url);
        assert_eq!(q["X-Amz-Security-Token"], "FwoGZXIvYXdzEBYaDH+session/token==");
        assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(q["X-Amz-Date"], "20250312T140311Z");
        assert_eq!(q["X-Amz-Expires"], "300");
        assert!(q["X-Amz-Credential"].starts_with("ASIAEXAMPLEEXAMPLE00/20250312/eu-west-1/s3/aws4_request"));
        // Everything the upload must match is signed, so S3 refuses anything else.
        assert_eq!(
            q["X-Amz-SignedHeaders"],
            "content-length;content-type;host;if-none-match;x-amz-meta-filename"
        );
        assert_eq!(
            put.headers,
            BTreeMap::from([
                ("content-length".into(), "352727".into()),
                ("content-type".into(), "image/jpeg".into()),
                ("if-none-match".into(), "*".into()),
                ("x-amz-meta-filename".into(), "IMG%202041.JPG".into()),
            ])
        );
        assert_eq!(put.expires_at, SystemTime::UNIX_EPOCH + Duration::from_secs(1_741_788_191 + 300));
        // A browser sets Content-Length itself; every other header must pass the bucket's CORS rule.
        for name in put.headers.keys().filter(|name| *name != "content-length") {
            assert!(thumbforge_core::web::UPLOAD_CORS_ALLOWED_HEADERS.contains(&name.as_str()), "{name}");
        }
    }

    #[tokio::test]
    async fn downloads_sign_the_answers_type_and_disposition_and_nothing_else() {
        let presigner = S3Presigner::new(client(Some("FwoGZXIvYXdzEBYaDH+session/token==")), "media-bucket");
        let disposition = "attachment; filename=\"_t\u{e9}_.jpg\"; filename*=UTF-8''%C3%A9t%C3%A9.jpg";
        let request = GetRequest {
            key: "raw/0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e.jpg".into(),
            response_content_type: "image/jpeg".into(),
            response_content_disposition: disposition.into(),
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(1_741_788_191_500),
            expires_in: Duration::from_secs(60),
        };
        let get = presigner.presign_get(&request).await.unwrap();
        assert!(
            get.url.starts_with(
                "https://media-bucket.s3.eu-west-1.amazonaws.com/raw/0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e.jpg?"
            ),
            "{}",
            get.url
        );
        let q = query(&get.url);
        assert_eq!(q["response-content-type"], "image/jpeg");
        assert_eq!(q["response-content-disposition"], disposition);
        assert_eq!(q["X-Amz-Expires"], "60");
        assert_eq!(q["X-Amz-SignedHeaders"], "host", "a redirected browser sends no other header");
        assert_eq!(get.expires_at, SystemTime::UNIX_EPOCH + Duration::from_secs(1_741_788_191 + 60));
    }

    #[tokio::test]
    async fn long_term_credentials_carry_no_token() {
        let put = S3Presigner::new(client(None), "media-bucket").presign_put(&request()).await.unwrap();
        assert!(!put.url.contains("X-Amz-Security-Token"), "{}", put.url);
    }

    #[test]
    fn expiry_is_read_from_the_url() {
        assert_eq!(
            signed_expiry("https://x/k?X-Amz-Date=1&X-Amz-Expires=42&b=c"),
            Some(Duration::from_secs(42))
        );
        assert_eq!(signed_expiry("https://x/k?X-Amz-Date=1"), None);
        assert_eq!(signed_expiry("https://x/k"), None);
    }
}
