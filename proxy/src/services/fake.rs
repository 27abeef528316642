//! A [`Kernel`] that records every call, for the sync loop's tests. It keeps what the restores
//! left — the chains declared and not deleted, the jumps inserted and not deleted — and shows
//! them to `save()` as `iptables-save` would, so the loop can be tested reading its own work.
//! Restores can be told to fail, and the route can be absent.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use parking_lot::Mutex;

use super::chains::Table;
use super::connect::ConnectTable;
use super::conntrack::StaleEntry;
use super::kernel::{Kernel, KernelError};
use crate::net::Cidr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Restore(String),
    Save(Table),
    DeleteConntrack(StaleEntry),
    HasRoute(Ipv4Addr),
    RouteDevice(Cidr),
    AddRoute(String, Cidr),
    RemoveRoute(String, Cidr),
}

#[derive(Default)]
pub struct FakeKernel {
    pub calls: Mutex<Vec<Call>>,
    /// Chains that exist, as `(table, name)`.
    pub chains: Mutex<BTreeSet<(Table, String)>>,
    /// Rules of built-in chains, as saved: `(table, "-A PREROUTING … -j X")`.
    pub jumps: Mutex<Vec<(Table, String)>>,
    /// Restores fail while this is set.
    pub fail_restores: Mutex<bool>,
    pub route: Mutex<Option<String>>,
    /// `route_localnet` was asked for.
    pub route_localnet: Mutex<bool>,
    /// The last connect-time table; `None` before the first and after a stop.
    pub connect_table: Mutex<Option<ConnectTable>>,
}

impl FakeKernel {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    pub fn restores(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Restore(text) => Some(text),
                _ => None,
            })
            .collect()
    }

    /// Applies the restore text's declarations, deletions, insertions.
    fn apply(&self, text: &str) {
        let mut table = Table::Nat;
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('*') {
                table = if name == "nat" { Table::Nat } else { Table::Filter };
            } else if let Some(chain) = line.strip_prefix(':') {
                self.chains.lock().insert((table, chain.split(' ').next().unwrap_or_default().to_string()));
            } else if let Some(chain) = line.strip_prefix("-X ") {
                self.chains.lock().remove(&(table, chain.to_string()));
            } else if let Some(rest) = line.strip_prefix("-I ") {
                let (chain, rule) = rest.split_once(" 1 ").unwrap_or_default();
                self.jumps.lock().push((table, format!("-A {chain} {rule}")));
            } else if let Some(rest) = line.strip_prefix("-D ") {
                let saved = format!("-A {rest}");
                self.jumps.lock().retain(|(t, l)| !(*t == table && *l == saved));
            }
        }
    }
}

#[async_trait::async_trait]
impl Kernel for FakeKernel {
    async fn restore(&self, text: &str) -> Result<(), KernelError> {
        self.calls.lock().push(Call::Restore(text.to_string()));
        if *self.fail_restores.lock() {
            return Err(KernelError::Failed {
                command: "iptables-restore".into(),
                status: "exit 1".into(),
                stderr: "told to".into(),
            });
        }
        self.apply(text);
        Ok(())
    }
    async fn save(&self, table: Table) -> Result<String, KernelError> {
        self.calls.lock().push(Call::Save(table));
        let mut text = format!("*{}\n", table.name());
        for (_, chain) in self.chains.lock().iter().filter(|(t, _)| *t == table) {
            text.push_str(&format!(":{chain} - [0:0]\n"));
        }
        for (_, line) in self.jumps.lock().iter().filter(|(t, _)| *t == table) {
            text.push_str(&format!("{line}\n"));
        }
        text.push_str("COMMIT\n");
        Ok(text)
    }
    async fn delete_conntrack(&self, entry: &StaleEntry) -> Result<(), KernelError> {
        self.calls.lock().push(Call::DeleteConntrack(entry.clone()));
        Ok(())
    }
    async fn has_route(&self, ip: Ipv4Addr) -> Result<bool, KernelError> {
        self.calls.lock().push(Call::HasRoute(ip));
        Ok(self.route.lock().is_some())
    }
    async fn route_device(&self, cidr: Cidr) -> Result<Option<String>, KernelError> {
        self.calls.lock().push(Call::RouteDevice(cidr));
        Ok(self.route.lock().clone())
    }
    async fn add_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError> {
        self.calls.lock().push(Call::AddRoute(device.into(), cidr));
        *self.route.lock() = Some(device.into());
        Ok(())
    }
    async fn remove_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError> {
        self.calls.lock().push(Call::RemoveRoute(device.into(), cidr));
        *self.route.lock() = None;
        Ok(())
    }
    /// Kept apart from `calls`, as the connect table is.
    async fn route_localnet(&self) -> Result<(), KernelError> {
        *self.route_localnet.lock() = true;
        Ok(())
    }

    /// Kept apart from `calls`, which the tests compare as the iptables and route sequence.
    async fn balance_connects(&self, table: &ConnectTable) -> Result<(), KernelError> {
        *self.connect_table.lock() = Some(table.clone());
        Ok(())
    }
    async fn stop_balancing_connects(&self) {
        *self.connect_table.lock() = None;
    }
}
