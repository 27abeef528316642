//! # skiff-kubelet (not built yet)
//!
//! Will be the node agent: register the Node, renew its Lease, and run the pods bound to it as
//! Docker containers (a pause container holding the network namespace plus the pod's
//! containers), behind a `ContainerRuntime` trait with a Docker and a fake implementation.
//!
//! Nothing lives here yet: this crate only reserves the place. See the kubelet issue.
