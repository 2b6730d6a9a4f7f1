//! Benchmark (issue 7): material copying, ~1 GiB of video from a failover server to a recorder.
//!
//! Two real `standby-recorder` agents on loopback: "fo-1" (the source) holds ~1 GiB of video-1
//! records of origin fo-1 in a range of 2001; "rec-1" (the target) is told to copy that period
//! with `POST /api/v1/copy-tasks` and the bench follows the task until it is `done`. It measures,
//! in one run:
//!
//! - copy throughput, until video-1 is copied and until the task is `done` (which adds the digest
//!   verification on both sides), against a plain `curl` download of the same playback URL (same
//!   range, same origin) from the same source into a file, once before and once after the copy;
//!   the ratio copy/curl (goal: at least 0.8). A download that stores what it gets is the
//!   yardstick because a copy must store it too; `curl -o /dev/null` (network and playback
//!   alone) is reported beside it;
//! - memory: VmRSS of the target (and the source) sampled every 50 ms during the copy, and the
//!   target's VmHWM before and after. The goal is flat: a small constant over the baseline, not
//!   growing with the volume copied.
//! - where the time goes, with same-run yardsticks: time per slice, verification, a full-period
//!   digest on each side, the fill's ingest rate, and the disk ceiling (the same bytes written
//!   to a file with an `fdatasync` per slice, as the target stores them; curl to /dev/null
//!   writes nothing).
//!
//! Benchmarks report figures; they never assert on time. Timings on a small shared machine are
//! noisy, so only ratios taken within the same run are meaningful.
//!
//! Run: `cargo bench -p recorder --bench copy` (e.g. with `CARGO_TARGET_DIR=/work/target-bench`
//! to keep apart from debug builds). `STANDBY_BENCH_QUICK=1` for a ~128 MiB smoke run;
//! `STANDBY_BENCH_COPY_MB=N` for N MiB.

use recorder::wire::{MEDIA_TYPE, Record};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use testkit::Agent;
use testkit::agent::{self as agent, LIGHT, Y2001};
use testkit::bench::{self, table};
use testkit::binaries::Binary;

/// 100 kB video frames at 25 per second (20 Mbit/s): ~430 s of period per GiB.
const RECORD_BYTES: usize = 100_000;
const STEP: i64 = 40_000;
/// Records per ingest body (~40 MB), generated on the fly so the bench never holds the whole
/// volume.
const CHUNK_RECORDS: usize = 400;
const CHANNEL: &str = "video-1";
const SOURCE: &str = "fo-1";
/// The agents' default `--copy-slice` (10 s): 250 records, ~25 MB, per slice.
const SLICE: i64 = 10_000_000;
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Task polls: often enough to see the moment video-1 is done before verification ends, cheap
/// enough (a small JSON answer) not to slow the target down.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// A bound on every wait, far above any expected copy time of a few GiB.
const DEADLINE: Duration = Duration::from_secs(30 * 60);
const MIB: f64 = 1024.0 * 1024.0;

#[tokio::main]
async fn main() {
    bench::require(&[Binary::Agent]);
    let size_mib = size_mib();
    machine_note(size_mib);
    let dir = tempfile::tempdir().expect("temp dir");
    // Both as recorders (default channel video-1). Their live recording is at the current time,
    // far from the range of 2001. No retention by size, so a large STANDBY_BENCH_COPY_MB run
    // keeps everything.
    let args: Vec<&str> = LIGHT.iter().copied().chain(["--retention-max-bytes", "0"]).collect();
    let fo = Agent::start(SOURCE, "recorder", &dir.path().join(SOURCE), &args).await;
    let rec = Agent::start("rec-1", "recorder", &dir.path().join("rec-1"), &args).await;

    let (period, fill_ingest) = fill(&fo, size_mib).await;
    let url = fo.url(&format!(
        "/channels/{CHANNEL}/playback?{}",
        agent::query(period.from, period.to, Some(SOURCE))
    ));
    let download = dir.path().join("download.bin");
    let null = std::path::Path::new("/dev/null");
    let null_before = curl(&url, &fo.secret, null).await;
    println!("curl to /dev/null before the copy: {}", null_before.describe());
    let curl_before = curl(&url, &fo.secret, &download).await;
    println!("curl to a file before the copy: {}", curl_before.describe());

    let (copy, memory) = copy_watching_memory(&rec, &fo, &period).await;

    let curl_after = curl(&url, &fo.secret, &download).await;
    println!("curl to a file after the copy: {}", curl_after.describe());
    let null_after = curl(&url, &fo.secret, null).await;
    println!("curl to /dev/null after the copy: {}", null_after.describe());
    let digests = time_digests(&fo, &rec, &period).await;
    let ceiling = write_ceiling(dir.path(), curl_before.bytes);
    println!("write ceiling: {}", ceiling.describe());

    let references = References { fill_ingest, ceiling, digests, null: [null_before, null_after] };
    report(size_mib, &period, [curl_before, curl_after], &copy, &memory, &references);
}

