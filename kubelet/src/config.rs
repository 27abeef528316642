//! The kubelet's configuration: the flags of `skiff-kubelet`, and the intervals tests shorten.
//!
//! Mirrors the fields of `KubeletConfiguration` that Skiff has (`pkg/kubelet/apis/config`):
//! `nodeStatusUpdateFrequency` (10 s), `syncFrequency` (Skiff: 10 s rather than 1 min, so that
//! ConfigMap volumes update quickly), the PLEG relist period (1 s upstream, 2 s here), the
//! housekeeping period (2 s), `clusterDNS`, `clusterDomain`, `podCIDR`, `rootDir`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The pod network every kubelet of the host shares.
#[derive(Debug, Clone)]
pub struct PodNetwork {
    /// The Docker network's name.
    pub name: String,
    pub subnet: String,
    pub gateway: Ipv4Addr,
}

impl Default for PodNetwork {
    fn default() -> Self {
        PodNetwork { name: "skiff".into(), subnet: "10.244.0.0/16".into(), gateway: Ipv4Addr::new(10, 244, 0, 1) }
    }
}

/// How often the loops run.
#[derive(Debug, Clone)]
pub struct Intervals {
    /// Node status updates (heartbeats).
    pub node_status: Duration,
    /// Lease renewals.
    pub lease: Duration,
    /// Docker is listed to notice container changes (the PLEG's relist).
    pub relist: Duration,
    /// Every pod is synced at least this often, changed or not.
    pub resync: Duration,
    /// Orphaned containers and finished workers are cleaned up.
    pub housekeeping: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            node_status: Duration::from_secs(10),
            lease: Duration::from_secs(10),
            relist: Duration::from_secs(2),
            resync: Duration::from_secs(10),
            housekeeping: Duration::from_secs(2),
        }
    }
}

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API server's gRPC address (`127.0.0.1:6444`).
    pub api: String,
    pub node_name: String,
    /// `--node-labels`, on top of the well-known ones.
    pub node_labels: BTreeMap<String, String>,
    /// This node's pod addresses (`10.244.1.0/24`); without one Docker picks them.
    pub pod_cidr: Option<String>,
    /// Where pod volumes live (`<root>/pods/<uid>/volumes/...`).
    pub root_dir: PathBuf,
    /// The cluster DNS server pods with `dnsPolicy: ClusterFirst` use; none: Docker's default.
    pub cluster_dns: Option<Ipv4Addr>,
    pub cluster_domain: String,
    /// Prometheus metrics (`/metrics`); none for no metrics server.
    pub metrics_listen: Option<SocketAddr>,
    /// The streaming server (logs, exec, attach) for the API server; none for none.
    pub listen: Option<SocketAddr>,
    /// The node's InternalIP; none: the pod network's gateway (the host, as pods see it).
    pub node_ip: Option<Ipv4Addr>,
    pub network: PodNetwork,
    pub intervals: Intervals,
}

impl Config {
    /// A configuration with the defaults, for `node` against `api`.
    pub fn new(api: &str, node: &str) -> Config {
        Config {
            api: api.into(),
            node_name: node.into(),
            node_labels: BTreeMap::new(),
            pod_cidr: None,
            root_dir: PathBuf::from("/var/lib/skiff-kubelet").join(node),
            cluster_dns: None,
            cluster_domain: "cluster.local".into(),
            metrics_listen: None,
            listen: None,
            node_ip: None,
            network: PodNetwork::default(),
            intervals: Intervals::default(),
        }
    }
}

/// `a=b,c=d` → a map (`--node-labels`).
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => Err(format!("invalid label {pair:?}: want key=value")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_labels_parse_from_the_flag() {
        let labels = parse_labels("zone=a, disk=ssd").unwrap();
        assert_eq!(
            labels.into_iter().collect::<Vec<_>>(),
            vec![("disk".into(), "ssd".into()), ("zone".into(), "a".into())]
        );
        assert!(parse_labels("").unwrap().is_empty());
        assert!(parse_labels("novalue").is_err());
    }
}
