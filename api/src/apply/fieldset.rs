//! Field paths, sets of them, and the `FieldsV1` encoding that `metadata.managedFields` stores.
//!
//! Mirrors structured-merge-diff v4's `fieldpath/` (`element.go`, `path.go`, `set.go`,
//! `serialize.go`, `serialize-pe.go`). Upstream keeps a set as a trie of members and children;
//! Skiff keeps a sorted set of whole paths, which is slower and much easier to read, and builds
//! the trie only to encode it.
//!
//! # What a path is made of
//!
//! A path walks from the root of an object to one field. Each step is one [`PathElement`]:
//!
//! | step            | FieldsV1 key                               | in messages                 |
//! |-----------------|--------------------------------------------|-----------------------------|
//! | a map field     | `f:replicas`                               | `.replicas`                 |
//! | a keyed element | `k:{"containerPort":80,"protocol":"TCP"}`  | `[containerPort=80,protocol="TCP"]` |
//! | a set element   | `v:"example.com/finalizer"`                | `[="example.com/finalizer"]` |
//! | a list index    | `i:0`                                      | `[0]`                       |
//!
//! Index steps are what upstream uses for lists it cannot key; Skiff only produces them for a
//! keyed list whose element lacks its key (an object written before validation caught it).
//!
//! # The FieldsV1 encoding
//!
//! A set is encoded as nested JSON objects, one level per step. A key that maps to `{}` is a
//! field of the set. A key whose object has children is only a field of the set if the object
//! also holds `".": {}`: `"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}` says "I own the
//! container named web, and its image", while `"f:spec": {"f:replicas": {}}` owns `spec.replicas`
//! but not `spec` as such.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step of a [`Path`]. The order of the variants is the order upstream sorts them in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of an object (a struct field or a key of a map).
    Field(String),
    /// An element of a keyed list: each key field with the JSON text of its value, sorted by
    /// field name (the JSON text, so that the element is `Ord` and prints exactly as encoded).
    Key(Vec<(String, String)>),
    /// An element of a set of scalars, as the JSON text of the element.
    Value(String),
    /// An element of a list, by position.
    Index(usize),
}