/// MiB to copy: `STANDBY_BENCH_COPY_MB`, else 128 for a quick run, else 1024.
fn size_mib() -> u64 {
    std::env::var("STANDBY_BENCH_COPY_MB")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&mib| mib > 0)
        .unwrap_or(if bench::quick() { 128 } else { 1024 })
}

fn machine_note(size_mib: u64) {
    println!("copy bench: {size_mib} MiB of {CHANNEL}, {SOURCE} -> rec-1, both on this machine");
    bench::machine_note();
    println!("all figures are from this one run: compare ratios, not absolute timings");
}

/// The copied period: `[from, to)` holds every record.
struct Period {
    from: i64,
    to: i64,
    records: usize,
    payload_bytes: u64,
}

/// Ingests ~`size_mib` MiB of video-1 records of origin fo-1 into the source, from Y2001 on.
/// Returns the period and how long the ingest requests took (without generating the bodies):
/// the same ingest code the copy feeds on the target, for reference.
async fn fill(fo: &Agent, size_mib: u64) -> (Period, Transfer) {
    let records = (size_mib as usize * 1024 * 1024).div_ceil(RECORD_BYTES);
    let mut ingest = Transfer { bytes: 0, seconds: 0.0 };
    for first in (0..records).step_by(CHUNK_RECORDS) {
        let count = CHUNK_RECORDS.min(records - first);
        let body = chunk(first, count);
        ingest.bytes += body.len() as u64;
        let started = Instant::now();
        let (status, outcome) =
            fo.post_bytes(&format!("/channels/{CHANNEL}/records"), MEDIA_TYPE, body).await;
        ingest.seconds += started.elapsed().as_secs_f64();
        assert_eq!(status, 200, "ingest into {SOURCE}: {outcome}");
        assert_eq!(outcome["stored"], count, "ingest into {SOURCE}: {outcome}");
    }
    println!(
        "filled {SOURCE}/{CHANNEL}: {records} records of {RECORD_BYTES} B; ingest {}",
        ingest.describe()
    );
    let period = Period {
        from: Y2001,
        to: Y2001 + records as i64 * STEP,
        records,
        payload_bytes: (records * RECORD_BYTES) as u64,
    };
    (period, ingest)
}

/// Records `first..first + count` of the fill as one ingest body: 100 kB payloads (a pattern
/// that differs per record), sequence numbers going on across bodies as one camera's would.
fn chunk(first: usize, count: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(count * (RECORD_BYTES + 64));
    for index in first..first + count {
        let timestamp = Y2001 + index as i64 * STEP;
        let payload = (0..RECORD_BYTES).map(|j| (j as i64 * 7 + timestamp) as u8).collect();
        let record =
            Record { timestamp, sequence: index as u64 + 1, origin: SOURCE.into(), payload };
        body.extend_from_slice(&record.encode());
    }
    body
}

