//! A route for the service range, on a host that has none.
//!
//! The host's own connection to a ClusterIP is DNATed in nat `OUTPUT`, but `connect()` looks up
//! a route before the packet exists, and fails with `ENETUNREACH` when nothing covers the
//! address (measured: a network namespace with only a /30 link). A host with a default route
//! needs nothing: the DNAT rewrites the destination before the packet leaves. A host without
//! one (a test host in a network namespace) gets `10.96.0.0/12 dev skiff-vips`, a bridge with
//! no ports: the route satisfies `connect()`, the DNAT sends the packet to the pod, and a
//! ClusterIP that nobody serves goes nowhere instead of out of the host.
//!
//! Upstream's iptables mode has no counterpart (it assumes a default route); its IPVS mode puts
//! every ClusterIP on the `kube-ipvs0` dummy device, which this kernel does not have.

use std::sync::Arc;

use super::kernel::{Kernel, KernelError};
use crate::net::Cidr;

/// The bridge that carries the route.
pub const DEVICE: &str = "skiff-vips";

/// Adds the route if the host has none for `cidr`; true if it did.
pub async fn ensure(kernel: &Arc<dyn Kernel>, cidr: Cidr) -> Result<bool, KernelError> {
    if kernel.has_route(cidr.first_host()).await? {
        return Ok(false);
    }
    kernel.add_route(DEVICE, cidr).await?;
    tracing::info!(%cidr, device = DEVICE, "the host had no route for the service range; added one");
    Ok(true)
}

/// Removes the route [`ensure`] added.
pub async fn remove(kernel: &Arc<dyn Kernel>, cidr: Cidr) -> Result<(), KernelError> {
    kernel.remove_route(DEVICE, cidr).await
}
