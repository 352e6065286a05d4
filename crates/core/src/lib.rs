//! thumbforge's shared vocabulary, used by both Lambdas, xtask and the local stack: the one typed
//! [`Config`], the environment variables that carry it ([`env`]), the bucket's key layout
//! ([`keys`]) and the manifest the thumbnail function writes ([`manifest`]) and the headers the edge sets
//! ([`web`]).

pub mod config;
pub mod env;
pub mod format;
pub mod keys;
pub mod manifest;
pub mod web;

pub use config::{Config, ConfigError, RuntimeConfig};
pub use format::{InputFormat, OutputFormat};
pub use manifest::{Manifest, Outcome, RejectReason};
