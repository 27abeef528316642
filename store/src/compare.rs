//! Txn compares: is a key's version, revision, value or lease what the client expects?
//!
//! Mirrors etcd `server/etcdserver/apply.go` (`applyCompare`, `compareKV`), including its
//! tolerance: a compare target the server does not know compares as "equal", and an unknown
//! operator passes. A compare over a range (`range_end` set) passes only if every key in it
//! passes. A missing key compares as zeros (so `create_revision = 0` means "absent", the idiom
//! Kubernetes uses to create only if absent), except that a VALUE compare on a missing key
//! always fails.

use std::cmp::Ordering;

use skiff_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    Compare,
};
use skiff_proto::mvccpb::KeyValue;

/// Whether `kv` passes the compare.
pub fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use CompareTarget::*;
    let ordering = match CompareTarget::try_from(c.target) {
        Ok(Value) => {
            let want: &[u8] = match &c.target_union {
                Some(TargetUnion::Value(v)) => v,
                _ => &[],
            };
            kv.value.as_ref().cmp(want)
        }
        Ok(target) => {
            // The number the client sent counts only if it is of the target's kind; else 0.
            let want = match (target, &c.target_union) {
                (Version, Some(TargetUnion::Version(v)))
                | (Create, Some(TargetUnion::CreateRevision(v)))
                | (Mod, Some(TargetUnion::ModRevision(v)))
                | (Lease, Some(TargetUnion::Lease(v))) => *v,
                _ => 0,
            };
            let have = match target {
                Version => kv.version,
                Create => kv.create_revision,
                Mod => kv.mod_revision,
                Lease | Value => kv.lease,
            };
            have.cmp(&want)
        }
        Err(_) => Ordering::Equal,
    };
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ordering == Ordering::Equal,
        Ok(CompareResult::NotEqual) => ordering != Ordering::Equal,
        Ok(CompareResult::Greater) => ordering == Ordering::Greater,
        Ok(CompareResult::Less) => ordering == Ordering::Less,
        Err(_) => true,
    }
}

/// Whether the compare passes when no key matched.
pub fn compare_missing(c: &Compare) -> bool {
    if c.target == CompareTarget::Value as i32 {
        return false;
    }
    compare_kv(c, &KeyValue::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(target: CompareTarget, result: CompareResult, union: TargetUnion) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key: "k".into(),
            target_union: Some(union),
            range_end: Default::default(),
        }
    }

    fn kv() -> KeyValue {
        KeyValue { key: "k".into(), value: "b".into(), create_revision: 3, mod_revision: 5, version: 2, lease: 7 }
    }

    #[test]
    fn compares_like_etcd() {
        use CompareResult::*;
        use CompareTarget::*;
        let cases = [
            ("version equal", cmp(Version, Equal, TargetUnion::Version(2)), true),
            ("version greater", cmp(Version, Greater, TargetUnion::Version(1)), true),
            ("version less fails", cmp(Version, Less, TargetUnion::Version(2)), false),
            ("create revision", cmp(Create, Equal, TargetUnion::CreateRevision(3)), true),
            ("mod revision not equal", cmp(Mod, NotEqual, TargetUnion::ModRevision(4)), true),
            ("value greater", cmp(Value, Greater, TargetUnion::Value("a".into())), true),
            ("value equal", cmp(Value, Equal, TargetUnion::Value("b".into())), true),
            ("lease", cmp(Lease, Equal, TargetUnion::Lease(7)), true),
            ("mismatched union reads as zero", cmp(Mod, Greater, TargetUnion::Version(100)), true),
        ];
        for (name, c, want) in cases {
            assert_eq!(compare_kv(&c, &kv()), want, "{name}");
        }
    }

    #[test]
    fn unknown_targets_and_operators_are_tolerated() {
        let mut unknown_target = cmp(CompareTarget::Version, CompareResult::Equal, TargetUnion::Version(9));
        unknown_target.target = 42;
        assert!(compare_kv(&unknown_target, &kv()), "an unknown target compares equal");
        unknown_target.result = CompareResult::NotEqual as i32;
        assert!(!compare_kv(&unknown_target, &kv()));
        let mut unknown_result = cmp(CompareTarget::Version, CompareResult::Equal, TargetUnion::Version(9));
        unknown_result.result = 42;
        assert!(compare_kv(&unknown_result, &kv()), "an unknown operator passes");
    }

    #[test]
    fn missing_keys_compare_as_zero_but_never_by_value() {
        let absent = cmp(CompareTarget::Create, CompareResult::Equal, TargetUnion::CreateRevision(0));
        assert!(compare_missing(&absent), "create_revision = 0 means absent");
        let value = cmp(CompareTarget::Value, CompareResult::NotEqual, TargetUnion::Value("x".into()));
        assert!(!compare_missing(&value), "a value compare on a missing key fails, even !=");
    }
}
