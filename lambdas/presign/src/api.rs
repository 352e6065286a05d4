//! The API core: routes an API Gateway HTTP API (payload 2.0) request and always answers with
//! JSON, never with an invocation error.
//!
//! The routes are [`thumbforge_core::routes::ROUTES`]; API Gateway has selected one of them, and
//! the function resolves the method and path against the same table.
//!
//! | route | answer |
//! |---|---|
//! | `POST /api/uploads` | `201` an upload ticket ([`UploadTicket`](crate::uploads::UploadTicket)) |
//! | `GET /api/images/{id}` | `200` an [`Image`](crate::images::Image); `404` for a malformed or unknown id |
//! | `PATCH /api/images/{id}` | `200` the edited [`Image`](crate::images::Image); `400` listing every problem; `404` as `GET` |
//! | `GET /api/images?limit&cursor&tag&album` | `200` an [`ImagePage`](crate::images::ImagePage) (only the images tagged `tag`, in `album`, when given) |
//! | `GET /api/images/{id}/content?size&format` | `302` to a rendition or a signed download of the original ([`content`](crate::content)) |
//! | `POST /api/albums`, `GET /api/albums` | `201` the new album, `200` `{items}` with counts and covers ([`albums`](crate::albums)) |
//! | `GET`, `PATCH`, `DELETE /api/albums/{id}` | `200` the album, `200` renamed, `204` (its photos stay) |
//! | `PUT`, `DELETE /api/albums/{id}/photos/{imageId}` | `204`, idempotent |
//! | `GET`, `DELETE /api/account` | `200` the account's state, `202` its deletion started ([`account`](crate::account)) |
//! | `GET /api/account/export` | `200` everything stored about the caller as one JSON attachment |
//! | `GET /api/config` | `200` the [`PublicConfig`] the page checks files against |
//! | a known path, another method | `405` with `Allow` |
//! | anything else | `404` |

use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::header::{CONTENT_DISPOSITION, LOCATION};
use serde_json::Value;
use thumbforge_catalog::Catalog;
use thumbforge_core::auth::SignIn;
use thumbforge_core::describe::{
    ALBUM_NAME_MAX_CHARS, ALBUMS_MAX, ALBUMS_PER_PHOTO_MAX, DESCRIPTION_MAX_CHARS, TAG_MAX_CHARS, TAGS_MAX,
    TITLE_MAX_CHARS,
};
use thumbforge_core::routes::{self, Endpoint, Resolution};
use thumbforge_core::{OutputFormat, RuntimeConfig};
use tracing::Instrument;
use uuid::Uuid;

use crate::account::{self, AccountView};
use crate::albums;
use crate::http::{self, ApiError, empty_response, json_response, query_param, route_path, with_header};
use crate::images::{self, DEFAULT_LIMIT, MAX_LIMIT};
use crate::origin::OriginSecret;
use crate::ports::{Clock, IdGenerator, Presigner, SystemClock, V7Ids};

/// The API over its ports: the metadata table, a URL signer, a clock and an id generator.
#[derive(Debug)]
pub struct Api<K, P, C = SystemClock, I = V7Ids> {
    catalog: K,
    presigner: P,
    clock: C,
    ids: I,
    config: RuntimeConfig,
    sign_in: SignIn,
    origin: Option<OriginSecret>,
}

/// The limits a client checks before asking for an upload (the API enforces them anyway).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicConfig {
    /// Largest upload in bytes.
    pub max_upload_bytes: u64,
    /// The exact `contentType` values `POST /api/uploads` accepts.
    pub allowed_content_types: Vec<&'static str>,
    /// Rendition box sizes, smallest first.
    pub sizes: Vec<u32>,
    /// The renditions by name (`GET /api/images/{id}/content?size=`), smallest first.
    pub named_sizes: Vec<NamedSize>,
    /// Output formats, in order of preference for a browser that supports them all.
    pub formats: Vec<&'static str>,
    /// Lifetime of an upload URL in seconds.
    pub upload_expiry_seconds: u64,
    /// How the page signs in.
    pub auth: SignIn,
    /// The limits of a photo's title, description and tags (`PATCH /api/images/{id}`).
    pub details: DetailLimits,
    /// The limits of albums (`POST /api/albums`, `PUT /api/albums/{id}/photos/{imageId}`).
    pub album_limits: AlbumLimits,
    /// Each user's quotas (`GET /api/account` says how much of each is used).
    pub quotas: QuotaLimits,
}

