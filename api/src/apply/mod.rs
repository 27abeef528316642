//! Server-side apply, and the field ownership every write records in `metadata.managedFields`.
//!
//! `kubectl apply --server-side` sends only the fields the user has an opinion about, as a
//! `PATCH` with `Content-Type: application/apply-patch+yaml` and
//! `?fieldManager=kubectl&force=false`. The server merges them into the object, removes what
//! this manager applied last time and has dropped since, and refuses to change a field another
//! manager owns unless forced. Who owns what is kept in `metadata.managedFields`, and every other
//! write (create, update, merge/JSON/strategic patch) keeps it up to date too: that is how an
//! apply knows that `kubectl scale` set the replicas after it.
//!
//! Mirrors Kubernetes 1.31: structured-merge-diff v4 (`fieldpath/`, `typed/`,
//! `merge/update.go`) and apimachinery's `util/managedfields/internal/`, the field manager
//! behind `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager`. Everything here is
//! a pure function over `serde_json::Value`.
//!
//! # Layout
//!
//! - [`fieldset`]: field paths, sets of them, and their `FieldsV1` encoding.
//! - [`schema`]: which lists are keyed, sets or atomic, which objects are atomic, per kind.
//! - [`typed`]: the fields a value sets, what a write changed, and bad configurations.
//! - `created`: the same for a create, straight to `FieldsV1` in one walk (the common write);
//!   `updated`: an update's changes of ownership made on the entries as they are encoded.
//! - [`merge`]: merging a configuration into the live object; pruning what the applier dropped.
//! - [`managed`]: the `managedFields` entries, and how a write moves ownership.
//! - [`conflict`]: conflicts, with Kubernetes' message and `Status`.
//! - [`client_side`]: the way from client-side `kubectl apply` to server-side apply.
//!
//! # How the API server calls it
//!
//! Every write knows its [`Writer`]: the `fieldManager` query parameter (kubectl sends
//! `kubectl-client-side-apply`, `kubectl-edit`, `kubectl-create`, …) or, without one, the name
//! Kubernetes derives from the user agent (`kubectl`, `kube-controller-manager`); the
//! subresource it came through; and the time. Objects passed in carry `apiVersion` and `kind`.
//!
//! - **create** (`POST`), after defaulting: `record_update(None, &mut object, &writer)`.
//! - **update** (`PUT`) and **merge, JSON or strategic patch**, after the patch, defaulting and
//!   resetting what the endpoint cannot write (status on the main resource, spec on `/status`):
//!   `record_update(Some(&stored), &mut new, &writer)`. The same for writes through `/status`
//!   (`Writer::through("status")`) and through `/scale`, recorded on the parent object
//!   (`Writer::through("scale")`).
//! - **apply** (`PATCH` with `application/apply-patch+yaml`; `fieldManager` is required):
//!   `parse_config(body)?`, check its `apiVersion`, `kind`, `metadata.name` and namespace
//!   against the URL, then `apply(stored.as_ref(), &config, &writer, force)?`
//!   (`ApplyError::to_status` gives the answer on failure). The result is the object to store:
//!   fill in uid, creationTimestamp and the rest for a create (answer 201); for an update keep
//!   the identity fields, check a `resourceVersion` the configuration carried, default and
//!   validate as for a `PUT`; and write nothing if it equals the stored object (a re-apply of an
//!   unchanged manifest changes nothing, managedFields and times included).
//!
//! # Which metadata an apply touches
//!
//! `metadata.labels` and `metadata.annotations` are granular maps: merged key by key, each key
//! owned on its own, a dropped key pruned unless someone else owns it. `finalizers` is a set and
//! `ownerReferences` a list keyed by `uid`, both owned element by element. `name`, `namespace`,
//! `uid`, `resourceVersion`, `generation`, `creationTimestamp` and `managedFields` are never
//! owned; a configuration that carries `managedFields` is refused.
//!
//! # Left out, or approximated
//!
//! - One API version per kind: no conversion of entries recorded at another version.
//! - The schema is a table of the built-in kinds' markers ([`schema`]), not OpenAPI; custom
//!   resources would treat every list as atomic.
//! - Unions are not normalized, as upstream (whose union support is off): applying a Deployment
//!   `strategy` of `type: Recreate` leaves the defaulted `rollingUpdate`, which validation then
//!   rejects, as Kubernetes does.
//! - `null` in a configuration means "not set": dropped before merging (upstream would own the
//!   field with a null value).
//! - Upstream caps Update entries at ten (merging the oldest into `ancient-changes`); Skiff keeps
//!   them all.
//! - YAML is read as YAML 1.2: `yes` and `on` stay strings, where Kubernetes' YAML 1.1 reader
//!   makes them booleans.

