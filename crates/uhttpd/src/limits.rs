//! Named limits and timeouts. Each is the default of a [`crate::Config`] field and has a test.

use std::time::Duration;

/// Largest request head (request line + headers + blank line). Big enough for
/// long cookies and tokens, small enough that a thousand idle clients cost little. 431 past it.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Largest request-target. Long query strings fit; nothing legitimate on a
/// device needs more. 414 past it.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most header fields in one head; httparse needs a fixed array. 431 past it.
pub const MAX_HEADERS: usize = 64;

/// Longest chunk-size line (size, extensions) of a chunked body; extensions
/// are ignored, so anything longer is an attack. 400 past it.
pub const MAX_CHUNK_LINE_BYTES: usize = 1024;

/// Time a client has to send a complete request head once it started one
/// (slowloris defence). 408 and close past it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Time an idle keep-alive connection is kept open waiting for its next request.
pub const IDLE_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Time a client may stall while sending a body or reading a reply before it is
/// dropped, so a slow client never holds a worker for ever.
pub const IO_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Open connections served at once. SPEC promises at least 10,000; past it a new
/// connection gets a 503 and is closed instead of being queued.
pub const MAX_CONNECTIONS: usize = 16 * 1024;

/// Time a client has to send one piece of a body a callback reads
/// ([`BODY_PIECE_BYTES`], or the rest of the body when less). A callback
/// waiting for a piece holds a handler thread, so a client that trickles a
/// body must not keep it: while a callback reads, a client sends at least
/// 64 KiB per 10 s (6.5 kB/s), or gets 408 and is closed. The first piece of
/// a body sent without `Expect: 100-continue` is read before the callback is
/// queued, so a small body trickled in holds only its own connection.
pub const BODY_PIECE_TIMEOUT: Duration = Duration::from_secs(10);

/// Threads that run file ACL and custom authentication decisions for the
/// file server, the uploader, events and the WebSocket handshake: apart from
/// the handler threads, so those decisions never wait behind callbacks.
pub const DECISION_WORKERS: usize = 2;

/// Files the file server keeps open between requests (its open-file cache,
/// nginx's `open_file_cache`): a device's web pages and assets number in the
/// tens, and each entry holds one descriptor, so this also bounds the
/// descriptors kept beyond the connections'. 0 keeps none.
pub const OPEN_FILE_CACHE_ENTRIES: usize = 128;

/// Longest time a cached open stands for a fresh one: a change behind the
/// server's back that a stat of the kept file cannot see (a directory on its
/// path renamed or replaced, a link on the way swapped) is seen at most this
/// late; changes of the file itself, and the server's own, at once. Short
/// enough that nobody swapping a site's directory and reloading a page sees
/// the old one; long enough that a file asked thousands of times a second is
/// opened ten times a second.
pub const OPEN_FILE_CACHE_VALID: Duration = Duration::from_millis(100);

/// Python/Rust handler threads. Handlers may block (slow uploads), so more than
/// one; the GIL makes many pointless.
pub const HANDLER_WORKERS: usize = 8;

/// Requests waiting for a free handler thread before new ones get 503.
pub const HANDLER_QUEUE: usize = 1024;

/// Size of the body pieces handed to handlers; bounds memory per request
/// together with [`BODY_CHANNEL_PIECES`].
pub const BODY_PIECE_BYTES: usize = 64 * 1024;

/// Time a resumable upload's partial file (a `Content-Range` PUT's bytes
/// so far) is kept untouched before the next resumable upload into its
/// directory removes it: long enough for a phone to come back to a dropped
/// upload, short enough that abandoned ones do not fill a device's storage.
pub const PARTIAL_UPLOAD_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Body pieces buffered between the socket and a handler that reads slowly.
pub const BODY_CHANNEL_PIECES: usize = 4;

/// Response pieces buffered between a handler and a slow client.
pub const RESPONSE_CHANNEL_PIECES: usize = 8;

/// Bytes in one piece of a folder's zip (`GET <folder>/?zip`) on its way
/// from the thread writing the archive to the connection sending it: a
/// chunk of the reply, and a read of a file into the archive.
pub const ZIP_PIECE_BYTES: usize = 64 * 1024;

/// Pieces of a folder's zip queued between the thread writing the archive
/// and the connection sending it. The writer waits while the queue is full,
/// so a zip holds about this many pieces plus the one being filled and the
/// one being sent (384 KiB) whatever the folder's size; only the archive's
/// central directory, a record per entry that the format puts at the end,
/// grows with the number of entries.
pub const ZIP_QUEUE_PIECES: usize = 4;

/// Unread request body the server will still read and discard after a reply
/// to keep the connection alive; a larger leftover closes the connection.
pub const MAX_DRAIN_BYTES: u64 = 256 * 1024;

/// Time `close()` waits for running handlers to return before giving up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Events queued for one Server-Sent Events client. A healthy client drains
/// bursts of hundreds; one that falls this far behind is dropped, never waited for.
pub const EVENT_QUEUE: usize = 1024;

/// Bytes of events queued for one Server-Sent Events client, so a client that
/// stops reading holds bounded memory however large the events (a count alone
/// let 1,024 events of 1 MiB pile up). 4 MiB is a full [`EVENT_QUEUE`] of
/// 4 KiB events, more than a healthy client lets pile up, and `events`
/// clients hold at most 4 MiB each. Past it the client is dropped, as for
/// [`EVENT_QUEUE`]. A single larger event is queued only for a client with
/// nothing else waiting, so it still reaches clients that keep up.
pub const EVENT_QUEUE_BYTES: usize = 4 * 1024 * 1024;

/// Time a new event client waits for a place when all are taken: long enough
/// for a reloading page's old stream to be seen closing.
pub const EVENT_PLACE_WAIT: Duration = Duration::from_millis(500);

/// Comment line sent to idle event clients so dead connections are noticed.
pub const EVENT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Largest WebSocket message (and frame) accepted; a REPL or a file transfer
/// needs far less, and Autobahn's largest cases fit.
pub const WS_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Time a WebREPL client has to answer `Password: `. A person types a
/// password in seconds; a client that says nothing is closed so that it holds
/// neither a thread nor a prompt place for ever.
pub const PASSWORD_PROMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// WebREPL clients at the password prompt at once, each holding a thread. A
/// prompt does not keep others out (only a logged-in session does), so a few
/// idle clients cannot lock a user out; this bounds how many may wait. Past
/// it a new client gets the busy text.
pub const MAX_PASSWORD_PROMPTS: usize = 8;

/// WebSocket messages buffered each way between the socket and the session thread.
pub const WS_CHANNEL_MESSAGES: usize = 16;

/// Observations (finished requests, file changes) kept for a host that has
/// not taken them yet; past it the oldest are dropped, so a host that stops
/// asking costs a bounded amount of memory and never slows the server.
pub const OBSERVATION_QUEUE: usize = 4096;
