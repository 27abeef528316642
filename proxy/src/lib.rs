//! # skiff-proxy (not built yet)
//!
//! Will do each host's networking: Service virtual IPs through iptables DNAT rules (in the
//! manner of kube-proxy's iptables mode), cluster DNS, and the Ingress HTTP router.
//!
//! Nothing lives here yet: this crate only reserves the place. See the Services issue.
