//! Writes a volume's files so that a container never sees half an update.
//!
//! Mirrors `pkg/volume/util/atomic_writer.go` (Kubernetes' `AtomicWriter`). The volume's
//! directory holds:
//!
//! ```text
//! ..2026_12_01_07_47_41.123456789/   the files of one version
//! ..data -> ..2026_12_01_07_47_41.123456789
//! color -> ..data/color              one symlink per top-level name
//! ```
//!
//! An update (steps as upstream):
//! 1. If the files through `..data` already hold the payload, stop.
//! 2. Write the new version into a fresh timestamped directory.
//! 3. Point a new symlink `..data_tmp` at it and rename it over `..data`: one `rename(2)`, so
//!    readers see the old version or the new one, never a mix.
//! 4. Create the top-level symlinks the new payload needs; remove those it no longer has.
//! 5. Remove the old version's directory.
//!
//! A container that mounted a single key with `subPath` bound the file itself, not the link,
//! and so keeps the old content, as in Kubernetes.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

/// The files of a volume: relative path → (content, mode).
pub type Payload = BTreeMap<String, (Vec<u8>, u32)>;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

fn current_matches(dir: &Path, payload: &Payload) -> bool {
    let data = dir.join(DATA);
    if !data.exists() {
        return false;
    }
    let mut found = BTreeSet::new();
    let mut stack = vec![data.clone()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else { return false };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(&data) {
                found.insert(relative.to_string_lossy().into_owned());
            }
        }
    }
    if found != payload.keys().cloned().collect::<BTreeSet<_>>() {
        return false;
    }
    payload.iter().all(|(path, (content, mode))| {
        let file = data.join(path);
        std::fs::read(&file).ok().as_ref() == Some(content)
            && std::fs::metadata(&file).map(|m| m.permissions().mode() & 0o7777 == *mode).unwrap_or(false)
    })
}

fn top_level(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// Brings `dir` to `payload`; `Ok(true)` if anything changed.
pub fn write(dir: &Path, payload: &Payload) -> io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    if current_matches(dir, payload) {
        return Ok(false);
    }
    let old_version = std::fs::read_link(dir.join(DATA)).ok();
    let version = format!("..{}", chrono::Utc::now().format("%Y_%m_%d_%H_%M_%S%.9f"));
    let version_dir = dir.join(&version);
    std::fs::create_dir_all(&version_dir)?;
    for (path, (content, mode)) in payload {
        let file = version_dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, content)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(*mode))?;
    }
    std::fs::set_permissions(&version_dir, std::fs::Permissions::from_mode(0o755))?;

    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(&version, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA))?;

    let wanted: BTreeSet<&str> = payload.keys().map(|p| top_level(p)).collect();
    for name in &wanted {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA).join(name), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !wanted.contains(name.as_str()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(old) = old_version {
        if old != Path::new(&version) {
            let _ = std::fs::remove_dir_all(dir.join(old));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(files: &[(&str, &str)]) -> Payload {
        files.iter().map(|(p, c)| (p.to_string(), (c.as_bytes().to_vec(), 0o644))).collect()
    }

    #[test]
    fn files_appear_through_data_and_an_update_swaps_them_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("config");
        assert!(write(&at, &payload(&[("color", "blue"), ("nested/mode", "fast")])).unwrap());
        assert_eq!(std::fs::read_to_string(at.join("color")).unwrap(), "blue");
        assert_eq!(std::fs::read_to_string(at.join("nested/mode")).unwrap(), "fast");
        assert_eq!(std::fs::read_link(at.join("color")).unwrap(), Path::new("..data/color"));
        let first = std::fs::read_link(at.join("..data")).unwrap();
        assert!(
            !write(&at, &payload(&[("color", "blue"), ("nested/mode", "fast")])).unwrap(),
            "unchanged: nothing done"
        );

        assert!(write(&at, &payload(&[("color", "green")])).unwrap());
        assert_eq!(std::fs::read_to_string(at.join("color")).unwrap(), "green");
        assert!(!at.join("nested").exists(), "a name the payload lost is removed");
        assert!(!at.join(first).exists(), "the old version is gone");
        let versions = std::fs::read_dir(&at)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("..2"))
            .count();
        assert_eq!(versions, 1);
    }

    #[test]
    fn modes_are_set_and_a_changed_mode_is_an_update() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = payload(&[("key", "v")]);
        write(dir.path(), &files).unwrap();
        let mode = std::fs::metadata(dir.path().join("key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        files.get_mut("key").unwrap().1 = 0o400;
        assert!(write(dir.path(), &files).unwrap());
        let mode = std::fs::metadata(dir.path().join("key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
    }
}
