//! Generic storage: Kubernetes objects (as JSON) in the etcd-like store, with the API server's
//! rules for creating, reading, updating and deleting them.
//!
//! Mirrors kubernetes `staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`
//! (`Create`, `Get`, `List`, `Update`, `Delete`) and `pkg/registry/rest/create.go`
//! (`BeforeCreate`), over `storage/etcd3/store.go` (here `skiff_store::client`):
//!
//! - **Keys**: `/registry/<group or core>/<plural>/<namespace>/<name>` (cluster-scoped kinds
//!   have no namespace segment), so a namespace's objects of one kind are one prefix.
//! - **resourceVersion is the store's revision**: an object is stored without it, and every
//!   object read gets its key's `mod_revision` stamped in. An update that carries one must carry
//!   the current one (`409 Conflict` otherwise): optimistic concurrency with no locks.
//! - **Create** fills `uid`, `creationTimestamp`, a name from `generateName` (retrying a taken
//!   one), `generation` 1 for kinds that track it; refuses a taken name (`409 AlreadyExists`)
//!   and bad names (`422 Invalid`).
//! - **Update** keeps what clients may not change (`uid`, `creationTimestamp`, and `status` for
//!   kinds whose status has its own endpoint) and bumps `generation` when `spec` changes.
//!
//! A store made with [`ObjectStore::dry_run`] does every check and computes every result of a
//! `?dryRun=All` request, and writes nothing.
//!
//! - **Delete** removes the object, or only marks it (`deletionTimestamp`, a grace period,
//!   finalizers) as the caller's [`Deletion`] plan says; the update that removes the last
//!   finalizer of a marked object with no grace period left deletes it (whoever added a
//!   finalizer cleans up first). The rules of *when* to mark are the verbs' (`verbs/delete.rs`).

use bytes::Bytes;
use rand::Rng;
use serde_json::{json, Value};
use skiff_api::registry::Resource;
use skiff_api::selector::{FieldSelector, LabelSelector};
use skiff_api::status::Status;
use skiff_api::validation::{self, FieldError};
use skiff_store::client::{ClientError, Guarded, StoreClient};

use crate::stamp::Encoded;
use crate::watch_cache::{PendingOffer, WatchCaches};

/// The alphabet Kubernetes draws `generateName` suffixes from (no vowels: no words by chance).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Attempts at a free generated name before giving up.
const GENERATE_NAME_TRIES: usize = 8;

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything but the status (for kinds with a status endpoint).
    Main,
    /// Only the status.
    Status,
    /// Spec and status together: the API server's own writes (a pod's binding sets its node
    /// and its `PodScheduled` condition).
    Whole,
    /// Only a namespace's `spec.finalizers` (`namespaces/NAME/finalize`).
    Finalizers,
}

/// The last step of an update, given the stored object and the new one.
pub type Finish<'a> = dyn Fn(&Value, &mut Value) -> Result<(), Status> + Send + Sync + 'a;

fn no_finish(_: &Value, _: &mut Value) -> Result<(), Status> {
    Ok(())
}

/// Objects of every kind, in the store.
#[derive(Clone)]
pub struct ObjectStore {
    client: StoreClient,
    /// `?dryRun=All`: every check and every change is computed, nothing is written.
    dry_run: bool,
    /// The watch caches, offered what each write stores (`watch_cache.rs`), if there are any.
    caches: Option<WatchCaches>,
}

fn store_error(err: ClientError) -> Status {
    Status::internal(format!("storage error: {err}"))
}

/// Kinds whose `metadata.generation` counts changes of `spec`.
fn tracks_generation(resource: &Resource) -> bool {
    matches!(resource.group, "apps" | "batch" | "networking.k8s.io") || resource.plural == "services"
}

/// Names of namespaces and StatefulSets become DNS labels, Services' DNS-1035 labels; everything
/// else is a DNS subdomain.
fn name_problems(resource: &Resource, name: &str) -> Vec<String> {
    validation::name_problems(resource, name, false)
}

/// A random version-4 UUID, as Kubernetes gives every object.
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut uid = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uid.push('-');
        }
        uid.push(HEX[usize::from(byte >> 4)] as char);
        uid.push(HEX[usize::from(byte & 0xf)] as char);
    }
    uid
}

pub(crate) fn now_timestamp() -> String {
    skiff_api::age::format_timestamp(skiff_api::age::now())
}

