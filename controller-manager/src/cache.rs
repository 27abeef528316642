//! How the controllers read: from informer caches, never from the API server.
//!
//! Upstream's listers (`dc.rsLister.ReplicaSets(ns).List(...)`). The caches are
//! `skiff_client::reflector::Store`s; the controllers see them through [`Lister`], which every
//! `Store<K>` implements, so that the logic depends on two questions only: "this key?" and
//! "everything in this namespace?". (The test fake answers them from a plain map.)
//!
//! Objects come out shared (`Arc<K>`): clone one before changing it.

use std::sync::Arc;

use skiff_client::reflector::{Object, ObjectKey, Store};

pub trait Lister<K>: Send + Sync {
    fn get(&self, key: &ObjectKey) -> Option<Arc<K>>;
    /// Every object of `namespace`, sorted by name.
    fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>>;
}

impl<K: Object> Lister<K> for Store<K> {
    fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        Store::get(self, key)
    }

    fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        Store::in_namespace(self, namespace)
    }
}
