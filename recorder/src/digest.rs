//! The digest of a channel's records in `[from, to)`: count, payload bytes and SHA-256 over a
//! fixed encoding of each record in time order. It is computed from records, not files, so two
//! archives that hold the same records agree however their segments are cut.
//!
//! Encoding per record (big-endian): `i64 timestamp_us`, `u32 origin length`, `origin`,
//! `u64 payload length`, `payload`. The sequence number is not part of it: a record is the
//! same record whatever storage numbered it (the natural key is time, origin and payload).

use crate::archive::channel::ChannelArchive;
use crate::archive::reader::RangeReader;
use crate::time::TimeRange;
use crate::wire::Frame;
use agent_api::Digest;
use sha2::{Digest as _, Sha256};

/// Accumulates a digest record by record.
#[derive(Default)]
pub struct Digester {
    hasher: Sha256,
    count: u64,
    bytes: u64,
}

impl Digester {
    pub fn add(&mut self, frame: &Frame<'_>) {
        let origin = frame.origin().as_bytes();
        let payload = frame.payload();
        self.hasher.update(frame.timestamp().to_be_bytes());
        self.hasher.update((origin.len() as u32).to_be_bytes());
        self.hasher.update(origin);
        self.hasher.update((payload.len() as u64).to_be_bytes());
        self.hasher.update(payload);
        self.count += 1;
        self.bytes += payload.len() as u64;
    }

    pub fn finish(self) -> Digest {
        let hash = self.hasher.finalize();
        let sha256 = hash.iter().map(|b| format!("{b:02x}")).collect();
        Digest { count: self.count, bytes: self.bytes, sha256 }
    }
}

/// Reads the range and digests it (blocking).
pub fn digest(
    channel: &ChannelArchive,
    range: TimeRange,
    origin: Option<String>,
) -> std::io::Result<Digest> {
    let mut reader = RangeReader::new(channel.views(&range), range, origin);
    let mut digester = Digester::default();
    while let Some(frame) = reader.next_frame()? {
        digester.add(&frame);
    }
    Ok(digester.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Record;

    #[test]
    fn empty_digest_is_the_sha256_of_nothing() {
        let digest = Digester::default().finish();
        assert_eq!(digest.count, 0);
        assert_eq!(
            digest.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn the_sequence_number_does_not_change_the_digest() {
        let one =
            Record { timestamp: 5, sequence: 1, origin: "fo-1".into(), payload: b"x".to_vec() }
                .encode();
        let other =
            Record { timestamp: 5, sequence: 99, origin: "fo-1".into(), payload: b"x".to_vec() }
                .encode();
        let digest = |bytes: &[u8]| {
            let mut digester = Digester::default();
            digester.add(&Frame::parse(bytes).expect("valid"));
            digester.finish()
        };
        assert_eq!(digest(&one), digest(&other));
        let moved =
            Record { timestamp: 6, sequence: 1, origin: "fo-1".into(), payload: b"x".to_vec() }
                .encode();
        assert_ne!(digest(&one), digest(&moved));
    }
}