pub(crate) fn metadata(object: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"].as_object_mut().expect("made an object above")
}

/// The object as clients see it: with its key's revision as `resourceVersion`.
pub(crate) fn stamped(bytes: &[u8], mod_revision: i64) -> Result<Value, Status> {
    let mut object: Value =
        serde_json::from_slice(bytes).map_err(|e| Status::internal(format!("stored object is not JSON: {e}")))?;
    metadata(&mut object).insert("resourceVersion".into(), json!(mod_revision.to_string()));
    Ok(object)
}

/// The object as stored: without `resourceVersion`, which the store's revision replaces. The
/// field is taken out for the encoding and put back, rather than the whole object copied.
fn storable(object: &mut Value) -> Encoded {
    let version = metadata(object).remove("resourceVersion");
    let encoded = crate::stamp::encode(object);
    if let Some(version) = version {
        metadata(object).insert("resourceVersion".into(), version);
    }
    encoded
}

/// An object as a write leaves it: the tree, and its JSON as the client is answered with it.
/// For a stored write that is the stored bytes with the new resourceVersion spliced in
/// (`stamp.rs`), so the object is serialized once, for the store, not again for the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub object: Value,
    pub json: Bytes,
}

impl Written {
    /// An object the store did not take as it is (a dry run, an unchanged or a deleted object):
    /// encoded from the tree.
    pub(crate) fn encoded(object: Value) -> Written {
        let json = Bytes::from(serde_json::to_vec(&object).expect("JSON values serialize"));
        Written { object, json }
    }

    /// `object`, stored as `stored` at `revision`.
    fn stored(mut object: Value, stored: &Encoded, revision: i64) -> Result<Written, Status> {
        metadata(&mut object).insert("resourceVersion".into(), json!(revision.to_string()));
        let json = Bytes::from(stored.stamped(revision)?);
        Ok(Written { object, json })
    }
}

/// The version a write replaces, and whether it is the watch cache's copy (a guess) or the
/// store's.
struct Current {
    /// As stored: without resourceVersion.
    old: Value,
    mod_revision: i64,
    guessed: bool,
}

/// How a write over a version went.
enum Attempt {
    Written(Written),
    /// The version was a guess, and what it would decide must be decided again from the store.
    Stale,
}

/// Leaves a write's offer to the watch cache if the store took the write; takes it back if not.
fn settle(offer: Option<PendingOffer>, outcome: &Result<Guarded, ClientError>) {
    match (offer, outcome) {
        (Some(offer), Ok(Guarded::Done { .. })) => offer.stored(),
        (offer, _) => drop(offer),
    }
}

