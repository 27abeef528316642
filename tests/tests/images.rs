//! Skiff's own images (images/README.md), built by `scripts/images.sh` and run in real Docker:
//! every endpoint and knob of demo-web in each version, graceful SIGTERM, the pause container
//! (signals, zombies, a pod's shared namespaces), and the toolbox's shell, wget, nc and
//! nslookup against demo-web on a Docker network.
//!
//! Every container and network carries a name unique to this run and is removed when its test
//! ends, passed or failed ([`Scratch`]), so the tests can run beside other tests and a cluster.
//! Traffic goes only to containers these tests started.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const TOOLBOX: &str = "skiff/toolbox:1";
const PAUSE: &str = "skiff/pause:1";

fn demo_web(version: &str) -> String {
    format!("skiff/demo-web:{version}")
}

/// Builds the images once per test binary; quick and silent when they are up to date.
fn images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/images.sh");
        let output = Command::new(&script).output().expect("scripts/images.sh runs");
        assert!(
            output.status.success(),
            "scripts/images.sh failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("the docker CLI runs")
}

/// Runs a docker command that must succeed; returns its trimmed stdout.
fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(output.status.success(), "docker {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The containers and networks one test made, removed on drop, so that a failed assertion
/// leaves nothing behind.
struct Scratch {
    containers: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
}

impl Scratch {
    fn new() -> Scratch {
        images();
        Scratch { containers: Mutex::new(Vec::new()), networks: Mutex::new(Vec::new()) }
    }

    fn name(what: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        format!("skiff-test-images-{}-{}-{what}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
    }

    fn network(&self) -> String {
        let name = Scratch::name("net");
        self.networks.lock().unwrap().push(name.clone());
        docker_ok(&["network", "create", "--label", "skiff.test=images", &name]);
        name
    }

    /// `docker run -d` with a fresh name; returns the name.
    fn start(&self, what: &str, args: &[&str]) -> String {
        let name = Scratch::name(what);
        self.containers.lock().unwrap().push(name.clone());
        let mut all = vec!["run", "-d", "--name", &name, "--label", "skiff.test=images"];
        all.extend_from_slice(args);
        docker_ok(&all);
        name
    }

    /// `docker run` to completion (the container is kept until drop, for its logs).
    fn run(&self, what: &str, args: &[&str]) -> Run {
        let name = Scratch::name(what);
        self.containers.lock().unwrap().push(name.clone());
        let mut all = vec!["run", "--name", &name, "--label", "skiff.test=images"];
        all.extend_from_slice(args);
        let started = Instant::now();
        let output = docker(&all);
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            took: started.elapsed(),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut *self.containers.lock().unwrap());
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(containers.iter().map(String::as_str));
            docker(&args);
        }
        for network in self.networks.lock().unwrap().drain(..) {
            docker(&["network", "rm", &network]);
        }
    }
}

/// A finished `docker run`.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn ip_of(container: &str) -> String {
    docker_ok(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container])
}

fn logs_of(container: &str) -> String {
    let output = docker(&["logs", container]);
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Waits for a container to exit; returns its exit code.
fn wait_exit(container: &str) -> i32 {
    docker_ok(&["wait", container]).parse().expect("docker wait prints the exit code")
}

/// Waits until something accepts connections at `addr` (a server just started).
fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts demo-web and waits until it listens; returns its name and address.
fn start_web(scratch: &Scratch, version: &str, extra: &[&str]) -> (String, SocketAddr) {
    let image = demo_web(version);
    let mut args = extra.to_vec();
    args.push(&image);
    let name = scratch.start("web", &args);
    let addr: SocketAddr = format!("{}:8080", ip_of(&name)).parse().unwrap();
    wait_listening(addr);
    (name, addr)
}

/// One HTTP/1.1 response read off a stream: status, lower-cased head, and the body framed by
/// its Content-Length (demo-web always sends one).
struct Response {
    status: u16,
    head: String,
    body: String,
}

fn read_response(stream: &mut TcpStream) -> Response {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse().unwrap())
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]).into_owned();
                return Response { status, head, body };
            }
        }
        let n = stream.read(&mut chunk).expect("reading a response");
        assert!(n > 0, "connection closed in the middle of a response: {text:?}");
        bytes.extend_from_slice(&chunk[..n]);
    }
}

fn send(stream: &mut TcpStream, method: &str, path: &str) {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: demo\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
}

/// One request on a connection of its own.
fn http(addr: SocketAddr, method: &str, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    send(&mut stream, method, path);
    read_response(&mut stream)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = http(addr, "GET", path);
    (response.status, response.body)
}

