//! Playback: a channel's records for `[from, to)` in time order, as a stream of framed records
//! (the ingest format). A blocking reader fills fixed-size chunks into a small bounded queue, so
//! memory stays flat however large the range, and a slow client slows the reader down.

use crate::archive::channel::ChannelArchive;
use crate::archive::reader::RangeReader;
use crate::time::TimeRange;
use bytes::Bytes;
use futures::Stream;
use std::sync::Arc;

/// Records are gathered into chunks of about this size before they are sent.
pub const CHUNK: usize = 256 * 1024;
/// Chunks read ahead of the client.
const QUEUE: usize = 4;

/// Starts reading on the blocking pool and returns the stream of chunks. An I/O error ends the
/// stream with an error, which aborts the HTTP response: a client never takes a cut stream for
/// a complete one.
pub fn stream(
    channel: Arc<ChannelArchive>,
    range: TimeRange,
    origin: Option<String>,
) -> impl Stream<Item = std::io::Result<Bytes>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(QUEUE);
    tokio::task::spawn_blocking(move || {
        let mut reader = RangeReader::new(channel.views(&range), range, origin);
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    chunk.extend_from_slice(frame.bytes());
                    if chunk.len() >= CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                        if sender.blocking_send(Ok(Bytes::from(full))).is_err() {
                            return; // The client went away.
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(channel = %channel.id, %error, "playback failed");
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = sender.blocking_send(Ok(Bytes::from(chunk)));
        }
    });
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}
