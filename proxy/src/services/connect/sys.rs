//! The `bpf()` system calls the balancer needs, and the cgroup to attach it to. The only
//! `unsafe` code of the proxy: each block passes a buffer the kernel reads (or a path) and takes
//! ownership of the file descriptor it returns.
//!
//! The attributes are laid out by hand, field by field, as `union bpf_attr` in
//! `include/uapi/linux/bpf.h` has them; a command ignores nothing, so every byte after the
//! fields it knows must be zero (the buffer starts zeroed).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const BPF_MAP_CREATE: i32 = 0;
const BPF_MAP_UPDATE_ELEM: i32 = 2;
const BPF_MAP_DELETE_ELEM: i32 = 3;
const BPF_PROG_LOAD: i32 = 5;
const BPF_LINK_CREATE: i32 = 28;

const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
const BPF_CGROUP_INET4_CONNECT: u32 = 10;

/// Big enough for every command used here; the kernel accepts a shorter union than its own.
const ATTR_SIZE: usize = 128;

struct Attr([u8; ATTR_SIZE]);

impl Attr {
    fn new() -> Attr {
        Attr([0; ATTR_SIZE])
    }
    fn u32(mut self, at: usize, value: u32) -> Attr {
        self.0[at..at + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }
    fn u64(mut self, at: usize, value: u64) -> Attr {
        self.0[at..at + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }
    fn bytes(mut self, at: usize, value: &[u8]) -> Attr {
        self.0[at..at + value.len()].copy_from_slice(value);
        self
    }
}

fn bpf(command: i32, attr: &mut Attr) -> io::Result<i32> {
    // SAFETY: `attr` is a live, writable buffer of ATTR_SIZE bytes laid out as `union
    // bpf_attr`; the pointers inside it (program, license, log, key, value) point into buffers
    // the caller keeps alive until this returns.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, command, attr.0.as_mut_ptr(), ATTR_SIZE as u32) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as i32)
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel for this process and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A map's or program's name as the kernel keeps it (`bpftool` shows it): at most 15 bytes
/// and a NUL.
fn object_name(name: &str) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let n = name.len().min(15);
    bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    bytes
}

/// A hash map: `BPF_MAP_CREATE`.
pub fn hash_map(name: &str, key_size: u32, value_size: u32, max_entries: u32) -> io::Result<OwnedFd> {
    let mut attr = Attr::new()
        .u32(0, BPF_MAP_TYPE_HASH)
        .u32(4, key_size)
        .u32(8, value_size)
        .u32(12, max_entries)
        .bytes(28, &object_name(name));
    bpf(BPF_MAP_CREATE, &mut attr).map(owned)
}

/// `map[key] = value`.
pub fn update(map: &OwnedFd, key: &[u8], value: &[u8]) -> io::Result<()> {
    let mut attr =
        Attr::new().u32(0, map.as_raw_fd() as u32).u64(8, key.as_ptr() as u64).u64(16, value.as_ptr() as u64);
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

/// Deletes `map[key]`; an absent key is fine.
pub fn delete(map: &OwnedFd, key: &[u8]) -> io::Result<()> {
    let mut attr = Attr::new().u32(0, map.as_raw_fd() as u32).u64(8, key.as_ptr() as u64);
    match bpf(BPF_MAP_DELETE_ELEM, &mut attr) {
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other.map(drop),
    }
}

/// Loads a `cgroup/connect4` program; on refusal, the error carries the verifier's log.
pub fn load_connect4(name: &str, code: &[u8]) -> Result<OwnedFd, (io::Error, String)> {
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = Attr::new()
        .u32(0, BPF_PROG_TYPE_CGROUP_SOCK_ADDR)
        .u32(4, (code.len() / 8) as u32)
        .u64(8, code.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .u32(24, 1) // log_level: the verifier explains a refusal
        .u32(28, log.len() as u32)
        .u64(32, log.as_mut_ptr() as u64)
        .bytes(48, &object_name(name))
        .u32(68, BPF_CGROUP_INET4_CONNECT);
    bpf(BPF_PROG_LOAD, &mut attr).map(owned).map_err(|err| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        (err, String::from_utf8_lossy(&log[..end]).trim().to_string())
    })
}

/// Attaches `program` to `cgroup` for every IPv4 `connect()` in it and below: `BPF_LINK_CREATE`.
/// The attachment lasts as long as the returned descriptor: closing it (or the process ending,
/// even by `kill -9`) detaches the program, so a proxy never leaves one behind.
pub fn attach_connect4(program: &OwnedFd, cgroup: &OwnedFd) -> io::Result<OwnedFd> {
    let mut attr = Attr::new()
        .u32(0, program.as_raw_fd() as u32)
        .u32(4, cgroup.as_raw_fd() as u32)
        .u32(8, BPF_CGROUP_INET4_CONNECT);
    bpf(BPF_LINK_CREATE, &mut attr).map(owned)
}

/// The root of the cgroup v2 hierarchy, open: every process on the host is in it or below it.
///
/// Where cgroup2 is mounted (a cgroup v2 or hybrid host), its mount whose root is the
/// hierarchy's root is opened. Where it is not (Docker on cgroup v1, as on this project's
/// machines), the v2 hierarchy still exists, holding every process at its root: it is mounted
/// on a fresh directory, opened, and unmounted again at once, so nothing is left mounted; the
/// open descriptor is all the attachment needs.
pub fn cgroup2_root() -> io::Result<OwnedFd> {
    if let Some(path) = mounted_cgroup2_root()? {
        return open_dir(&path);
    }
    let dir = std::env::temp_dir().join(format!("skiff-proxy-cgroup2-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let opened = mount_cgroup2(&dir).and_then(|()| {
        let fd = open_dir(&dir);
        unmount(&dir);
        fd
    });
    let _ = std::fs::remove_dir(&dir);
    opened
}

/// A cgroup2 mount of the hierarchy's root, from `/proc/self/mountinfo`: fields 4 (the root
/// within the filesystem, `/` for the whole hierarchy) and 5 (the mount point), and the
/// filesystem type after the ` - ` separator.
fn mounted_cgroup2_root() -> io::Result<Option<PathBuf>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(info.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let fields: Vec<&str> = mount.split(' ').collect();
        let is_root = fs.split(' ').next() == Some("cgroup2") && fields.get(3) == Some(&"/");
        fields.get(4).filter(|_| is_root).map(PathBuf::from)
    }))
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let file = std::fs::OpenOptions::new().read(true).open(path)?;
    Ok(OwnedFd::from(file))
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn mount_cgroup2(dir: &Path) -> io::Result<()> {
    let target = c_path(dir)?;
    // SAFETY: every pointer is a NUL-terminated string that outlives the call; no data.
    let ret = unsafe { libc::mount(c"none".as_ptr(), target.as_ptr(), c"cgroup2".as_ptr(), 0, std::ptr::null()) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn unmount(dir: &Path) {
    if let Ok(target) = c_path(dir) {
        // SAFETY: a NUL-terminated path that outlives the call. MNT_DETACH: the open
        // descriptor keeps the hierarchy reachable after the mount is gone.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}