#[test]
fn demo_web_answers_every_endpoint_in_each_version() {
    let scratch = Scratch::new();
    let config = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("color"), "blue").unwrap();
    let mount = format!("{}:/etc/config:ro", config.path().display());
    for version in ["v1", "v2", "v3"] {
        let hostname = format!("web-{version}-test");
        let (_, addr) =
            start_web(&scratch, version, &["--hostname", &hostname, "-e", "GREETING=hello world", "-v", &mount]);

        assert_eq!(get(addr, "/version"), (200, version.to_string()));
        assert_eq!(get(addr, "/hostname"), (200, hostname.clone()));
        let page = http(addr, "GET", "/");
        assert_eq!(page.status, 200);
        assert!(page.head.contains("content-type: text/html"), "{}", page.head);
        for shown in [version, &hostname, &addr.ip().to_string()] {
            assert!(page.body.contains(shown), "{version}: the page lacks {shown}: {}", page.body);
        }
        assert_eq!(get(addr, "/healthz"), (200, "ok".into()));
        assert_eq!(get(addr, "/ready"), (200, "ok".into()));

        let (status, env) = get(addr, "/env");
        assert_eq!(status, 200);
        assert!(env.lines().any(|line| line == "GREETING=hello world"), "{env}");
        assert!(env.lines().any(|line| line == format!("HOSTNAME={hostname}")), "{env}");

        assert_eq!(get(addr, "/file/etc/config/color"), (200, "blue".into()));
        assert_eq!(get(addr, "/file/etc/config/"), (200, "color\n".into()));
        assert_eq!(get(addr, "/file/etc/config/missing").0, 404);
        assert_eq!(get(addr, "/nowhere").0, 404);
        assert_eq!(get(addr, "/fail/ready").0, 405, "failing a probe takes a POST");

        assert_eq!(http(addr, "POST", "/fail/ready").status, 200);
        assert_eq!(get(addr, "/ready").0, 500);
        assert_eq!(get(addr, "/healthz"), (200, "ok".into()), "readiness failed alone");
        assert_eq!(http(addr, "POST", "/fail/live").status, 200);
        assert_eq!(get(addr, "/healthz").0, 500);
        assert_eq!(get(addr, "/version"), (200, version.to_string()), "still serving");
    }
}

#[test]
fn demo_web_keeps_a_connection_alive_across_requests() {
    let scratch = Scratch::new();
    let (_, addr) = start_web(&scratch, "v1", &[]);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for _ in 0..100 {
        send(&mut stream, "GET", "/version");
        let response = read_response(&mut stream);
        assert_eq!((response.status, response.body.as_str()), (200, "v1"));
        assert!(!response.head.contains("connection: close"), "{}", response.head);
    }
}

#[test]
fn demo_web_knobs_delay_and_fail_readiness_and_crash() {
    let scratch = Scratch::new();

    let (_, delayed) = start_web(&scratch, "v1", &["-e", "READY_DELAY_SECONDS=1.5"]);
    let started = Instant::now();
    assert_eq!(get(delayed, "/ready"), (503, "starting".into()));
    assert_eq!(get(delayed, "/healthz"), (200, "ok".into()), "liveness does not wait");
    while get(delayed, "/ready").0 == 503 {
        assert!(started.elapsed() < Duration::from_secs(5), "still not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(delayed, "/ready"), (200, "ok".into()));

    let (_, failing) = start_web(&scratch, "v2", &["-e", "FAIL_READY=1"]);
    assert_eq!(get(failing, "/ready").0, 500);

    // Not waited for like the others: on a busy machine it could be gone before a first connect.
    let crashing = scratch.start("web", &["-e", "CRASH_AFTER_SECONDS=1", &demo_web("v1")]);
    assert_eq!(wait_exit(&crashing), 1);
    let logs = logs_of(&crashing);
    assert!(logs.contains("listening on 0.0.0.0:8080") && logs.contains("(CRASH_AFTER_SECONDS)"), "{logs}");

    let (crashed, addr) = start_web(&scratch, "v3", &[]);
    assert_eq!(http(addr, "POST", "/crash").body, "crashing\n");
    assert_eq!(wait_exit(&crashed), 1);

    let refused = scratch.run("web", &["-e", "READY_DELAY_SECONDS=soon", &demo_web("v1")]);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("READY_DELAY_SECONDS=\"soon\""), "{refused:?}");
}

#[test]
fn demo_web_finishes_the_request_in_flight_on_sigterm_then_exits_0() {
    let scratch = Scratch::new();
    let (name, addr) = start_web(&scratch, "v2", &[]);
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    send(&mut slow, "GET", "/sleep/1.5");
    std::thread::sleep(Duration::from_millis(300));

    let signalled = Instant::now();
    docker_ok(&["kill", "--signal", "TERM", &name]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "new connections are still accepted after SIGTERM"
    );
    let response = read_response(&mut slow);
    assert_eq!((response.status, response.body.as_str()), (200, "slept 1.5s\n"));
    assert!(response.head.contains("connection: close"), "{}", response.head);

    assert_eq!(wait_exit(&name), 0, "{}", logs_of(&name));
    assert!(signalled.elapsed() < Duration::from_secs(4), "took {:?} to stop", signalled.elapsed());
}

#[test]
fn demo_web_stops_at_once_on_sigterm_when_idle() {
    let scratch = Scratch::new();
    let (name, addr) = start_web(&scratch, "v1", &[]);
    // An idle keep-alive connection must not hold the shutdown up.
    let mut idle = TcpStream::connect(addr).unwrap();
    send(&mut idle, "GET", "/version");
    read_response(&mut idle);
    let started = Instant::now();
    docker_ok(&["stop", "--time", "10", &name]);
    assert!(started.elapsed() < Duration::from_secs(3), "docker stop took {:?}", started.elapsed());
    assert_eq!(docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]), "0");
}