pub mod client_side;
pub mod conflict;
mod created;
pub mod fieldset;
pub mod managed;
pub mod merge;
pub mod schema;
pub mod typed;
mod updated;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use conflict::{Conflict, Conflicts};
pub use fieldset::{FieldSet, Path, PathElement};
pub use managed::{Entry, Manager, Operation};

use crate::status::Status;
use schema::Schema;

/// Who is writing, through which endpoint, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer<'a> {
    /// The field manager: `?fieldManager=`, or the name derived from the user agent.
    pub manager: &'a str,
    /// `status` or `scale` for a write through that subresource; `None` for the object itself.
    pub subresource: Option<&'a str>,
    /// RFC 3339, recorded as the entry's `time`.
    pub now: &'a str,
}

impl<'a> Writer<'a> {
    /// A write to the object itself.
    pub fn new(manager: &'a str, now: &'a str) -> Writer<'a> {
        Writer { manager, subresource: None, now }
    }

    /// The same writer, writing through a subresource.
    pub fn through(self, subresource: &'a str) -> Writer<'a> {
        Writer { subresource: Some(subresource), ..self }
    }

    fn as_manager(&self, operation: Operation, api_version: &str) -> Manager {
        Manager {
            name: self.manager.to_string(),
            operation,
            api_version: api_version.to_string(),
            subresource: self.subresource.map(String::from),
        }
    }
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Fields other managers own would change; `force` takes them over.
    #[error("{0}")]
    Conflicts(Conflicts),
    /// The configuration is not an object.
    #[error("the applied configuration must be an object")]
    NotAnObject,
    /// The configuration carries `metadata.managedFields`.
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInConfig,
    /// Lists in the configuration cannot be merged: duplicate keys, elements without a key.
    #[error("failed to create typed patch object ({object}): {}", joined(.problems))]
    InvalidConfig { object: String, problems: Vec<String> },
}

/// Upstream's way of listing validation errors: one inline, several on their own lines.
fn joined(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    }
}

impl ApplyError {
    /// The answer to send. A configuration that cannot be typed is a 500 in Kubernetes (the
    /// field manager returns a plain error, which the handler wraps as an internal error);
    /// Skiff answers the same, so that kubectl prints the same thing.
    pub fn to_status(&self) -> Status {
        match self {
            ApplyError::Conflicts(conflicts) => conflicts.to_status(),
            ApplyError::NotAnObject | ApplyError::ManagedFieldsInConfig => Status::bad_request(self.to_string()),
            ApplyError::InvalidConfig { .. } => Status::internal(self.to_string()),
        }
    }
}

/// Reads the body of an `application/apply-patch+yaml` request: YAML, or JSON (which is YAML).
/// Anything that is not one object is a 400, never a panic.
pub fn parse_config(body: &[u8]) -> Result<Value, Status> {
    let config: Value =
        serde_yaml_ng::from_slice(body).map_err(|err| Status::bad_request(format!("error decoding YAML: {err}")))?;
    match config {
        Value::Object(_) => Ok(config),
        other => {
            let found = match other {
                Value::Array(_) => "a list",
                Value::Null => "empty",
                _ => "a scalar",
            };
            Err(Status::bad_request(format!(
                "error decoding YAML: the applied configuration must be an object, not {found}"
            )))
        }
    }
}

