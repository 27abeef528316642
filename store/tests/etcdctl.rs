//! The compatibility promise: the real `etcdctl` 3.4, unchanged, works against skiff-store.
//!
//! Every test starts its own `skiff-store` binary on a free port with a fresh data directory and
//! drives it with `etcdctl` as a person would at a shell. The expected outputs are what etcd 3.4
//! prints for the same commands (checked by hand against a real etcd 3.4.23; the formats are
//! described in `etcdctl/ctlv3/command/printer_simple.go` and friends). Where etcd's output
//! carries something that differs on every run (lease ids, cluster ids, timings) the test checks
//! its shape instead.
//!
//! Left out, because etcdctl 3.4 cannot express them: `get --count-only` (a 3.5 flag; the count
//! is checked in `-w json` output instead) and the `lease` compare target of `txn` (broken in
//! etcdctl 3.4: it builds the compare without a key).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{etcdctl, etcdctl_with_input, fails, json, ok, StoreProcess};
use serde_json::Value;

/// etcd's errors for reading (or compacting) below the last compaction and above the present.
const COMPACTED: &str = "Error: etcdserver: mvcc: required revision has been compacted";
const FUTURE_REVISION: &str = "Error: etcdserver: mvcc: required revision is a future revision";

/// A store on a fresh data directory. The directory lives as long as the returned guard.
fn fresh_store() -> (tempfile::TempDir, StoreProcess) {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreProcess::start(&dir.path().join("data"), &[]);
    (dir, store)
}

/// The `Error: …` line of an etcdctl failure. etcdctl 3.4 also logs a JSON "retrying of unary
/// invoker failed" warning to stderr for every failed call; that line is not what a user reads.
fn error_line(stderr: &str) -> &str {
    stderr.lines().find(|line| line.starts_with("Error: ")).unwrap_or_else(|| panic!("no Error: line in {stderr:?}"))
}

/// Standard base64, as Go's encoding/json writes `[]byte` fields of `-w json` output.
fn b64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let bits = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The store's current revision, as a `get` header reports it.
fn current_revision(endpoint: &str) -> i64 {
    json(endpoint, &["get", "any-key"])["header"]["revision"].as_i64().unwrap()
}

/// `lease grant <ttl>`; returns the lease id in etcdctl's 16-digit hex.
fn grant(endpoint: &str, ttl: u32) -> String {
    let out = ok(endpoint, &["lease", "grant", &ttl.to_string()]);
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(out, format!("lease {id} granted with TTL({ttl}s)\n"));
    assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "lease id {id:?} is %016x");
    id
}

// ---------------------------------------------------------------------------------------------
// `etcdctl watch` and `etcdctl lease keep-alive` as child processes

/// A running `etcdctl` that streams (`watch`, `lease keep-alive`). Its output lines arrive on a
/// channel from a reader thread, so a test can wait for them with a timeout; the process is
/// killed when this is dropped.
struct Streaming {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Streaming {
    fn start(endpoint: &str, args: &[&str]) -> Streaming {
        let mut child = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", endpoint])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcdctl is installed");
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Streaming { child, stdout, stderr }
    }

