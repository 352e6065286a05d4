//! thumbforge's thumbnail function: the [`engine`] that turns an upload into renditions, the
//! [`handler`] that runs it on S3 `ObjectCreated` events, and the [`store`] port it writes
//! through.

pub mod engine;
pub mod handler;
pub mod store;