/// The ceiling of any copy on this disk in this run: `bytes` written to a new file the way the
/// target stores a copy (100 kB writes, `fdatasync` after every slice's worth), then removed.
/// Taken after the copy, so it does not warm the page cache for it.
fn write_ceiling(dir: &std::path::Path, bytes: u64) -> Transfer {
    use std::io::Write;
    let path = dir.join("write-ceiling.bin");
    let mut file = std::fs::File::create(&path).expect("create the write-ceiling file");
    let record: Vec<u8> = (0..RECORD_BYTES).map(|i| (i * 131 % 251) as u8).collect();
    let per_slice = (SLICE / STEP) as u64;
    let started = Instant::now();
    let mut written = 0;
    for index in 1..=bytes.div_ceil(RECORD_BYTES as u64) {
        file.write_all(&record).expect("write the write-ceiling file");
        written += RECORD_BYTES as u64;
        if index % per_slice == 0 {
            file.sync_data().expect("fdatasync the write-ceiling file");
        }
    }
    file.sync_data().expect("fdatasync the write-ceiling file");
    let seconds = started.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path).expect("remove the write-ceiling file");
    Transfer { bytes: written, seconds }
}

/// Bytes moved in a time: a curl download, the fill's ingest, the write ceiling.
struct Transfer {
    bytes: u64,
    seconds: f64,
}

impl Transfer {
    fn rate(&self) -> f64 {
        self.bytes as f64 / MIB / self.seconds
    }

    fn describe(&self) -> String {
        format!("{} bytes in {:.3} s = {:.0} MiB/s", self.bytes, self.seconds, self.rate())
    }
}

