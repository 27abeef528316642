//! The router's worker threads: one single-threaded Tokio runtime per core, each serving the
//! connections handed to it from accept to close, as nginx's worker processes do.
//!
//! Why not the proxy's multi-threaded runtime: a request's four system calls are most of its
//! cost, and on Tokio's shared scheduler every wake-up of a connection's task may go to the
//! other thread, which parks and unparks (futex calls, context switches) far more often than
//! a thread that keeps its own connections. Measured with `bench-net` on two cores, the plain
//! path cost 22 µs of CPU per tiny request on the shared runtime and 18 µs on one thread.
//!
//! The acceptor (on the proxy's runtime) hands each accepted connection to the next worker in
//! turn, so both cores get an equal share of connections, whatever the listener; accepts are
//! rare next to requests (clients keep their connections alive), so that one hand-off per
//! connection costs nothing measurable. Each worker's connections use that worker's idle
//! backend connections ([`crate::ingress::forward::Pools::idle`]), so a request never waits on
//! another thread's reactor.
//!
//! On shutdown the workers stop taking connections, and each waits for its connections to end
//! (they finish the request in flight and close) before its thread exits.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ingress::server::{connection, Shared};

type Handed = (std::net::TcpStream, SocketAddr);

/// The running workers.
pub struct Workers {
    inboxes: Vec<mpsc::UnboundedSender<Handed>>,
    next: usize,
    done: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// Starts `shared.len()` worker threads; worker `i` serves its connections with
    /// `shared[i]` until `shutdown`.
    pub fn start(shared: Vec<Arc<Shared>>, shutdown: &CancellationToken) -> std::io::Result<Workers> {
        let (mut inboxes, mut done) = (Vec::new(), Vec::new());
        for (worker, shared) in shared.into_iter().enumerate() {
            let (inbox, handed) = mpsc::unbounded_channel();
            let (finished, finishing) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let shutdown = shutdown.clone();
            std::thread::Builder::new().name(format!("ingress-{worker}")).spawn(move || {
                runtime.block_on(serve(handed, shared, shutdown));
                let _ = finished.send(());
            })?;
            inboxes.push(inbox);
            done.push(finishing);
        }
        Ok(Workers { inboxes, next: 0, done })
    }

    /// Gives `stream` to the next worker in turn.
    pub fn hand(&mut self, stream: tokio::net::TcpStream, client: SocketAddr) {
        // Out of the acceptor's reactor, into the worker's (`TcpStream::from_std` there).
        let Ok(stream) = stream.into_std() else { return };
        let worker = self.next % self.inboxes.len();
        self.next = self.next.wrapping_add(1);
        let _ = self.inboxes[worker].send((stream, client));
    }

    /// Waits until every worker has finished its connections (after `shutdown`).
    pub async fn wait(self) {
        drop(self.inboxes);
        for done in self.done {
            let _ = done.await;
        }
    }
}

/// One worker: its connections, each a task on this thread, until shutdown.
async fn serve(mut handed: mpsc::UnboundedReceiver<Handed>, shared: Arc<Shared>, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let (stream, client) = tokio::select! {
            _ = shutdown.cancelled() => break,
            next = handed.recv() => match next {
                Some(next) => next,
                None => break,
            },
        };
        match tokio::net::TcpStream::from_std(stream) {
            Ok(stream) => {
                connections.spawn(connection(stream, client, shared.clone(), shutdown.clone()));
            }
            Err(err) => tracing::warn!(%client, cause = %err, "cannot take over a connection"),
        }
    }
    connections.close();
    connections.wait().await;
}
