//! The environment variables that carry configuration to the functions, named once here.
//!
//! Terraform sets them from `terraform/generated.auto.tfvars.json` and the local stack sets them
//! from the same [`crate::Config`]; the README lists them.

/// Bucket holding `raw/` uploads and `thumbs/` outputs (deployment, not part of `thumbforge.toml`).
pub const BUCKET: &str = "THUMBFORGE_BUCKET";
/// Comma-separated named rendition box sizes, smallest first, e.g. `small=256,medium=1024`.
pub const SIZES: &str = "THUMBFORGE_SIZES";
/// JPEG quality, 1–100.
pub const JPEG_QUALITY: &str = "THUMBFORGE_JPEG_QUALITY";
/// `true` to write a WebP beside each JPEG.
pub const WEBP: &str = "THUMBFORGE_WEBP";
/// WebP quality, 1–100.
pub const WEBP_QUALITY: &str = "THUMBFORGE_WEBP_QUALITY";
/// WebP effort (libwebp's `method`), 0–6.
pub const WEBP_EFFORT: &str = "THUMBFORGE_WEBP_EFFORT";
/// Seconds browsers and CloudFront may cache a rendition.
pub const CACHE_SECONDS: &str = "THUMBFORGE_CACHE_SECONDS";
/// Largest accepted upload in bytes.
pub const MAX_UPLOAD_BYTES: &str = "THUMBFORGE_MAX_UPLOAD_BYTES";
/// Largest accepted image in pixels.
pub const MAX_PIXELS: &str = "THUMBFORGE_MAX_PIXELS";
/// Largest accepted width or height.
pub const MAX_SIDE: &str = "THUMBFORGE_MAX_SIDE";
/// Most bytes a decoder may allocate.
pub const MAX_DECODE_BYTES: &str = "THUMBFORGE_MAX_DECODE_BYTES";
/// Comma-separated accepted input formats: `jpeg,png,webp,gif`.
pub const ALLOWED_TYPES: &str = "THUMBFORGE_ALLOWED_TYPES";
/// Lifetime of a pre-signed upload URL in seconds.
pub const PRESIGN_EXPIRY_SECONDS: &str = "THUMBFORGE_PRESIGN_EXPIRY_SECONDS";
/// Lifetime of a pre-signed download URL of an original, in seconds.
pub const DOWNLOAD_EXPIRY_SECONDS: &str = "THUMBFORGE_DOWNLOAD_EXPIRY_SECONDS";
/// `quotas.uploads_per_day`.
pub const QUOTA_UPLOADS_PER_DAY: &str = "THUMBFORGE_QUOTA_UPLOADS_PER_DAY";
/// `quotas.bytes_per_day`.
pub const QUOTA_BYTES_PER_DAY: &str = "THUMBFORGE_QUOTA_BYTES_PER_DAY";
/// `quotas.photos_stored`.
pub const QUOTA_PHOTOS_STORED: &str = "THUMBFORGE_QUOTA_PHOTOS_STORED";
/// `quotas.bytes_stored`.
pub const QUOTA_BYTES_STORED: &str = "THUMBFORGE_QUOTA_BYTES_STORED";
/// Optional S3 endpoint override (the local stack and emulators); unset on AWS.
pub const S3_ENDPOINT: &str = "THUMBFORGE_S3_ENDPOINT";

/// The metadata table (DynamoDB; deployment, not part of `thumbforge.toml`).
pub const TABLE: &str = "THUMBFORGE_TABLE";
/// Optional DynamoDB endpoint override (the local stack and emulators); unset on AWS.
pub const DYNAMODB_ENDPOINT: &str = "THUMBFORGE_DYNAMODB_ENDPOINT";

/// The Cognito user pool whose users the thumbnail function deletes when their account is
/// deleted (deployment; unset with `provider = "oidc"`, whose users are not ours to delete).
pub const USER_POOL_ID: &str = "THUMBFORGE_USER_POOL_ID";
/// Optional Cognito endpoint override (the local stack's embedded issuer); unset on AWS.
pub const COGNITO_ENDPOINT: &str = "THUMBFORGE_COGNITO_ENDPOINT";

// What the page needs to sign in, served by `GET /api/config` (the API function only). On AWS
// Terraform sets them from the user pool's hosted UI domain and app client, or from `[auth]` for
// `provider = "oidc"`; the local stack sets them from its embedded issuer.

/// The page's OAuth client id (a public client: code + PKCE).
pub const AUTH_CLIENT_ID: &str = "THUMBFORGE_AUTH_CLIENT_ID";
/// The provider's authorization endpoint, e.g. `https://x.auth.eu-west-1.amazoncognito.com/oauth2/authorize`.
pub const AUTH_AUTHORIZE_URL: &str = "THUMBFORGE_AUTH_AUTHORIZE_URL";
/// The provider's token endpoint.
pub const AUTH_TOKEN_URL: &str = "THUMBFORGE_AUTH_TOKEN_URL";
/// Where signing out sends the browser (Cognito's `/logout`); may be empty.
pub const AUTH_LOGOUT_URL: &str = "THUMBFORGE_AUTH_LOGOUT_URL";
/// The scopes the page asks for, space-separated.
pub const AUTH_SCOPES: &str = "THUMBFORGE_AUTH_SCOPES";

/// Every variable [`crate::RuntimeConfig::from_env`] reads.
pub const RUNTIME: [&str; 17] = [
    SIZES,
    JPEG_QUALITY,
    WEBP,
    WEBP_QUALITY,
    WEBP_EFFORT,
    CACHE_SECONDS,
    MAX_UPLOAD_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    MAX_DECODE_BYTES,
    ALLOWED_TYPES,
    PRESIGN_EXPIRY_SECONDS,
    DOWNLOAD_EXPIRY_SECONDS,
    QUOTA_UPLOADS_PER_DAY,
    QUOTA_BYTES_PER_DAY,
    QUOTA_PHOTOS_STORED,
    QUOTA_BYTES_STORED,
];