/// `[quotas]` as the page reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaLimits {
    /// Uploads per UTC day.
    pub uploads_per_day: u32,
    /// Bytes uploaded per UTC day.
    pub bytes_per_day: u64,
    /// Photos kept.
    pub photos_stored: u32,
    /// Bytes kept.
    pub bytes_stored: u64,
}

impl From<thumbforge_core::config::Quotas> for QuotaLimits {
    fn from(q: thumbforge_core::config::Quotas) -> Self {
        Self {
            uploads_per_day: q.uploads_per_day,
            bytes_per_day: q.bytes_per_day,
            photos_stored: q.photos_stored,
            bytes_stored: q.bytes_stored,
        }
    }
}

/// The album limits the catalog enforces, for the page to say them before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbumLimits {
    /// Longest album name, in characters.
    pub name_max_chars: usize,
    /// Most albums one user has.
    pub albums_max: usize,
    /// Most albums one photo is in.
    pub per_photo_max: usize,
}

impl AlbumLimits {
    /// The limits `describe::parse_album_name` and the catalog enforce.
    pub const ENFORCED: Self = Self {
        name_max_chars: ALBUM_NAME_MAX_CHARS,
        albums_max: ALBUMS_MAX,
        per_photo_max: ALBUMS_PER_PHOTO_MAX,
    };
}

/// One configured rendition size: what `?size=` calls it and its box in pixels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamedSize {
    /// The name (`small`).
    pub name: String,
    /// The box, in pixels.
    pub size: u32,
}

/// The limits an edit is checked against ([`thumbforge_core::describe`]), for the page to check
/// the same ones before it sends an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailLimits {
    /// Longest title, in characters (Unicode scalar values).
    pub title_max_chars: usize,
    /// Longest description, in characters.
    pub description_max_chars: usize,
    /// Most tags on one photo.
    pub tags_max: usize,
    /// Longest tag, in characters.
    pub tag_max_chars: usize,
}

impl DetailLimits {
    /// The limits `describe::parse_edit` enforces.
    pub const ENFORCED: Self = Self {
        title_max_chars: TITLE_MAX_CHARS,
        description_max_chars: DESCRIPTION_MAX_CHARS,
        tags_max: TAGS_MAX,
        tag_max_chars: TAG_MAX_CHARS,
    };
}

/// What `GET /api/images` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Only the images with this tag (normalised).
    pub tag: Option<String>,
    /// Only the images in this album (a `404 album_not_found` when the caller has no such album).
    pub album: Option<Uuid>,
    /// The page size.
    pub limit: usize,
    /// Continue strictly after this id (a previous page's `next`).
    pub after: Option<Uuid>,
}

impl PublicConfig {
    /// What a client may know of the configuration.
    pub fn of(config: &RuntimeConfig, sign_in: &SignIn) -> Self {
        let mut sizes = config.sizes_largest_first();
        sizes.reverse();
        let mut formats: Vec<&'static str> =
            config.thumbnails.negotiated_formats().iter().map(|f| f.name()).collect();
        formats.push(OutputFormat::Jpeg.name());
        Self {
            max_upload_bytes: config.limits.max_upload_bytes,
            allowed_content_types: config.limits.allowed_types.iter().map(|t| t.content_type()).collect(),
            sizes,
            named_sizes: config
                .thumbnails
                .sizes
                .smallest_first()
                .into_iter()
                .map(|(name, size)| NamedSize { name: name.to_owned(), size })
                .collect(),
            formats,
            upload_expiry_seconds: u64::from(config.upload.presign_expiry_seconds),
            auth: sign_in.clone(),
            details: DetailLimits::ENFORCED,
            album_limits: AlbumLimits::ENFORCED,
            quotas: config.quotas.into(),
        }
    }
}

