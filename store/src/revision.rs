//! Revisions: the store's clock.
//!
//! Mirrors etcd `server/storage/mvcc/revision.go`. Every transaction that changes something gets
//! the next *main* revision; the changes inside it are numbered by a *sub* revision, so that a
//! transaction that puts three keys writes revisions (7,0), (7,1) and (7,2). A revision is also
//! the key of the change's record on disk: big-endian bytes sort in revision order, so a scan of
//! the disk tree from a revision is a scan of history in order.

/// The position of one change in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    /// The transaction's revision: what clients see as `mod_revision` and `resourceVersion`.
    pub main: i64,
    /// The change's place within its transaction.
    pub sub: i64,
}

/// Length of an encoded revision: two big-endian 64-bit integers.
pub const REVISION_BYTES: usize = 16;

impl Revision {
    pub fn new(main: i64, sub: i64) -> Self {
        Revision { main, sub }
    }

    /// The disk key: `main` then `sub`, big-endian, so byte order is revision order
    /// (revisions are never negative).
    pub fn to_bytes(self) -> [u8; REVISION_BYTES] {
        let mut out = [0u8; REVISION_BYTES];
        out[..8].copy_from_slice(&self.main.to_be_bytes());
        out[8..].copy_from_slice(&self.sub.to_be_bytes());
        out
    }

    /// The inverse of [`Revision::to_bytes`]; `None` for bytes of the wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != REVISION_BYTES {
            return None;
        }
        let main = i64::from_be_bytes(bytes[..8].try_into().ok()?);
        let sub = i64::from_be_bytes(bytes[8..].try_into().ok()?);
        Some(Revision { main, sub })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let rev = Revision::new(42, 3);
        assert_eq!(Revision::from_bytes(&rev.to_bytes()), Some(rev));
        assert_eq!(Revision::from_bytes(&[1, 2, 3]), None);
    }

    #[test]
    fn byte_order_is_revision_order() {
        let revs = [
            Revision::new(1, 0),
            Revision::new(1, 1),
            Revision::new(2, 0),
            Revision::new(255, 0),
            Revision::new(256, 0),
            Revision::new(1 << 40, 7),
        ];
        for pair in revs.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_bytes() < pair[1].to_bytes(), "{:?} vs {:?}", pair[0], pair[1]);
        }
    }
}
