//! The ServiceAccount controller: every active namespace has a `default` ServiceAccount.
//!
//! Mirrors `pkg/controller/serviceaccount/serviceaccounts_controller.go` (`syncNamespace`):
//! keyed by namespace; a namespace is looked at when it is added or changed, and when one of
//! the accounts it should hold is deleted (`kubectl delete sa default` gets it back at once, as
//! on any cluster). A look creates each missing account; one that exists already (the cache
//! was behind) is no error, nor is a namespace that began terminating meanwhile.
//!
//! Pods name their account through the API server's admission (`skiff_api::admission`), which
//! does not wait for this controller: the account is a name a pod carries, nothing more.
//!
//! Left out: tokens. Upstream's token controller (Secrets of type
//! `kubernetes.io/service-account-token`) and the TokenRequest API (`kubectl create token`)
//! belong with authentication, which Skiff does not have yet.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use skiff_client::controller::Action;
use skiff_client::reflector::{ObjectKey, Store};
use skiff_client::watcher::Event;
use tracing::info;

use crate::client::{is_namespace_terminating, ApiError, ServiceAccountClient};

/// The accounts every namespace holds (upstream's `ServiceAccountsControllerOptions`).
pub const ACCOUNTS: &[&str] = &["default"];

#[derive(Debug, thiserror::Error)]
#[error("namespace {namespace}: cannot create service account {name}")]
pub struct Error {
    namespace: String,
    name: &'static str,
    #[source]
    source: ApiError,
}

pub struct ServiceAccountsController {
    namespaces: Store<Namespace>,
    accounts: Store<ServiceAccount>,
    client: Arc<dyn ServiceAccountClient>,
}

/// The accounts `namespace` should hold and lacks, by `has` (the cache): none while it is
/// terminating, as nothing can be created in it then.
pub fn missing(namespace: &Namespace, has: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let phase = namespace.status.as_ref().and_then(|s| s.phase.as_deref());
    let active = namespace.metadata.deletion_timestamp.is_none() && phase.is_none_or(|p| p == "Active");
    if !active {
        return Vec::new();
    }
    ACCOUNTS.iter().copied().filter(|name| !has(name)).collect()
}

fn namespace_key(name: &str) -> ObjectKey {
    ObjectKey { namespace: None, name: name.to_string() }
}

impl ServiceAccountsController {
    pub fn new(
        namespaces: Store<Namespace>,
        accounts: Store<ServiceAccount>,
        client: Arc<dyn ServiceAccountClient>,
    ) -> Self {
        ServiceAccountsController { namespaces, accounts, client }
    }

    /// The namespaces a ServiceAccount event concerns: a deleted account's, if it is one of
    /// [`ACCOUNTS`]; after a re-list, every namespace (a deletion may have been missed).
    pub fn service_account_event(&self, event: &Event<ServiceAccount>) -> Vec<ObjectKey> {
        match event {
            Event::Deleted(account) => {
                let name = account.metadata.name.as_deref().unwrap_or_default();
                match account.metadata.namespace.as_deref() {
                    Some(namespace) if ACCOUNTS.contains(&name) => vec![namespace_key(namespace)],
                    _ => Vec::new(),
                }
            }
            Event::Applied(_) => Vec::new(),
            Event::Restarted(_) => self.namespaces.list().iter().map(|n| ObjectKey::of(n.as_ref())).collect(),
        }
    }

