//! The names of thumbforge's own CloudWatch metrics, written by the functions as Embedded
//! Metric Format lines (`thumbforge_lambda::emf`) and read by the alarms and the dashboard
//! (`terraform/observability.tf`, through `cargo xtask tfvars`): named once, here.

/// The namespace of every thumbforge metric.
pub const NAMESPACE: &str = "thumbforge";

/// Dimension: which function wrote the line (`thumbnail`, `presign`).
pub const FUNCTION: &str = "Function";
/// Dimension: how an image or a request ended (`ready`, `rejected`, `failed`; an API status class).
pub const OUTCOME: &str = "Outcome";
/// Dimension: why an image was rejected or failed (a [`crate::RejectReason`] or
/// [`crate::FailReason`] code).
pub const REASON: &str = "Reason";
/// Dimension: the API route (`POST /api/uploads`).
pub const ROUTE: &str = "Route";

/// `Outcome` of an image whose renditions were written.
pub const READY: &str = "ready";
/// `Outcome` of an image refused for a reason of its own.
pub const REJECTED: &str = "rejected";
/// `Outcome` of an image our code could not process (`internal_error`).
pub const FAILED: &str = "failed";

/// Images processed (count), per outcome.
pub const IMAGES: &str = "Images";
/// From the upload ticket to the renditions being recorded (milliseconds).
pub const TIME_TO_READY_MS: &str = "TimeToReadyMs";
/// Reading the original from S3.
pub const DOWNLOAD_MS: &str = "DownloadMs";
/// Decoding it.
pub const DECODE_MS: &str = "DecodeMs";
/// Resizing to every rendition.
pub const RESIZE_MS: &str = "ResizeMs";
/// Encoding every rendition.
pub const ENCODE_MS: &str = "EncodeMs";
/// Writing the renditions to S3.
pub const UPLOAD_MS: &str = "UploadMs";
/// The original's size (bytes).
pub const BYTES_IN: &str = "BytesIn";
/// All renditions' sizes together (bytes).
pub const BYTES_OUT: &str = "BytesOut";
/// Upload tickets handed out by the API (count).
pub const UPLOADS_STARTED: &str = "UploadsStarted";
/// Uploads refused by a quota (count), per `Reason` (the quota's error code).
pub const QUOTA_REFUSALS: &str = "QuotaRefusals";
