//! What can go wrong in a benchmark run, one variant per step.

use std::path::PathBuf;

use skiff_store::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "no {binary} binary at {path}; build it first (`cargo build --release -p {binary}`) \
         or pass --{binary} PATH"
    )]
    NoBinary { binary: &'static str, path: PathBuf },
    #[error(
        "no etcd binary at {0}; the comparison needs a real etcd 3.4: install Debian's \
         etcd-server (`apt-get install etcd-server`) or pass --etcd PATH"
    )]
    NoEtcd(PathBuf),
    #[error("cannot find the directory of this executable")]
    OwnPath(#[source] std::io::Error),
    #[error("cannot prepare a data directory or log file for {server}")]
    Prepare {
        server: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {server}")]
    Spawn {
        server: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{server} exited during start-up ({status}); the end of its log:\n{log_tail}")]
    Exited { server: &'static str, status: std::process::ExitStatus, log_tail: String },
    #[error("{server} did not {what} within {seconds} s; the end of its log:\n{log_tail}")]
    NotReady { server: &'static str, what: &'static str, seconds: u64, log_tail: String },
    #[error("a client request failed")]
    Client(#[from] ClientError),
    #[error("a request failed: {0}")]
    Rpc(#[from] tonic::Status),
    #[error("the key the readers read is missing")]
    MissingKey,
    #[error("the watch stream failed: {0}")]
    Watch(String),
    #[error("cannot connect to {address}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("an HTTP connection failed")]
    Io(#[source] std::io::Error),
    #[error("an unexpected HTTP response: {0}")]
    BadResponse(String),
    #[error("{request} answered {status}: {body}")]
    Unexpected { request: String, status: u16, body: String },
    #[error("cannot raise the limit on open files")]
    Limit(#[source] std::io::Error),
    #[error("the fan-out needs {wanted} open files, and the hard limit allows {limit}; raise it (`ulimit -Hn`)")]
    TooFewFiles { limit: u64, wanted: u64 },
    #[error("a benchmark task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error("an API request failed")]
    Api(#[from] skiff_client::ApiError),
    #[error("Docker refused to {step}")]
    Docker {
        step: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the image {0} is not on this machine; build the images first (`make images`)")]
    NoImage(String),
    #[error("{what} did not happen within {seconds} s{details}")]
    Timeout { what: String, seconds: u64, details: String },
}
