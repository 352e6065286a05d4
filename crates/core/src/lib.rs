//! thumbforge's shared vocabulary, used by both Lambdas, xtask and the local stack: the one typed
//! [`Config`], the environment variables that carry it ([`env`]), the bucket's key layout
//! ([`keys`]) and the outcome the thumbnail function records ([`manifest`]), the API's route table
//! ([`routes`]), the headers the edge sets ([`web`]) and what users may say about a photo
//! ([`describe`]).

pub mod auth;
pub mod config;
pub mod describe;
pub mod env;
pub mod fault;
pub mod format;
pub mod keys;
pub mod manifest;
pub mod metrics;
pub mod routes;
pub mod watermark;
pub mod web;

pub use config::{Config, ConfigError, RuntimeConfig};
pub use format::{InputFormat, OutputFormat};
pub use manifest::{FailReason, Outcome, RejectReason};