    /// The next `count` lines of standard output; panics with what came if they don't in time.
    fn lines(&mut self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        while lines.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => panic!("etcdctl printed only {lines:?} of {count} lines; stderr {:?}", self.stderr_so_far()),
            }
        }
        lines
    }

    /// Makes sure the watch is registered, so that what follows is seen live rather than
    /// replayed: puts fresh keys `<marker>0`, `<marker>1`, … (the watch must cover them) until
    /// one shows up. A plain sleep would only be right most of the time. Consumes the markers'
    /// events and returns how many markers were put.
    fn wait_until_live(&mut self, endpoint: &str, marker: &str) -> usize {
        for put in 1..=50 {
            ok(endpoint, &["put", &format!("{marker}{}", put - 1), "x"]);
            let deadline = Instant::now() + Duration::from_millis(300);
            while let Ok(line) = self.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                let Some(seen) = line.strip_prefix(marker) else { continue };
                // Marker `seen` arrived, so the watch was there before its put and sees every
                // later marker too: each is "PUT", key, "x" (fresh keys have no previous pair).
                let later = put - 1 - seen.parse::<usize>().unwrap();
                self.lines(1 + 3 * later, STREAM_TIMEOUT);
                return put;
            }
        }
        panic!("the watch never saw a marker put; stderr {:?}", self.stderr_so_far());
    }

    /// Waits for etcdctl to exit by itself; returns its status and everything on stderr.
    fn exit(mut self, timeout: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread ends at EOF, so everything is in the channel once it does.
                let mut stderr = String::new();
                while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
                    stderr.push_str(&line);
                    stderr.push('\n');
                }
                return (status, stderr);
            }
            assert!(Instant::now() < deadline, "etcdctl did not exit; stderr {:?}", self.stderr_so_far());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr_so_far(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

const STREAM_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// put and get

#[test]
fn first_write_of_a_fresh_store_gets_revision_2_with_etcds_json_fields() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();

    assert_eq!(ok(ep, &["put", "foo", "bar"]), "OK\n");
    let got = json(ep, &["get", "foo"]);
    assert_eq!(got["header"]["revision"], 2, "a fresh store is at revision 1; the first write makes 2");
    assert_eq!(got["header"]["raft_term"], 2, "a single etcd member is at term 2 after its election");
    assert!(got["header"]["cluster_id"].as_u64().unwrap() > 0);
    assert!(got["header"]["member_id"].as_u64().unwrap() > 0);
    assert_eq!(got["count"], 1);
    assert_eq!(got.get("more"), None, "Go's json omits false");
    let kv = &got["kvs"][0];
    assert_eq!(kv["key"], b64("foo"));
    assert_eq!(kv["value"], b64("bar"));
    assert_eq!((&kv["create_revision"], &kv["mod_revision"], &kv["version"]), (&2.into(), &2.into(), &1.into()));
    assert_eq!(kv.get("lease"), None, "no lease, so the field is omitted");

    // A second write keeps create_revision and bumps the rest.
    ok(ep, &["put", "foo", "baz"]);
    let kv = json(ep, &["get", "foo"])["kvs"][0].clone();
    assert_eq!((&kv["create_revision"], &kv["mod_revision"], &kv["version"]), (&2.into(), &3.into(), &2.into()));
}

/// Four keys written at revisions 2..=5, then `a` rewritten at 6:
/// a=10 (create 2, mod 6, version 2), ab=2 (3), b=3 (4), c=4 (5).
fn abc_store() -> (tempfile::TempDir, StoreProcess) {
    let (dir, store) = fresh_store();
    for (key, value) in [("a", "1"), ("ab", "2"), ("b", "3"), ("c", "4"), ("a", "10")] {
        ok(&store.endpoint, &["put", key, value]);
    }
    (dir, store)
}

#[test]
fn put_get_and_prefix_reads_work_like_etcd() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();

    assert_eq!(ok(ep, &["get", "a"]), "a\n10\n");
    assert_eq!(ok(ep, &["get", "missing"]), "", "a missing key prints nothing and succeeds");
    assert_eq!(ok(ep, &["get", "a", "--prefix"]), "a\n10\nab\n2\n");
    assert_eq!(ok(ep, &["get", "a", "c"]), "a\n10\nab\n2\nb\n3\n", "[a, c): the end is exclusive");
    assert_eq!(ok(ep, &["get", "b", "--from-key"]), "b\n3\nc\n4\n");
    assert_eq!(ok(ep, &["get", "a", "--prefix", "--keys-only"]), "a\n\nab\n\n", "keys-only prints an empty value line");
    assert_eq!(
        ok(ep, &["get", "", "--prefix", "--keys-only"]),
        "a\n\nab\n\nb\n\nc\n\n",
        "an empty prefix is every key"
    );
    assert_eq!(ok(ep, &["get", "a", "--print-value-only"]), "10\n");

    let keys_only = json(ep, &["get", "a", "--keys-only"]);
    assert_eq!(keys_only["kvs"][0]["key"], b64("a"));
    assert_eq!(keys_only["kvs"][0].get("value"), None, "keys-only leaves the value out");
    assert_eq!(keys_only["kvs"][0]["version"], 2, "but keeps the other fields");
}

#[test]
fn count_and_limit_report_the_total_and_more() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();

    let all = json(ep, &["get", "", "--prefix", "--keys-only"]);
    assert_eq!(all["count"], 4);
    assert_eq!(all["kvs"].as_array().unwrap().len(), 4);

    let page = json(ep, &["get", "", "--prefix", "--limit", "2"]);
    assert_eq!(page["count"], 4, "count is every key in the range, not the page");
    assert_eq!(page["more"], true);
    let keys: Vec<&Value> = page["kvs"].as_array().unwrap().iter().map(|kv| &kv["key"]).collect();
    assert_eq!(keys, [&Value::from(b64("a")), &Value::from(b64("ab"))]);
    assert_eq!(ok(ep, &["get", "", "--prefix", "--limit", "2"]), "a\n10\nab\n2\n");

    let whole = json(ep, &["get", "", "--prefix", "--limit", "4"]);
    assert_eq!(whole.get("more"), None, "the last page has no more");
}