#[test]
fn pause_exits_at_once_on_sigterm_and_reaps_the_pods_orphans() {
    let scratch = Scratch::new();
    let pause = scratch.start("pause", &[PAUSE]);

    // A process of another container in the pod's PID namespace leaves an orphan; pause, as
    // PID 1 of that namespace, inherits and reaps it, so no zombie is left.
    let pid_namespace = format!("container:{pause}");
    let script = r#"(sleep 0.3 &); sleep 1; grep -l '^State:.Z' /proc/[0-9]*/status; echo "parent of 1: $(cat /proc/1/cmdline)""#;
    let orphans = scratch.run("orphan", &["--pid", &pid_namespace, TOOLBOX, "sh", "-c", script]);
    assert_eq!(orphans.code, Some(0), "{orphans:?}");
    assert_eq!(orphans.stdout.trim(), "parent of 1: /pause", "a zombie was left: {orphans:?}");

    let started = Instant::now();
    docker_ok(&["stop", "--time", "10", &pause]);
    assert!(started.elapsed() < Duration::from_secs(3), "docker stop took {:?}", started.elapsed());
    assert_eq!(docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &pause]), "0");
    assert!(logs_of(&pause).contains("SIGTERM"), "{}", logs_of(&pause));
}

#[test]
fn containers_joined_to_pause_share_its_ip_and_localhost() {
    let scratch = Scratch::new();
    let pause = scratch.start("pause", &[PAUSE]);
    let pod = format!("container:{pause}");
    scratch.start("web", &["--network", &pod, &demo_web("v3")]);
    let pod_ip = ip_of(&pause);

    let script = "for i in $(seq 50); do wget -qO- http://localhost:8080/version && break; sleep 0.1; done; echo; \
                  wget -qO- http://localhost:8080/ | grep -o 'pod IP: <b>[0-9.]*'";
    let run = scratch.run("client", &["--network", &pod, TOOLBOX, "sh", "-c", script]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, format!("v3\npod IP: <b>127.0.0.1\n"), "{run:?}");

    let from_outside = get(format!("{pod_ip}:8080").parse().unwrap(), "/");
    assert!(from_outside.1.contains(&format!("pod IP: <b>{pod_ip}</b>")), "{}", from_outside.1);
}

