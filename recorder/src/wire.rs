//! The record framing, the same on disk (segment files), in playback streams and in ingest
//! bodies, so that playback output can be ingested as it is.
//!
//! ```text
//! u32 LE  body length (bytes that follow the checksum)
//! u32 LE  CRC32C (Castagnoli) of the body
//! body:   i64 LE timestamp (µs since the Unix epoch, UTC)
//!         u64 LE sequence (per channel, per origin)
//!         u8     origin length (1..=255)
//!         origin (UTF-8: the name of the server that recorded the record)
//!         payload (the rest of the body)
//! ```
//! The length comes first so a reader can skip or buffer a record without parsing it; the
//! checksum is what tells a complete record from the torn tail a crash leaves behind.

use crate::time::Micros;
use std::io::Read;

/// Bytes before the body: length and checksum.
pub const HEADER_LEN: usize = 8;
/// Fixed part of the body: timestamp, sequence, origin length.
pub const BODY_FIXED_LEN: usize = 17;
/// The largest body accepted. Anything larger is treated as corruption (a torn or garbage length
/// field), never as a reason to allocate.
pub const MAX_BODY_LEN: usize = 64 * 1024 * 1024;
/// Media type of a stream of records.
pub const MEDIA_TYPE: &str = "application/vnd.standby.records";

pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// One record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub timestamp: Micros,
    pub sequence: u64,
    pub origin: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes end inside a record: what a crash mid-write leaves.
    #[error("the data ends inside a record")]
    Truncated,
    #[error("record length {0} is out of bounds")]
    BadLength(usize),
    #[error("record checksum does not match")]
    BadChecksum,
    #[error("record origin is empty or not UTF-8")]
    BadOrigin,
}

/// Appends the framed record to `out`.
pub fn encode_into(
    out: &mut Vec<u8>,
    timestamp: Micros,
    sequence: u64,
    origin: &str,
    payload: &[u8],
) {
    let origin_len = origin.len().min(255);
    let origin = &origin.as_bytes()[..origin_len];
    let body_len = BODY_FIXED_LEN + origin_len + payload.len();
    let start = out.len();
    out.reserve(HEADER_LEN + body_len);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&timestamp.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.push(origin_len as u8);
    out.extend_from_slice(origin);
    out.extend_from_slice(payload);
    let crc = crc32c(&out[start + HEADER_LEN..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, self.timestamp, self.sequence, &self.origin, &self.payload);
        out
    }
}

/// A view of one complete, checked frame (header and body).
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    bytes: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Checks a complete frame: `bytes` must be exactly one record.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FrameError> {
        let body_len = body_len(bytes)?;
        if bytes.len() < HEADER_LEN + body_len {
            return Err(FrameError::Truncated);
        }
        let bytes = &bytes[..HEADER_LEN + body_len];
        let stored = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if crc32c(&bytes[HEADER_LEN..]) != stored {
            return Err(FrameError::BadChecksum);
        }
        let frame = Frame { bytes };
        let origin_len = usize::from(bytes[HEADER_LEN + 16]);
        if origin_len == 0 || BODY_FIXED_LEN + origin_len > body_len {
            return Err(FrameError::BadOrigin);
        }
        std::str::from_utf8(frame.origin_bytes()).map_err(|_| FrameError::BadOrigin)?;
        Ok(frame)
    }

    /// A frame already checked by [`Frame::parse`] (e.g. by [`read_frame`]); skips the checksum.
    pub fn trusted(bytes: &'a [u8]) -> Self {
        Frame { bytes }
    }

    /// The whole frame, as stored and sent.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn timestamp(&self) -> Micros {
        let b = &self.bytes[HEADER_LEN..HEADER_LEN + 8];
        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    pub fn sequence(&self) -> u64 {
        let b = &self.bytes[HEADER_LEN + 8..HEADER_LEN + 16];
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    fn origin_bytes(&self) -> &'a [u8] {
        let len = usize::from(self.bytes[HEADER_LEN + 16]);
        &self.bytes[HEADER_LEN + BODY_FIXED_LEN..HEADER_LEN + BODY_FIXED_LEN + len]
    }

    /// The origin; checked to be UTF-8 by [`Frame::parse`].
    pub fn origin(&self) -> &'a str {
        std::str::from_utf8(self.origin_bytes()).unwrap_or_default()
    }

    pub fn payload(&self) -> &'a [u8] {
        let len = usize::from(self.bytes[HEADER_LEN + 16]);
        &self.bytes[HEADER_LEN + BODY_FIXED_LEN + len..]
    }

    pub fn to_record(&self) -> Record {
        Record {
            timestamp: self.timestamp(),
            sequence: self.sequence(),
            origin: self.origin().to_owned(),
            payload: self.payload().to_vec(),
        }
    }
}

