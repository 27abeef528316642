//! # skiff-proxy (not built yet)
//!
//! Will do each host's networking: Service virtual IPs through iptables DNAT rules (in the
//! manner of kube-proxy's iptables mode), cluster DNS, and the Ingress HTTP router.
//!
//! Only the Ingress router ([`ingress`]) lives here so far; the rest comes with the Services issue.

pub mod ingress;
