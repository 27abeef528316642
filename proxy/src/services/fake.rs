//! A [`Kernel`] that records every call and keeps the chains a restore would leave, for the
//! sync loop's tests. It can be told to fail restores, and to have no route.

use std::net::Ipv4Addr;

use parking_lot::Mutex;

use super::chains::{Jump, Table};
use super::conntrack::StaleEntry;
use super::kernel::{Kernel, KernelError};
use crate::net::Cidr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Restore(String),
    Chains(Table),
    EnsureJump(Jump),
    DeleteJump(Jump),
    DeleteConntrack(StaleEntry),
    HasRoute(Ipv4Addr),
    AddRoute(String, Cidr),
    RemoveRoute(String, Cidr),
}

#[derive(Default)]
pub struct FakeKernel {
    pub calls: Mutex<Vec<Call>>,
    /// Chains that exist, as `(table, name)`: what `chains()` answers.
    pub existing: Mutex<Vec<(Table, String)>>,
    /// Restores fail while this is set.
    pub fail_restores: Mutex<bool>,
    pub no_route: bool,
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
        Ok(())
    }
    async fn chains(&self, table: Table) -> Result<Vec<String>, KernelError> {
        self.calls.lock().push(Call::Chains(table));
        Ok(self.existing.lock().iter().filter(|(t, _)| *t == table).map(|(_, c)| c.clone()).collect())
    }
    async fn ensure_jump(&self, jump: &Jump) -> Result<bool, KernelError> {
        self.calls.lock().push(Call::EnsureJump(jump.clone()));
        Ok(true)
    }
    async fn delete_jump(&self, jump: &Jump) -> Result<(), KernelError> {
        self.calls.lock().push(Call::DeleteJump(jump.clone()));
        Ok(())
    }
    async fn delete_conntrack(&self, entry: &StaleEntry) -> Result<(), KernelError> {
        self.calls.lock().push(Call::DeleteConntrack(entry.clone()));
        Ok(())
    }
    async fn has_route(&self, ip: Ipv4Addr) -> Result<bool, KernelError> {
        self.calls.lock().push(Call::HasRoute(ip));
        Ok(!self.no_route)
    }
    async fn add_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError> {
        self.calls.lock().push(Call::AddRoute(device.into(), cidr));
        Ok(())
    }
    async fn remove_route(&self, device: &str, cidr: Cidr) -> Result<(), KernelError> {
        self.calls.lock().push(Call::RemoveRoute(device.into(), cidr));
        Ok(())
    }
}