impl PathElement {
    pub fn field(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    /// The element of a keyed list whose key fields have these values.
    pub fn key(fields: &[(&str, &Value)]) -> PathElement {
        let mut key: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        key.sort();
        PathElement::Key(key)
    }

    /// The FieldsV1 key of this step: `f:name`, `k:{…}`, `v:…` or `i:N`.
    pub fn encode(&self) -> String {
        // Written into one string: keys are encoded for every node of every managedFields entry.
        let joined = |kind: &str, text: &str| {
            let mut key = String::with_capacity(kind.len() + text.len());
            key.push_str(kind);
            key.push_str(text);
            key
        };
        match self {
            PathElement::Field(name) => joined("f:", name),
            PathElement::Key(fields) => {
                let mut key = String::with_capacity(64);
                key.push_str("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        key.push(',');
                    }
                    key.push_str(&Value::from(name.as_str()).to_string());
                    key.push(':');
                    key.push_str(value);
                }
                key.push('}');
                key
            }
            PathElement::Value(json) => joined("v:", json),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Reads a FieldsV1 key back; `None` for a key this version does not understand (upstream
    /// drops those too, so that a newer server's entries do not break an older one).
    pub fn decode(text: &str) -> Option<PathElement> {
        let (kind, rest) = text.split_at_checked(2)?;
        match kind {
            "f:" => Some(PathElement::Field(rest.to_string())),
            "v:" => serde_json::from_str::<Value>(rest).ok().map(|v| PathElement::Value(v.to_string())),
            "i:" => rest.parse().ok().map(PathElement::Index),
            "k:" => {
                let Value::Object(fields) = serde_json::from_str::<Value>(rest).ok()? else { return None };
                let fields: Vec<(&str, &Value)> = fields.iter().map(|(k, v)| (k.as_str(), v)).collect();
                Some(PathElement::key(&fields))
            }
            _ => None,
        }
    }

    pub fn is_field(&self) -> bool {
        matches!(self, PathElement::Field(_))
    }
}

impl fmt::Display for PathElement {
    /// As conflict messages print it: `.spec`, `[name="web"]`, `[="a"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let inner: Vec<String> = fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
                write!(f, "[{}]", inner.join(","))
            }
            PathElement::Value(json) => write!(f, "[={json}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the root of an object to one field, list element or map entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path of field names only: `Path::fields(&["spec", "replicas"])`.
    pub fn fields(names: &[&str]) -> Path {
        Path(names.iter().map(|n| PathElement::field(n)).collect())
    }

    /// This path, one step further.
    pub fn child(&self, step: PathElement) -> Path {
        let mut steps = self.0.clone();
        steps.push(step);
        Path(steps)
    }

    pub fn starts_with(&self, prefix: &Path) -> bool {
        self.0.starts_with(&prefix.0)
    }

    pub fn last(&self) -> Option<&PathElement> {
        self.0.last()
    }
}

impl fmt::Display for Path {
    /// `.spec.template.spec.containers[name="web"].image`, as upstream prints a path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.0 {
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

/// A set of paths: what one manager owns, or what one write added, changed or removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    pub fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    pub fn remove(&mut self, path: &Path) -> bool {
        self.0.remove(path)
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.0.contains(path)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    /// Whether the set holds `path` or anything below it. Paths sort by their steps, so every
    /// path below `path` comes right after it: the first path not before `path` decides.
    pub fn has_at_or_below(&self, path: &Path) -> bool {
        self.0.range(path..).next().is_some_and(|p| p.starts_with(path))
    }

    /// Whether the set claims the node at `path` for pruning. Upstream treats a named field
    /// as claimed when anything under it is (`EnsureNamedFieldsAreMembers`), but a list element
    /// or map item only when it is itself in the set: owning a container's image is not owning
    /// the container.
    pub fn claims(&self, path: &Path) -> bool {
        match path.last() {
            Some(PathElement::Field(_)) => self.has_at_or_below(path),
            _ => self.contains(path),
        }
    }

    /// Keeps only the paths for which `keep` holds (in place: no path is copied).
    pub fn retain(&mut self, keep: impl FnMut(&Path) -> bool) {
        self.0.retain(keep);
    }

    /// Adds every path of `other`, taking them.
    pub fn extend(&mut self, other: FieldSet) {
        self.0.extend(other.0);
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// The set without `root` and everything below it.
    pub fn without_subtree(&self, root: &Path) -> FieldSet {
        FieldSet(self.0.iter().filter(|p| !p.starts_with(root)).cloned().collect())
    }

    /// The nested-object encoding stored in `fieldsV1`. The trie borrows the set's steps: only
    /// the encoded keys are new strings.
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node<'a> {
            member: bool,
            children: BTreeMap<&'a PathElement, Node<'a>>,
        }
        fn encode(node: &Node) -> Value {
            let mut object = Map::new();
            if node.member && !node.children.is_empty() {
                object.insert(".".to_string(), Value::Object(Map::new()));
            }
            for (step, child) in &node.children {
                object.insert(step.encode(), encode(child));
            }
            Value::Object(object)
        }
        let mut root = Node::default();
        for path in &self.0 {
            let mut node = &mut root;
            for step in &path.0 {
                node = node.children.entry(step).or_default();
            }
            node.member = true;
        }
        encode(&root)
    }

    /// Reads a `fieldsV1` object; keys this version does not understand are skipped.
    pub fn from_fields_v1(fields: &Value) -> FieldSet {
        fn decode(at: &Path, fields: &Map<String, Value>, into: &mut FieldSet) {
            for (key, inner) in fields {
                let Some(step) = PathElement::decode(key) else { continue };
                let path = at.child(step);
                match inner.as_object() {
                    Some(children) if !children.is_empty() => {
                        if children.contains_key(".") {
                            into.insert(path.clone());
                        }
                        decode(&path, children, into);
                    }
                    _ => into.insert(path),
                }
            }
        }
        let mut set = FieldSet::new();
        if let Some(fields) = fields.as_object() {
            decode(&Path::default(), fields, &mut set);
        }
        set
    }
}

impl FromIterator<Path> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Path>>(paths: I) -> FieldSet {
        FieldSet(paths.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn container(name: &str) -> PathElement {
        PathElement::key(&[("name", &json!(name))])
    }

    #[test]
    fn path_elements_encode_and_print_as_upstream() {
        let port = PathElement::key(&[("protocol", &json!("TCP")), ("containerPort", &json!(80))]);
        let cases = [
            (PathElement::field("replicas"), "f:replicas", ".replicas"),
            (port, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}", "[containerPort=80,protocol=\"TCP\"]"),
            (PathElement::Value("\"example.com/x\"".into()), "v:\"example.com/x\"", "[=\"example.com/x\"]"),
            (PathElement::Index(3), "i:3", "[3]"),
        ];
        for (step, encoded, printed) in cases {
            assert_eq!(step.encode(), encoded);
            assert_eq!(step.to_string(), printed);
            assert_eq!(PathElement::decode(encoded), Some(step), "{encoded} reads back");
        }
        assert_eq!(PathElement::decode("x:whatever"), None, "unknown kinds are skipped");
    }

    #[test]
    fn a_set_encodes_members_with_children_as_dot() {
        let containers = Path::fields(&["spec", "containers"]);
        let set: FieldSet = [
            Path::fields(&["spec", "replicas"]),
            containers.child(container("web")),
            containers.child(container("web")).child(PathElement::field("image")),
        ]
        .into_iter()
        .collect();
        let encoded = set.to_fields_v1();
        assert_eq!(
            encoded,
            json!({"f:spec": {"f:replicas": {}, "f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:image": {}}
            }}})
        );
        assert_eq!(FieldSet::from_fields_v1(&encoded), set, "the encoding reads back to the same set");
    }

    #[test]
    fn claims_follow_named_fields_down_but_not_list_elements() {
        let web = Path::fields(&["spec", "containers"]).child(container("web"));
        let image = web.child(PathElement::field("image"));
        let set: FieldSet = [image.clone()].into_iter().collect();
        assert!(set.claims(&Path::fields(&["spec"])), "owning spec.…image claims spec");
        assert!(!set.claims(&web), "but not the container itself");
        assert!(set.claims(&image));
        assert!(!set.claims(&Path::fields(&["status"])));
    }
}
