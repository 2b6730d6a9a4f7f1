//! Synthetic material at realistic rates: what a camera, a microphone, a till, a video
//! analytics engine, a number-plate reader and an alarm panel would send.

use crate::time::Micros;
use agent_api::ChannelKind;
use agent_api::settings::ChannelSettings;
use std::sync::Arc;

/// A small, fast pseudo-random generator (xorshift64*): payloads need variety, not secrecy.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `low..high` (`low < high`).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low).max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Noise that video frames are cut from, so that producing megabits per second costs a copy,
/// not a random number per byte.
pub fn noise_pool() -> Arc<[u8]> {
    let mut rng = Rng::new(0x5EED);
    let mut pool = Vec::with_capacity(1 << 20);
    while pool.len() < 1 << 20 {
        pool.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    pool.into()
}

#[derive(Debug, Clone, Copy)]
pub struct VideoDefaults {
    pub frame_rate: f64,
    pub bitrate_kbps: u32,
}

/// Produces one channel's records: when the next one is due and what it holds.
#[derive(Debug)]
pub struct Generator {
    kind: ChannelKind,
    source: String,
    alarm_id: u32,
    frame_rate: f64,
    bitrate_kbps: u32,
    pub next_due: Micros,
    count: u64,
    rng: Rng,
    noise: Arc<[u8]>,
    alarm_active: bool,
}

const AUDIO_FRAME: Micros = 20_000;
/// A video frame every second is a key frame three times the mean size (a one-second GOP).
const KEY_FRAME_FACTOR: f64 = 3.0;

impl Generator {
    pub fn new(
        channel: &ChannelSettings,
        defaults: VideoDefaults,
        noise: Arc<[u8]>,
        now: Micros,
    ) -> Self {
        let seed = channel.id.bytes().fold(now as u64, |h, b| h.rotate_left(5) ^ u64::from(b));
        Generator {
            kind: channel.kind,
            source: channel.source.clone().unwrap_or_else(|| channel.id.clone()),
            alarm_id: channel.alarm_id.unwrap_or(0),
            frame_rate: channel.frame_rate.unwrap_or(defaults.frame_rate),
            bitrate_kbps: channel.bitrate_kbps.unwrap_or(defaults.bitrate_kbps),
            next_due: now,
            count: 0,
            rng: Rng::new(seed),
            noise,
            alarm_active: false,
        }
    }

    /// Microseconds from one record to the next.
    fn interval(&mut self) -> Micros {
        match self.kind {
            ChannelKind::Video => (1_000_000.0 / self.frame_rate).max(1.0) as Micros,
            ChannelKind::Audio => AUDIO_FRAME,
            ChannelKind::Metadata => 1_000_000,
            ChannelKind::Text => self.rng.range(2_000_000, 8_000_000) as Micros,
            ChannelKind::Anpr => self.rng.range(10_000_000, 40_000_000) as Micros,
            ChannelKind::Alarm => self.rng.range(30_000_000, 120_000_000) as Micros,
        }
    }

    /// Writes the payload of the record due now into `out` and schedules the next.
    pub fn produce(&mut self, timestamp: Micros, out: &mut Vec<u8>) {
        out.clear();
        match self.kind {
            ChannelKind::Video => self.video_frame(out),
            ChannelKind::Audio => self.audio_frame(out),
            ChannelKind::Metadata => self.metadata(timestamp, out),
            ChannelKind::Text => self.till_line(out),
            ChannelKind::Anpr => self.plate_read(out),
            ChannelKind::Alarm => self.alarm(out),
        }
        self.count += 1;
        self.next_due += self.interval();
    }

    fn video_frame(&mut self, out: &mut Vec<u8>) {
        let gop = self.frame_rate.round().max(1.0) as u64;
        let mean = f64::from(self.bitrate_kbps) * 1000.0 / 8.0 / self.frame_rate;
        let key = self.count.is_multiple_of(gop);
        let size = if gop == 1 {
            mean
        } else if key {
            mean * KEY_FRAME_FACTOR
        } else {
            mean * (gop as f64 - KEY_FRAME_FACTOR).max(0.1) / (gop - 1) as f64
        };
        let size = (size as usize).max(32);
        out.extend_from_slice(if key { b"SVIDI" } else { b"SVIDP" });
        out.extend_from_slice(&self.count.to_le_bytes());
        let mut remaining = size.saturating_sub(out.len());
        let mut at = self.rng.range(0, self.noise.len() as u64) as usize;
        while remaining > 0 {
            let take = remaining.min(self.noise.len() - at);
            out.extend_from_slice(&self.noise[at..at + take]);
            remaining -= take;
            at = 0;
        }
    }

    fn audio_frame(&mut self, out: &mut Vec<u8>) {
        // 20 ms of G.711 at 8 kHz: 160 bytes, 64 kbit/s.
        let at = self.rng.range(0, (self.noise.len() - 160) as u64) as usize;
        out.extend_from_slice(&self.noise[at..at + 160]);
    }

    fn metadata(&mut self, timestamp: Micros, out: &mut Vec<u8>) {
        let objects: Vec<serde_json::Value> = (0..self.rng.range(0, 4))
            .map(|_| {
                let class = ["person", "car", "bicycle", "bag"][self.rng.range(0, 4) as usize];
                serde_json::json!({
                    "class": class,
                    "confidence": round2(0.5 + self.rng.unit() / 2.0),
                    "box": [round2(self.rng.unit() * 0.8), round2(self.rng.unit() * 0.8), 0.1, 0.2],
                })
            })
            .collect();
        let value = serde_json::json!({ "source": self.source, "frame_time_us": timestamp, "objects": objects });
        write_json(out, &value);
    }

    fn till_line(&mut self, out: &mut Vec<u8>) {
        let items = ["Coffee", "Sandwich", "Newspaper", "Fuel 95", "Water 0.5 l", "Chewing gum"];
        let item = items[self.rng.range(0, items.len() as u64) as usize];
        let quantity = self.rng.range(1, 4);
        let cents = self.rng.range(90, 5_000);
        out.extend_from_slice(
            format!(
                "{} receipt {}: {quantity} x {item} {}.{:02} EUR",
                self.source,
                self.count + 1,
                cents / 100,
                cents % 100
            )
            .as_bytes(),
        );
    }

    fn plate_read(&mut self, out: &mut Vec<u8>) {
        let letters: String =
            (0..3).map(|_| char::from(b'A' + self.rng.range(0, 26) as u8)).collect();
        let plate = format!("{letters}-{}", self.rng.range(100, 1000));
        let country = ["FI", "SE", "EE", "NO"][self.rng.range(0, 4) as usize];
        let value = serde_json::json!({
            "plate": plate,
            "confidence": round2(0.6 + self.rng.unit() * 0.39),
            "source": self.source,
            "country": country,
        });
        write_json(out, &value);
    }

    fn alarm(&mut self, out: &mut Vec<u8>) {
        self.alarm_active = !self.alarm_active;
        let text = ["Door forced", "Motion in restricted area", "Tamper", "Glass break"]
            [self.alarm_id as usize % 4];
        let value = serde_json::json!({
            "alarm_id": self.alarm_id,
            "state": if self.alarm_active { "active" } else { "cleared" },
            "text": text,
        });
        write_json(out, &value);
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn write_json(out: &mut Vec<u8>, value: &serde_json::Value) {
    // Serialising a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_settings::default_set;

    #[test]
    fn video_keeps_its_mean_bit_rate() {
        let bundle = default_set();
        let Some(camera) = bundle.channel("video-1") else { panic!("default set has video-1") };
        let defaults = VideoDefaults { frame_rate: 10.0, bitrate_kbps: 2000 };
        let mut generator = Generator::new(camera, defaults, noise_pool(), 0);
        let mut out = Vec::new();
        let mut total = 0;
        for _ in 0..100 {
            generator.produce(generator.next_due, &mut out);
            total += out.len();
        }
        // 10 seconds at 2 Mbit/s = 2.5 MB, within a percent.
        assert!((2_475_000..=2_525_000).contains(&total), "{total} bytes");
        assert_eq!(generator.next_due, 10_000_000);
    }

    #[test]
    fn events_are_json_the_searches_understand() {
        let bundle = default_set();
        let defaults = VideoDefaults { frame_rate: 10.0, bitrate_kbps: 2000 };
        let mut out = Vec::new();
        for id in ["anpr-1", "alarm-2", "metadata-1"] {
            let Some(channel) = bundle.channel(id) else { panic!("default set has {id}") };
            let mut generator = Generator::new(channel, defaults, noise_pool(), 0);
            generator.produce(0, &mut out);
            let value: serde_json::Value = serde_json::from_slice(&out).expect("JSON payload");
            assert!(value.is_object());
        }
    }
}
