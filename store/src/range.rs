//! Range: reading keys at a revision, with etcd's limit, sort and filter rules.
//!
//! Mirrors etcd `server/etcdserver/apply.go` (`Range`) over `mvcc/kvstore_txn.go`
//! (`rangeKeys`). The same function serves a plain `Range` call (at the published revision) and a
//! range inside a txn (at the txn's own view, which includes its earlier writes).
//!
//! Steps:
//! 1. Pick the revision: 0 means the view's; above it is a future revision, below the last
//!    compaction is compacted (exactly at the compaction is still readable).
//! 2. Ask the index for the live keys. `count` is every live key in the range, whatever the
//!    limit and filters (documented etcd behaviour).
//! 3. Without sorting or filters, fetch only `limit + 1` keys: the extra one tells `more`.
//! 4. Load values (not needed for `keys_only` and `count_only`: the index has the rest; but a
//!    sort by value loads them and drops them after).
//! 5. Drop keys outside the min/max mod/create revision filters.
//! 6. Sort: a target other than KEY with order NONE means ascending. A stable sort, so ties keep
//!    key order.
//! 7. Cut to `limit`, setting `more` if anything was cut.
//!
//! The response header's revision is the view's revision, not the one read at, as in etcd.

use bytes::Bytes;
use skiff_proto::etcdserverpb::{
    range_request::{SortOrder, SortTarget},
    RangeRequest, RangeResponse, ResponseHeader,
};
use skiff_proto::mvccpb::KeyValue;

use crate::error::StoreError;
use crate::index::{KeyIndex, LiveVersion};
use crate::key_range::KeyRange;
use crate::revision::Revision;

/// The revision a read asks for, checked against the view (`current`) and the last compaction.
pub fn read_revision(requested: i64, current: i64, compacted: i64) -> Result<i64, StoreError> {
    if requested > current {
        return Err(StoreError::FutureRevision);
    }
    let rev = if requested <= 0 { current } else { requested };
    if rev < compacted {
        return Err(StoreError::Compacted);
    }
    Ok(rev)
}

/// A `KeyValue` built from the index alone, without its value.
pub fn key_value_without_value(key: Bytes, live: &LiveVersion) -> KeyValue {
    KeyValue {
        key,
        create_revision: live.create_revision,
        mod_revision: live.rev.main,
        version: live.version,
        value: Bytes::new(),
        lease: live.lease,
    }
}

