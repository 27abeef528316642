//! The write-ahead log: how a group of writes becomes durable with one `write` and one
//! `fdatasync`.
//!
//! Mirrors etcd `server/storage/wal` (and the role of bbolt's commit), simplified. sled applies
//! writes in memory and persists them in the background; its own flush costs two writes and two
//! `sync_file_range` calls, which neither reach the drive's cache nor persist metadata. So the
//! committer does not rely on it: each group's changes are appended here and synced first, then
//! applied to sled. After a crash, sled holds some prefix of what was applied; replaying the log
//! on top gives back everything that was acknowledged.
//!
//! Layout of the file (preallocated, so that a sync writes data only, no file-size metadata —
//! the reason etcd preallocates its WAL segments too):
//!
//! ```text
//! [magic "SKIFFWAL" | epoch u64]                 16-byte header
//! [len u32 | crc32 u32 | epoch u64 | payload]    one record per commit group, len = payload bytes
//! ...zeros, or records of older epochs...
//! ```
//!
//! A record counts only if its checksum is right and its epoch is the header's: the log is read
//! up to the first record that fails either test (a torn last write, or leftovers of an earlier
//! epoch). When the file is full, the store takes a *checkpoint*: it makes sled durable (flush,
//! then fsync of its files), then starts a new epoch at the front of the file. Records are
//! idempotent (set or remove one key each), so replaying the whole log is correct whatever part
//! of it sled already had.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::StoreError;

const MAGIC: &[u8; 8] = b"SKIFFWAL";
const HEADER_BYTES: u64 = 16;
const RECORD_HEADER_BYTES: usize = 16;

/// Size of the preallocated log. A checkpoint happens when it is full.
pub const WAL_BYTES: u64 = 64 << 20;

pub struct Wal {
    file: File,
    path: PathBuf,
    epoch: u64,
    /// Where the next record goes.
    offset: u64,
    size: u64,
}

fn io(step: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { step, source }
}

impl Wal {
    /// Opens (or creates and preallocates) the log at `path`, `size` bytes long. Returns it with
    /// the payloads of the records to replay, oldest first.
    pub fn open(path: &Path, size: u64) -> Result<(Wal, Vec<Vec<u8>>), StoreError> {
        let exists = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open the write-ahead log"))?;
        let mut wal = Wal { file, path: path.to_path_buf(), epoch: 1, offset: HEADER_BYTES, size };
        if !exists || wal.file.metadata().map_err(io("read the log's size"))?.len() < HEADER_BYTES {
            wal.preallocate()?;
            wal.write_header()?;
            return Ok((wal, vec![]));
        }
        let mut bytes = Vec::new();
        file = wal.file.try_clone().map_err(io("reopen the log"))?;
        file.seek(SeekFrom::Start(0)).map_err(io("read the log"))?;
        file.read_to_end(&mut bytes).map_err(io("read the log"))?;
        if &bytes[..8] != MAGIC {
            return Err(StoreError::Corrupt("the write-ahead log has no header"));
        }
        wal.epoch = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let (records, end) = read_records(&bytes, wal.epoch);
        wal.offset = end;
        wal.size = wal.size.max(bytes.len() as u64);
        Ok((wal, records))
    }