    /// One look at the namespace `key` (upstream: `syncNamespace`).
    pub async fn sync_namespace(&self, key: &ObjectKey) -> Result<Action, Error> {
        let Some(namespace) = self.namespaces.get(key) else { return Ok(Action::Done) };
        let has = |name: &str| {
            self.accounts.get(&ObjectKey { namespace: Some(key.name.clone()), name: name.to_string() }).is_some()
        };
        for name in missing(&namespace, has) {
            let account = ServiceAccount {
                metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
                ..Default::default()
            };
            match self.client.create_service_account(&key.name, &account).await {
                Ok(_) => info!(namespace = %key.name, name, "service account created"),
                Err(err) if err.is_already_exists() || is_namespace_terminating(&err) => {}
                Err(source) => return Err(Error { namespace: key.name.clone(), name, source }),
            }
        }
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use parking_lot::Mutex;
    use serde_json::json;

    use super::*;
    use crate::testing::{status_error, FakeCache};

    fn namespace(name: &str, phase: &str, deleting: bool) -> Namespace {
        let mut value = json!({"metadata": {"name": name}, "status": {"phase": phase}});
        if deleting {
            value["metadata"]["deletionTimestamp"] = json!("2026-12-03T10:00:00Z");
        }
        serde_json::from_value(value).unwrap()
    }

    fn account(namespace: &str, name: &str) -> ServiceAccount {
        serde_json::from_value(json!({"metadata": {"namespace": namespace, "name": name}})).unwrap()
    }

    #[test]
    fn an_active_namespace_lacks_the_accounts_it_does_not_hold() {
        let cases = [
            ("active, empty", namespace("dev", "Active", false), false, vec!["default"]),
            ("active, has default", namespace("dev", "Active", false), true, vec![]),
            ("terminating phase", namespace("dev", "Terminating", false), false, vec![]),
            ("deletion timestamp, phase not yet written", namespace("dev", "Active", true), false, vec![]),
        ];
        for (case, ns, has_default, want) in cases {
            assert_eq!(missing(&ns, |name| has_default && name == "default"), want, "{case}");
        }
        let no_status: Namespace = serde_json::from_value(json!({"metadata": {"name": "new"}})).unwrap();
        assert_eq!(missing(&no_status, |_| false), vec!["default"], "no phase yet counts as active");
    }

    /// Records each create; answers with `answer` when set.
    #[derive(Default)]
    struct Recording {
        created: Mutex<Vec<String>>,
        answer: Mutex<Option<ApiError>>,
    }

    #[async_trait]
    impl ServiceAccountClient for Recording {
        async fn create_service_account(
            &self,
            namespace: &str,
            account: &ServiceAccount,
        ) -> Result<ServiceAccount, ApiError> {
            self.created.lock().push(format!("{namespace}/{}", account.metadata.name.as_deref().unwrap_or_default()));
            match self.answer.lock().take() {
                Some(err) => Err(err),
                None => Ok(account.clone()),
            }
        }
    }

    struct World {
        namespaces: FakeCache<Namespace>,
        accounts: FakeCache<ServiceAccount>,
        client: Arc<Recording>,
        controller: ServiceAccountsController,
    }

    fn world() -> World {
        let (namespaces, accounts, client) =
            (FakeCache::default(), FakeCache::default(), Arc::new(Recording::default()));
        let controller = ServiceAccountsController::new(namespaces.store(), accounts.store(), client.clone());
        World { namespaces, accounts, client, controller }
    }

    #[tokio::test]
    async fn a_namespace_gets_its_default_account_once() {
        let w = world();
        w.namespaces.put(namespace("dev", "Active", false));
        w.controller.sync_namespace(&namespace_key("dev")).await.unwrap();
        assert_eq!(*w.client.created.lock(), vec!["dev/default"]);
        w.accounts.put(account("dev", "default"));
        w.controller.sync_namespace(&namespace_key("dev")).await.unwrap();
        assert_eq!(w.client.created.lock().len(), 1, "held now: nothing more");
        w.controller.sync_namespace(&namespace_key("gone")).await.unwrap();
        assert_eq!(w.client.created.lock().len(), 1, "a namespace not in the cache is left alone");
    }

    #[tokio::test]
    async fn already_there_or_terminating_is_no_error_and_other_failures_are() {
        let w = world();
        w.namespaces.put(namespace("dev", "Active", false));
        let key = namespace_key("dev");
        let exists = status_error(409, "AlreadyExists", "serviceaccounts \"default\" already exists");
        *w.client.answer.lock() = Some(exists);
        w.controller.sync_namespace(&key).await.unwrap();
        let terminating = status_error(
            403,
            "Forbidden",
            "serviceaccounts \"default\" is forbidden: unable to create new content in namespace dev because it is being terminated",
        );
        *w.client.answer.lock() = Some(terminating);
        w.controller.sync_namespace(&key).await.unwrap();
        *w.client.answer.lock() = Some(status_error(500, "InternalError", "etcd is down"));
        let err = w.controller.sync_namespace(&key).await.unwrap_err();
        assert_eq!(err.to_string(), "namespace dev: cannot create service account default");
    }

    #[tokio::test]
    async fn deleting_a_default_account_or_a_relist_brings_its_namespace_back() {
        let w = world();
        w.namespaces.put(namespace("dev", "Active", false));
        w.namespaces.put(namespace("prod", "Active", false));
        let deleted = Event::Deleted(account("dev", "default"));
        assert_eq!(w.controller.service_account_event(&deleted), vec![namespace_key("dev")]);
        let other = Event::Deleted(account("dev", "builder"));
        assert!(w.controller.service_account_event(&other).is_empty(), "only the accounts it makes");
        assert!(w.controller.service_account_event(&Event::Applied(account("dev", "default"))).is_empty());
        let mut relisted = w.controller.service_account_event(&Event::Restarted(vec![]));
        relisted.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(relisted, vec![namespace_key("dev"), namespace_key("prod")]);
    }
}
