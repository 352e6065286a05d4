//! thumbforge's API function, behind API Gateway HTTP API (payload format 2.0):
//!
//! - `POST /api/uploads` hands out a pre-signed S3 `PUT` whose key, length, type and
//!   no-overwrite condition S3 enforces ([`uploads`]);
//! - `GET /api/images/{id}` and `GET /api/images` (optionally `?tag=`) report what became of the
//!   caller's uploads, `PATCH /api/images/{id}` sets their title, description and tags, and
//!   `DELETE /api/images/{id}` removes them ([`images`]);
//! - `GET /api/images/{id}/content?size&format` redirects to a rendition by its configured name,
//!   or to a short-lived pre-signed download of the original ([`content`]);
//! - `GET /api/config` tells the page the limits it checks files and edits against and how to
//!   sign in ([`api::PublicConfig`]).
//!
//! Only requests that came through CloudFront are served ([`origin`]).
//!
//! [`api::Api`] is the pure core: it talks to the world only through its ports (the metadata
//! table, [`thumbforge_catalog::Catalog`]; a URL signer, a clock and an id generator in
//! [`ports`]), the signer implemented over S3 in [`s3`]; [`runtime`] is the cold-start wiring.

pub mod account;
pub mod albums;
pub mod api;
pub mod content;
pub mod http;
pub mod images;
pub mod origin;
pub mod ports;
pub mod runtime;
pub mod s3;
pub mod uploads;

pub use api::Api;

#[cfg(test)]
mod tests;
