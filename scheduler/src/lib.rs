//! # skiff-scheduler (not built yet)
//!
//! Will bind unscheduled pods to nodes: filter plugins (node ready, node selector and affinity,
//! resources fit, host ports), then score plugins (least allocated, spread), in the shape of the
//! Kubernetes scheduler framework without its preemption machinery.
//!
//! Nothing lives here yet: this crate only reserves the place. See the kubelet/scheduler issue.
