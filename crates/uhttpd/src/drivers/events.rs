//! Server-Sent Events: one hub per server. `dispatch` formats an event once
//! and offers it to every client's bounded queue without waiting; a client
//! whose queue is full (in events or in bytes) is too slow to keep up and is
//! dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::{mpsc, Notify};

use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, ReplyBody};
use crate::http::reply::{error_reply, ReplyHead};
use crate::io::conn::{Connection, Next};
use crate::limits;
use tokio::io::AsyncReadExt;

/// The clients listening on one event URL.
pub struct EventHub {
    clients: Mutex<Clients>,
    max_clients: usize,
    /// Signalled whenever a place frees up.
    freed: Notify,
}

#[derive(Default)]
struct Clients {
    next_id: u64,
    queues: Vec<Queue>,
}

/// The hub's end of a client's queue.
struct Queue {
    id: u64,
    events: mpsc::Sender<Bytes>,
    /// Bytes of the events in the queue, shared with the [`Subscription`].
    queued: Arc<AtomicUsize>,
}

/// What `Queue::offer` did with an event.
enum Offer {
    Queued,
    /// The client is too slow: this many events, or bytes, are waiting already.
    TooFarBehind(&'static str, usize),
    Gone,
}

impl Queue {
    /// Queues `event` unless the client is over its bounds: at most
    /// [`limits::EVENT_QUEUE`] events and [`limits::EVENT_QUEUE_BYTES`] bytes
    /// (an event larger than that is queued only when nothing else waits).
    fn offer(&self, event: &Bytes) -> Offer {
        let queued = self.queued.load(Ordering::SeqCst);
        if queued > 0 && queued.saturating_add(event.len()) > limits::EVENT_QUEUE_BYTES {
            return Offer::TooFarBehind("bytes", queued);
        }
        // Counted before it is sent, so the reader never takes off more than
        // was added (only `dispatch`, under the hub's lock, adds).
        self.queued.fetch_add(event.len(), Ordering::SeqCst);
        match self.events.try_send(event.clone()) {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                Offer::TooFarBehind("events", limits::EVENT_QUEUE)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }
}

/// A client's place in the hub; dropping it frees the place at once.
pub struct Subscription {
    id: u64,
    hub: Arc<EventHub>,
    events: mpsc::Receiver<Bytes>,
    queued: Arc<AtomicUsize>,
}

impl Subscription {
    /// The next queued event; `None` once the hub dropped this client.
    /// Cancel-safe (a `select!` branch).
    pub async fn recv(&mut self) -> Option<Bytes> {
        let event = self.events.recv().await;
        self.taken(event)
    }

    /// The next queued event if there is one now.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        let event = self.events.try_recv().ok();
        self.taken(event)
    }