/// The object after `writer` applies `config` to `live` (`None`: the object does not exist yet).
///
/// 1. Refuse a configuration that is not an object, carries `managedFields`, or has lists that
///    cannot be merged; drop its nulls and what the endpoint cannot write (`status` on the
///    object itself, `spec` through `/status`).
/// 2. Read who owns what. A live object with no `managedFields` at all (stored before they were
///    tracked) is owned whole by the updater `before-first-apply`.
/// 3. Merge the configuration into the live object; the applier now owns exactly the fields its
///    configuration sets.
/// 4. Prune what the applier owned at its last apply, no longer sets, and nobody else owns.
/// 5. Compare the live object with the result: a field added or changed that another manager
///    owns is a conflict, unless forced, or unless kubectl is taking over its own client-side
///    apply. Fields changed or removed leave their other owners.
/// 6. Record the applier's entry, keep a client-side `last-applied-configuration` in step, and
///    write `managedFields`. An apply that changes nothing keeps its entry's time, so the
///    result equals the live object.
pub fn apply(live: Option<&Value>, config: &Value, writer: &Writer, force: bool) -> Result<Value, ApplyError> {
    // 1.
    if !config.is_object() {
        return Err(ApplyError::NotAnObject);
    }
    if config.pointer("/metadata/managedFields").is_some_and(|f| !f.is_null()) {
        return Err(ApplyError::ManagedFieldsInConfig);
    }
    let typed_by = if config.get("kind").is_some() { config } else { live.unwrap_or(config) };
    let schema = Schema::of(typed_by);
    let problems = typed::check_config(&schema, config);
    if !problems.is_empty() {
        return Err(ApplyError::InvalidConfig { object: describe(config), problems });
    }
    let ignored = schema.ignored_roots(writer.subresource);
    let applied = prepared(config, ignored);

    // 2.
    let base = live.map(without_managed_fields).unwrap_or_else(|| Value::Object(Default::default()));
    let mut entries = match live {
        Some(live) => owners_before_apply(&schema, live, &base),
        None => Vec::new(),
    };
    let me = writer.as_manager(Operation::Apply, schema.api_version);
    let previous = entries.iter().position(|e| e.manager.same_owner(&me)).map(|i| entries.remove(i));

    // 3.
    let mut object = merge::merge(&schema, &base, &applied);
    let mine = typed::fields_of(&schema, &applied);

    // 4.
    if let Some(previous) = &previous {
        let owned = entries.iter().fold(mine.clone(), |all, e| all.union(&e.fields));
        merge::prune(&schema, &mut object, &previous.fields, &owned);
    }

    // 5.
    let diff = typed::compare(&schema, &base, &object).excluding(ignored);
    let conflicts = Conflicts::new(managed::conflicts(&entries, &diff));
    if !conflicts.is_empty() && !force {
        let upgradable = client_side::upgradable(&schema, writer.manager, &base);
        let remaining = conflicts.retain(|path| !upgradable.contains(path));
        if !remaining.is_empty() {
            return Err(ApplyError::Conflicts(remaining));
        }
    }
    managed::release(&mut entries, &diff);

    // 6.
    let fields = managed::strip(mine);
    let time = match &previous {
        Some(previous) if diff.is_same() => previous.time.clone(),
        _ => Some(writer.now.to_string()),
    };
    entries.push(Entry { manager: me, time, fields });
    client_side::sync_last_applied(writer.manager, live, config, &mut object);
    managed::encode(entries, &mut object);
    Ok(object)
}

