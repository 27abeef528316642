//! # skiff-tests: end-to-end tests of a whole cluster
//!
//! Will start real daemons, real Docker containers and the real `kubectl` against them, one
//! cluster per test on free ports. The cluster does not exist yet; the store has its own
//! integration tests (with the real `etcdctl`) in `store/tests/`.
