//! `GET /api/images/{id}/content?size=…&format=…`: one of the caller's images by size, as a
//! `302` to where its bytes are.
//!
//! - `size` (required) is one of the configured names (`[thumbnails.sizes]`, `small`, `medium`…)
//!   or `original`; `format` (optional) is `jpeg` (the default) or `webp` (when WebP is written),
//!   and does not apply to the original.
//! - A named size redirects to the rendition's path, `/thumbs/{id}/{px}.{ext}`: relative, as the
//!   page and `/thumbs/*` share the distribution's origin (and the local edge's). Only a rendition
//!   the image's record lists is given.
//! - `original` redirects to a pre-signed `GET` of the upload, `raw/{id}.{ext}`, valid for
//!   `[download] url_expiry_seconds`, that S3 answers with the stored type and `Content-Disposition:
//!   attachment` naming the user's file ([`content_disposition`]).
//!
//! Errors: `400 invalid_size` (listing the valid names), `400 invalid_format`, `404
//! image_not_found` exactly as `GET /api/images/{id}` (malformed, unknown or another user's id),
//! `409 image_not_ready` (pending or rejected: nothing to give; failed: no thumbnails, the original only), `503 signing_unavailable`.
//! Every redirect is `Cache-Control: no-store` with the body `{"url": "<location>"}`.

use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::header::LOCATION;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use thumbforge_catalog::{Catalog, ImageRecord, ImageState, Owner};
use thumbforge_core::config::ORIGINAL;
use thumbforge_core::{InputFormat, Outcome, OutputFormat, RuntimeConfig, keys};

use crate::api::Api;
use crate::http::{ApiError, json_response, query_param, with_header};
use crate::images::{not_found, parse_id};
use crate::ports::{Clock, GetRequest, IdGenerator, PresignedGet, Presigner};
use crate::uploads::raw_key;

/// What `?size=&format=` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The rendition of this configured box, in this format.
    Rendition {
        /// The box, in pixels.
        px: u32,
        /// The encoding.
        format: OutputFormat,
    },
    /// The uploaded file.
    Original,
}

/// Reads `size` and `format` against the configuration: `400 invalid_size` or `400
/// invalid_format` naming what is accepted.
pub fn parse_wanted(
    size: Option<&str>,
    format: Option<&str>,
    config: &RuntimeConfig,
) -> Result<Wanted, ApiError> {
    let mut names = config.thumbnails.sizes.names();
    names.push(ORIGINAL);
    let names = names.join(", ");
    let Some(size) = size else {
        return Err(ApiError::new(400, "invalid_size", format!("`size` is required: one of {names}")));
    };
    if size == ORIGINAL {
        return match format {
            None => Ok(Wanted::Original),
            Some(_) => Err(ApiError::new(
                400,
                "invalid_format",
                "`format` does not apply to `size=original`: the original is given as it was uploaded",
            )),
        };
    }
    let px = config.thumbnails.sizes.get(size).ok_or_else(|| {
        ApiError::new(400, "invalid_size", format!("`size` must be one of {names}, not {size:?}"))
    })?;
    let formats = config.thumbnails.output_formats();
    let format = match format {
        None => OutputFormat::Jpeg,
        Some(text) => formats.iter().copied().find(|f| f.name() == text).ok_or_else(|| {
            let accepted: Vec<&str> = formats.iter().map(|f| f.name()).collect();
            ApiError::new(
                400,
                "invalid_format",
                format!("`format` must be one of {}, not {text:?}", accepted.join(", ")),
            )
        })?,
    };
    Ok(Wanted::Rendition { px, format })
}

/// Everything but RFC 5987's `attr-char`s is percent-encoded in `filename*`.
const ATTR_CHAR_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The plain `filename="…"` of a `Content-Disposition`: every character that is not printable
/// ASCII, and `"`, `\` and `/`, replaced by `_`, so the quoted string cannot end early, escape or
/// name a folder.
pub fn ascii_filename(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '"' | '\\' | '/' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect()
}

/// `attachment; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded name>` (RFC 6266
/// and 5987): browsers that read `filename*` save the exact name, others the fallback. An empty
/// name (or one of blanks) is replaced by `fallback`.
pub fn content_disposition(name: &str, fallback: &str) -> String {
    let name = if name.trim().is_empty() { fallback } else { name };
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_filename(name),
        utf8_percent_encode(name, ATTR_CHAR_ENCODE)
    )
}

