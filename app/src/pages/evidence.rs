//! Where the footage of a failover period is: one row per channel, coloured by where each
//! stretch lives now, the failover and failback moments marked, zoomable from the whole period
//! down to fractions of a second, with every gap listed in seconds. The entry's page and its
//! printable report show the same picture.
//!
//! Times here are UTC, on the server's render and in the browser alike: an investigator hands
//! the figures on, and one zone for everyone keeps them comparable.

use crate::evidence::{ChannelEvidence, Place, Stretch, seconds_text};
use crate::model::Failover;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The picture's coordinates (its viewBox): channel names left, the plot right of them.
const LABEL_WIDTH: f64 = 130.0;
const PLOT_WIDTH: f64 = 860.0;
const ROW_HEIGHT: f64 = 22.0;
const AXIS_HEIGHT: f64 = 38.0;
/// The narrowest view a zoom reaches: a tenth of a second.
const MIN_SPAN_US: i64 = 100_000;

/// A view of the timeline, in microseconds since the epoch.
pub type View = (i64, i64);

fn us(time: &DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn time_of(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// The whole window the listings cover.
pub fn window(channels: &[ChannelEvidence]) -> Option<View> {
    let stretches = channels.iter().flat_map(|channel| channel.intervals.iter());
    let from = stretches.clone().map(|s| us(&s.from)).min()?;
    let to = stretches.map(|s| us(&s.to)).max()?;
    Some((from, to.max(from + 1)))
}

/// `view` zoomed by `factor` around its middle (below 1 zooms in), kept inside `whole`.
pub fn zoomed((from, to): View, factor: f64, whole: View) -> View {
    let middle = from + (to - from) / 2;
    let half = (((to - from) as f64 * factor / 2.0) as i64).max(MIN_SPAN_US / 2);
    clamped((middle - half, middle + half), whole)
}

/// `view` moved by `share` of its width (negative: earlier), kept inside `whole`.
pub fn panned((from, to): View, share: f64, whole: View) -> View {
    let by = ((to - from) as f64 * share) as i64;
    clamped((from + by, to + by), whole)
}

/// A view around one stretch, with as much on each side as it is long (at least half a second).
pub fn around(stretch: &Stretch, whole: View) -> View {
    let (from, to) = (us(&stretch.from), us(&stretch.to));
    let side = (to - from).max(500_000);
    clamped((from - side, to + side), whole)
}

fn clamped((from, to): View, (whole_from, whole_to): View) -> View {
    let span = (to - from).min(whole_to - whole_from);
    let from = from.clamp(whole_from, whole_to - span);
    (from, from + span)
}

/// Ticks about a sixth of the view apart, on round times.
fn ticks((from, to): View) -> (Vec<i64>, i64) {
    const STEPS: [i64; 22] = [
        1_000,
        2_000,
        5_000,
        10_000,
        20_000,
        50_000,
        100_000,
        200_000,
        500_000,
        1_000_000,
        2_000_000,
        5_000_000,
        10_000_000,
        15_000_000,
        30_000_000,
        60_000_000,
        120_000_000,
        300_000_000,
        600_000_000,
        1_800_000_000,
        3_600_000_000,
        21_600_000_000,
    ];
    let wanted = (to - from) / 6;
    let step = STEPS.iter().copied().find(|step| *step >= wanted).unwrap_or(86_400_000_000);
    let first = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    ((0..).map(|i| first + i * step).take_while(|tick| *tick <= to).take(12).collect(), step)
}

fn tick_label(micros: i64, step: i64) -> String {
    let format = if step < 1_000_000 { "%H:%M:%S%.3f" } else { "%H:%M:%S" };
    time_of(micros).format(format).to_string()
}

/// A moment in words, to the millisecond, UTC.
pub fn instant_text(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

/// The failover's moments to mark: (label, time).
pub fn marks(entry: &Failover) -> Vec<(&'static str, DateTime<Utc>)> {
    let mut marks = vec![("failover", entry.failover_started_at)];
    marks.extend(entry.failover_finished_at.map(|at| ("acting", at)));
    marks.extend(entry.failback_started_at.map(|at| ("failback", at)));
    marks.extend(entry.failback_finished_at.map(|at| ("back", at)));
    marks
}

/// The picture of `channels` over `view`.
#[component]
pub fn TimelinePicture(
    channels: Vec<ChannelEvidence>,
    marks: Vec<(&'static str, DateTime<Utc>)>,
    #[prop(into)] view: Signal<View>,
) -> impl IntoView {
    let rows = channels.len();
    let height = AXIS_HEIGHT + ROW_HEIGHT * rows as f64 + 4.0;
    let labels = channels
        .iter()
        .enumerate()
        .map(|(row, channel)| {
            let y = AXIS_HEIGHT + ROW_HEIGHT * row as f64 + ROW_HEIGHT * 0.68;
            view! {
                <text class="ev-channel" x="0" y=format!("{y:.1}")>
                    <title>{format!("{} ({})", channel.channel, channel.kind)}</title>
                    {channel.channel.clone()}
                </text>
            }
        })
        .collect_view();
    let bars = move || {
        let (from, to) = view.get();
        let span = (to - from).max(1) as f64;
        let x = move |micros: i64| {
            LABEL_WIDTH + (micros - from).clamp(0, to - from) as f64 / span * PLOT_WIDTH
        };
        let (tick_times, step) = ticks((from, to));
        let axis = tick_times
            .into_iter()
            .map(|tick| {
                let at = x(tick);
                view! {
                    <line class="ev-tick" x1=format!("{at:.1}") x2=format!("{at:.1}") y1="14" y2=format!("{:.1}", height - 4.0) />
                    <text class="ev-tick-label" x=format!("{at:.1}") y="11">{tick_label(tick, step)}</text>
                }
            })
            .collect_view();
        let stretches = channels
            .iter()
            .enumerate()
            .flat_map(|(row, channel)| {
                let y = AXIS_HEIGHT + ROW_HEIGHT * row as f64 + 3.0;
                let events = if channel.is_steady() { "" } else { " ev-events" };
                channel.intervals.iter().filter(move |s| us(&s.to) > from && us(&s.from) < to).map(
                    move |stretch| {
                        let (left, right) = (x(us(&stretch.from)), x(us(&stretch.to)));
                        // A gap of a few frames in a view of an hour is still seen.
                        let least = if stretch.place == Place::Missing { 1.5 } else { 0.0 };
                        let title = format!(
                            "{}: {}{} from {} to {} ({})",
                            channel.channel,
                            stretch.place.label(),
                            stretch.server.as_ref().map(|s| format!(" ({s})")).unwrap_or_default(),
                            instant_text(&stretch.from),
                            instant_text(&stretch.to),
                            seconds_text(stretch.seconds())
                        );
                        view! {
                            <rect
                                class=format!("ev-{}{events}", stretch.place.as_str())
                                data-where=stretch.place.as_str()
                                x=format!("{left:.2}")
                                y=format!("{y:.1}")
                                width=format!("{:.2}", (right - left).max(least))
                                height=format!("{:.1}", ROW_HEIGHT - 6.0)
                            >
                                <title>{title}</title>
                            </rect>
                        }
                    },
                )
            })
            .collect_view();
        let moments = marks
            .iter()
            .enumerate()
            .filter(|(_, (_, at))| us(at) >= from && us(at) <= to)
            .map(|(i, (label, at))| {
                let at_x = x(us(at));
                // Moments close together (failover started and performed) on two lines.
                let label_y = if i % 2 == 0 { 23 } else { 32 };
                view! {
                    <line class="ev-mark" x1=format!("{at_x:.1}") x2=format!("{at_x:.1}") y1="16" y2=format!("{:.1}", height) />
                    <text class="ev-mark-label" x=format!("{:.1}", at_x + 2.0) y=label_y>{*label}</text>
                }
            })
            .collect_view();
        view! { {axis} {stretches} {moments} }
    };
    view! {
        <svg
            class="ev-picture"
            role="img"
            aria-label="Where each channel's material lives over the failover period"
            viewBox=format!("0 0 {} {height:.0}", LABEL_WIDTH + PLOT_WIDTH + 10.0)
        >
            {labels}
            {bars}
        </svg>
    }
}

/// The colours' meaning.
#[component]
pub fn Legend() -> impl IntoView {
    view! {
        <ul class="ev-legend">
            {Place::ALL
                .into_iter()
                .map(|place| {
                    view! {
                        <li>
                            <span class=format!("ev-swatch ev-{}", place.as_str())></span>
                            {place.label()}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

/// Servers whose listing is missing from the picture.
#[component]
pub fn Unanswered(channels: Vec<ChannelEvidence>) -> impl IntoView {
    let mut seen: Vec<(String, String)> = Vec::new();
    for channel in &channels {
        for one in &channel.unanswered {
            if !seen.iter().any(|(server, _)| *server == one.server) {
                seen.push((one.server.clone(), one.reason.clone()));
            }
        }
    }
    seen.into_iter()
        .map(|(server, reason)| {
            view! {
                <p class="copy-error" role="status" data-testid="unanswered">
                    {format!(
                        "{server} did not answer ({reason}): what it holds is not shown, so a stretch marked missing may be on it."
                    )}
                </p>
            }
        })
        .collect_view()
}

/// Every gap of the steady channels (video, audio, metadata), channel by channel; an event
/// channel's blank may be a quiet spell, so it is drawn but not listed.
pub fn gap_rows(channels: &[ChannelEvidence]) -> Vec<(String, Stretch)> {
    channels
        .iter()
        .filter(|channel| channel.is_steady())
        .flat_map(|channel| channel.gaps().map(|gap| (channel.channel.clone(), gap.clone())))
        .collect()
}

/// How long each channel's material lives in each place, in seconds.
pub fn totals(channel: &ChannelEvidence) -> String {
    Place::ALL
        .into_iter()
        .filter_map(|place| {
            let seconds: f64 =
                channel.intervals.iter().filter(|s| s.place == place).map(Stretch::seconds).sum();
            (seconds > 0.0).then(|| format!("{}: {}", place.label(), seconds_text(seconds)))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zooming_stays_inside_the_period_and_stops_at_a_tenth_of_a_second() {
        let whole = (0, 60_000_000);
        assert_eq!(zoomed(whole, 0.5, whole), (15_000_000, 45_000_000));
        assert_eq!(zoomed(whole, 2.0, whole), whole);
        let mut view = whole;
        for _ in 0..40 {
            view = zoomed(view, 0.5, whole);
        }
        assert_eq!(view.1 - view.0, MIN_SPAN_US);
        assert_eq!(panned((0, 10), -0.5, (0, 100)), (0, 10));
        assert_eq!(panned((0, 10), 0.5, (0, 100)), (5, 15));
        assert_eq!(panned((90, 100), 0.5, (0, 100)), (90, 100));
    }

    #[test]
    fn ticks_fall_on_round_times() {
        let (ticks, step) = ticks((1_500_000, 7_400_000));
        assert_eq!(step, 1_000_000);
        assert_eq!(ticks.first(), Some(&2_000_000));
        assert_eq!(tick_label(2_000_000, step), "00:00:02");
        assert_eq!(tick_label(2_100_000, 100_000), "00:00:02.100");
    }
}