#[test]
fn toolbox_wget_fetches_from_demo_web_on_a_docker_network() {
    let scratch = Scratch::new();
    let network = scratch.network();
    let (web, _) = start_web(&scratch, "v2", &["--network", &network, "--hostname", "web-host"]);
    let url = |path: &str| format!("http://{web}:8080{path}");
    let toolbox = |args: &[&str]| {
        let mut all = vec!["--network", &network, TOOLBOX];
        all.extend_from_slice(args);
        scratch.run("wget", &all)
    };

    // Run directly, and through busybox's shell (which would prefer its own crashing applet).
    let direct = toolbox(&["wget", "-qO-", &url("/version")]);
    assert_eq!((direct.code, direct.stdout.as_str()), (Some(0), "v2"), "{direct:?}");
    let script = format!("wget -qO- {}", url("/hostname"));
    let shell = toolbox(&["sh", "-c", &script]);
    assert_eq!((shell.code, shell.stdout.as_str()), (Some(0), "web-host"), "{shell:?}");

    let script = format!(
        "wget -q --spider -T 1 {ok} && echo spider-ok; \
         wget -qO- {missing}; echo \"missing rc=$?\"; \
         wget -q -O /tmp/page {page} && grep -c '<h1>demo-web' /tmp/page; \
         wget -qO- --post-data= {fail} && wget -qO- {ready}; echo \"ready rc=$?\"; \
         wget -qO- http://{web}:9/; echo \"refused rc=$?\"; \
         wget -qO- https://{web}/; echo \"https rc=$?\"",
        ok = url("/healthz"),
        missing = url("/nope"),
        page = url("/"),
        fail = url("/fail/ready"),
        ready = url("/ready"),
    );
    let run = toolbox(&["sh", "-c", &script]);
    assert_eq!(
        run.stdout, "spider-ok\nmissing rc=1\n1\n/ready fails from now on\nready rc=1\nrefused rc=1\nhttps rc=1\n",
        "{run:?}"
    );
    for message in [
        "wget: server returned error: HTTP/1.1 404 Not Found",
        "wget: server returned error: HTTP/1.1 500 Internal Server Error",
        "wget: can't connect to remote host (",
        "wget: not an http url",
    ] {
        assert!(run.stderr.contains(message), "no {message:?} in {run:?}");
    }

    let slow = toolbox(&["wget", "-qO-", "-T", "1", &url("/sleep/30")]);
    assert_eq!(slow.code, Some(1), "{slow:?}");
    assert!(slow.stderr.contains("wget: download timed out"), "{slow:?}");
    assert!(slow.took < Duration::from_secs(10), "-T 1 took {:?}", slow.took);
}

#[test]
fn toolbox_nc_talks_tcp_both_ways() {
    let scratch = Scratch::new();
    let network = scratch.network();
    let (web, _) = start_web(&scratch, "v1", &["--network", &network]);

    let script = format!("printf 'GET /version HTTP/1.0\\r\\n\\r\\n' | nc {web} 8080");
    let client = scratch.run("nc", &["--network", &network, TOOLBOX, "sh", "-c", &script]);
    assert_eq!(client.code, Some(0), "{client:?}");
    assert!(client.stdout.starts_with("HTTP/1.0 200 OK\r\n") && client.stdout.ends_with("\r\n\r\nv1"), "{client:?}");

    let listener = scratch.start("listen", &["--network", &network, TOOLBOX, "nc", "-l", "-p", "9000"]);
    let script = format!("for i in $(seq 50); do echo hello over nc | nc {listener} 9000 && break; sleep 0.1; done");
    let sender = scratch.run("nc", &["--network", &network, TOOLBOX, "sh", "-c", &script]);
    assert_eq!(sender.code, Some(0), "{sender:?}");
    assert_eq!(wait_exit(&listener), 0);
    assert_eq!(logs_of(&listener), "hello over nc\n");
}

#[test]
fn toolbox_nslookup_asks_the_server_in_resolv_conf() {
    let scratch = Scratch::new();
    let network = scratch.network();
    let (web, addr) = start_web(&scratch, "v1", &["--network", &network]);

    // On a user-defined network Docker's embedded DNS server (127.0.0.11, named in the
    // container's /etc/resolv.conf) answers container names. Only A records are asked for,
    // and only for a name it knows, so nothing is forwarded beyond it.
    let found = scratch.run("dns", &["--network", &network, TOOLBOX, "nslookup", "-type=a", &web]);
    assert_eq!(found.code, Some(0), "{found:?}");
    assert!(found.stdout.contains("Server:\t\t127.0.0.11"), "{found:?}");
    assert!(found.stdout.contains(&format!("Address: {}", addr.ip())), "{found:?}");

    // Against a server that is not there, it fails and says so.
    let unanswered = scratch.run("dns", &["--network", &network, TOOLBOX, "nslookup", "-type=a", &web, "127.0.0.1"]);
    assert_eq!(unanswered.code, Some(1), "{unanswered:?}");
    assert!(unanswered.stdout.contains("no servers could be reached"), "{unanswered:?}");
}

#[test]
fn toolbox_shell_and_everyday_tools_work() {
    let scratch = Scratch::new();
    let script = "echo \"$((6 * 7))\"; hostname; env | grep '^GREETING='; cat /etc/hostname; ls /bin/sh; \
                  whoami; sleep 0.1 && echo slept; wget --help | head -1 | cut -c1-11; echo done";
    let run = scratch.run("shell", &["--hostname", "toolbox-test", "-e", "GREETING=hi", TOOLBOX, "sh", "-c", script]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout, "42\ntoolbox-test\nGREETING=hi\ntoolbox-test\n/bin/sh\nroot\nslept\nUsage: wget\ndone\n",
        "{run:?}"
    );
    let failing = scratch.run("shell", &[TOOLBOX, "sh", "-c", "exit 3"]);
    assert_eq!(failing.code, Some(3), "{failing:?}");
}
