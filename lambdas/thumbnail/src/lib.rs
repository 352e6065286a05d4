//! thumbforge's thumbnail function: the [`engine`] that turns an upload into renditions, and the
//! [`handler`] that runs it on S3 `ObjectCreated` events.

pub mod engine;
