//! A route for the service range, so that a packet to a ClusterIP never leaves the host
//! un-NATed, and so that the host's own connections work without a default route.
//!
//! Two facts, measured on this kernel:
//!
//! 1. The host's own connection to a ClusterIP is DNATed in nat `OUTPUT`, but `connect()`
//!    looks up a route before the packet exists: with no route covering the address (a network
//!    namespace with only a /30 link) it fails with `ENETUNREACH` before any rule runs. With a
//!    default route it works, and needs no device at all: the DNAT rewrites the destination
//!    before the packet leaves. That is how kube-proxy's iptables mode runs.
//! 2. With only a default route, a packet to a ClusterIP that no rule DNATs — a port nobody
//!    serves, or any ClusterIP while no proxy runs (a restart) — leaves the host for the
//!    default gateway. Measured here: something out there answered such a connection with an
//!    HTTP 404.
//!
//! So by default (`service_route`) the proxy routes the whole range (`10.96.0.0/12`) to
//! `skiff-vips`, a bridge with no ports (this kernel has no dummy interfaces): `connect()` is
//! satisfied, the DNAT sends the packet to the pod, and a packet that was not DNATed is
//! dropped at the port-less bridge instead of leaving. The ClusterIPs are not given to the
//! device as addresses (IPVS mode's way): they would then be local, and a port nobody proxies
//! would reach whatever listens on the host's wildcard address.
//!
//! The proxy that added the route removes it at shutdown; a route found in place (another
//! proxy's, or a previous run's) is used and left alone.

use std::sync::Arc;

use super::kernel::{Kernel, KernelError};
use crate::net::Cidr;

/// The bridge that carries the route.
pub const DEVICE: &str = "skiff-vips";

/// Routes `cidr` to [`DEVICE`] if it is not already; true if this call added the route.
/// Without `wanted`, only warns when the host could not reach the range at all.
pub async fn ensure(kernel: &Arc<dyn Kernel>, cidr: Cidr, wanted: bool) -> Result<bool, KernelError> {
    if !wanted {
        if !kernel.has_route(cidr.first_host()).await? {
            tracing::warn!(%cidr, "no route covers the service range: the host's own connections to ClusterIPs will fail");
        }
        return Ok(false);
    }
    if kernel.route_device(cidr).await?.as_deref() == Some(DEVICE) {
        return Ok(false);
    }
    kernel.add_route(DEVICE, cidr).await?;
    tracing::info!(%cidr, device = DEVICE, "routed the service range to a port-less bridge");
    Ok(true)
}

/// Removes the route [`ensure`] added.
pub async fn remove(kernel: &Arc<dyn Kernel>, cidr: Cidr) -> Result<(), KernelError> {
    kernel.remove_route(DEVICE, cidr).await
}