/// The body length a header announces, checked against the bounds.
pub fn body_len(bytes: &[u8]) -> Result<usize, FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Truncated);
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if !(BODY_FIXED_LEN + 1..=MAX_BODY_LEN).contains(&len) {
        return Err(FrameError::BadLength(len));
    }
    Ok(len)
}

/// Reads the next frame from `reader` into `buf` (replacing its contents). `Ok(false)` means a
/// clean end exactly at a record boundary; a partial record is [`FrameError::Truncated`].
pub fn read_frame(reader: &mut impl Read, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
    buf.clear();
    buf.resize(HEADER_LEN, 0);
    let got = read_full(reader, &mut buf[..])?;
    if got == 0 {
        return Ok(false);
    }
    if got < HEADER_LEN {
        return Err(ReadError::Frame(FrameError::Truncated));
    }
    let body = body_len(buf)?;
    buf.resize(HEADER_LEN + body, 0);
    if read_full(reader, &mut buf[HEADER_LEN..])? < body {
        return Err(ReadError::Frame(FrameError::Truncated));
    }
    Frame::parse(buf)?;
    Ok(true)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Like `read_exact`, but reports how much it got instead of failing at end of file.
fn read_full(reader: &mut impl Read, mut buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while !buf.is_empty() {
        match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                buf = &mut buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Splits a byte stream arriving in arbitrary chunks (an HTTP body) into frames, holding at most
/// one chunk plus one incomplete record.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    pending: Vec<u8>,
    /// Start of the unread part of `pending`; compacted on the next push so that taking many
    /// small frames out of one chunk does not move the rest each time.
    start: usize,
    consumed: u64,
}

impl FrameDecoder {
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            self.pending.drain(..self.start);
            self.start = 0;
        }
        self.pending.extend_from_slice(chunk);
    }

    /// Offset in the stream of the first byte not yet returned as a frame.
    pub fn offset(&self) -> u64 {
        self.consumed
    }

    /// The next complete, checked frame, if the buffered bytes hold one.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let rest = &self.pending[self.start..];
        let body = match body_len(rest) {
            Ok(body) => body,
            Err(FrameError::Truncated) => return Ok(None),
            Err(e) => return Err(e),
        };
        if rest.len() < HEADER_LEN + body {
            return Ok(None);
        }
        let frame = Frame::parse(&rest[..HEADER_LEN + body])?;
        self.start += HEADER_LEN + body;
        self.consumed += (HEADER_LEN + body) as u64;
        Ok(Some(frame))
    }

    /// At the end of the stream: anything left over is a record cut short.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.start == self.pending.len() { Ok(()) } else { Err(FrameError::Truncated) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            timestamp: 1_700_000_000_000_001,
            sequence: 7,
            origin: "rec-1".into(),
            payload: b"frame".to_vec(),
        }
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn round_trips() {
        let bytes = sample().encode();
        let frame = Frame::parse(&bytes).expect("valid frame");
        assert_eq!(frame.to_record(), sample());
        assert_eq!(frame.bytes().len(), bytes.len());
        let mut buf = Vec::new();
        let mut reader = &bytes[..];
        assert!(read_frame(&mut reader, &mut buf).expect("frame"));
        assert!(!read_frame(&mut reader, &mut buf).expect("clean end"));
    }

    #[test]
    fn every_cut_of_a_frame_is_truncated_and_every_flip_is_caught() {
        let bytes = sample().encode();
        for cut in 1..bytes.len() {
            let mut reader = &bytes[..cut];
            let result = read_frame(&mut reader, &mut Vec::new());
            assert!(matches!(result, Err(ReadError::Frame(_))), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(Frame::parse(&bad).is_err(), "flip at {at}");
        }
    }

    #[test]
    fn decoder_splits_arbitrary_chunks() {
        let mut stream = sample().encode();
        let second = Record { sequence: 8, ..sample() };
        stream.extend(second.encode());
        let mut decoder = FrameDecoder::default();
        let mut frames = Vec::new();
        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
            while let Some(frame) = decoder.next_frame().expect("valid stream") {
                frames.push(frame.to_record());
            }
        }
        decoder.finish().expect("nothing left over");
        assert_eq!(frames, vec![sample(), second]);
        decoder.push(&sample().encode()[..5]);
        assert_eq!(decoder.finish(), Err(FrameError::Truncated));
    }
}