pub(crate) fn finalizers(object: &Value) -> Vec<Value> {
    object["metadata"]["finalizers"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn is_deleting(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

/// Gives `object` this status, or none.
fn set_status(object: &mut Value, status: Option<Value>) {
    match (status, object.as_object_mut()) {
        (Some(status), Some(map)) => {
            map.insert("status".into(), status);
        }
        (None, Some(map)) => {
            map.remove("status");
        }
        (_, None) => {}
    }
}

/// Whether `object` matches both selectors (lists and watches filter alike).
pub fn selected(object: &Value, labels: &LabelSelector, fields: &FieldSelector) -> bool {
    let object_labels = object["metadata"]["labels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    labels.matches(&object_labels) && fields.matches(|field| Some(skiff_api::fields::value(object, field)))
}

impl ObjectStore {
    pub fn new(client: StoreClient) -> Self {
        ObjectStore { client, dry_run: false, caches: None }
    }

    /// The same store, offering every write's entry to `caches`.
    pub fn offering_to(self, caches: WatchCaches) -> Self {
        ObjectStore { caches: Some(caches), ..self }
    }

    /// The same store, for a `dryRun=All` request.
    pub fn dry_run(&self) -> ObjectStore {
        ObjectStore { dry_run: true, ..self.clone() }
    }

    /// Offers the watch cache the entry for `object`, about to be stored as `stored` under
    /// `key` (`watch_cache.rs`): call before the write; the offer is taken back when what this
    /// returns is dropped, unless [`settle`] says the store took the write.
    fn offer(&self, resource: &Resource, key: &str, object: &Value, stored: &Encoded) -> Option<PendingOffer> {
        self.caches.as_ref()?.offer(resource, key, object, stored)
    }

    /// Where an object lives in the store.
    pub fn key(resource: &Resource, namespace: Option<&str>, name: &str) -> String {
        let mut key = Self::prefix(resource, namespace);
        key.push_str(name);
        key
    }

    /// The prefix of one kind's objects, in one namespace or all of them.
    pub fn prefix(resource: &Resource, namespace: Option<&str>) -> String {
        let group = if resource.group.is_empty() { "core" } else { resource.group };
        match (resource.namespaced, namespace) {
            (true, Some(namespace)) => format!("/registry/{group}/{}/{namespace}/", resource.plural),
            _ => format!("/registry/{group}/{}/", resource.plural),
        }
    }

    pub async fn get(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Result<Value, Status> {
        let key = Self::key(resource, namespace, name);
        match self.client.clone().get(key).await.map_err(store_error)? {
            Some(kv) => stamped(&kv.value, kv.mod_revision),
            None => Err(Status::not_found(resource, name)),
        }
    }

    /// [`ObjectStore::get`] as the JSON a client is answered with, without a tree in between.
    pub async fn get_json(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Result<Bytes, Status> {
        let key = Self::key(resource, namespace, name);
        match self.client.clone().get(key).await.map_err(store_error)? {
            Some(kv) => crate::stamp::stamp(&kv.value, kv.mod_revision).map(Bytes::from),
            None => Err(Status::not_found(resource, name)),
        }
    }

    /// The objects matching the selectors, sorted by namespace and name, and the revision of the
    /// list.
    pub async fn list(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Result<(Vec<Value>, i64), Status> {
        let prefix = Self::prefix(resource, namespace);
        let listed = self.client.clone().list(prefix.as_bytes(), 0, 0).await.map_err(store_error)?;
        let mut objects = Vec::with_capacity(listed.kvs.len());
        for kv in listed.kvs {
            let object = stamped(&kv.value, kv.mod_revision)?;
            if selected(&object, labels, fields) {
                objects.push(object);
            }
        }
        Ok((objects, listed.revision))
    }

    /// [`ObjectStore::list`] as the JSON of each object, as a client is answered with it: the
    /// resourceVersion spliced in (`stamp.rs`), and only what selectors read of an object read
    /// out of it (`sparse.rs`), and nothing at all without selectors. No tree is built.
    pub async fn list_json(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Result<(Vec<Bytes>, i64), Status> {
        let prefix = Self::prefix(resource, namespace);
        let listed = self.client.clone().list(prefix.as_bytes(), 0, 0).await.map_err(store_error)?;
        let everything = labels.is_empty() && fields.fields().next().is_none();
        let mut wanted = skiff_api::fields::paths(resource);
        wanted.push(vec!["metadata", "labels"]);
        let mut items = Vec::with_capacity(listed.kvs.len());
        for kv in listed.kvs {
            if !everything {
                let parts = crate::sparse::read(&kv.value, &wanted)
                    .map_err(|e| Status::internal(format!("stored object is not JSON: {e}")))?;
                if !selected(&parts, labels, fields) {
                    continue;
                }
            }
            items.push(Bytes::from(crate::stamp::stamp(&kv.value, kv.mod_revision)?));
        }
        Ok((items, listed.revision))
    }

    /// Creates `object` in `namespace` (already checked against the URL by the caller).
    pub async fn create(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        mut object: Value,
    ) -> Result<Written, Status> {
        let meta = metadata(&mut object);
        let given = meta.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let generate = meta.get("generateName").and_then(Value::as_str).unwrap_or_default().to_string();
        if given.is_empty() && generate.is_empty() {
            let error = FieldError::required("metadata.name", "name or generateName is required");
            return Err(Status::invalid(resource, "", &[error]));
        }
        // The create verb gives the uid before validation (a Job's selector is made from it);
        // a caller that did not gets one here.
        if meta.get("uid").and_then(Value::as_str).is_none_or(str::is_empty) {
            meta.insert("uid".into(), json!(new_uid()));
        }
        meta.insert("creationTimestamp".into(), json!(now_timestamp()));
        meta.remove("resourceVersion");
        if let Some(namespace) = namespace.filter(|_| resource.namespaced) {
            meta.insert("namespace".into(), json!(namespace));
        }
        if tracks_generation(resource) {
            meta.insert("generation".into(), json!(1));
        }
        object["apiVersion"] = json!(resource.api_version());
        object["kind"] = json!(resource.kind);

        let tries = if given.is_empty() { GENERATE_NAME_TRIES } else { 1 };
        for _ in 0..tries {
            let name = if given.is_empty() {
                let mut rng = rand::rng();
                let suffix: String =
                    (0..5).map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char).collect();
                format!("{generate}{suffix}")
            } else {
                given.clone()
            };
            let problems = name_problems(resource, &name);
            if !problems.is_empty() {
                let errors: Vec<FieldError> =
                    problems.into_iter().map(|p| FieldError::invalid("metadata.name", name.clone(), p)).collect();
                return Err(Status::invalid(resource, &name, &errors));
            }
            metadata(&mut object).insert("name".into(), json!(name));
            let key = Self::key(resource, namespace, &name);
            if self.dry_run {
                if self.client.clone().get(key).await.map_err(store_error)?.is_some() {
                    if given.is_empty() {
                        continue;
                    }
                    return Err(Status::already_exists(resource, &name));
                }
                return Ok(Written::encoded(object));
            }
            let stored = storable(&mut object);
            let offer = self.offer(resource, &key, &object, &stored);
            let outcome = self.client.clone().create(key.clone(), stored.json.clone(), 0).await;
            settle(offer, &outcome);
            match outcome.map_err(store_error)? {
                Guarded::Done { revision, .. } => return Written::stored(object, &stored, revision),
                Guarded::Conflict { .. } if given.is_empty() => continue,
                Guarded::Conflict { .. } => return Err(Status::already_exists(resource, &name)),
            }
        }
        Err(Status::already_exists(resource, &format!("{generate}*")))
    }

    /// Replaces the object `name` with `object`, if `object`'s resourceVersion (when it has one)
    /// is the current one. `status` is kept from the stored object for kinds whose status has
    /// its own endpoint.
    pub async fn update(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        object: Value,
    ) -> Result<Written, Status> {
        self.write(resource, namespace, name, object, Part::Main, &no_finish).await
    }

    /// Replaces the object `name`, status included (for the API server's own writes).
    pub async fn update_whole(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        object: Value,
    ) -> Result<Written, Status> {
        self.write(resource, namespace, name, object, Part::Whole, &no_finish).await
    }

    /// Replaces only the `status` of the object `name` (the `/status` endpoint).
    pub async fn update_status(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        object: Value,
    ) -> Result<Written, Status> {
        self.write(resource, namespace, name, object, Part::Status, &no_finish).await
    }

    /// Replaces `part` of the object `name` with `object`'s. `finish` sees the stored version
    /// being replaced and the new one, once what clients may not change has been restored, and
    /// may refuse the write or complete it (validation against the old version, field
    /// ownership): it runs against exactly the version the guarded write replaces.
    ///
    /// The version replaced is first taken from the watch cache, as Kubernetes'
    /// `GuaranteedUpdate` starts from the cacher's copy (`cachedExistingObject`), which saves
    /// the store a read. The copy may trail the store: the guarded write then fails its compare
    /// and nothing is written. Every answer the copy alone would decide — a conflict, a refusal by
    /// `finish`, "nothing changed" — is decided again from the store's current version, so a
    /// stale copy changes no answer, only what it costs.
    pub async fn write(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        object: Value,
        part: Part,
        finish: &Finish<'_>,
    ) -> Result<Written, Status> {
        let key = Self::key(resource, namespace, name);
        let cached = self.caches.as_ref().filter(|_| !self.dry_run).and_then(|c| c.get(resource, namespace, name));
        // A copy older than the version the request names is not worth the try.
        let wanted = object["metadata"]["resourceVersion"].as_str().filter(|rv| !rv.is_empty());
        let cached = cached.filter(|c| wanted.is_none_or(|rv| rv == c.revision.to_string()));
        if let Some(cached) = cached {
            let mut old = cached.value();
            metadata(&mut old).remove("resourceVersion");
            let guess = Current { old, mod_revision: cached.revision, guessed: true };
            if let Attempt::Written(written) =
                self.write_over(resource, name, &key, object.clone(), guess, part, finish).await?
            {
                return Ok(written);
            }
        }
        let current = self
            .client
            .clone()
            .get(key.clone())
            .await
            .map_err(store_error)?
            .ok_or_else(|| Status::not_found(resource, name))?;
        let old: Value = serde_json::from_slice(&current.value).map_err(|e| Status::internal(e.to_string()))?;
        let current = Current { old, mod_revision: current.mod_revision, guessed: false };
        match self.write_over(resource, name, &key, object, current, part, finish).await? {
            Attempt::Written(written) => Ok(written),
            Attempt::Stale => Err(Status::conflict(resource, name)),
        }
    }

    /// [`ObjectStore::write`] over `current`. Whatever a guessed version alone would decide
    /// comes back as [`Attempt::Stale`], for the caller to decide again from the store.
    #[allow(clippy::too_many_arguments)]
    async fn write_over(
        &self,
        resource: &Resource,
        name: &str,
        key: &str,
        mut object: Value,
        current: Current,
        part: Part,
        finish: &Finish<'_>,
    ) -> Result<Attempt, Status> {
        let Current { old, mod_revision, guessed } = current;
        let stale_or = |status: Status| if guessed { Ok(Attempt::Stale) } else { Err(status) };
        let mut client = self.client.clone();
        let wanted = object["metadata"]["resourceVersion"].as_str().map(str::to_string);
        if wanted.as_deref().is_some_and(|rv| !rv.is_empty() && rv != mod_revision.to_string()) {
            return stale_or(Status::conflict(resource, name));
        }
        if part == Part::Status {
            // Everything but the status is the stored object's; the workloads of `apps` also
            // take their annotations from a status write, as Kubernetes' status strategies do
            // (the Deployment controller records the revision that way).
            let status = object.get("status").cloned();
            let annotations = object["metadata"].get("annotations").cloned();
            object = old.clone();
            set_status(&mut object, status);
            if resource.group == "apps" {
                match annotations {
                    Some(annotations) => metadata(&mut object).insert("annotations".into(), annotations),
                    None => metadata(&mut object).remove("annotations"),
                };
            }
        }
        if is_namespace(resource) {
            // A namespace's `spec.finalizers` change only through `finalize`, and only they do
            // (Kubernetes' namespace strategies).
            let finalizers = match part {
                Part::Finalizers => object["spec"].get("finalizers").cloned(),
                _ => old["spec"].get("finalizers").cloned(),
            };
            if part == Part::Finalizers {
                object = old.clone();
            }
            set_spec_finalizers(&mut object, finalizers);
        }
        let meta = metadata(&mut object);
        // A uid the client gave is left for validation to compare (a different one is an
        // immutable field); without one, the stored one is kept.
        if meta.get("uid").and_then(Value::as_str).is_none_or(str::is_empty) {
            match old["metadata"].get("uid") {
                Some(uid) => meta.insert("uid".into(), uid.clone()),
                None => meta.remove("uid"),
            };
        }
        for kept in
            ["creationTimestamp", "name", "namespace", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"]
        {
            match old["metadata"].get(kept) {
                Some(value) => meta.insert(kept.into(), value.clone()),
                None => meta.remove(kept),
            };
        }
        if part == Part::Main && resource.subresource("status").is_some() {
            set_status(&mut object, old.get("status").cloned());
        }
        if part != Part::Status && tracks_generation(resource) && old.get("spec") != object.get("spec") {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            metadata(&mut object).insert("generation".into(), json!(generation));
        }
        object["apiVersion"] = json!(resource.api_version());
        object["kind"] = json!(resource.kind);
        if let Err(refused) = finish(&old, &mut object) {
            return stale_or(refused);
        }
        if self.dry_run {
            metadata(&mut object).insert("resourceVersion".into(), json!(mod_revision.to_string()));
            return Ok(Attempt::Written(Written::encoded(object)));
        }
        if goes_on_update(&object) {
            // The last finalizer is gone from an object being deleted: now it goes.
            return match client.delete(key.to_string(), mod_revision).await.map_err(store_error)? {
                Guarded::Done { revision, .. } => {
                    metadata(&mut object).insert("resourceVersion".into(), json!(revision.to_string()));
                    Ok(Attempt::Written(Written::encoded(object)))
                }
                Guarded::Conflict { .. } => stale_or(Status::conflict(resource, name)),
            };
        }
        // Compared as stored, without resourceVersion; every answer below stamps it again.
        metadata(&mut object).remove("resourceVersion");
        if object == old {
            // Nothing changed: nothing is written, and the resourceVersion stays (Kubernetes'
            // GuaranteedUpdate skips a write whose bytes equal the stored ones; kubectl then
            // says "patched (no change)"). Said only of the store's version, as upstream
            // re-reads before it answers a no-op found on the cacher's copy.
            if guessed {
                return Ok(Attempt::Stale);
            }
            metadata(&mut object).insert("resourceVersion".into(), json!(mod_revision.to_string()));
            return Ok(Attempt::Written(Written::encoded(object)));
        }
        let stored = storable(&mut object);
        let offer = self.offer(resource, key, &object, &stored);
        let outcome = client.update(key.to_string(), stored.json.clone(), mod_revision, 0).await;
        settle(offer, &outcome);
        match outcome.map_err(store_error)? {
            Guarded::Done { revision, .. } => Written::stored(object, &stored, revision).map(Attempt::Written),
            // Someone else wrote between our read and our write (or the cache's copy was old).
            Guarded::Conflict { .. } => stale_or(Status::conflict(resource, name)),
        }
    }

    /// Deletes the object `name` as `plan` decides from its current version: removed now, or
    /// only marked (`deletionTimestamp`, finalizers) for whoever must act first, or left as it
    /// is. Returns the object as the client should see it. A concurrent write makes it read and
    /// decide again.
    pub async fn delete(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        plan: impl Fn(&Value) -> Result<Deletion, Status>,
    ) -> Result<Value, Status> {
        let key = Self::key(resource, namespace, name);
        let mut client = self.client.clone();
        loop {
            let current =
                client.get(key.clone()).await.map_err(store_error)?.ok_or_else(|| Status::not_found(resource, name))?;
            let stored = stamped(&current.value, current.mod_revision)?;
            let decision = plan(&stored)?;
            if self.dry_run {
                return Ok(match decision {
                    Deletion::Mark { marked } => marked,
                    Deletion::Now | Deletion::Unchanged => stored,
                });
            }
            match decision {
                Deletion::Unchanged => return Ok(stored),
                Deletion::Mark { mut marked } => {
                    match client
                        .update(key.clone(), storable(&mut marked).json, current.mod_revision, 0)
                        .await
                        .map_err(store_error)?
                    {
                        Guarded::Done { revision, .. } => {
                            metadata(&mut marked).insert("resourceVersion".into(), json!(revision.to_string()));
                            return Ok(marked);
                        }
                        Guarded::Conflict { .. } => continue,
                    }
                }
                Deletion::Now => match client.delete(key.clone(), current.mod_revision).await.map_err(store_error)? {
                    Guarded::Done { .. } => return Ok(stored),
                    // Changed under us: read again and decide again.
                    Guarded::Conflict { current: Some(_) } => continue,
                    Guarded::Conflict { current: None } => return Err(Status::not_found(resource, name)),
                },
            }
        }
    }
}

/// What a delete does to the object it finds.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    /// Remove it from the store.
    Now,
    /// Keep it, changed to this (a `deletionTimestamp`, a grace period, finalizers): someone
    /// must act before it goes (the kubelet stops a pod's containers, the garbage collector
    /// deletes dependents).
    Mark { marked: Value },
    /// It is already being deleted and nothing asked changes that.
    Unchanged,
}

/// An object is removed by the update that leaves it marked for deletion with no finalizers
/// and no grace period left (Kubernetes' `ShouldDeleteDuringUpdate`). A pod in its grace period
/// stays until the kubelet deletes it with a zero grace period.
fn goes_on_update(object: &Value) -> bool {
    is_deleting(object)
        && finalizers(object).is_empty()
        && spec_finalizers(object).is_empty()
        && object["metadata"]["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0
}

pub(crate) fn is_namespace(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.plural == "namespaces"
}

/// A namespace's `spec.finalizers` (what must clean it out before it goes); none for other kinds.
pub(crate) fn spec_finalizers(object: &Value) -> Vec<Value> {
    object["spec"]["finalizers"].as_array().cloned().unwrap_or_default()
}

fn set_spec_finalizers(object: &mut Value, finalizers: Option<Value>) {
    if !object["spec"].is_object() {
        object["spec"] = json!({});
    }
    let spec = object["spec"].as_object_mut().expect("made an object above");
    match finalizers.filter(|f| f.as_array().is_some_and(|a| !a.is_empty())) {
        Some(finalizers) => spec.insert("finalizers".into(), finalizers),
        None => spec.remove("finalizers"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::by_plural;

    #[test]
    fn keys_group_a_kind_by_namespace() {
        let pods = by_plural("", "v1", "pods").unwrap();
        let nodes = by_plural("", "v1", "nodes").unwrap();
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        assert_eq!(ObjectStore::key(pods, Some("default"), "web"), "/registry/core/pods/default/web");
        assert_eq!(ObjectStore::prefix(pods, None), "/registry/core/pods/");
        assert_eq!(ObjectStore::key(nodes, None, "node-1"), "/registry/core/nodes/node-1");
        assert_eq!(ObjectStore::key(deployments, Some("ns"), "web"), "/registry/apps/deployments/ns/web");
    }

    /// An ObjectStore on a real skiff-store in this process, on a free port.
    async fn store() -> (ObjectStore, tokio_util::sync::CancellationToken, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let address = skiff_tests::control_plane::start_store(&dir, &stop).await;
        let client = StoreClient::connect(&[address]).await.unwrap();
        (ObjectStore::new(client), stop, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_over_the_cache_s_copy_answers_as_a_write_over_the_store_s_version() {
        let (objects, stop, _dir) = store().await;
        let configmaps = by_plural("", "v1", "configmaps").unwrap();
        let rv = |w: &Written| w.object["metadata"]["resourceVersion"].as_str().unwrap().parse::<i64>().unwrap();
        let body = |name: &str, rv: Option<i64>, a: &str| {
            let mut object = json!({"metadata": {"name": name}, "data": {"a": a}});
            if let Some(rv) = rv {
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
            }
            object
        };
        // (case, the cache holds version 1 (else 2), the request's resourceVersion: 1, 2 or none,
        //  its data, want: Ok(data now and whether a new version was written) or Err(code))
        type Want = Result<(&'static str, bool), u16>;
        let cases: [(&str, bool, Option<u8>, &str, Want); 7] = [
            ("the store's resourceVersion over an old copy is written", true, Some(2), "3", Ok(("3", true))),
            ("the old copy's resourceVersion is a conflict", true, Some(1), "3", Err(409)),
            ("an unconditional write over an old copy is written", true, None, "3", Ok(("3", true))),
            ("what equals only the old copy is written, not 'no change'", true, None, "1", Ok(("1", true))),
            ("what equals the store's version is no change", true, Some(2), "2", Ok(("2", false))),
            ("a current copy", false, Some(2), "3", Ok(("3", true))),
            ("a current copy's resourceVersion is still checked", false, Some(1), "3", Err(409)),
        ];
        for (i, (case, old_copy, wanted, data, want)) in cases.into_iter().enumerate() {
            let name = format!("cfg-{i}");
            let first = objects.create(configmaps, Some("default"), body(&name, None, "1")).await.unwrap();
            let second = objects.update(configmaps, Some("default"), &name, body(&name, None, "2")).await.unwrap();
            let (rv1, rv2) = (rv(&first), rv(&second));
            let copy = if old_copy { (&first.json[..], rv1) } else { (&second.json[..], rv2) };
            let cached = objects.clone().offering_to(crate::watch_cache::holding(configmaps, &[copy]));
            let wanted = wanted.map(|w| if w == 1 { rv1 } else { rv2 });
            let got = cached.update(configmaps, Some("default"), &name, body(&name, wanted, data)).await;
            let stored = objects.get(configmaps, Some("default"), &name).await.unwrap();
            match (got, want) {
                (Ok(written), Ok((data, new_version))) => {
                    assert_eq!(written.object["data"]["a"], data, "{case}");
                    assert_eq!(rv(&written) > rv2, new_version, "{case}: a new version");
                    assert_eq!(written.object, stored, "{case}: answered as stored");
                }
                (Err(status), Err(code)) => {
                    assert_eq!(status.code, code, "{case}");
                    assert_eq!(stored["data"]["a"], "2", "{case}: nothing written");
                }
                (got, want) => panic!("{case}: got {got:?}, want {want:?}"),
            }
        }
        // Gone from the store, still in the copy: not found.
        let gone = objects.create(configmaps, Some("default"), body("gone", None, "1")).await.unwrap();
        objects.delete(configmaps, Some("default"), "gone", |_| Ok(Deletion::Now)).await.unwrap();
        let cached = objects.clone().offering_to(crate::watch_cache::holding(configmaps, &[(&gone.json, rv(&gone))]));
        let status = cached.update(configmaps, Some("default"), "gone", body("gone", None, "2")).await.unwrap_err();
        assert_eq!(status.code, 404);
        stop.cancel();
    }

    #[test]
    fn uids_are_version_4_uuids() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert!(matches!(&uid[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(uid, new_uid());
    }
}
