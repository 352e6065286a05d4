//! The `S3` implementation the server runs: `s3s_fs::FileSystem` plus fault injection, call
//! counting, atomic conditional writes and creation events.

use futures_util::StreamExt;
use hyper::http::Extensions;
use hyper::{HeaderMap, Method, Uri};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput, CreateBucketInput, CreateBucketOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteBucketInput, DeleteBucketOutput,
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, GetBucketLocationInput,
    GetBucketLocationOutput, GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput,
    HeadObjectInput, HeadObjectOutput, ListBucketsInput, ListBucketsOutput, ListObjectVersionsInput,
    ListObjectVersionsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output,
    ListPartsInput, ListPartsOutput, ObjectVersion, PutObjectInput, PutObjectOutput, StreamingBlob,
    UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

use crate::events::{EventName, Events};
use crate::faults::{Faults, Operation};
use crate::locks::KeyLocks;

/// What S3 answers for an object stored without a Content-Type.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// MD5 of nothing: the ETag of an empty object.
const EMPTY_ETAG: &str = "d41d8cd98f00b204e9800998ecf8427e";

pub(crate) struct Store {
    pub(crate) fs: FileSystem,
    pub(crate) faults: Faults,
    pub(crate) events: Events,
    pub(crate) locks: KeyLocks,
}

impl Store {
    /// Counts the call and answers with an injected fault if one is due.
    fn enter(&self, op: Operation) -> S3Result<()> {
        self.faults.enter(op)
    }

    /// Like [`Self::enter`] for operations with a request body: an injected fault first reads
    /// and discards the body (chunk by chunk, nothing kept), so the client gets the error answer
    /// on a healthy connection instead of a reset.
    async fn enter_with_body(&self, op: Operation, body: &mut Option<StreamingBlob>) -> S3Result<()> {
        let result = self.enter(op);
        if result.is_err()
            && let Some(mut body) = body.take()
        {
            while let Some(Ok(_)) = body.next().await {}
        }
        result
    }

    /// Looks up a freshly written object and publishes its creation. Called with the key's lock
    /// held.
    async fn publish_created(&self, bucket: &str, key: &str, event_name: EventName, etag: Option<String>) {
        let (size, etag) = if key.ends_with('/') {
            // s3s-fs stores "directory objects" as directories: empty objects for S3.
            (0, EMPTY_ETAG.to_owned())
        } else {
            let head = self
                .fs
                .head_object(internal_request(HeadObjectInput {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    ..Default::default()
                }))
                .await;
            let Ok(head) = head else {
                // Only possible if the file vanished (or is unreadable) right after being
                // written: there is no object to announce.
                return;
            };
            let size = head.output.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
            let etag = etag.or_else(|| head.output.e_tag.map(|e| e.into_value())).unwrap_or_default();
            (size, etag)
        };
        self.events.publish(bucket.to_owned(), key.to_owned(), size, etag, event_name);
    }
}

/// Refuses keys whose s3s-fs sidecar file names would exceed the file system's 255-byte limit.
///
/// s3s-fs stores an object's metadata and ETag in files named
/// `.bucket-<base64 bucket>.object-<base64 key>[.upload-<uuid>].{metadata,internal}.json`; when that
/// name is too long, it fails with a 500 *after* writing the object's bytes, leaving an object
/// without metadata. Checking first turns that into a clean `400 KeyTooLongError` that stores
/// nothing (about 160 bytes of key with a short bucket name, less for multipart uploads).
fn check_key_length(bucket: &str, key: &str, multipart: bool) -> S3Result<()> {
    const NAME_MAX: usize = 255;
    let fixed = ".bucket-".len()
        + base64_len(bucket.len())
        + ".object-".len()
        + if multipart { ".upload-".len() + 36 } else { 0 }
        + ".metadata.json".len();
    let max_key = NAME_MAX.saturating_sub(fixed) * 3 / 4;
    if key.len() > max_key {
        return Err(s3_error!(
            KeyTooLongError,
            "thumbforge-s3-local stores keys of at most {max_key} bytes in this bucket{} (s3s-fs's file names)",
            if multipart { " by multipart upload" } else { "" }
        ));
    }
    Ok(())
}

/// The length of unpadded base64 for `n` bytes.
fn base64_len(n: usize) -> usize {
    (4 * n).div_ceil(3)
}