/// Records in `new`'s `managedFields` that `writer` owns what it added or changed since `old`
/// (`None` for a create). Call it on the object about to be stored, after defaulting.
///
/// 1. Start from the `managedFields` the request carried (a client may edit them; `[{}]` starts
///    over), or else from the stored ones. A subresource write always starts from the stored
///    ones.
/// 2. Compare the old object with the new one, leaving out what the endpoint cannot write. A
///    create compares with the kind's empty object, in which `spec` and the pod template
///    already exist, as they do in Kubernetes.
/// 3. The fields added, changed or removed leave their other owners (the writer's own earlier
///    entry included; step 4 gives them back).
/// 4. What was added or changed joins the writer's entry, stamped `now`. A write that changed
///    nothing leaves the entries as they were.
///
/// An update that starts from the stored entries (nearly all) makes steps 3 and 4 on their
/// encoded form (`updated.rs`); a create that carries none builds its entry in one walk
/// (`created.rs`); anything else decodes the entries into sets of paths.
pub fn record_update(old: Option<&Value>, new: &mut Value, writer: &Writer) {
    if let Some(old) = old {
        if record_by_editing(old, new, writer) {
            return;
        }
    }
    record_update_by_sets(old, new, writer);
}

/// [`record_update`] on the stored entries as they are encoded; false (and `new` untouched) if
/// the write does not start from them or they are not in the form `updated.rs` edits.
fn record_by_editing(old: &Value, new: &mut Value, writer: &Writer) -> bool {
    let stored = old.pointer("/metadata/managedFields");
    // 1. The stored entries, unless the request rewrites or resets them.
    let carried_is_stored = {
        let carried = new.pointer("/metadata/managedFields");
        carried.is_some() && carried == stored
    };
    let carried_nothing = new
        .pointer("/metadata/managedFields")
        .is_none_or(|carried| carried.is_null() || carried.as_array().is_some_and(Vec::is_empty));
    if !(writer.subresource.is_some() || carried_is_stored || carried_nothing) {
        return false;
    }
    if !stored.is_none_or(|stored| stored.is_null() || stored.is_array()) {
        return false;
    }
    let api_version = new.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = new.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let schema = Schema { api_version: &api_version, kind: &kind };
    let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) else { return false };
    let carried = metadata.remove("managedFields");
    let (entries, put_back) = match carried {
        // The request's copy of the stored entries is used, rather than a copy made.
        Some(Value::Array(list)) if carried_is_stored => (list, stored.cloned()),
        carried => (stored.and_then(Value::as_array).cloned().unwrap_or_default(), carried),
    };

    // 2.
    let mut diff = typed::compare(&schema, old, new).excluding(schema.ignored_roots(writer.subresource));
    diff.removed.remove(&Path::fields(&["metadata", "managedFields"]));
    let mut changed = diff.added.clone();
    changed.extend(diff.modified.clone());
    changed.retain(|path| !diff.removed.contains(path));
    let changed = managed::strip(changed);

    // 3. and 4.
    let me = writer.as_manager(Operation::Update, &api_version);
    let Some(entries) = updated::record(entries, &diff, &changed, &me, writer.now) else {
        if let (Some(back), Some(metadata)) = (put_back, new.get_mut("metadata").and_then(Value::as_object_mut)) {
            metadata.insert("managedFields".into(), back);
        }
        return false;
    };
    if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(entries));
        }
    }
    true
}