/// `409 image_not_ready`.
fn not_ready(text: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(409, "image_not_ready", format!("image {text} {message}"))
}

/// A `302` to `location`, never cached, with `{"url": location}`.
fn redirect(location: &str) -> ApiGatewayV2httpResponse {
    with_header(json_response(302, &json!({ "url": location })), LOCATION, location)
}

impl<K: Catalog, P: Presigner, C: Clock, I: IdGenerator> Api<K, P, C, I> {
    /// `GET /api/images/{id}/content` by `owner`.
    pub(crate) async fn image_content(
        &self,
        owner: &Owner,
        text: &str,
        request: &ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, ApiError> {
        let wanted = parse_wanted(
            query_param(request, "size", "invalid_size")?,
            query_param(request, "format", "invalid_format")?,
            self.config(),
        )?;
        let id = parse_id(text).ok_or_else(|| not_found(text))?;
        let record = self.catalog().get(owner, id).await.map_err(|e| ApiError::catalog(&e))?;
        let record = record.ok_or_else(|| not_found(text))?;
        let renditions = match &record.state {
            ImageState::Pending => {
                return Err(not_ready(text, "is still pending: nothing was processed yet"));
            }
            ImageState::Finished(Outcome::Rejected { reason, .. }) => {
                let reason = serde_json::to_value(reason).ok();
                let reason = reason.as_ref().and_then(|r| r.as_str()).unwrap_or("rejected");
                return Err(not_ready(
                    text,
                    format_args!(
                        "was rejected ({reason}): it has no thumbnails and its original is not served"
                    ),
                ));
            }
            // Our failure, not the file's: the upload is kept and its owner may download it.
            ImageState::Finished(Outcome::Failed { reason, .. }) => {
                if matches!(wanted, Wanted::Rendition { .. }) {
                    return Err(not_ready(
                        text,
                        format_args!(
                            "could not be processed ({reason}: a problem on our side, not with the file): it has no thumbnails yet"
                        ),
                    ));
                }
                &[]
            }
            ImageState::Finished(Outcome::Ready { renditions, .. }) => renditions.as_slice(),
        };
        match wanted {
            Wanted::Rendition { px, format } => {
                if !renditions.iter().any(|r| r.size == px && r.format == format) {
                    return Err(not_ready(
                        text,
                        format_args!("has no {px} px {format} thumbnail: it was processed with other sizes"),
                    ));
                }
                Ok(redirect(&format!("/{}", keys::rendition_key(text, px, format))))
            }
            Wanted::Original => {
                let signed = self.original_url(&record).await?;
                tracing::info!(id = text, "original download signed");
                Ok(redirect(&signed.url))
            }
        }
    }

    /// A pre-signed `GET` of the upload of a ready `record` (also for the account's export).
    pub(crate) async fn original_url(&self, record: &ImageRecord) -> Result<PresignedGet, ApiError> {
        let Some(format) = InputFormat::from_content_type(&record.content_type) else {
            tracing::error!(id = %record.id, content_type = record.content_type, "unreadable content type");
            return Err(ApiError::new(502, "storage_error", "the image's record is unreadable"));
        };
        let request = GetRequest {
            key: raw_key(&record.id, format),
            response_content_type: record.content_type.clone(),
            response_content_disposition: content_disposition(
                &record.filename,
                &format!("{}.{}", record.id.hyphenated(), format.extension()),
            ),
            start: self.clock().now(),
            expires_in: Duration::from_secs(u64::from(self.config().download.url_expiry_seconds)),
        };
        let presigned = self.presigner().presign_get(&request).await.map_err(|err| {
            tracing::error!(error = %err, "signing the download URL failed");
            ApiError::new(
                503,
                "signing_unavailable",
                "download URLs cannot be signed right now; try again shortly",
            )
        })?;
        Ok(presigned)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};
    use thumbforge_core::config::Sizes;
    use thumbforge_core::{FailReason, RejectReason, RuntimeConfig};
    use uuid::Uuid;

    use super::*;
    use crate::tests::{
        FakePresigner, Harness, NOW_MS, OTHER, SUB, SequentialIds, get, get_as, harness, harness_with, id_at,
        ready,
    };

    fn content(id: &str, query: &[(&str, &str)]) -> Value {
        get(&format!("/api/images/{id}/content"), query)
    }

    /// A ready image of [`SUB`]'s (the harness's `ready` renditions: 1024 and 256, JPEG and WebP).
    async fn ready_image(h: &Harness) -> Uuid {
        let id = id_at(NOW_MS - 1000, 3);
        h.seed(SUB, id, NOW_MS - 1000).await;
        h.finish(SUB, id, ready(&id)).await;
        id
    }

    #[track_caller]
    fn assert_redirect(answer: &crate::tests::Answer, location: &str) {
        assert_eq!(answer.status, 302, "{}", answer.body);
        assert_eq!(answer.response.headers["location"], location);
        assert_eq!(answer.response.headers["cache-control"], "no-store");
        assert_eq!(answer.body, json!({ "url": location }));
    }

    #[tokio::test]
    async fn a_named_size_redirects_to_its_rendition() {
        let h = harness();
        let id = ready_image(&h).await;
        let answer = h.call(content(&id.to_string(), &[("size", "small"), ("format", "webp")])).await;
        assert_redirect(&answer, &format!("/thumbs/{id}/256.webp"));
        let answer = h.call(content(&id.to_string(), &[("size", "medium")])).await;
        assert_redirect(&answer, &format!("/thumbs/{id}/1024.jpg"));
        let answer = h.call(content(&id.to_string(), &[("size", "small"), ("format", "jpeg")])).await;
        assert_redirect(&answer, &format!("/thumbs/{id}/256.jpg"));
        assert!(h.presigner.gets.lock().unwrap().is_empty(), "nothing signed for a rendition");
    }

    #[tokio::test]
    async fn the_original_redirects_to_a_short_signed_download_naming_the_file() {
        let mut config = RuntimeConfig::default();
        config.download.url_expiry_seconds = 42;
        let h = harness_with(config, FakePresigner::default(), SequentialIds::default());
        let id = id_at(NOW_MS - 1000, 4);
        let image = thumbforge_catalog::NewImage {
            id,
            filename: "Été \"à\" Paris.png".into(),
            content_type: "image/png".into(),
            size: 1000,
            created_at_ms: NOW_MS - 1000,
            expires_at_s: NOW_MS / 1000 + 86_400,
        };
        h.catalog().create(&crate::tests::owner(SUB), &image).await.unwrap();
        h.finish(SUB, id, ready(&id)).await;

        let answer = h.call(content(&id.to_string(), &[("size", "original")])).await;
        let location = format!("https://media.s3.example/raw/{id}.png?X-Amz-Expires=42&X-Amz-Signature=beef");
        assert_redirect(&answer, &location);
        let gets = h.presigner.gets.lock().unwrap().clone();
        assert_eq!(gets.len(), 1);
        let signed = &gets[0];
        assert_eq!(signed.key, format!("raw/{id}.png"), "the key the upload was signed for");
        assert_eq!(signed.response_content_type, "image/png");
        assert_eq!(
            signed.response_content_disposition,
            "attachment; filename=\"_t_ ___ Paris.png\"; filename*=UTF-8''%C3%89t%C3%A9%20%22%C3%A0%22%20Paris.png"
        );
        assert_eq!(signed.expires_in, Duration::from_secs(42));
        assert_eq!(signed.start, crate::tests::at(NOW_MS));
    }

    #[test]
    fn hostile_file_names_cannot_break_the_header() {
        let fallback = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e.jpg";
        for (name, expected) in [
            ("IMG_2041.JPG", "attachment; filename=\"IMG_2041.JPG\"; filename*=UTF-8''IMG_2041.JPG"),
            ("a\"b\".jpg", "attachment; filename=\"a_b_.jpg\"; filename*=UTF-8''a%22b%22.jpg"),
            (
                "x.jpg\r\nSet-Cookie: a=1",
                "attachment; filename=\"x.jpg__Set-Cookie: a=1\"; filename*=UTF-8''x.jpg%0D%0ASet-Cookie%3A%20a%3D1",
            ),
            (
                "../../etc/passwd",
                "attachment; filename=\".._.._etc_passwd\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd",
            ),
            (
                "C:\\temp\\a.jpg",
                "attachment; filename=\"C:_temp_a.jpg\"; filename*=UTF-8''C%3A%5Ctemp%5Ca.jpg",
            ),
            (
                "東京 😀.png",
                "attachment; filename=\"__ _.png\"; filename*=UTF-8''%E6%9D%B1%E4%BA%AC%20%F0%9F%98%80.png",
            ),
            ("tab\there\u{7f}", "attachment; filename=\"tab_here_\"; filename*=UTF-8''tab%09here%7F"),
            ("", &format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{fallback}")),
            ("  ", &format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{fallback}")),
        ] {
            let header = content_disposition(name, fallback);
            assert_eq!(header, expected, "{name:?}");
            // A valid header value: printable ASCII only, one quoted string.
            assert!(header.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{header}");
            assert_eq!(header.matches('"').count(), 2, "{header}");
            assert!(aws_lambda_events::http::HeaderValue::from_str(&header).is_ok());
        }
    }

    #[tokio::test]
    async fn bad_sizes_and_formats_are_400_naming_what_is_accepted() {
        let h = harness();
        let id = ready_image(&h).await.to_string();
        for (query, code, needle) in [
            (&[][..], "invalid_size", "`size` is required: one of small, medium, original"),
            (
                &[("size", "huge")][..],
                "invalid_size",
                "`size` must be one of small, medium, original, not \"huge\"",
            ),
            (&[("size", "256")][..], "invalid_size", "one of small, medium, original"),
            (&[("size", "Small")][..], "invalid_size", "not \"Small\""),
            (&[("size", "")][..], "invalid_size", "not \"\""),
            (
                &[("size", "small"), ("format", "png")][..],
                "invalid_format",
                "`format` must be one of jpeg, webp, not \"png\"",
            ),
            (&[("size", "small"), ("format", "")][..], "invalid_format", "one of jpeg, webp"),
            (
                &[("size", "original"), ("format", "jpeg")][..],
                "invalid_format",
                "does not apply to `size=original`",
            ),
        ] {
            let (status, got, message) = h.error(content(&id, query)).await;
            assert_eq!((status, got.as_str()), (400, code), "{query:?}: {message}");
            assert!(message.contains(needle), "{query:?}: {message:?} lacks {needle:?}");
        }
        // WebP turned off: only JPEG is offered.
        let mut config = RuntimeConfig::default();
        config.thumbnails.formats = vec![OutputFormat::Jpeg];
        config.thumbnails.sizes = Sizes::from([("thumb", 256)]);
        let h = harness_with(config, FakePresigner::default(), SequentialIds::default());
        let id = ready_image(&h).await.to_string();
        let (status, code, message) = h.error(content(&id, &[("size", "thumb"), ("format", "webp")])).await;
        assert_eq!((status, code.as_str()), (400, "invalid_format"));
        assert!(message.contains("`format` must be one of jpeg, not \"webp\""), "{message}");
        let (_, code, message) = h.error(content(&id, &[("size", "small")])).await;
        assert_eq!(code, "invalid_size");
        assert!(message.contains("one of thumb, original"), "{message}");
        assert_redirect(&h.call(content(&id, &[("size", "thumb")])).await, &format!("/thumbs/{id}/256.jpg"));
    }

    #[tokio::test]
    async fn unknown_malformed_and_other_users_ids_are_404_as_for_get() {
        let h = harness();
        let id = ready_image(&h).await.to_string();
        let theirs =
            h.call(get_as(OTHER, &format!("/api/images/{id}/content"), &[("size", "original")])).await;
        assert_eq!((theirs.status, theirs.body["error"]["code"].as_str()), (404, Some("image_not_found")));
        // Exactly what GET /api/images/{id} answers them.
        let status = h.call(get_as(OTHER, &format!("/api/images/{id}"), &[])).await;
        assert_eq!((theirs.status, &theirs.body), (status.status, &status.body));
        let unknown = id_at(NOW_MS, 99).to_string();
        for bad in [unknown.as_str(), "not-a-uuid", "0195896B-6A13-7C3A-9B1E-6F4D2C1A0B9E"] {
            let (status, code, _) = h.error(content(bad, &[("size", "small")])).await;
            assert_eq!((status, code.as_str()), (404, "image_not_found"), "{bad}");
        }
        assert!(h.presigner.gets.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn pending_and_rejected_images_are_409_saying_which() {
        let h = harness();
        let pending = id_at(NOW_MS - 2000, 1);
        h.seed(SUB, pending, NOW_MS - 2000).await;
        let rejected = id_at(NOW_MS - 2000, 2);
        h.seed(SUB, rejected, NOW_MS - 2000).await;
        h.finish(
            SUB,
            rejected,
            Outcome::Rejected { reason: RejectReason::NotAnImage, message: "not an image".into() },
        )
        .await;
        for size in ["small", "original"] {
            let (status, code, message) = h.error(content(&pending.to_string(), &[("size", size)])).await;
            assert_eq!((status, code.as_str()), (409, "image_not_ready"));
            assert!(message.contains("is still pending"), "{message}");
            let (status, code, message) = h.error(content(&rejected.to_string(), &[("size", size)])).await;
            assert_eq!((status, code.as_str()), (409, "image_not_ready"));
            assert!(message.contains("was rejected (not_an_image)"), "{message}");
        }
        assert!(h.presigner.gets.lock().unwrap().is_empty(), "no original of an unready image is signed");
    }

    #[tokio::test]
    async fn a_failed_image_has_no_thumbnails_but_keeps_its_original() {
        let h = harness();
        let failed = id_at(NOW_MS - 2000, 3);
        h.seed(SUB, failed, NOW_MS - 2000).await;
        h.finish(SUB, failed, Outcome::Failed { reason: FailReason::InternalError, message: "ours".into() })
            .await;
        let (status, code, message) = h.error(content(&failed.to_string(), &[("size", "small")])).await;
        assert_eq!((status, code.as_str()), (409, "image_not_ready"));
        assert!(message.contains("internal_error: a problem on our side, not with the file"), "{message}");
        let original = h.call(content(&failed.to_string(), &[("size", "original")])).await;
        assert_eq!(original.status, 302, "{:?}", original.body);
        assert_eq!(h.presigner.gets.lock().unwrap().len(), 1);
        let shown = h.call(get(&format!("/api/images/{failed}"), &[])).await;
        assert_eq!(
            (shown.body["status"].as_str(), shown.body["reason"].as_str(), shown.body["message"].as_str()),
            (Some("failed"), Some("internal_error"), Some("ours"))
        );
    }

    #[tokio::test]
    async fn a_rendition_the_record_lacks_is_not_given() {
        // Processed before `large` was configured: its record has no 2048 px rendition.
        let mut config = RuntimeConfig::default();
        config.thumbnails.sizes = Sizes::from([("small", 256), ("medium", 1024), ("large", 2048)]);
        let h = harness_with(config, FakePresigner::default(), SequentialIds::default());
        let id = ready_image(&h).await.to_string();
        let (status, code, message) = h.error(content(&id, &[("size", "large")])).await;
        assert_eq!((status, code.as_str()), (409, "image_not_ready"));
        assert!(message.contains("has no 2048 px jpeg thumbnail"), "{message}");
        assert_redirect(
            &h.call(content(&id, &[("size", "medium")])).await,
            &format!("/thumbs/{id}/1024.jpg"),
        );
    }

    #[tokio::test]
    async fn signing_and_catalog_failures_are_503() {
        let h = harness_with(
            RuntimeConfig::default(),
            FakePresigner { fail: true, ..FakePresigner::default() },
            SequentialIds::default(),
        );
        let id = ready_image(&h).await.to_string();
        let (status, code, _) = h.error(content(&id, &[("size", "original")])).await;
        assert_eq!((status, code.as_str()), (503, "signing_unavailable"));
        // A rendition needs no signature.
        assert_eq!(h.call(content(&id, &[("size", "small")])).await.status, 302);
        h.catalog().fail_next(crate::tests::unavailable(true));
        let (status, code, _) = h.error(content(&id, &[("size", "small")])).await;
        assert_eq!((status, code.as_str()), (503, "storage_unavailable"));
    }
}
