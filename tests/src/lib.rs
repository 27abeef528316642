//! # skiff-tests: end-to-end tests, and what tests of several crates share
//!
//! - [`control_plane`]: skiff-store and skiff-apiserver in process on free ports, with the real
//!   kubectl pointed at them: what the daemons' integration tests start from.
//! - [`etcd`]: a real etcd (Debian's `etcd-server`) on free ports, the reference the store is
//!   compared with and a second backend for the API server.
//!
//! The whole-cluster tests are in `tests/tests/`: every daemon in the test's process, real
//! Docker, real iptables, the real `kubectl` and real traffic (`cluster.rs`, `zero_downtime.rs`,
//! `traffic.rs`, `networking.rs`, `rollouts.rs`, on the harness of `tests/tests/common/`), and the images'
//! tests (`images.rs`). Each crate's own integration tests live beside it (`apiserver/tests/`,
//! `kubelet/tests/`, …) and start from [`control_plane`].

pub mod control_plane;
pub mod etcd;