#[test]
fn get_at_an_older_revision_reads_the_value_of_that_time() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();

    assert_eq!(ok(ep, &["get", "a", "--rev", "2"]), "a\n1\n");
    assert_eq!(ok(ep, &["get", "a", "--rev", "6"]), "a\n10\n");
    assert_eq!(ok(ep, &["get", "", "--prefix", "--keys-only", "--rev", "3"]), "a\n\nab\n\n", "c did not exist yet");

    let old = json(ep, &["get", "a", "--rev", "2"]);
    assert_eq!(old["kvs"][0]["mod_revision"], 2);
    assert_eq!(old["kvs"][0]["version"], 1);
    assert_eq!(old["header"]["revision"], 6, "the header carries the current revision, not the one read");
}

/// The keys of a simple `get` output, which alternates key and value lines.
fn keys_of(output: &str) -> String {
    output.lines().step_by(2).collect::<Vec<_>>().join(" ")
}

#[test]
fn sort_by_and_order_sort_before_the_limit_applies() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();
    let keys = |extra: &[&str]| {
        let mut args = vec!["get", "", "--prefix"];
        args.extend(extra);
        keys_of(&ok(ep, &args))
    };

    assert_eq!(keys(&["--order", "DESCEND"]), "c b ab a", "no --sort-by means by key");
    // Values compare as bytes: "4" > "3" > "2" > "10".
    assert_eq!(keys(&["--sort-by", "VALUE", "--order", "DESCEND"]), "c b ab a");
    assert_eq!(keys(&["--sort-by", "VALUE", "--order", "DESCEND", "--limit", "2"]), "c b");
    assert_eq!(keys(&["--sort-by", "VALUE"]), "a ab b c", "--sort-by alone sorts ascending");
    assert_eq!(keys(&["--sort-by", "MODIFY", "--order", "ASCEND"]), "ab b c a");
    assert_eq!(keys(&["--sort-by", "CREATE", "--order", "DESCEND"]), "c b ab a");
    // Only `a` has version 2; with a sort, the limit cuts the sorted list.
    assert_eq!(keys(&["--sort-by", "VERSION", "--order", "DESCEND", "--limit", "1"]), "a");
}

#[test]
fn sort_by_value_with_keys_only_still_sorts_on_the_values() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();
    // etcd sorts the full key-values and only then drops the values for --keys-only.
    let out = ok(ep, &["get", "", "--prefix", "--keys-only", "--sort-by", "VALUE", "--order", "DESCEND"]);
    assert_eq!(keys_of(&out), "c b ab a");
}

#[test]
fn put_with_prev_kv_prints_the_replaced_pair() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();

    assert_eq!(ok(ep, &["put", "--prev-kv", "a", "100"]), "OK\na\n10\n");
    assert_eq!(ok(ep, &["put", "--prev-kv", "new", "v"]), "OK\n", "a new key has no previous pair");

    let put = json(ep, &["put", "--prev-kv", "a", "1000"]);
    assert_eq!(put["header"]["revision"], 9);
    let prev = &put["prev_kv"];
    assert_eq!((&prev["value"], &prev["mod_revision"], &prev["version"]), (&b64("100").into(), &7.into(), &3.into()));
}

// ---------------------------------------------------------------------------------------------
// del

#[test]
fn del_prints_the_deleted_count_and_prev_kvs() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    for (key, value) in [("x/1", "a"), ("x/2", "b"), ("x/3", "c"), ("y", "1"), ("z", "2"), ("zz", "3")] {
        ok(ep, &["put", key, value]);
    }

    assert_eq!(ok(ep, &["del", "y"]), "1\n");
    assert_eq!(ok(ep, &["get", "y"]), "");
    assert_eq!(ok(ep, &["del", "y"]), "0\n", "deleting a missing key is not an error");
    assert_eq!(ok(ep, &["del", "--prev-kv", "z"]), "1\nz\n2\n");
    assert_eq!(ok(ep, &["del", "--prefix", "--prev-kv", "x/"]), "3\nx/1\na\nx/2\nb\nx/3\nc\n");
    assert_eq!(ok(ep, &["get", "", "--prefix", "--keys-only"]), "zz\n\n");

    // A delete that matched nothing does not make a revision; one that did makes exactly one.
    let before = current_revision(ep);
    assert_eq!(json(ep, &["del", "nothing"])["header"]["revision"], before);
    ok(ep, &["put", "r/1", "a"]);
    ok(ep, &["put", "r/2", "b"]);
    let deleted = json(ep, &["del", "--prefix", "--prev-kv", "r/"]);
    assert_eq!(deleted["deleted"], 2);
    assert_eq!(deleted["header"]["revision"], before + 3);
    assert_eq!(deleted["prev_kvs"][1]["key"], b64("r/2"));
}

#[test]
fn del_with_a_range_end_deletes_the_half_open_range() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();
    assert_eq!(ok(ep, &["del", "a", "b"]), "2\n");
    assert_eq!(ok(ep, &["get", "", "--prefix", "--keys-only"]), "b\n\nc\n\n");
}

