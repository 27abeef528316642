//! # skiff-wget: the `wget` of Skiff's toolbox image
//!
//! Debian's `busybox-static` has a `wget` applet, but it crashes inside a container as soon as
//! it is given a timeout (`wget -T 2 …` ends in a segmentation fault, exit 139), and timeouts
//! are what probes and NetworkPolicy exercises use. This is a replacement that takes busybox's
//! options and prints busybox's messages, so tutorials run unchanged: `wget -qO- URL`,
//! `wget --spider --timeout=1 nginx`, `wget -qO- --post-data= http://web/fail/ready`.
//!
//! HTTP only (an `https://` URL is refused with a clear message); one request per connection
//! (`Connection: close`); redirects followed, up to 20. Names are resolved by the C library,
//! which reads `/etc/hosts` and `/etc/resolv.conf` (search domains and `ndots` included), as
//! every other program in the pod does.
//!
//! # Layout
//!
//! - [`args`]: the command line, busybox style (`-qO-`, `-T 5`, `--timeout=5`), parsed purely.
//! - [`url`]: an `http://host:port/path` URL, and a redirect's `Location` resolved against it.
//! - [`http`]: one HTTP/1.1 exchange: connect, send, read the head, frame the body.
//! - [`chunked`]: the `Transfer-Encoding: chunked` body decoder.
//! - [`fetch`]: a whole download: redirects, status checks, where the body goes.
//! - [`error`]: every failure, worded as busybox words it.

pub mod args;
pub mod chunked;
pub mod error;
pub mod fetch;
pub mod http;
pub mod url;
