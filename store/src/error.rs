//! Errors, with the gRPC status codes and messages etcd gives for the same mistakes.
//!
//! Mirrors etcd `api/v3rpc/rpctypes/error.go`: clients (etcdctl, client libraries, Kubernetes'
//! storage layer) match on these exact strings, so they are part of the wire contract.

use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: value is provided")]
    ValueProvided,
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: invalid sort option")]
    InvalidSortOption,
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// The committer has stopped (shutdown, or a disk failure it could not survive).
    #[error("etcdserver: server stopped")]
    Stopped,
    #[error("storage failed to {step}: {source}")]
    Storage {
        step: &'static str,
        #[source]
        source: sled::Error,
    },
    /// A file operation failed (the write-ahead log, the data directory).
    #[error("cannot {step}: {source}")]
    Io {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt data on disk: {0}")]
    Corrupt(&'static str),
}

impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        use StoreError::*;
        let code = match &err {
            EmptyKey | KeyNotFound | ValueProvided | LeaseProvided | TooManyOps | DuplicateKey | InvalidSortOption
            | RequestTooLarge => Code::InvalidArgument,
            Compacted | FutureRevision | LeaseTtlTooLarge => Code::OutOfRange,
            LeaseNotFound => Code::NotFound,
            LeaseExists => Code::FailedPrecondition,
            Stopped => Code::Unavailable,
            Storage { .. } | Io { .. } | Corrupt(_) => Code::Internal,
        };
        Status::new(code, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_etcds_codes_and_messages() {
        let cases = [
            (StoreError::Compacted, Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
            (StoreError::LeaseNotFound, Code::NotFound, "etcdserver: requested lease not found"),
            (StoreError::EmptyKey, Code::InvalidArgument, "etcdserver: key is not provided"),
            (StoreError::RequestTooLarge, Code::InvalidArgument, "etcdserver: request is too large"),
        ];
        for (err, code, message) in cases {
            let status = Status::from(err);
            assert_eq!((status.code(), status.message()), (code, message));
        }
    }
}