// ---------------------------------------------------------------------------------------------
// txn

/// The non-interactive txn input: compares, success ops, failure ops, each section ended by an
/// empty line (the last one included: without it etcdctl stops with `Error: EOF`).
fn txn_input(compares: &[&str], success: &[&str], failure: &[&str]) -> String {
    [compares, success, failure]
        .iter()
        .map(|section| section.iter().map(|line| format!("{line}\n")).collect::<String>() + "\n")
        .collect()
}

fn txn(endpoint: &str, input: &str) -> String {
    let out = etcdctl_with_input(endpoint, &["txn"], input);
    assert!(out.status.success(), "txn failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn txn_takes_the_success_branch_when_every_compare_holds() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();

    // a: create 2, mod 6, version 2, value "10".
    let input = txn_input(
        &[r#"mod("a") = "6""#, r#"create("a") = "2""#, r#"version("a") > "1""#, r#"value("a") = "10""#],
        &["put a 11", "get a", "del b"],
        &["put failed yes"],
    );
    // Each response is an empty line followed by the op's own output: OK, the kv, the count.
    assert_eq!(txn(ep, &input), "SUCCESS\n\nOK\n\na\n11\n\n1\n");
    assert_eq!(ok(ep, &["get", "failed"]), "");

    // The whole branch is one revision: the put and the delete share it.
    let a = json(ep, &["get", "a"]);
    assert_eq!(a["header"]["revision"], 7);
    assert_eq!(a["kvs"][0]["mod_revision"], 7);
}

#[test]
fn txn_takes_the_failure_branch_when_a_compare_fails() {
    let (_dir, store) = abc_store();
    let ep = store.endpoint.as_str();

    let input = txn_input(
        &[r#"mod("a") = "6""#, r#"value("a") = "nope""#],
        &["put a never"],
        &["put fallback yes", "get a", "del missing"],
    );
    assert_eq!(txn(ep, &input), "FAILURE\n\nOK\n\na\n10\n\n0\n");
    assert_eq!(ok(ep, &["get", "fallback"]), "fallback\nyes\n");

    // create("k") = "0" means "k does not exist": the classic create-if-absent.
    let create_once = txn_input(&[r#"create("lock") = "0""#], &["put lock me"], &[]);
    assert_eq!(txn(ep, &create_once), "SUCCESS\n\nOK\n");
    assert_eq!(txn(ep, &create_once), "FAILURE\n", "an empty failure branch prints only the verdict");

    // A value compare on a missing key is false whatever the operator.
    let missing = txn_input(&[r#"value("ghost") != "x""#], &["put ghost seen"], &[]);
    assert_eq!(txn(ep, &missing), "FAILURE\n");

    // A stale mod revision — the optimistic-concurrency case Kubernetes relies on.
    let stale = txn_input(&[r#"mod("a") < "6""#], &["put a stale"], &["get a"]);
    assert_eq!(txn(ep, &stale), "FAILURE\n\na\n10\n");
}

// ---------------------------------------------------------------------------------------------
// watch

#[test]
fn watch_from_an_old_revision_replays_history() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    ok(ep, &["put", "k", "v1"]); // 2
    ok(ep, &["put", "other", "o"]); // 3
    ok(ep, &["put", "k", "v2"]); // 4
    ok(ep, &["del", "k"]); // 5
    ok(ep, &["put", "k", "v3"]); // 6

    let mut watch = Streaming::start(ep, &["watch", "--rev", "2", "k"]);
    // A DELETE prints the key and an empty value line.
    let expected = ["PUT", "k", "v1", "PUT", "k", "v2", "DELETE", "k", "", "PUT", "k", "v3"];
    assert_eq!(watch.lines(expected.len(), STREAM_TIMEOUT), expected);

    // Replay joins the live stream without a gap.
    ok(ep, &["put", "k", "v4"]);
    assert_eq!(watch.lines(3, STREAM_TIMEOUT), ["PUT", "k", "v4"]);
}

#[test]
fn watch_prefix_receives_live_puts_and_deletes() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    ok(ep, &["put", "w/before", "old"]);

    let mut watch = Streaming::start(ep, &["watch", "--prefix", "w/"]);
    let markers = watch.wait_until_live(ep, "w/marker-");

    ok(ep, &["put", "w/1", "one"]);
    ok(ep, &["put", "outside", "not watched"]);
    ok(ep, &["put", "w/1", "uno"]);
    ok(ep, &["del", "w/before"]);
    ok(ep, &["del", "--prefix", "w/"]);
    let mut expected = vec![
        "PUT", "w/1", "one", //
        "PUT", "w/1", "uno", //
        // A DELETE prints the key and an empty value line.
        "DELETE", "w/before", "", //
        // The prefix delete: w/1, then the markers, in key order.
        "DELETE", "w/1", "",
    ];
    let marker_keys: Vec<String> = (0..markers).map(|i| format!("w/marker-{i}")).collect();
    for key in &marker_keys {
        expected.extend(["DELETE", key.as_str(), ""]);
    }
    assert_eq!(watch.lines(expected.len(), STREAM_TIMEOUT), expected);
}

#[test]
fn watch_with_prev_kv_prints_the_previous_pair_before_each_event() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();

    let mut watch = Streaming::start(ep, &["watch", "--prev-kv", "--prefix", "p/"]);
    watch.wait_until_live(ep, "p/marker-");

    ok(ep, &["put", "p/k", "v1"]);
    ok(ep, &["put", "p/k", "v2"]);
    ok(ep, &["del", "p/k"]);
    ok(ep, &["put", "p/k", "v3"]);
    let expected = [
        "PUT", "p/k", "v1", // new key: no previous pair
        "PUT", "p/k", "v1", "p/k", "v2", //
        "DELETE", "p/k", "v2", "p/k", "", //
        "PUT", "p/k", "v3", // recreated: the deleted generation is not a previous pair
    ];
    assert_eq!(watch.lines(expected.len(), STREAM_TIMEOUT), expected);
}

#[test]
fn watch_of_a_transaction_and_a_lease_revoke_prints_every_event() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    let lease = grant(ep, 100);
    let start = (current_revision(ep) + 1).to_string();
    ok(ep, &["put", "--lease", &lease, "t/b", "2"]);
    ok(ep, &["put", "--lease", &lease, "t/a", "1"]);
    assert_eq!(txn(ep, &txn_input(&[], &["put t/x 1", "put t/y 2"], &[])), "SUCCESS\n\nOK\n\nOK\n");
    ok(ep, &["lease", "revoke", &lease]);

    let mut watch = Streaming::start(ep, &["watch", "--rev", &start, "--prefix", "t/"]);
    let expected = [
        "PUT", "t/b", "2", "PUT", "t/a", "1", //
        "PUT", "t/x", "1", "PUT", "t/y", "2", //
        // A revoke deletes the lease's keys in key order.
        "DELETE", "t/a", "", "DELETE", "t/b", "",
    ];
    assert_eq!(watch.lines(expected.len(), STREAM_TIMEOUT), expected);
}

// ---------------------------------------------------------------------------------------------
// compaction

#[test]
fn compaction_ends_reads_and_watches_of_older_revisions() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    for value in ["1", "2", "3", "4"] {
        ok(ep, &["put", "h", value]); // revisions 2..=5
    }

    assert_eq!(ok(ep, &["compaction", "4"]), "compacted revision 4\n");

    let stderr = fails(ep, &["get", "h", "--rev", "3"]);
    assert_eq!(error_line(&stderr), COMPACTED);
    assert_eq!(ok(ep, &["get", "h", "--rev", "4"]), "h\n3\n", "the compacted revision itself is still readable");
    assert_eq!(ok(ep, &["get", "h"]), "h\n4\n");

    // A watch from before the compaction is canceled by the server; etcdctl exits 5.
    let (status, stderr) = Streaming::start(ep, &["watch", "--rev", "3", "h"]).exit(STREAM_TIMEOUT);
    assert_eq!(status.code(), Some(5), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.starts_with('{')).collect();
    assert_eq!(
        lines,
        [
            "watch was canceled (etcdserver: mvcc: required revision has been compacted)",
            "Error: watch is canceled by the server"
        ]
    );

    // From exactly the compacted revision, history is still there.
    let mut watch = Streaming::start(ep, &["watch", "--rev", "4", "h"]);
    assert_eq!(watch.lines(6, STREAM_TIMEOUT), ["PUT", "h", "3", "PUT", "h", "4"]);
}

#[test]
fn compaction_refuses_old_and_future_revisions() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    for value in ["1", "2", "3"] {
        ok(ep, &["put", "h", value]); // revisions 2..=4
    }
    assert_eq!(ok(ep, &["compaction", "3"]), "compacted revision 3\n");
    assert_eq!(error_line(&fails(ep, &["compaction", "3"])), COMPACTED);
    assert_eq!(error_line(&fails(ep, &["compaction", "2"])), COMPACTED);
    assert_eq!(error_line(&fails(ep, &["compaction", "100"])), FUTURE_REVISION);
    assert_eq!(ok(ep, &["compaction", "4"]), "compacted revision 4\n", "compacting up to the current revision is fine");
}

// ---------------------------------------------------------------------------------------------
// leases

#[test]
fn lease_grant_attach_keep_alive_list_and_revoke_work_like_etcd() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();

    let id = grant(ep, 10);
    assert_eq!(ok(ep, &["put", &format!("--lease={id}"), "leased", "v"]), "OK\n");
    let kv = json(ep, &["get", "leased"])["kvs"][0].clone();
    assert_eq!(format!("{:016x}", kv["lease"].as_i64().unwrap()), id, "json shows the lease id in decimal");

    // Remaining is truncated to whole seconds: 9 right after the grant (less on a busy machine).
    let ttl = ok(ep, &["lease", "timetolive", &id, "--keys"]);
    let prefix = format!("lease {id} granted with TTL(10s), remaining(");
    assert!(ttl.starts_with(&prefix) && ttl.ends_with("s), attached keys([leased])\n"), "{ttl}");
    let remaining: i64 = ttl[prefix.len()..].split('s').next().unwrap().parse().unwrap();
    assert!((1..=9).contains(&remaining), "{ttl}");
    let without_keys = ok(ep, &["lease", "timetolive", &id]);
    assert!(without_keys.starts_with(&prefix) && without_keys.ends_with("s)\n"), "{without_keys}");

    assert_eq!(ok(ep, &["lease", "keep-alive", "--once", &id]), format!("lease {id} keepalived with TTL(10)\n"));
    assert_eq!(ok(ep, &["lease", "list"]), format!("found 1 leases\n{id}\n"));

    assert_eq!(ok(ep, &["lease", "revoke", &id]), format!("lease {id} revoked\n"));
    assert_eq!(ok(ep, &["get", "leased"]), "", "revoking a lease deletes its keys");
    assert_eq!(ok(ep, &["lease", "list"]), "found 0 leases\n");
}

#[test]
fn a_streaming_keep_alive_keeps_a_short_lease_alive_until_revoked() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();

    // etcdctl renews every TTL/3 and prints a line per answer. On a busy machine, starting
    // etcdctl three times (grant, put, keep-alive) can take a short TTL whole: then the first
    // answer says the lease is gone, and we start again with a new one.
    let (id, mut keep_alive) = (0..5)
        .find_map(|_| {
            let id = grant(ep, 4);
            if !etcdctl(ep, &["put", "--lease", &id, "kept", "v"]).status.success() {
                return None;
            }
            let mut keep_alive = Streaming::start(ep, &["lease", "keep-alive", &id]);
            let first = keep_alive.lines(1, STREAM_TIMEOUT);
            (first[0] == format!("lease {id} keepalived with TTL(4)")).then_some((id, keep_alive))
        })
        .expect("a keep-alive of a fresh 4 s lease renews it");
    let renewed = format!("lease {id} keepalived with TTL(4)");
    let first_renewal = Instant::now();
    while first_renewal.elapsed() < Duration::from_secs(5) {
        assert_eq!(keep_alive.lines(1, STREAM_TIMEOUT), [renewed.as_str()]);
    }
    assert_eq!(ok(ep, &["get", "kept"]), "kept\nv\n", "past its TTL since the first renewal, the key is still there");

    // A revoke ends the stream: the next renewal gets TTL 0 and etcdctl says so and exits.
    ok(ep, &["lease", "revoke", &id]);
    let last = format!("lease {id} expired or revoked.");
    while keep_alive.lines(1, STREAM_TIMEOUT)[0] != last {}
    let (status, _) = keep_alive.exit(STREAM_TIMEOUT);
    assert!(status.success());
    assert_eq!(ok(ep, &["get", "kept"]), "");
}

#[test]
fn putting_without_a_lease_detaches_the_key_from_its_lease() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    let id = grant(ep, 60);
    ok(ep, &["put", "--lease", &id, "k", "v1"]);
    ok(ep, &["put", "k", "v2"]);
    let ttl = ok(ep, &["lease", "timetolive", "--keys", &id]);
    assert!(ttl.ends_with(", attached keys([])\n"), "{ttl}");
    ok(ep, &["lease", "revoke", &id]);
    assert_eq!(ok(ep, &["get", "k"]), "k\nv2\n", "the revoke no longer owns k");
}

