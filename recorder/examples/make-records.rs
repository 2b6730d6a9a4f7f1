//! Writes a stream of framed records to stdout (the ingest format), for benchmarks:
//! `make-records ORIGIN START_US COUNT SIZE [STEP_US]`.

use recorder::wire;
use std::io::Write;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [origin, start, count, size, rest @ ..] => (|| {
            let step = match rest.first() {
                Some(step) => step.parse().ok()?,
                None => 100_000i64,
            };
            Some((
                origin.clone(),
                start.parse::<i64>().ok()?,
                count.parse::<u64>().ok()?,
                size.parse::<usize>().ok()?,
                step,
            ))
        })(),
        _ => None,
    };
    let Some((origin, start, count, size, step)) = parsed else {
        eprintln!("usage: make-records ORIGIN START_US COUNT SIZE [STEP_US]");
        return std::process::ExitCode::from(2);
    };
    let mut payload: Vec<u8> = (0..size).map(|i| (i * 131 % 251) as u8).collect();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut frame = Vec::new();
    for i in 0..count {
        // Vary the payload a little so records differ (their natural keys must).
        payload[..8.min(size)].copy_from_slice(&i.to_le_bytes()[..8.min(size)]);
        frame.clear();
        wire::encode_into(&mut frame, start + i as i64 * step, i + 1, &origin, &payload);
        if out.write_all(&frame).is_err() {
            return std::process::ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