/// `curl -s -o SINK` of `url`; its own `time_total`, so process start-up is not counted. A file
/// sink is removed afterwards, so every download writes new pages as the copy does.
async fn curl(url: &str, secret: &str, sink: &std::path::Path) -> Transfer {
    let output = tokio::process::Command::new("/usr/bin/curl")
        .args(["-s", "-H", &format!("Authorization: Bearer {secret}"), "-o"])
        .arg(sink)
        .args(["-w", "%{http_code} %{size_download} %{time_total}", url])
        .output()
        .await
        .expect("run /usr/bin/curl");
    if sink != std::path::Path::new("/dev/null") {
        std::fs::remove_file(sink).expect("remove the downloaded file");
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields[..] {
        ["200", bytes, seconds] => Transfer {
            bytes: bytes.parse().expect("curl's size_download"),
            seconds: seconds.parse().expect("curl's time_total"),
        },
        _ => panic!("curl of {url} failed: {text:?} (exit {:?})", output.status),
    }
}

/// Runs the copy while sampling both agents' VmRSS.
async fn copy_watching_memory(rec: &Agent, fo: &Agent, period: &Period) -> (Copy, Memory) {
    let rec_hwm_before = status_kib(rec.pid(), "VmHWM");
    let rec_baseline = status_kib(rec.pid(), "VmRSS");
    let fo_baseline = status_kib(fo.pid(), "VmRSS");
    let rec_sampler = Sampler::start(rec.pid());
    let fo_sampler = Sampler::start(fo.pid());
    let copy = copy(rec, fo, period).await;
    let memory = Memory {
        rec_baseline,
        rec_hwm_before,
        rec_hwm_after: status_kib(rec.pid(), "VmHWM"),
        rec_samples: rec_sampler.stop(),
        fo_baseline,
        fo_samples: fo_sampler.stop(),
        copied_after: copy.copied_wall,
    };
    (copy, memory)
}

/// The copy's durations, from the agent's own timestamps of the task (`created_at` to the
/// `updated_at` of the change) and from the bench's clock (POST to the poll that saw it).
struct Copy {
    copied: Duration,
    done: Duration,
    copied_wall: Duration,
    done_wall: Duration,
    slices: u64,
    task: Value,
}

async fn copy(rec: &Agent, fo: &Agent, period: &Period) -> Copy {
    let request = json!({
        "failover_id": 7,
        "source": agent::granted_source(fo, "rec-1", period.from, period.to),
        "recorder": "rec-1",
        "from": agent::time(period.from),
        "to": agent::time(period.to),
        "channels": [{ "id": CHANNEL, "kind": "video" }],
    });
    let posted = Instant::now();
    let (status, task) = rec.send_json(reqwest::Method::POST, "/copy-tasks", &request).await;
    assert_eq!(status, 201, "start the copy: {task}");
    let created = instant(&task["created_at"]);
    let path = format!("/copy-tasks/{}", task["id"]);
    let to = agent::time(period.to);
    let mut copied: Option<(Duration, Duration)> = None;
    loop {
        let (status, task) = rec.get(&path).await;
        assert_eq!(status, 200, "copy task: {task}");
        assert_ne!(task["status"], "failed", "the copy failed: {task}");
        let video = &task["channels"][0];
        let at = || (since(created, &task["updated_at"]), posted.elapsed());
        // Until verification ends, `updated_at` is the moment video-1 was marked done.
        if copied.is_none() && (video["status"] == "done" || video["copied_until"] == to.as_str()) {
            copied = Some(at());
        }
        if task["status"] == "done" {
            let (done, done_wall) = at();
            let (copied, copied_wall) = copied.expect("video-1 is done when the task is");
            let slices = ((period.to - period.from) as u64).div_ceil(SLICE as u64);
            return Copy { copied, done, copied_wall, done_wall, slices, task };
        }
        assert!(posted.elapsed() < DEADLINE, "timed out waiting for the copy: {task}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

fn instant(value: &Value) -> i64 {
    recorder::time::parse_instant(value.as_str().expect("a time in the task"))
        .expect("an RFC 3339 time")
}

fn since(start: i64, value: &Value) -> Duration {
    Duration::from_micros((instant(value) - start).max(0) as u64)
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// VmRSS of a process every [`SAMPLE_EVERY`], on a thread of its own so the async polling of
/// the task never delays a sample.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Duration, u64)>>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push((started.elapsed(), status_kib(pid, "VmRSS")));
                std::thread::sleep(SAMPLE_EVERY);
            }
            samples
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> Vec<(Duration, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the RSS sampler thread")
    }
}

/// What the memory figures are made of.
struct Memory {
    rec_baseline: u64,
    rec_hwm_before: u64,
    rec_hwm_after: u64,
    rec_samples: Vec<(Duration, u64)>,
    fo_baseline: u64,
    fo_samples: Vec<(Duration, u64)>,
    copied_after: Duration,
}

impl Memory {
    /// Peak VmRSS among the samples in `[from, to)` of the copy's time.
    fn peak(samples: &[(Duration, u64)], from: Duration, to: Duration) -> u64 {
        samples
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|&(_, kib)| kib)
            .max()
            .unwrap_or(0)
    }

    fn rec_peak(&self) -> u64 {
        Self::peak(&self.rec_samples, Duration::ZERO, Duration::MAX)
    }

    fn fo_peak(&self) -> u64 {
        Self::peak(&self.fo_samples, Duration::ZERO, Duration::MAX)
    }

    /// The target's peak in the first and in the second half of the data copying: equal
    /// when memory stays flat, the second higher when it grows with the volume.
    fn halves(&self) -> (u64, u64) {
        let half = self.copied_after / 2;
        (
            Self::peak(&self.rec_samples, Duration::ZERO, half),
            Self::peak(&self.rec_samples, half, self.copied_after),
        )
    }
}

/// How long a full-period digest takes on each side: the work verification adds to the copy.
struct Digests {
    source: Duration,
    target: Duration,
    equal: bool,
}

async fn time_digests(fo: &Agent, rec: &Agent, period: &Period) -> Digests {
    let started = Instant::now();
    let theirs = agent::digest(fo, CHANNEL, period.from, period.to, Some(SOURCE)).await;
    let source = started.elapsed();
    let started = Instant::now();
    let ours = agent::digest(rec, CHANNEL, period.from, period.to, Some(SOURCE)).await;
    let target = started.elapsed();
    assert_eq!(theirs["count"], period.records, "{SOURCE} holds every record: {theirs}");
    Digests { source, target, equal: theirs == ours }
}

/// Same-run yardsticks for where the copy's time goes.
struct References {
    /// The fill's ingest requests into the source: the ingest code the copy feeds on the target.
    fill_ingest: Transfer,
    /// The same bytes written to a file with an `fdatasync` per slice.
    ceiling: Transfer,
    digests: Digests,
    /// curl to /dev/null before and after the copy.
    null: [Transfer; 2],
}

/// The throughputs every table and figure line shares.
struct Rates {
    stream: u64,
    curl: f64,
    /// curl to /dev/null: network and playback alone.
    null: f64,
    copied: f64,
    done: f64,
}

impl Rates {
    fn of(curls: &[Transfer; 2], null: &[Transfer; 2], copy: &Copy) -> Rates {
        let stream = curls[0].bytes;
        Rates {
            stream,
            curl: (curls[0].rate() + curls[1].rate()) / 2.0,
            null: (null[0].rate() + null[1].rate()) / 2.0,
            copied: stream as f64 / MIB / copy.copied.as_secs_f64(),
            done: stream as f64 / MIB / copy.done.as_secs_f64(),
        }
    }
}

fn report(
    size_mib: u64,
    period: &Period,
    curls: [Transfer; 2],
    copy: &Copy,
    memory: &Memory,
    references: &References,
) {
    let rates = Rates::of(&curls, &references.null, copy);
    println!(
        "\nperiod: {} records, {} payload bytes, {} bytes of playback stream, {} slices of 10 s; \
         task {}, video-1 bytes {}, digests equal after the copy: {}",
        period.records,
        period.payload_bytes,
        rates.stream,
        copy.slices,
        copy.task["status"],
        copy.task["channels"][0]["bytes"],
        references.digests.equal
    );
    throughput_table(size_mib, &curls, copy, &rates);
    time_table(copy, references);
    memory_table(memory);
    figure_lines(size_mib, &curls, copy, &rates, memory, references);
}

fn throughput_table(size_mib: u64, curls: &[Transfer; 2], copy: &Copy, rates: &Rates) {
    let curl_mean_seconds = rates.stream as f64 / MIB / rates.curl;
    table(
        &format!("Material copy of {size_mib} MiB, {SOURCE} -> rec-1 (one run)"),
        &["measure", "seconds", "MiB/s", "vs curl"],
        &[
            row("curl to a file, before the copy", curls[0].seconds, curls[0].rate(), rates.curl),
            row("curl to a file, after the copy", curls[1].seconds, curls[1].rate(), rates.curl),
            row("curl to a file, mean", curl_mean_seconds, rates.curl, rates.curl),
            row(
                "curl to /dev/null, mean",
                rates.stream as f64 / MIB / rates.null,
                rates.null,
                rates.curl,
            ),
            row("copy, until video-1 copied", seconds(copy.copied), rates.copied, rates.curl),
            row("copy, until task done (verified)", seconds(copy.done), rates.done, rates.curl),
        ],
    );
    println!(
        "(copy times from the task's created_at/updated_at; bench clock, POST to the poll that \
         saw it: copied {:.3} s, done {:.3} s)",
        seconds(copy.copied_wall),
        seconds(copy.done_wall)
    );
}

fn time_table(copy: &Copy, references: &References) {
    let digests = &references.digests;
    let rate = |transfer: &Transfer| format!("{:.0} MiB/s", transfer.rate());
    table(
        "Where the copy's time goes",
        &["measure", "value"],
        &[
            vec!["slices".into(), copy.slices.to_string()],
            vec![
                "mean time per slice".into(),
                format!("{:.1} ms", seconds(copy.copied) * 1000.0 / copy.slices as f64),
            ],
            vec![
                "verification (task done - copied)".into(),
                format!("{:.3} s", seconds(copy.done - copy.copied)),
            ],
            vec![
                "full-period digest on the source".into(),
                format!("{:.3} s", seconds(digests.source)),
            ],
            vec![
                "full-period digest on the target".into(),
                format!("{:.3} s", seconds(digests.target)),
            ],
            vec![
                "ingest into the source (fill, ~40 MB bodies)".into(),
                rate(&references.fill_ingest),
            ],
            vec![
                "write + fdatasync per slice, same bytes (disk ceiling)".into(),
                rate(&references.ceiling),
            ],
        ],
    );
}

fn memory_table(memory: &Memory) {
    let (rec_peak, fo_peak) = (memory.rec_peak(), memory.fo_peak());
    table(
        "Memory during the copy (VmRSS sampled every 50 ms; MiB)",
        &["agent", "baseline", "peak", "peak - baseline", "VmHWM before", "VmHWM after"],
        &[
            vec![
                "target rec-1".into(),
                mib(memory.rec_baseline),
                mib(rec_peak),
                mib(rec_peak.saturating_sub(memory.rec_baseline)),
                mib(memory.rec_hwm_before),
                mib(memory.rec_hwm_after),
            ],
            vec![
                "source fo-1".into(),
                mib(memory.fo_baseline),
                mib(fo_peak),
                mib(fo_peak.saturating_sub(memory.fo_baseline)),
                "-".into(),
                "-".into(),
            ],
        ],
    );
    let (first_half, second_half) = memory.halves();
    println!(
        "target peak in the first / second half of the data copying: {} / {} MiB ({} samples)",
        mib(first_half),
        mib(second_half),
        memory.rec_samples.len()
    );
}

/// One `name: value` line per figure, to paste into the README.
fn figure_lines(
    size_mib: u64,
    curls: &[Transfer; 2],
    copy: &Copy,
    rates: &Rates,
    memory: &Memory,
    references: &References,
) {
    let (rec_peak, fo_peak) = (memory.rec_peak(), memory.fo_peak());
    let figures = [
        ("copy.size", format!("{size_mib} MiB ({} bytes of playback stream)", rates.stream)),
        ("copy.curl_before", format!("{:.0} MiB/s", curls[0].rate())),
        ("copy.curl_after", format!("{:.0} MiB/s", curls[1].rate())),
        ("copy.curl_mean", format!("{:.0} MiB/s (to a file)", rates.curl)),
        ("copy.curl_null_mean", format!("{:.0} MiB/s (to /dev/null)", rates.null)),
        (
            "copy.ratio_null",
            format!("{:.2} (copy/curl to /dev/null, until copied)", rates.copied / rates.null),
        ),
        ("copy.copy_rate", format!("{:.0} MiB/s (until copied)", rates.copied)),
        ("copy.copy_rate_verified", format!("{:.0} MiB/s (until done)", rates.done)),
        (
            "copy.ratio",
            format!("{:.2} (copy/curl, until copied; goal >= 0.8)", rates.copied / rates.curl),
        ),
        ("copy.ratio_verified", format!("{:.2} (copy/curl, until done)", rates.done / rates.curl)),
        (
            "copy.ratio_to_disk",
            format!(
                "{:.2} (copy/disk ceiling {:.0} MiB/s, until copied)",
                rates.copied / references.ceiling.rate(),
                references.ceiling.rate()
            ),
        ),
        ("copy.time_copied", format!("{:.3} s", seconds(copy.copied))),
        ("copy.time_done", format!("{:.3} s", seconds(copy.done))),
        ("copy.rss_target_baseline", format!("{} MiB", mib(memory.rec_baseline))),
        ("copy.rss_target_peak", format!("{} MiB", mib(rec_peak))),
        (
            "copy.rss_target_delta",
            format!("{} MiB", mib(rec_peak.saturating_sub(memory.rec_baseline))),
        ),
        (
            "copy.hwm_target",
            format!("{} -> {} MiB", mib(memory.rec_hwm_before), mib(memory.rec_hwm_after)),
        ),
        ("copy.rss_source_baseline", format!("{} MiB", mib(memory.fo_baseline))),
        ("copy.rss_source_peak", format!("{} MiB", mib(fo_peak))),
        (
            "copy.rss_source_delta",
            format!("{} MiB", mib(fo_peak.saturating_sub(memory.fo_baseline))),
        ),
    ];
    println!("\nfigures:");
    for (name, value) in figures {
        println!("{name}: {value}");
    }
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn row(what: &str, seconds: f64, rate: f64, curl_rate: f64) -> Vec<String> {
    vec![
        what.into(),
        format!("{seconds:.3}"),
        format!("{rate:.0}"),
        format!("{:.2}", rate / curl_rate),
    ]
}