#[test]
fn lease_list_is_sorted_by_remaining_time() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    let long = grant(ep, 100);
    let short = grant(ep, 20);
    assert_eq!(ok(ep, &["lease", "list"]), format!("found 2 leases\n{short}\n{long}\n"));
}

#[test]
fn a_lease_without_keep_alives_expires_and_takes_its_key() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();

    // etcd raises any TTL below its minimum (1.5 election timeouts, rounded up: 2 s) to it.
    let out = ok(ep, &["lease", "grant", "1"]);
    assert!(out.ends_with(" granted with TTL(2s)\n"), "{out}");

    // On a busy machine, starting etcdctl twice (grant, put) can take the whole 2 s: then the
    // put finds the lease gone, and we try again with a new one.
    let (id, granted) = (0..5)
        .find_map(|_| {
            let id = grant(ep, 2);
            let granted = Instant::now();
            etcdctl(ep, &["put", "--lease", &id, "ephemeral", "v"]).status.success().then_some((id, granted))
        })
        .expect("a put with a fresh 2 s lease succeeds");
    while !ok(ep, &["get", "ephemeral"]).is_empty() {
        assert!(granted.elapsed() < Duration::from_secs(5), "the key outlived its 2 s lease by far");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ok(ep, &["lease", "timetolive", &id]), format!("lease {id} already expired\n"));
}

