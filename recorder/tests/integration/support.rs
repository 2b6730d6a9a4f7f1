//! What the recorder's tests need beyond testkit: records in the agent's framing (generated,
//! encoded for ingest, decoded from playback), which takes the recorder's own `wire` code.

pub use testkit::agent::*;
pub use testkit::{DEADLINE, eventually};

use recorder::wire::{FrameDecoder, MEDIA_TYPE, Record};
use serde_json::Value;

pub fn decode(bytes: &[u8]) -> Vec<Record> {
    let mut decoder = FrameDecoder::default();
    decoder.push(bytes);
    let mut records = Vec::new();
    while let Some(frame) = decoder.next_frame().expect("valid stream") {
        records.push(frame.to_record());
    }
    decoder.finish().expect("stream ends at a record boundary");
    records
}

pub async fn playback(
    agent: &Agent,
    channel: &str,
    from: i64,
    to: i64,
    origin: Option<&str>,
) -> Vec<Record> {
    decode(&playback_bytes(agent, channel, from, to, origin).await)
}

pub async fn ingest(agent: &Agent, channel: &str, body: Vec<u8>) -> (u16, Value) {
    agent.post_bytes(&format!("/channels/{channel}/records"), MEDIA_TYPE, body).await
}

/// `count` records of `size` bytes from `origin`, `step` µs apart from `start`.
pub fn records(origin: &str, start: i64, count: usize, step: i64, size: usize) -> Vec<Record> {
    (0..count)
        .map(|i| {
            let timestamp = start + i as i64 * step;
            let payload = (0..size).map(|j| (j as i64 * 7 + timestamp) as u8).collect();
            Record { timestamp, sequence: i as u64 + 1, origin: origin.into(), payload }
        })
        .collect()
}

pub fn body(records: &[Record]) -> Vec<u8> {
    records.iter().flat_map(|r| r.encode()).collect()
}
