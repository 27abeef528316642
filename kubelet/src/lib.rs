//! # skiff-kubelet (being built)
pub mod naming;
pub mod runtime;
