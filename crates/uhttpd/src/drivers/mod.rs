//! One driver per endpoint kind: what the connection does with a routed
//! request. Each is a method of [`Connection`] with the same shape,
//! `(&mut self, &mut Exchange, request, endpoint) -> Next` (the request an
//! `Arc<RequestInfo>` only for the drivers that hand it to another thread), and
//! renders its own outcome: [`callback`] (a handler thread), [`files`] (decide
//! an `Outcome`, render it beside the decision; [`open_files`] keeps hot
//! files open; [`zip`] streams a folder as an archive), [`upload`],
//! [`events`], [`websocket`].

use std::sync::mpsc as std_mpsc;

use bytes::Bytes;

use crate::acl::Access;
use crate::fs::VirtualPath;
use crate::http::reply::{error_reply, ReplyHead};
use crate::server::Shared;

pub(crate) mod callback;
pub mod events;
pub mod files;
pub mod open_files;
pub mod upload;
pub mod websocket;
pub mod zip;

pub(crate) const CHALLENGE: &[u8] = b"Basic realm=\"uhttpd\", charset=\"UTF-8\"";

/// Runs a decision `f` (custom authentication) on the decision pool (where
/// Python may run) and waits for it; `None` when the pool is saturated or closing.
pub(crate) async fn decide<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared
        .decisions
        .execute(Box::new(move || {
            let _ = tx.send(f());
        }))
        .ok()?;
    rx.await.ok()
}

/// Asks the file ACL, from a blocking thread, on the decision pool.
pub(crate) fn file_acl(shared: &Shared, vpath: &VirtualPath, access: Access) -> Result<(), u16> {
    acl_check(shared, vpath.to_string(), access)
}

/// True when a file ACL is set: something to ask about each entry of a tree.
pub(crate) fn has_file_acl(shared: &Shared) -> bool {
    shared
        .file_acl
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// [`file_acl`] for a device path already written out (directories end with `/`).
pub(crate) fn acl_check(shared: &Shared, path: String, access: Access) -> Result<(), u16> {
    let acl = shared
        .file_acl
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let Some(acl) = acl else { return Ok(()) };
    let (tx, rx) = std_mpsc::sync_channel(1);
    shared
        .decisions
        .execute(Box::new(move || {
            let _ = tx.send(acl.check(&path));
        }))
        .map_err(|_| 503u16)?;
    rx.recv().map_err(|_| 503u16)?.permits(access)
}

/// Runs disk work on the blocking pool; a panic there is a 500.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, u16> + Send + 'static,
) -> Result<T, u16> {
    tokio::task::spawn_blocking(f).await.unwrap_or(Err(500))
}

/// The reply for a status from the file features (`write_full` leaves out
/// the body of a 204 like that of any bodiless status).
pub(crate) fn status_reply(code: Result<u16, u16>) -> (ReplyHead, Bytes) {
    error_reply(code.unwrap_or_else(|e| e))
}

/// A refusal reply; a 401 carries the challenge RFC 9110 §11.6.1 requires.
pub(crate) fn denial(code: u16) -> (ReplyHead, Bytes) {
    let (mut head, body) = error_reply(code);
    if code == 401 {
        let _ = head.add_header("WWW-Authenticate", CHALLENGE);
    }
    (head, body)
}
