//! `pause`: the infra container of every Skiff pod.
//!
//! Mirrors Kubernetes' `build/pause/linux/pause.c`. The kubelet starts this container first and
//! joins the pod's app containers to its namespaces (`--network container:<id>`), so the pod's
//! IP and `localhost` belong to a process that does nothing and therefore never crashes: app
//! containers can restart without the pod losing its address.
//!
//! What it does, as the C original does:
//! 1. warns (but carries on) when it is not PID 1, because it is also used outside pods;
//! 2. exits with status 0 at once on SIGTERM or SIGINT, so deleting a pod never waits for a
//!    grace period on the infra container (a PID 1 without handlers would ignore SIGTERM);
//! 3. reaps every child that dies. When a pod shares one PID namespace, orphaned processes of
//!    the app containers are re-parented to PID 1, and without a `wait` they stay zombies.
//!
//! `pause -v` prints the version and exits. Left out: nothing else exists upstream.

use rustix::io::Errno;
use rustix::process::{wait, WaitOptions};
use signal_hook::consts::{SIGCHLD, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("-v") {
        println!("pause (skiff) {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if std::process::id() != 1 {
        eprintln!("pause: warning: not PID 1, so orphans of the pod are reaped by someone else");
    }
    // The handlers only write to a pipe; this thread reads it. Everything below runs on that
    // one thread, so no signal arrives in the middle of a `waitpid` loop it would disturb.
    let mut signals = match Signals::new([SIGTERM, SIGINT, SIGCHLD]) {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("pause: cannot install signal handlers: {err}");
            return ExitCode::FAILURE;
        }
    };
    for signal in signals.forever() {
        match signal {
            SIGCHLD => reap_children(),
            _ => {
                let name = if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
                eprintln!("pause: got {name}, shutting down");
                return ExitCode::SUCCESS;
            }
        }
    }
    // `forever` only ends if the signal pipe breaks, which would be a bug.
    eprintln!("pause: signal loop ended unexpectedly");
    ExitCode::FAILURE
}

/// Collects every child that has exited. One SIGCHLD may stand for several deaths (signals do
/// not queue), hence the loop; WNOHANG because the children still running must not block us.
///
/// `wait` is `waitpid(-1, …)`: any child. (rustix's `waitpid(None, …)` is `waitpid(0, …)`, only
/// children in pause's own process group, which an orphan from another container never is.)
fn reap_children() {
    loop {
        match wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            // No child has exited yet (`None`), or there are no children at all (ECHILD).
            Ok(None) | Err(Errno::CHILD) => return,
            Err(Errno::INTR) => continue,
            Err(err) => {
                eprintln!("pause: waitpid failed: {err}");
                return;
            }
        }
    }
}
