//! What the kubelet's test files share.
#![allow(dead_code)]

pub mod docker;