#[test]
fn unknown_leases_give_etcds_errors() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    let unknown = "1234abcd";

    // Keep-alive of an unknown lease is answered with TTL 0, which the client turns into an error.
    let out = etcdctl(ep, &["lease", "keep-alive", "--once", unknown]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(error_line(&String::from_utf8_lossy(&out.stderr)), "Error: etcdserver: requested lease not found");

    let out = etcdctl(ep, &["lease", "revoke", unknown]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        error_line(&String::from_utf8_lossy(&out.stderr)),
        "Error: failed to revoke lease (etcdserver: requested lease not found)"
    );

    // TimeToLive of an unknown lease is not an error: TTL -1, which etcdctl prints as expired.
    assert_eq!(ok(ep, &["lease", "timetolive", unknown]), "lease 000000001234abcd already expired\n");

    assert_eq!(
        error_line(&fails(ep, &["put", "--lease", unknown, "k", "v"])),
        "Error: etcdserver: requested lease not found"
    );
    assert_eq!(ok(ep, &["get", "k"]), "", "the failed put wrote nothing");

    assert_eq!(
        error_line(&fails(ep, &["lease", "grant", "9000000001"])),
        "Error: failed to grant lease (etcdserver: too large lease TTL)"
    );
}

// ---------------------------------------------------------------------------------------------
// endpoint and member