/// [`record_update`] with the entries decoded into sets of paths (and a create's entry built
/// in one walk, `created.rs`).
fn record_update_by_sets(old: Option<&Value>, new: &mut Value, writer: &Writer) {
    let api_version = new.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = new.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let schema = Schema { api_version: &api_version, kind: &kind };

    // 1.
    let carried = if writer.subresource.is_none() { managed::decode(new) } else { Vec::new() };
    let mut entries = if writer.subresource.is_none() && managed::is_reset(new) {
        Vec::new()
    } else if !carried.is_empty() {
        carried
    } else {
        old.map(managed::decode).unwrap_or_default()
    };

    // 2. `new`'s own managedFields are read (step 1) and rewritten (below): take them out for
    //    the comparison rather than compare a copy of the whole object.
    if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    if old.is_none() && entries.is_empty() {
        // A create that carries no ownership (nearly all): steps 2 to 4 in one walk.
        return record_create(&schema, new, writer);
    }
    //    The old object is compared as it is, managedFields and all, rather than copied
    //    without them: its managedFields then only show as removed, which is taken back.
    let zero;
    let before = match old {
        Some(old) => old,
        None => {
            zero = shaped_like(&schema.zero_value(), new);
            &zero
        }
    };
    let mut diff = typed::compare(&schema, before, new).excluding(schema.ignored_roots(writer.subresource));
    diff.removed.remove(&Path::fields(&["metadata", "managedFields"]));

    // 3.
    managed::release(&mut entries, &diff);

    // 4.
    let removed = diff.removed;
    let mut changed = diff.added;
    changed.extend(diff.modified);
    changed.retain(|path| !removed.contains(path));
    let changed = managed::strip(changed);
    if !changed.is_empty() {
        let me = writer.as_manager(Operation::Update, &api_version);
        let earlier = entries.iter().position(|e| e.manager.same_owner(&me)).map(|i| entries.remove(i));
        let fields = earlier.map(|e| e.fields.union(&changed)).unwrap_or(changed);
        entries.push(Entry { manager: me, time: Some(writer.now.to_string()), fields });
    }
    managed::encode(entries, new);
}

/// [`record_update`] for a create that starts with no entries: the writer's entry is all there
/// is, and its fields are encoded straight from the object (`created.rs`).
fn record_create(schema: &Schema, new: &mut Value, writer: &Writer) {
    let empty = shaped_like(&schema.zero_value(), new);
    let Some(fields) = created::fields_v1(schema, &empty, new, schema.ignored_roots(writer.subresource)) else {
        return;
    };
    let me = writer.as_manager(Operation::Update, schema.api_version);
    let entry = managed::encoded_entry(&me, Some(writer.now), fields);
    if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("managedFields".into(), Value::Array(vec![entry]));
    }
}

/// The entries of the live object; one stored before field ownership was tracked (it has no
/// `managedFields` at all) is owned whole by the updater `before-first-apply`, so that an apply
/// cannot silently overwrite what was there.
fn owners_before_apply(schema: &Schema, live: &Value, without_managed_fields: &Value) -> Vec<Entry> {
    let entries = managed::decode(live);
    let never_tracked = live.pointer("/metadata/managedFields").and_then(Value::as_array).is_none_or(Vec::is_empty);
    if !never_tracked {
        return entries;
    }
    let manager = Manager {
        name: "before-first-apply".into(),
        operation: Operation::Update,
        api_version: schema.api_version.to_string(),
        subresource: None,
    };
    vec![Entry { manager, time: None, fields: managed::strip(typed::fields_of(schema, without_managed_fields)) }]
}

/// `object` without `metadata.managedFields`: ownership is not part of what a write changes.
fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    object
}

/// The configuration as it is merged: without nulls, and without the fields this endpoint
/// cannot write.
fn prepared(config: &Value, ignored: &[&str]) -> Value {
    fn without_nulls(value: &Value) -> Value {
        match value {
            Value::Object(fields) => Value::Object(
                fields.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
            other => other.clone(),
        }
    }
    let mut config = without_nulls(config);
    if let Some(fields) = config.as_object_mut() {
        for root in ignored {
            fields.remove(*root);
        }
    }
    config
}

/// The parts of `zero` that `object` also has: the empty object a create is compared with,
/// without the empty `status` a Deployment created without one would otherwise "remove".
fn shaped_like(zero: &Value, object: &Value) -> Value {
    match (zero, object) {
        (Value::Object(zero), Value::Object(object)) => Value::Object(
            zero.iter().filter_map(|(key, z)| object.get(key).map(|o| (key.clone(), shaped_like(z, o)))).collect(),
        ),
        (zero, _) => zero.clone(),
    }
}

/// `default/web; apps/v1, Kind=Deployment`, as upstream names the object in typing errors.
fn describe(config: &Value) -> String {
    let text = |pointer: &str| config.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let api_version = text("/apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    format!("{}/{}; {group}/{version}, Kind={}", text("/metadata/namespace"), text("/metadata/name"), text("/kind"))
}