/// A request made by the server to its own store (no HTTP request behind it).
fn internal_request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: Method::GET,
        uri: Uri::default(),
        headers: HeaderMap::new(),
        extensions: Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.enter(Operation::AbortMultipartUpload)?;
        self.fs.abort_multipart_upload(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.enter(Operation::CompleteMultipartUpload)?;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let _write = self.locks.lock(&bucket, &key).await;
        let resp = self.fs.complete_multipart_upload(req).await?;
        self.publish_created(&bucket, &key, EventName::CompleteMultipartUpload, None).await;
        Ok(resp)
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        self.enter(Operation::CopyObject)?;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        check_key_length(&bucket, &key, false)?;
        let _write = self.locks.lock(&bucket, &key).await;
        let resp = self.fs.copy_object(req).await?;
        let etag = resp
            .output
            .copy_object_result
            .as_ref()
            .and_then(|r| r.e_tag.as_ref())
            .map(|e| e.value().to_owned());
        self.publish_created(&bucket, &key, EventName::Copy, etag).await;
        Ok(resp)
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.enter(Operation::CreateBucket)?;
        self.fs.create_bucket(req).await
    }

    async fn create_multipart_upload(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.enter(Operation::CreateMultipartUpload)?;
        check_key_length(&req.input.bucket, &req.input.key, true)?;
        req.input.content_type.get_or_insert_with(|| DEFAULT_CONTENT_TYPE.to_owned());
        self.fs.create_multipart_upload(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.enter(Operation::DeleteBucket)?;
        self.fs.delete_bucket(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.enter(Operation::DeleteObject)?;
        self.fs.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.enter(Operation::DeleteObjects)?;
        self.fs.delete_objects(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.enter(Operation::GetBucketLocation)?;
        self.fs.get_bucket_location(req).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.enter(Operation::GetObject)?;
        // S3 answers with the `response-content-*` query parameters of a (signed) request in
        // place of the stored headers; s3s-fs ignores them.
        let disposition = req.input.response_content_disposition.clone();
        let content_type = req.input.response_content_type.clone();
        let mut response = self.fs.get_object(req).await?;
        if disposition.is_some() {
            response.output.content_disposition = disposition;
        }
        if content_type.is_some() {
            response.output.content_type = content_type;
        }
        Ok(response)
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.enter(Operation::HeadBucket)?;
        self.fs.head_bucket(req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.enter(Operation::HeadObject)?;
        self.fs.head_object(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.enter(Operation::ListBuckets)?;
        self.fs.list_buckets(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.enter(Operation::ListObjects)?;
        self.fs.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.enter(Operation::ListObjectsV2)?;
        self.fs.list_objects_v2(req).await
    }

    /// The buckets here are unversioned, so, as S3 does for an unversioned bucket, every object
    /// is one version with the id `null`, and there are no delete markers.
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        self.enter(Operation::ListObjectVersions)?;
        let input = req.input;
        let listed = self
            .fs
            .list_objects_v2(internal_request(ListObjectsV2Input {
                bucket: input.bucket.clone(),
                prefix: input.prefix.clone(),
                start_after: input.key_marker.clone(),
                max_keys: input.max_keys,
                ..ListObjectsV2Input::default()
            }))
            .await?
            .output;
        let versions: Vec<ObjectVersion> = listed
            .contents
            .unwrap_or_default()
            .into_iter()
            .map(|object| ObjectVersion {
                key: object.key,
                size: object.size,
                e_tag: object.e_tag,
                last_modified: object.last_modified,
                version_id: Some("null".to_owned()),
                is_latest: Some(true),
                ..ObjectVersion::default()
            })
            .collect();
        let truncated = listed.is_truncated.unwrap_or(false);
        let output = ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            max_keys: input.max_keys,
            is_truncated: Some(truncated),
            next_key_marker: if truncated { versions.last().and_then(|v| v.key.clone()) } else { None },
            versions: Some(versions),
            ..ListObjectVersionsOutput::default()
        };
        Ok(S3Response::new(output))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.enter(Operation::ListParts)?;
        self.fs.list_parts(req).await
    }

    async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        self.enter_with_body(Operation::PutObject, &mut req.input.body).await?;
        req.input.content_type.get_or_insert_with(|| DEFAULT_CONTENT_TYPE.to_owned());
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        check_key_length(&bucket, &key, false)?;
        // s3s-fs checks If-None-Match / If-Match before streaming the body to disk; holding the
        // key's lock across the whole call makes that check and the write one atomic step with
        // respect to every other write of this key in this process.
        let _write = self.locks.lock(&bucket, &key).await;
        let resp = self.fs.put_object(req).await?;
        let etag = resp.output.e_tag.as_ref().map(|e| e.value().to_owned());
        self.publish_created(&bucket, &key, EventName::Put, etag).await;
        Ok(resp)
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.enter_with_body(Operation::UploadPart, &mut req.input.body).await?;
        self.fs.upload_part(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.enter(Operation::UploadPartCopy)?;
        self.fs.upload_part_copy(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::check_key_length;

    #[test]
    fn key_length_limit_matches_s3s_fs_file_names() {
        // Measured against s3s-fs on ext4: 161 bytes store, 162 fail.
        assert!(check_key_length("uploads", &"k".repeat(161), false).is_ok());
        let err = check_key_length("uploads", &"k".repeat(162), false).expect_err("too long");
        assert_eq!(err.code().as_str(), "KeyTooLongError");
        assert!(err.message().is_some_and(|m| m.contains("at most 161 bytes")), "{err:?}");
        assert!(check_key_length("uploads", &"k".repeat(128), true).is_ok());
        assert!(check_key_length("uploads", &"k".repeat(129), true).is_err());
    }
}