    fn taken(&self, event: Option<Bytes>) -> Option<Bytes> {
        if let Some(event) = &event {
            self.queued.fetch_sub(event.len(), Ordering::SeqCst);
        }
        event
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().queues.retain(|queue| queue.id != self.id);
        self.hub.freed.notify_waiters();
    }
}

impl EventHub {
    /// A hub serving at most `max_clients` at once (the seed's `events`).
    pub fn new(max_clients: usize) -> Arc<EventHub> {
        Arc::new(EventHub {
            clients: Mutex::new(Clients::default()),
            max_clients,
            freed: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new client's queue, or `None` when all places are taken (503).
    pub fn subscribe(self: &Arc<Self>) -> Option<Subscription> {
        let mut clients = self.lock();
        if clients.queues.len() >= self.max_clients {
            return None;
        }
        let (tx, rx) = mpsc::channel(limits::EVENT_QUEUE);
        let id = clients.next_id;
        clients.next_id += 1;
        let queued = Arc::new(AtomicUsize::new(0));
        clients.queues.push(Queue {
            id,
            events: tx,
            queued: queued.clone(),
        });
        Some(Subscription {
            id,
            hub: self.clone(),
            events: rx,
            queued,
        })
    }

    /// Like `subscribe`, but when all places are taken waits up to `wait` for
    /// one to free: a reloading page reconnects before its old stream's end
    /// has been seen, and EventSource does not retry after a 503.
    pub async fn subscribe_within(self: &Arc<Self>, wait: Duration) -> Option<Subscription> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(subscription) = self.subscribe() {
                return Some(subscription);
            }
            tokio::time::timeout_at(deadline, freed).await.ok()?;
        }
    }

    /// Clients listening now.
    pub fn listeners(&self) -> usize {
        self.lock().queues.len()
    }

    /// Sends an event to every client without blocking; true when at least one got it.
    pub fn dispatch(&self, data: &[u8], event: Option<&str>) -> Result<bool> {
        let message = format_event(data, event)?;
        let mut delivered = false;
        self.lock()
            .queues
            .retain(|queue| match queue.offer(&message) {
                Offer::Queued => {
                    delivered = true;
                    true
                }
                Offer::TooFarBehind(unit, waiting) => {
                    log::warn!(
                        target: "uhttpd",
                        "event client dropped: {waiting} {unit} waiting, it cannot keep up"
                    );
                    false
                }
                Offer::Gone => false,
            });
        Ok(delivered)
    }
}

/// The wire form: an optional `event:` line, one `data:` line per line of
/// `data` (CRLF, CR and LF all split), and the blank line that ends it.
pub fn format_event(data: &[u8], event: Option<&str>) -> Result<Bytes> {
    let mut out = BytesMut::with_capacity(data.len() + 16);
    if let Some(name) = event {
        if name.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(Error::InvalidArgument(format!(
                "event name {name:?} must be a single line"
            )));
        }
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_u8(b'\n');
    }
    let mut rest = data;
    loop {
        let end = rest
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(rest.len());
        out.put_slice(b"data: ");
        out.put_slice(&rest[..end]);
        out.put_u8(b'\n');
        if end == rest.len() {
            break;
        }
        let skip = if rest[end..].starts_with(b"\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
    }
    out.put_u8(b'\n');
    Ok(out.freeze())
}

/// Queued events gathered into one write to an event client.
const EVENT_BATCH_BYTES: usize = 64 * 1024;

impl Connection {
    /// Holds an EventSource client: its queued events, heartbeats when idle,
    /// and its place freed the moment it goes away.
    pub(crate) async fn stream_events(&mut self, x: &mut Exchange, hub: &Arc<EventHub>) -> Next {
        let Some(mut subscription) = hub.subscribe_within(limits::EVENT_PLACE_WAIT).await else {
            let (mut head, body) = error_reply(503);
            let _ = head.add_header("Retry-After", "1");
            return self.reply_and_finish(x, (head, body)).await;
        };
        let mut head = ReplyHead {
            content_type: Some(Bytes::from_static(b"text/event-stream")),
            ..ReplyHead::default()
        };
        let _ = head.add_header("Cache-Control", "no-cache");
        let _ = head.add_header("X-Accel-Buffering", "no");
        if self
            .write_head(x, &head, ReplyBody::UntilClose)
            .await
            .is_err()
            || x.head_only
        {
            return Next::Close;
        }
        // Unblocks clients that wait for the first bytes before firing `open`.
        if self.write(b": connected\n\n").await.is_err() {
            return Next::Close;
        }
        let heartbeat = self.shared.limits.event_heartbeat;
        let mut probe = [0u8; 64];
        loop {
            tokio::select! {
                event = subscription.recv() => match event {
                    Some(event) => {
                        // A burst goes out in one write: whatever is queued now.
                        self.out.clear();
                        self.out.extend_from_slice(&event);
                        while self.out.len() < EVENT_BATCH_BYTES {
                            match subscription.try_recv() {
                                Some(more) => self.out.extend_from_slice(&more),
                                None => break,
                            }
                        }
                        if self.write_out(x).await.is_err() {
                            return Next::Close;
                        }
                    }
                    None => return Next::Close,
                },
                read = self.stream.read(&mut probe) => {
                    // EventSource never sends; EOF or an error means it left.
                    if matches!(read, Ok(0) | Err(_)) {
                        return Next::Close;
                    }
                }
                _ = tokio::time::sleep(heartbeat) => {
                    if self.write(b":\n\n").await.is_err() {
                        return Next::Close;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_data_becomes_several_data_lines() {
        assert_eq!(&format_event(b"a", None).unwrap()[..], b"data: a\n\n");
        assert_eq!(
            &format_event(b"x\ny\r\nz\rw", Some("tick")).unwrap()[..],
            b"event: tick\ndata: x\ndata: y\ndata: z\ndata: w\n\n"
        );
        assert_eq!(&format_event(b"", None).unwrap()[..], b"data: \n\n");
        assert_eq!(
            &format_event(b"end\n", None).unwrap()[..],
            b"data: end\ndata: \n\n"
        );
        assert!(format_event(b"a", Some("bad\nname")).is_err());
    }

    #[test]
    fn places_are_limited_and_freed_on_drop() {
        let hub = EventHub::new(2);
        let first = hub.subscribe().unwrap();
        let _second = hub.subscribe().unwrap();
        assert!(hub.subscribe().is_none());
        drop(first);
        assert_eq!(hub.listeners(), 1);
        assert!(hub.subscribe().is_some());
    }

    #[tokio::test]
    pub(crate) async fn a_full_hub_waits_briefly_for_a_freed_place() {
        let hub = EventHub::new(1);
        let first = hub.subscribe().unwrap();
        assert!(hub
            .subscribe_within(Duration::from_millis(20))
            .await
            .is_none());
        let freeing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(first);
        });
        assert!(hub.subscribe_within(Duration::from_secs(5)).await.is_some());
        freeing.await.unwrap();
    }

    #[test]
    fn dispatch_reports_listeners_and_drops_a_stalled_client() {
        let hub = EventHub::new(4);
        assert!(!hub.dispatch(b"nobody", None).unwrap());
        let mut live = hub.subscribe().unwrap();
        let _stalled = hub.subscribe().unwrap();
        for n in 0..limits::EVENT_QUEUE {
            assert!(hub.dispatch(n.to_string().as_bytes(), None).unwrap());
            while live.try_recv().is_some() {}
        }
        assert_eq!(hub.listeners(), 2);
        assert!(hub.dispatch(b"one too many", None).unwrap());
        assert_eq!(
            hub.listeners(),
            1,
            "the stalled client is dropped, the live one kept"
        );
        assert_eq!(&live.try_recv().unwrap()[..], b"data: one too many\n\n");
    }

    /// Data that makes an event of exactly `bytes` bytes (`data: ` and `\n\n` around it).
    fn event_of(bytes: usize) -> Vec<u8> {
        vec![b'x'; bytes - 8]
    }

    #[test]
    fn a_stalled_client_is_dropped_at_event_queue_bytes() {
        let hub = EventHub::new(4);
        let mut live = hub.subscribe().unwrap();
        let _stalled = hub.subscribe().unwrap();
        let piece = 64 * 1024;
        let fit = limits::EVENT_QUEUE_BYTES / piece;
        for _ in 0..fit {
            assert!(hub.dispatch(&event_of(piece), None).unwrap());
            assert_eq!(live.try_recv().unwrap().len(), piece);
        }
        assert_eq!(hub.listeners(), 2, "exactly the budget is still kept");
        assert!(hub.dispatch(&event_of(piece), None).unwrap());
        assert_eq!(hub.listeners(), 1, "the stalled client is dropped");
        assert_eq!(live.try_recv().unwrap().len(), piece);
        assert_eq!(live.queued.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_event_larger_than_the_budget_goes_only_to_a_client_with_nothing_waiting() {
        let hub = EventHub::new(4);
        let mut live = hub.subscribe().unwrap();
        let _stalled = hub.subscribe().unwrap();
        let huge = event_of(limits::EVENT_QUEUE_BYTES + 1);
        assert!(hub.dispatch(&huge, None).unwrap());
        assert_eq!(hub.listeners(), 2, "both queues were empty");
        assert_eq!(live.try_recv().unwrap().len(), huge.len() + 8);
        assert!(hub.dispatch(&huge, None).unwrap());
        assert_eq!(
            hub.listeners(),
            1,
            "the client that has one waiting is dropped"
        );
        assert_eq!(live.try_recv().unwrap().len(), huge.len() + 8);
    }

    #[test]
    fn a_client_that_reads_is_never_dropped_for_bytes() {
        let hub = EventHub::new(1);
        let mut live = hub.subscribe().unwrap();
        let data = event_of(256 * 1024);
        for _ in 0..64 {
            assert!(hub.dispatch(&data, None).unwrap());
            assert!(hub.dispatch(&data, None).unwrap());
            while live.try_recv().is_some() {}
        }
        assert_eq!(hub.listeners(), 1);
        assert_eq!(live.queued.load(Ordering::SeqCst), 0);
    }
}
