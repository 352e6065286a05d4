//! What can go wrong in the catalog, with the operation, table and key it concerns.

/// A catalog operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// [`Catalog::create`](crate::Catalog::create) of an id the owner already has.
    #[error("{operation} in {table} at {key}: an image with this id already exists")]
    AlreadyExists {
        /// The operation (`create`).
        operation: &'static str,
        /// The table (`memory` for [`MemoryCatalog`](crate::MemoryCatalog)).
        table: String,
        /// The item's key, `pk=… sk=…`.
        key: String,
    },
    /// A per-user limit would be exceeded ([`Catalog::create_album`](crate::Catalog::create_album)
    /// beyond [`ALBUMS_MAX`](thumbforge_core::describe::ALBUMS_MAX)); nothing changed.
    #[error("at most {limit} {what} are allowed")]
    LimitReached {
        /// What is limited (`albums`).
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// [`Catalog::create_within`](crate::Catalog::create_within) past one of the user's quotas;
    /// nothing changed.
    #[error("the {quota:?} quota ({limit}) would be exceeded")]
    QuotaExceeded {
        /// Which one.
        quota: crate::Quota,
        /// Its limit (a count, or bytes).
        limit: u64,
    },
    /// A write that would create something for an owner whose account is being (or was)
    /// deleted: their tombstone exists. Nothing changed.
    #[error("the account is being deleted")]
    AccountDeleted,
    /// An owner id that [`Owner::new`](crate::Owner::new) refuses.
    #[error("invalid owner: {0}")]
    InvalidOwner(String),
    /// An argument out of range (a page size, typically).
    #[error("{operation}: {message}")]
    InvalidRequest {
        /// The operation.
        operation: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An item that cannot be read as what its key says it is.
    #[error("corrupt item in {table} at pk={pk} sk={sk}: {what}")]
    Corrupt {
        /// The table.
        table: String,
        /// Its partition key.
        pk: String,
        /// Its sort key.
        sk: String,
        /// What is wrong with it.
        what: String,
    },
    /// The store failed (an SDK or service error).
    #[error("{operation} in {table} at {key}: {message}{}", if *transient { " (transient: retry)" } else { "" })]
    Unavailable {
        /// The operation (`create`, `get`, `list`, `finish`, `delete`, `profile`, `create_table`).
        operation: &'static str,
        /// The table.
        table: String,
        /// The key (or key prefix) involved.
        key: String,
        /// Whether trying again later may succeed: throttling, 5xx, time-outs, connection
        /// failures, transaction conflicts.
        transient: bool,
        /// The SDK's error with its sources.
        message: String,
    },
}

impl CatalogError {
    /// Whether trying again later may succeed ([`CatalogError::Unavailable`] with `transient`).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { transient: true, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_context() {
        let error = CatalogError::Unavailable {
            operation: "get",
            table: "images".into(),
            key: "pk=USER#a sk=IMAGE#b".into(),
            transient: true,
            message: "throttled".into(),
        };
        assert!(error.is_transient());
        assert_eq!(error.to_string(), "get in images at pk=USER#a sk=IMAGE#b: throttled (transient: retry)");
        let error = CatalogError::Unavailable {
            operation: "get",
            table: "images".into(),
            key: "k".into(),
            transient: false,
            message: "denied".into(),
        };
        assert!(!error.is_transient());
        assert_eq!(error.to_string(), "get in images at k: denied");
        let error = CatalogError::Corrupt {
            table: "images".into(),
            pk: "USER#a".into(),
            sk: "IMAGE#b".into(),
            what: "no size".into(),
        };
        assert!(!error.is_transient());
        assert_eq!(error.to_string(), "corrupt item in images at pk=USER#a sk=IMAGE#b: no size");
        let error = CatalogError::LimitReached { what: "albums", limit: 200 };
        assert!(!error.is_transient());
        assert_eq!(error.to_string(), "at most 200 albums are allowed");
        assert!(!CatalogError::AccountDeleted.is_transient());
    }
}
