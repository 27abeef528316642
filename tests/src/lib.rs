//! # skiff-tests: end-to-end tests, and what tests of several crates share
//!
//! - [`control_plane`]: skiff-store and skiff-apiserver in process on free ports, with the real
//!   kubectl pointed at them: what the daemons' integration tests start from.
//! - [`etcd`]: a real etcd (Debian's `etcd-server`) on free ports, the reference the store is
//!   compared with and a second backend for the API server.
//!
//! The whole-cluster tests (real daemons, Docker, the real `kubectl`) arrive with the kubelet;
//! the API server's kubectl tests live in `apiserver/tests/` for now.

pub mod control_plane;
pub mod etcd;