/// The cells of tablewriter's ASCII table, header row first; border lines are dropped.
fn table_rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|line| line.starts_with('|'))
        .map(|line| line.trim_matches('|').split('|').map(|cell| cell.trim().to_string()).collect())
        .collect()
}

#[test]
fn endpoint_status_reports_a_leader_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreProcess::start(&dir.path().join("data"), &["--name", "teaching"]);
    let ep = store.endpoint.as_str();
    ok(ep, &["put", "k", "v"]);

    let status = json(ep, &["endpoint", "status"]);
    assert_eq!(status[0]["Endpoint"], ep);
    let s = &status[0]["Status"];
    let member_id = s["header"]["member_id"].as_u64().unwrap();
    assert_eq!(s["leader"].as_u64(), Some(member_id), "a single member leads itself");
    assert_eq!(s["header"]["revision"], 2);
    let version = s["version"].as_str().unwrap();
    let parts: Vec<&str> = version.split('.').collect();
    assert!(parts.len() == 3 && parts[0] == "3" && parts.iter().all(|p| p.parse::<u32>().is_ok()), "{version}");
    let term = s["raftTerm"].as_u64().unwrap();
    assert!(term >= 1);
    assert_eq!(s["header"]["raft_term"].as_u64(), Some(term));
    assert!(s["raftIndex"].as_u64().unwrap() >= 1);
    assert!(s["dbSize"].as_i64().unwrap() > 0);

    // Simple: the table row joined with ", ", the empty errors column last.
    let simple = ok(ep, &["endpoint", "status"]);
    let cells: Vec<&str> = simple.trim_end_matches('\n').split(", ").collect();
    assert_eq!(cells.len(), 10, "{simple:?}");
    assert_eq!((cells[0], cells[1], cells[2]), (ep, format!("{member_id:x}").as_str(), version));
    assert_eq!((cells[4], cells[5], cells[6]), ("true", "false", term.to_string().as_str()));
    assert_eq!(cells[9], "");

    let rows = table_rows(&ok(ep, &["endpoint", "status", "-w", "table"]));
    assert_eq!(rows.len(), 2);
    let cell =
        |name: &str| rows[1][rows[0].iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name}"))].clone();
    assert_eq!(cell("ENDPOINT"), ep);
    assert_eq!(cell("VERSION"), version);
    assert_eq!(cell("IS LEADER"), "true");
    assert_eq!(cell("IS LEARNER"), "false");
    assert_eq!(cell("RAFT TERM"), term.to_string());

    // Member list: id, status, name, peer URLs, client URLs, is-learner.
    let members = ok(ep, &["member", "list"]);
    let cells: Vec<&str> = members.trim_end_matches('\n').split(", ").collect();
    assert_eq!(cells.len(), 6, "{members:?}");
    assert_eq!(cells[0], format!("{member_id:x}"));
    assert_eq!((cells[1], cells[2]), ("started", "teaching"));
    assert_eq!(cells[4], store.url());
    assert_eq!(cells[5], "false");
    let listed = json(ep, &["member", "list"]);
    assert_eq!(listed["members"][0]["ID"].as_u64(), Some(member_id));
    assert_eq!(listed["members"][0]["clientURLs"][0], store.url());
}

