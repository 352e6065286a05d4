//! thumbforge's thumbnail function: the [`engine`] that turns an upload into renditions, the
//! [`handler`] that runs it on S3 `ObjectCreated` events, the [`cleanup`] of deleted images driven
//! by the metadata table's stream, and the [`store`] port they work through.

pub mod account;
pub mod cleanup;
pub mod engine;
pub mod handler;
pub mod store;