impl<K: Catalog, P: Presigner> Api<K, P> {
    /// The API with the system clock and [`uuid::Uuid::now_v7`] ids.
    pub fn new(catalog: K, presigner: P, config: RuntimeConfig, sign_in: SignIn) -> Self {
        Self { catalog, presigner, clock: SystemClock, ids: V7Ids, config, sign_in, origin: None }
    }
}

impl<K, P, C, I> Api<K, P, C, I> {
    /// The same API with another clock.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Api<K, P, C2, I> {
        let Self { catalog, presigner, ids, config, sign_in, origin, .. } = self;
        Api { catalog, presigner, clock, ids, config, sign_in, origin }
    }

    /// The same API with another id generator.
    pub fn with_ids<I2: IdGenerator>(self, ids: I2) -> Api<K, P, C, I2> {
        let Self { catalog, presigner, clock, config, sign_in, origin, .. } = self;
        Api { catalog, presigner, clock, ids, config, sign_in, origin }
    }

    /// The same API refusing every request without `secret` in its
    /// [`ORIGIN_SECRET_HEADER`](crate::origin::ORIGIN_SECRET_HEADER) (`403`): as deployed, where only
    /// CloudFront knows it. Without one, every request is served (the core's tests).
    #[must_use]
    pub fn with_origin_secret(self, secret: OriginSecret) -> Self {
        Self { origin: Some(secret), ..self }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    pub(crate) fn catalog(&self) -> &K {
        &self.catalog
    }

    pub(crate) fn presigner(&self) -> &P {
        &self.presigner
    }

    pub(crate) fn clock(&self) -> &C {
        &self.clock
    }

    pub(crate) fn ids(&self) -> &I {
        &self.ids
    }
}

impl<K: Catalog, P: Presigner, C: Clock, I: IdGenerator> Api<K, P, C, I> {
    /// Handles a raw Lambda payload: a payload that is not an HTTP API request is answered with
    /// `400 bad_event` (and logged) rather than failing the invocation.
    pub async fn handle_event(&self, event: Value) -> ApiGatewayV2httpResponse {
        match serde_json::from_value::<ApiGatewayV2httpRequest>(event) {
            Ok(request) => self.handle(&request).await,
            Err(err) => {
                tracing::warn!(error = %err, "not an API Gateway HTTP API (payload 2.0) event");
                ApiError::new(
                    400,
                    "bad_event",
                    "the request is not an API Gateway HTTP API (payload 2.0) event",
                )
                .into_response()
            }
        }
    }

    /// Handles one request. Every outcome is a JSON response. Every line logged meanwhile
    /// carries the request's API Gateway id and source IP (its span), so the API's access log
    /// and the line naming an issued image id join on `request_id`: who uploaded what.
    pub async fn handle(&self, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let started = Instant::now();
        let method = request.request_context.http.method.as_str();
        let path = route_path(request);
        let span = tracing::info_span!(
            "request",
            request_id = request.request_context.request_id.as_deref().unwrap_or(""),
            source_ip = request.request_context.http.source_ip.as_deref().unwrap_or(""),
        );
        async {
            let admitted = self.origin.as_ref().map_or(Ok(()), |secret| secret.check(&request.headers));
            let response = match admitted {
                Ok(()) => self.route(method, path, request).await.unwrap_or_else(ApiError::into_response),
                Err(refused) => {
                    tracing::warn!(
                        method,
                        path,
                        "refused a request that did not come through the edge (no or a wrong origin secret)"
                    );
                    refused.into_response()
                }
            };
            tracing::info!(
                method,
                path,
                status = response.status_code,
                ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "request"
            );
            response
        }
        .instrument(span)
        .await
    }