#[test]
fn endpoint_health_reports_healthy_on_stderr() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();

    let out = etcdctl(ep, &["endpoint", "health"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "the simple format writes to stderr");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let healthy = format!("{ep} is healthy: successfully committed proposal: took = ");
    assert!(stderr.lines().any(|line| line.starts_with(&healthy)), "{stderr}");

    let health = json(ep, &["endpoint", "health"]);
    assert_eq!(health[0]["endpoint"], ep);
    assert_eq!(health[0]["health"], true);
    assert_eq!(health[0].get("error"), None);
}

// ---------------------------------------------------------------------------------------------
// errors

#[test]
fn invalid_requests_give_etcds_error_messages() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();
    ok(ep, &["put", "k", "v"]);

    for args in [&["get", ""][..], &["put", "", "v"], &["del", ""]] {
        assert_eq!(error_line(&fails(ep, args)), "Error: etcdserver: key is not provided", "{args:?}");
    }
    assert_eq!(error_line(&fails(ep, &["get", "k", "--rev", "1000000"])), FUTURE_REVISION);
    assert_eq!(current_revision(ep), 2, "none of that wrote anything");
}

#[test]
fn a_value_over_one_and_a_half_mib_is_too_large() {
    let (_dir, store) = fresh_store();
    let ep = store.endpoint.as_str();

    // etcdctl reads the value from stdin when it is not an argument. (A 1.6 MiB argument cannot
    // be passed at all: Linux limits one argument to 128 KiB.)
    let big = "x".repeat(1_677_722); // 1.6 MiB: over etcd's 1.5 MiB request limit, under gRPC's 2 MiB
    let out = etcdctl_with_input(ep, &["put", "big"], &big);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(error_line(&String::from_utf8_lossy(&out.stderr)), "Error: etcdserver: request is too large");
    assert_eq!(ok(ep, &["get", "big", "--keys-only"]), "");

    // A large value under the limit is fine, and reads (never size-checked) return it whole.
    let one_mib = "y".repeat(1 << 20);
    let out = etcdctl_with_input(ep, &["put", "big"], &one_mib);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ok(ep, &["get", "big", "--print-value-only"]), format!("{one_mib}\n"));
}

// ---------------------------------------------------------------------------------------------
// restart

#[test]
fn data_leases_and_compaction_survive_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut store = StoreProcess::start(&data, &[]);
    let ep = store.endpoint.clone();
    ok(&ep, &["put", "k1", "v1"]); // 2
    ok(&ep, &["put", "k2", "v2"]); // 3
    ok(&ep, &["put", "k1", "v1b"]); // 4
    let lease = grant(&ep, 600);
    ok(&ep, &["put", "--lease", &lease, "leased", "v"]); // 5
    ok(&ep, &["compaction", "3"]);
    assert!(store.stop().success(), "SIGTERM is a clean shutdown: {}", store.logs());

    let store = StoreProcess::start(&data, &[]);
    let ep = store.endpoint.as_str();
    assert_eq!(ok(ep, &["get", "", "--prefix"]), "k1\nv1b\nk2\nv2\nleased\nv\n");
    let k1 = json(ep, &["get", "k1"]);
    assert_eq!(k1["header"]["revision"], 5);
    assert_eq!((&k1["kvs"][0]["create_revision"], &k1["kvs"][0]["version"]), (&2.into(), &2.into()));
    assert_eq!(ok(ep, &["get", "k1", "--rev", "3"]), "k1\nv1\n", "history after the compaction is kept");
    assert_eq!(error_line(&fails(ep, &["get", "k1", "--rev", "2"])), COMPACTED);

    assert_eq!(ok(ep, &["lease", "list"]), format!("found 1 leases\n{lease}\n"));
    let ttl = ok(ep, &["lease", "timetolive", &lease, "--keys"]);
    assert!(ttl.contains("granted with TTL(600s)") && ttl.ends_with("attached keys([leased])\n"), "{ttl}");

    assert_eq!(json(ep, &["put", "k3", "v3"])["header"]["revision"], 6, "revisions go on from where they were");
    assert_eq!(ok(ep, &["lease", "revoke", &lease]), format!("lease {lease} revoked\n"));
    assert_eq!(ok(ep, &["get", "leased"]), "");
}
