//! thumbforge's thumbnail function: the [`handler`] that runs the engine (`thumbforge-engine`) on
//! S3 `ObjectCreated` events, the [`cleanup`] of deleted images driven
//! by the metadata table's stream, and the [`store`] port they work through.

pub mod account;
pub mod cleanup;
pub mod handler;
pub mod store;