/// Runs a range request against `index` as seen at revision `current`; `load` fetches the
/// `KeyValue` a put wrote at a revision.
pub fn range(
    index: &KeyIndex,
    load: &dyn Fn(Revision) -> Result<KeyValue, StoreError>,
    current: i64,
    req: &RangeRequest,
) -> Result<RangeResponse, StoreError> {
    let rev = read_revision(req.revision, current, index.compacted())?;
    let keys = KeyRange::new(req.key.clone(), req.range_end.clone());
    let header = Some(ResponseHeader { revision: current, ..Default::default() });

    if req.count_only {
        let (_, total) = index.range(&keys, rev, 1);
        return Ok(RangeResponse { header, kvs: vec![], more: false, count: total as i64 });
    }

    let filtered = req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0;
    let order = SortOrder::try_from(req.sort_order).ok();
    let target = SortTarget::try_from(req.sort_target).unwrap_or(SortTarget::Key);
    let order = match order {
        Some(SortOrder::None) if target != SortTarget::Key => Some(SortOrder::Ascend),
        other => other,
    };
    let sorted = matches!(order, Some(SortOrder::Ascend | SortOrder::Descend));
    let limit = usize::try_from(req.limit).unwrap_or(0);
    let fetch = if sorted || filtered || limit == 0 { 0 } else { limit + 1 };

    // Values are needed unless the client wants keys only, but a sort by value needs them even
    // then: etcd sorts whole entries and drops the values after.
    let by_value = sorted && target == SortTarget::Value;
    let (found, total) = index.range(&keys, rev, fetch);
    let mut kvs = Vec::with_capacity(found.len());
    for (key, live) in found {
        if req.keys_only && !by_value {
            kvs.push(key_value_without_value(key, &live));
        } else {
            kvs.push(load(live.rev)?);
        }
    }

    if filtered {
        kvs.retain(|kv| {
            !(req.max_mod_revision != 0 && kv.mod_revision > req.max_mod_revision
                || req.min_mod_revision != 0 && kv.mod_revision < req.min_mod_revision
                || req.max_create_revision != 0 && kv.create_revision > req.max_create_revision
                || req.min_create_revision != 0 && kv.create_revision < req.min_create_revision)
        });
    }

    if sorted {
        let descending = order == Some(SortOrder::Descend);
        if target == SortTarget::Key {
            // Already in key order.
            if descending {
                kvs.reverse();
            }
        } else {
            // A stable sort: keys with equal targets stay in key order, either way.
            kvs.sort_by(|a, b| {
                let ord = compare_by(target, a, b);
                if descending {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
    }

    let mut more = false;
    if limit > 0 && kvs.len() > limit {
        kvs.truncate(limit);
        more = true;
    }
    if req.keys_only {
        for kv in &mut kvs {
            kv.value = Bytes::new();
        }
    }
    Ok(RangeResponse { header, kvs, more, count: total as i64 })
}

fn compare_by(target: SortTarget, a: &KeyValue, b: &KeyValue) -> std::cmp::Ordering {
    match target {
        SortTarget::Key => a.key.cmp(&b.key),
        SortTarget::Version => a.version.cmp(&b.version),
        SortTarget::Create => a.create_revision.cmp(&b.create_revision),
        SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
        SortTarget::Value => a.value.cmp(&b.value),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// k1..k4 written at revisions 2..5 with values "d", "c", "b", "a"; k2 written again at 6.
    fn fixture() -> (KeyIndex, HashMap<Revision, KeyValue>) {
        let mut index = KeyIndex::default();
        let mut values = HashMap::new();
        let writes = [("k1", "d", 2), ("k2", "c", 3), ("k3", "b", 4), ("k4", "a", 5), ("k2", "z", 6)];
        for (key, value, main) in writes {
            let rev = Revision::new(main, 0);
            let live = index.put(Bytes::from_static(key.as_bytes()), rev, 0);
            let mut kv = key_value_without_value(Bytes::from_static(key.as_bytes()), &live);
            kv.value = Bytes::from_static(value.as_bytes());
            values.insert(rev, kv);
        }
        (index, values)
    }

    fn run(req: RangeRequest) -> Result<(Vec<String>, bool, i64), StoreError> {
        let (index, values) = fixture();
        let load = |rev: Revision| Ok(values[&rev].clone());
        let resp = range(&index, &load, 6, &req)?;
        assert_eq!(resp.header.unwrap().revision, 6, "the header carries the view's revision");
        let keys = resp.kvs.iter().map(|kv| String::from_utf8_lossy(&kv.key).into_owned()).collect();
        Ok((keys, resp.more, resp.count))
    }

    fn all() -> RangeRequest {
        RangeRequest { key: "k".into(), range_end: "l".into(), ..Default::default() }
    }

    #[test]
    fn limit_sort_and_filters_follow_etcd() {
        let cases: Vec<(&str, RangeRequest, Vec<&str>, bool, i64)> = vec![
            ("everything in key order", all(), vec!["k1", "k2", "k3", "k4"], false, 4),
            ("limit sets more and keeps the full count", RangeRequest { limit: 2, ..all() }, vec!["k1", "k2"], true, 4),
            ("limit equal to the matches", RangeRequest { limit: 4, ..all() }, vec!["k1", "k2", "k3", "k4"], false, 4),
            (
                "sort by value descending",
                RangeRequest { sort_order: 2, sort_target: 4, ..all() },
                vec!["k2", "k1", "k3", "k4"],
                false,
                4,
            ),
            (
                "a target with order none sorts ascending",
                RangeRequest { sort_order: 0, sort_target: 4, ..all() },
                vec!["k4", "k3", "k1", "k2"],
                false,
                4,
            ),
            (
                "sort by mod revision descending with a limit",
                RangeRequest { sort_order: 2, sort_target: 3, limit: 1, ..all() },
                vec!["k2"],
                true,
                4,
            ),
            (
                "sort by key descending",
                RangeRequest { sort_order: 2, sort_target: 0, ..all() },
                vec!["k4", "k3", "k2", "k1"],
                false,
                4,
            ),
            (
                "filters do not change the count",
                RangeRequest { min_mod_revision: 5, ..all() },
                vec!["k2", "k4"],
                false,
                4,
            ),
            ("create revision filter", RangeRequest { max_create_revision: 3, ..all() }, vec!["k1", "k2"], false, 4),
            ("a past revision", RangeRequest { revision: 3, ..all() }, vec!["k1", "k2"], false, 2),
            ("count only", RangeRequest { count_only: true, ..all() }, vec![], false, 4),
            (
                "an inverted range is empty, not an error",
                RangeRequest { key: "z".into(), range_end: "a".into(), ..Default::default() },
                vec![],
                false,
                0,
            ),
            (
                "nul range end is every key from key on",
                RangeRequest { key: "k3".into(), range_end: "\0".into(), ..Default::default() },
                vec!["k3", "k4"],
                false,
                2,
            ),
        ];
        for (name, req, keys, more, count) in cases {
            let (got_keys, got_more, got_count) = run(req).unwrap();
            assert_eq!(got_keys, keys, "{name}: keys");
            assert_eq!((got_more, got_count), (more, count), "{name}: more and count");
        }
    }

    #[test]
    fn keys_only_still_sorts_by_value() {
        let req = RangeRequest { keys_only: true, sort_order: 2, sort_target: 4, ..all() };
        let (keys, _, _) = run(req).unwrap();
        assert_eq!(keys, vec!["k2", "k1", "k3", "k4"]);
    }

    #[test]
    fn keys_only_leaves_values_out_but_keeps_metadata() {
        let (index, values) = fixture();
        let load = |rev: Revision| Ok(values[&rev].clone());
        let req = RangeRequest { key: "k2".into(), keys_only: true, ..Default::default() };
        let resp = range(&index, &load, 6, &req).unwrap();
        let kv = &resp.kvs[0];
        assert!(kv.value.is_empty());
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (3, 6, 2));
    }

    #[test]
    fn revisions_outside_history_are_refused() {
        let cases = [
            ("future", 7, 0, Err("future")),
            ("current", 0, 0, Ok(6)),
            ("at the compaction", 3, 3, Ok(3)),
            ("below the compaction", 2, 3, Err("compacted")),
        ];
        for (name, requested, compacted, want) in cases {
            let got = read_revision(requested, 6, compacted).map_err(|e| e.to_string());
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{name}: {got}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