    /// Appends one record and syncs it: when this returns, the record survives a crash.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), StoreError> {
        let mut record = Vec::with_capacity(RECORD_HEADER_BYTES + payload.len());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&self.epoch.to_le_bytes());
        hasher.update(payload);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&hasher.finalize().to_le_bytes());
        record.extend_from_slice(&self.epoch.to_le_bytes());
        record.extend_from_slice(payload);
        // A positioned write (`pwrite`): one system call per group where a seek and a write
        // were two, on the path every put waits for.
        self.file.write_all_at(&record, self.offset).map_err(io("append to the log"))?;
        self.file.sync_data().map_err(io("sync the log"))?;
        self.offset += record.len() as u64;
        Ok(())
    }

    /// Whether a record of `payload_len` bytes still fits before the end of the file.
    pub fn fits(&self, payload_len: usize) -> bool {
        self.offset + (RECORD_HEADER_BYTES + payload_len) as u64 <= self.size
    }

    /// Forgets every record: the caller has made their effects durable elsewhere. A new epoch
    /// makes the old records unreadable without rewriting them.
    pub fn reset(&mut self) -> Result<(), StoreError> {
        self.epoch += 1;
        self.offset = HEADER_BYTES;
        self.write_header()
    }

    /// Bytes of records written since the last reset.
    pub fn used(&self) -> u64 {
        self.offset - HEADER_BYTES
    }

    fn write_header(&mut self) -> Result<(), StoreError> {
        let mut header = [0u8; HEADER_BYTES as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&self.epoch.to_le_bytes());
        self.file.seek(SeekFrom::Start(0)).map_err(io("write the log header"))?;
        self.file.write_all(&header).map_err(io("write the log header"))?;
        self.file.sync_all().map_err(io("sync the log header"))
    }

    /// Writes zeros over the whole file once, so that later syncs never change its size.
    fn preallocate(&mut self) -> Result<(), StoreError> {
        let zeros = vec![0u8; 1 << 20];
        self.file.seek(SeekFrom::Start(0)).map_err(io("preallocate the log"))?;
        let mut left = self.size;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            self.file.write_all(&zeros[..n]).map_err(io("preallocate the log"))?;
            left -= n as u64;
        }
        self.file.sync_all().map_err(io("sync the preallocated log"))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

/// Makes a new file's directory entry durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync the data directory"))
}

/// The payloads of the valid records of `epoch`, and where the next record goes.
fn read_records(bytes: &[u8], epoch: u64) -> (Vec<Vec<u8>>, u64) {
    let mut records = Vec::new();
    let mut at = HEADER_BYTES as usize;
    while at + RECORD_HEADER_BYTES <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let record_epoch = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes"));
        let start = at + RECORD_HEADER_BYTES;
        if record_epoch != epoch || len == 0 || start + len > bytes.len() {
            break;
        }
        let payload = &bytes[start..start + len];
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&record_epoch.to_le_bytes());
        hasher.update(payload);
        if hasher.finalize() != crc {
            break;
        }
        records.push(payload.to_vec());
        at = start + len;
    }
    (records, at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: u64 = 4096;

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, replay) = Wal::open(&path, SMALL).unwrap();
        assert!(replay.is_empty());
        wal.append(b"one").unwrap();
        wal.append(b"two").unwrap();
        drop(wal);
        let (mut wal, replay) = Wal::open(&path, SMALL).unwrap();
        assert_eq!(replay, vec![b"one".to_vec(), b"two".to_vec()]);
        wal.append(b"three").unwrap();
        let (_, replay) = Wal::open(&path, SMALL).unwrap();
        assert_eq!(replay.len(), 3, "appends continue after the replayed records");
    }

    #[test]
    fn a_torn_last_record_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path, SMALL).unwrap();
        wal.append(b"whole").unwrap();
        wal.append(b"torn record").unwrap();
        drop(wal);
        // Damage the last byte of the second record, as a crash in mid-write could.
        let mut bytes = std::fs::read(&path).unwrap();
        let end = (HEADER_BYTES as usize) + 2 * RECORD_HEADER_BYTES + 5 + 11;
        bytes[end - 1] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let (_, replay) = Wal::open(&path, SMALL).unwrap();
        assert_eq!(replay, vec![b"whole".to_vec()]);
    }

    #[test]
    fn a_reset_forgets_older_records_without_erasing_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path, SMALL).unwrap();
        wal.append(b"old one").unwrap();
        wal.append(b"old two").unwrap();
        wal.reset().unwrap();
        wal.append(b"new").unwrap();
        let (_, replay) = Wal::open(&path, SMALL).unwrap();
        assert_eq!(replay, vec![b"new".to_vec()], "old-epoch records after the new one are ignored");
    }

    #[test]
    fn the_file_is_preallocated_and_fullness_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path, SMALL).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), SMALL);
        assert!(wal.fits(1000));
        assert!(!wal.fits(SMALL as usize));
        wal.append(&[7u8; 1000]).unwrap();
        assert_eq!(wal.used(), 1016);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), SMALL, "appends do not grow the file");
    }
}
