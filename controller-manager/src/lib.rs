//! # skiff-controller-manager (not built yet)
//!
//! Will host the control loops: ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, Endpoints,
//! the garbage collector and node lifecycle, each mirroring its `pkg/controller/...` file in
//! Kubernetes.
//!
//! Nothing lives here yet: this crate only reserves the place. See the controller-manager issue.
