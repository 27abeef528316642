//! What a whole-cluster test must give back, even when it fails: its slot of pod addresses,
//! its containers and its iptables chains.
//!
//! A test holds a [`Slot`] for as long as it runs: an abstract Unix socket, which the kernel
//! releases when the process ends, however it ends, so a test killed by a signal leaves no lock
//! behind (a lock *file* would outlive it). The slot's number names everything the test makes:
//! node `sk<k>`, pod addresses 10.244.k.0/24, chains `SK<k>-*`.
//!
//! A test that fails (panics) cleans up as it unwinds ([`Leftovers`]). A test that was killed
//! (nextest's timeout, Ctrl-C) cannot; what it left is removed by the next test that starts
//! ([`sweep`]): containers and chains named after a slot that no one holds.

use std::collections::BTreeSet;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::process::Command;

use rand::Rng;

/// The third octet of the pod addresses whole-cluster tests use: 10.244.100.0/24 to
/// 10.244.199.0/24. `make up` uses 10.244.1–9, the kubelet's own tests 201–250, bench 200–204.
pub const SLOTS: std::ops::Range<u8> = 100..200;

/// One slot, held while this lives.
pub struct Slot {
    pub number: u8,
    _held: UnixListener,
}

impl Slot {
    /// A free slot, starting the search at a random one (tests beside each other rarely race
    /// for the same number; when they do, the kernel lets only one bind it).
    pub fn take() -> Slot {
        let start = rand::rng().random_range(SLOTS);
        let count = SLOTS.len() as u8;
        (0..count)
            .find_map(|step| Slot::try_take(SLOTS.start + (start - SLOTS.start + step) % count))
            .unwrap_or_else(|| panic!("every whole-cluster test slot ({SLOTS:?}) is taken"))
    }

    /// Slot `number`, unless someone holds it.
    pub fn try_take(number: u8) -> Option<Slot> {
        let name = format!("skiff-tests-slot-{number}");
        let address = SocketAddr::from_abstract_name(name.as_bytes()).expect("a short name");
        UnixListener::bind_addr(&address).ok().map(|held| Slot { number, _held: held })
    }
}

/// The slot `text` is named after (`sk105`, `SK105-`), if it is one.
fn slot_of(text: &str, prefix: &str) -> Option<u8> {
    let number: u8 = text.strip_prefix(prefix)?.parse().ok()?;
    SLOTS.contains(&number).then_some(number)
}

/// Removes the containers and chains of every slot no one holds: what killed tests left.
/// Each slot is held while it is swept, so no test starts in it meanwhile.
pub fn sweep() {
    let mut stale = BTreeSet::new();
    let nodes = output("docker", &["ps", "-a", "--format", "{{.Label \"io.skiff.node\"}}"]);
    stale.extend(nodes.lines().filter_map(|node| slot_of(node, "sk")));
    let chains = output("iptables-save", &[]);
    let chains = chains.lines().filter_map(|l| l.strip_prefix(':')?.split('-').next());
    stale.extend(chains.filter_map(|chain| slot_of(chain, "SK")));
    for number in stale {
        if let Some(_held) = Slot::try_take(number) {
            remove_containers(&format!("sk{number}"));
            remove_chains(&format!("SK{number}"));
        }
    }
}

/// `program args…`: its standard output (empty if it could not run).
pub fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Removes every container the kubelet of `node` made (they all carry `io.skiff.node`).
pub fn remove_containers(node: &str) {
    let ids = output("docker", &["ps", "-aq", "--filter", &format!("label=io.skiff.node={node}")]);
    let ids: Vec<&str> = ids.lines().collect();
    if !ids.is_empty() {
        let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
    }
}

/// Every line of `iptables-save` that mentions the chains of `prefix`.
pub fn rules_of(prefix: &str) -> String {
    let needle = format!("{prefix}-");
    let mut rules = String::new();
    for table in ["nat", "filter"] {
        for line in output("iptables-save", &["-t", table]).lines().filter(|l| l.contains(&needle)) {
            rules.push_str(line);
            rules.push('\n');
        }
    }
    rules
}

/// Removes the jumps to the chains of `prefix`, then the chains, in one `iptables-restore`
/// per table: what the proxy does at shutdown, for a proxy that did not get to.
pub fn remove_chains(prefix: &str) {
    let own = format!("{prefix}-");
    let jump = format!("-j {own}");
    for table in ["filter", "nat"] {
        let saved = output("iptables-save", &["-t", table]);
        let chains: Vec<&str> = saved
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split(' ').next())
            .filter(|c| c.starts_with(&own))
            .collect();
        if chains.is_empty() && !saved.contains(&jump) {
            continue;
        }
        let mut restore = format!("*{table}\n");
        for line in saved.lines().filter(|l| l.starts_with("-A ") && l.contains(&jump)) {
            if !line.split(' ').nth(1).unwrap_or_default().starts_with(&own) {
                restore.push_str(&format!("-D{}\n", &line[2..]));
            }
        }
        // Flushed first (`:chain - [0:0]`), so that chains jumping to each other can go.
        for chain in &chains {
            restore.push_str(&format!(":{chain} - [0:0]\n"));
        }
        for chain in &chains {
            restore.push_str(&format!("-X {chain}\n"));
        }
        restore.push_str("COMMIT\n");
        let child =
            Command::new("iptables-restore").args(["-w", "5", "--noflush"]).stdin(std::process::Stdio::piped()).spawn();
        if let Ok(mut child) = child {
            use std::io::Write;
            let _ = child.stdin.take().expect("piped").write_all(restore.as_bytes());
            let _ = child.wait();
        }
    }
}

/// Removes a cluster's containers and chains when dropped.
pub struct Leftovers {
    pub nodes: Vec<String>,
    pub prefix: String,
}

impl Leftovers {
    pub fn new(nodes: Vec<String>, prefix: String) -> Leftovers {
        Leftovers { nodes, prefix }
    }

    pub fn remove(&self) {
        for node in &self.nodes {
            remove_containers(node);
        }
        remove_chains(&self.prefix);
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        self.remove();
    }
}