    async fn route(
        &self,
        method: &str,
        path: &str,
        request: &ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, ApiError> {
        let selected = match routes::resolve(method, path) {
            Resolution::Found(selected) => selected,
            Resolution::MethodNotAllowed(allow) => {
                return Err(ApiError::method_not_allowed(method, path, &allow.join(", ")));
            }
            Resolution::NotFound => return Err(ApiError::no_route(path)),
        };
        let id = || selected.parameters.get("id").map_or("", String::as_str);
        match selected.route.endpoint {
            Endpoint::CreateUpload => {
                let owner = http::owner(request)?;
                let body = http::body_bytes(request)?;
                let ticket = self.create_upload(&owner, &body).await?;
                let location = ticket.status_url.clone();
                Ok(with_header(json_response(201, &ticket), LOCATION, &location))
            }
            Endpoint::GetImage => Ok(json_response(200, &self.image(&http::owner(request)?, id()).await?)),
            Endpoint::ImageContent => self.image_content(&http::owner(request)?, id(), request).await,
            Endpoint::EditImage => {
                let owner = http::owner(request)?;
                let body = http::body_bytes(request)?;
                Ok(json_response(200, &self.edit_image(&owner, id(), &body).await?))
            }
            Endpoint::DeleteImage => {
                self.delete_image(&http::owner(request)?, id()).await?;
                Ok(empty_response(204))
            }
            Endpoint::Config => Ok(json_response(200, &PublicConfig::of(&self.config, &self.sign_in))),
            Endpoint::CreateAlbum => {
                let owner = http::owner(request)?;
                let album = self.create_album(&owner, &http::body_bytes(request)?).await?;
                let location = format!("/api/albums/{}", album.id);
                Ok(with_header(json_response(201, &album), LOCATION, &location))
            }
            Endpoint::ListAlbums => Ok(json_response(200, &self.albums(&http::owner(request)?).await?)),
            Endpoint::GetAlbum => Ok(json_response(200, &self.album(&http::owner(request)?, id()).await?)),
            Endpoint::EditAlbum => {
                let owner = http::owner(request)?;
                let body = http::body_bytes(request)?;
                Ok(json_response(200, &self.rename_album(&owner, id(), &body).await?))
            }
            Endpoint::DeleteAlbum => {
                self.delete_album(&http::owner(request)?, id()).await?;
                Ok(empty_response(204))
            }
            Endpoint::AddToAlbum | Endpoint::RemoveFromAlbum => {
                let owner = http::owner(request)?;
                let image = selected.parameters.get("imageId").map_or("", String::as_str);
                let add = selected.route.endpoint == Endpoint::AddToAlbum;
                self.membership(&owner, id(), image, add).await?;
                Ok(empty_response(204))
            }
            Endpoint::GetAccount => Ok(json_response(200, &self.account(&http::owner(request)?).await?)),
            Endpoint::DeleteAccount => {
                let owner = http::owner(request)?;
                let view = self.delete_account(&owner, &account::username(request, &owner)).await?;
                let status = if matches!(view, AccountView::Deleted { .. }) { 200 } else { 202 };
                Ok(with_header(json_response(status, &view), LOCATION, "/api/account"))
            }
            Endpoint::ExportAccount => {
                let export = self.export(&http::owner(request)?).await?;
                let disposition = "attachment; filename=\"thumbforge-export.json\"";
                Ok(with_header(json_response(200, &export), CONTENT_DISPOSITION, disposition))
            }
            // `resolve` never answers with the fallback: it is how other requests reach us.
            Endpoint::Fallback => Err(ApiError::no_route(path)),
            Endpoint::ListImages => {
                let owner = http::owner(request)?;
                let listing = parse_listing(request)?;
                Ok(json_response(200, &self.images(&owner, &listing).await?))
            }
        }
    }
}

/// The query of `GET /api/images`: `limit`, `cursor`, `tag` and `album`, each at most once; any other
/// parameter is ignored.
pub fn parse_listing(request: &ApiGatewayV2httpRequest) -> Result<Listing, ApiError> {
    let limit = parse_limit(query_param(request, "limit", "invalid_limit")?)?;
    let after = match query_param(request, "cursor", "invalid_cursor")? {
        None => None,
        Some(text) => Some(images::parse_id(text).ok_or_else(|| {
            ApiError::new(400, "invalid_cursor", "`cursor` must be a `next` value returned by this API")
        })?),
    };
    let tag = images::parse_tag(query_param(request, "tag", "invalid_tag")?)?;
    let album = query_param(request, "album", "invalid_album")?.map(albums::parse_album_id).transpose()?;
    Ok(Listing { tag, album, limit, after })
}

/// `limit`: a whole number from 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn parse_limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else { return Ok(DEFAULT_LIMIT) };
    text.parse::<usize>()
        .ok()
        .filter(|n| text.bytes().all(|b| b.is_ascii_digit()) && (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            ApiError::new(
                400,
                "invalid_limit",
                format!("`limit` must be a whole number from 1 to {MAX_LIMIT}, not {text:?}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in() -> SignIn {
        SignIn {
            client_id: "client".into(),
            authorize_url: "https://id.example/oauth2/authorize".into(),
            token_url: "https://id.example/oauth2/token".into(),
            logout_url: Some("https://id.example/logout".into()),
            scopes: vec!["openid".into(), "email".into()],
        }
    }

    #[test]
    fn public_config_follows_the_runtime_config() {
        let mut config = RuntimeConfig::default();
        let public = PublicConfig::of(&config, &sign_in());
        assert_eq!(public.max_upload_bytes, config.limits.max_upload_bytes);
        assert_eq!(public.allowed_content_types, ["image/jpeg", "image/png", "image/webp", "image/gif"]);
        assert_eq!(public.sizes, [256, 1024]);
        assert_eq!(
            serde_json::to_value(&public).unwrap()["namedSizes"],
            serde_json::json!([{"name": "small", "size": 256}, {"name": "medium", "size": 1024}])
        );
        assert_eq!(public.formats, ["webp", "jpeg"]);
        config.thumbnails.formats = vec![OutputFormat::Jpeg];
        config.thumbnails.sizes = thumbforge_core::config::Sizes::from([("big", 512), ("tiny", 64)]);
        config.limits.allowed_types = vec![thumbforge_core::InputFormat::Png];
        let public = PublicConfig::of(&config, &sign_in());
        assert_eq!(public.formats, ["jpeg"]);
        assert_eq!(public.sizes, [64, 512]);
        assert_eq!(
            serde_json::to_value(&public.named_sizes).unwrap(),
            serde_json::json!([{"name": "tiny", "size": 64}, {"name": "big", "size": 512}])
        );
        assert_eq!(public.allowed_content_types, ["image/png"]);
        let json = serde_json::to_value(&public).unwrap();
        assert_eq!(json["maxUploadBytes"], 26_214_400);
        assert_eq!(json["auth"]["clientId"], "client");
        assert_eq!(json["auth"]["tokenUrl"], "https://id.example/oauth2/token");
        assert_eq!(json["auth"]["scopes"], serde_json::json!(["openid", "email"]));
        assert_eq!(json["uploadExpirySeconds"], 300);
        assert_eq!(
            json["quotas"],
            serde_json::json!({"uploadsPerDay": 500, "bytesPerDay": 5_u64 << 30, "photosStored": 20_000, "bytesStored": 50_u64 << 30})
        );
        assert_eq!(
            json["albumLimits"],
            serde_json::json!({"nameMaxChars": ALBUM_NAME_MAX_CHARS, "albumsMax": ALBUMS_MAX, "perPhotoMax": ALBUMS_PER_PHOTO_MAX})
        );
        assert_eq!(
            json["details"],
            serde_json::json!({"titleMaxChars": 200, "descriptionMaxChars": 2000, "tagsMax": 20, "tagMaxChars": 32})
        );
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None).unwrap(), 24);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        assert_eq!(parse_limit(Some("012")).unwrap(), 12);
        for bad in ["0", "101", "-1", "+5", "", " 5", "5 ", "1e2", "abc", "99999999999999999999999"] {
            let err = parse_limit(Some(bad)).unwrap_err();
            assert_eq!((err.status, err.code), (400, "invalid_limit"), "{bad}");
        }
    }
}
