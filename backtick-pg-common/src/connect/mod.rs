//! Connecting a Postgres store, less the driver: where the url comes from, what a bad one
//! looks like in a message (never with its password), the pool settings and their
//! validation, and the one error type of creating a store.

mod config;
mod error;
mod redact;
mod target;
mod url;

pub use config::PoolConfig;
pub use error::ConnectError;
pub use redact::redact_url;
pub use target::Target;
pub use url::{FALLBACK_URL_VAR, URL_VAR, check_scheme, invalid_url, url_from, url_from_env};
