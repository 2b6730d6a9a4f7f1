//! One failover log entry as an incident: a timeline, material copying per channel, and what
//! happened on the way (refusals and errors included), with who did what.

use crate::evidence::{ChannelEvidence, Stretch, seconds_text};
use crate::live::use_live;
use crate::model::{
    ChannelCopy, CopyProgress, CopyStatus, Failover, FailoverDetail, RESTORED, SUPERSEDED,
    SystemEvent,
};
use crate::page_data::PageData;
use crate::pages::evidence::{self, View};
use crate::server_fns::{load_failover, load_failover_coverage};
use crate::time::{LocalTime, human_duration, use_clock};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// Seconds between two askings of the timeline while the failover or its copy goes on.
const COVERAGE_EVERY_S: i64 = 5;

#[component]
pub fn FailoverDetailPage() -> impl IntoView {
    let live = use_live();
    let params = use_params_map();
    let id = move || params.with(|params| params.get("id").and_then(|id| id.parse::<i64>().ok()));
    // This entry's own notifications (its copy progress among them) load it again.
    let changes = live.changes_of(move |event| {
        matches!(event, SystemEvent::FailoverChanged { failover } if Some(failover.id) == id())
    });
    let detail = PageData::new(
        move || (id(), changes.get()),
        |(id, _)| async move {
            match id {
                Some(id) => load_failover(id).await,
                None => Err(crate::failure::Failure::not_found("This failover log entry")),
            }
        },
    );
    // The timeline is asked of the agents again every few seconds while the period grows or
    // its copy moves stretches to the recorder, not at every change of the entry (a copy reports
    // progress every second, and each asking reads every channel's headers on two servers). The
    // clock ticks only once the page is hydrated, so the server's render and the browser's agree.
    let moving = RwSignal::new(false);
    let clock = use_clock();
    let coverage = PageData::new(
        move || {
            let tick = if moving.get() { clock.now().timestamp() / COVERAGE_EVERY_S } else { 0 };
            (id(), tick)
        },
        |(id, _)| async move {
            match id {
                Some(id) => load_failover_coverage(id).await,
                None => Err(crate::failure::Failure::not_found("This failover log entry")),
            }
        },
    );
    let zoom = RwSignal::new(None::<View>);
    view! {
        <section class="page failover-detail">
            <p><A href="/failovers">"← Failover log"</A></p>
            {detail
                .view(
                    "Loading…",
                    move |detail| {
                        let entry = &detail.failover;
                        let is_moving = entry.status.is_active()
                            || matches!(entry.copy.status, CopyStatus::Queued | CopyStatus::Copying);
                        Effect::new(move |_| moving.set(is_moving));
                        view! { <Incident detail coverage zoom /> }
                    },
                )}
        </section>
    }
}

#[component]
fn Incident(
    detail: FailoverDetail,
    coverage: PageData<Vec<ChannelEvidence>>,
    zoom: RwSignal<Option<View>>,
) -> impl IntoView {
    let entry = detail.failover.clone();
    let title = format!(
        "Failover of {}{}",
        entry.recorder.name,
        entry
            .failover_server
            .as_ref()
            .map(|server| format!(" to {}", server.name))
            .unwrap_or_default()
    );
    view! {
        <h1>{title}</h1>
        <p>
            <span class=format!("status status-{}", entry.status.as_str())>{entry.status.label()}</span>
            {entry.error.clone().map(|error| view! { <span class="entry-error">" " {error}</span> })}
        </p>
        <Timeline entry=entry.clone() />
        <h2>"Where the footage is"</h2>
        <Evidence entry=entry.clone() coverage zoom />
        <h2>"Material copying"</h2>
        <Copying entry=entry.clone() />
        <h2>"What happened"</h2>
        <ol class="notes">
            {detail
                .notes
                .into_iter()
                .map(|note| {
                    view! {
                        <li class=format!("note note-{}", note.level) data-code=note.code.clone()>
                            <LocalTime at=Some(note.at) />
                            " "
                            <span class="note-level">{note.level.to_uppercase()}</span>
                            " "
                            {note.message}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// The evidence timeline with its zoom, the gaps and the ways to take it away.
#[component]
fn Evidence(
    entry: Failover,
    coverage: PageData<Vec<ChannelEvidence>>,
    zoom: RwSignal<Option<View>>,
) -> impl IntoView {
    let id = entry.id;
    let marks = evidence::marks(&entry);
    view! {
        <div class="evidence" data-testid="evidence">
            {coverage
                .view(
                    "Asking the recorder and the failover servers what they hold…",
                    move |channels| {
                        let Some(whole) = evidence::window(&channels) else {
                            return view! { <p class="muted">"The recorder has no channels."</p> }
                                .into_any();
                        };
                        let view = Signal::derive(move || {
                            zoom.get().map_or(whole, |view| evidence::panned(view, 0.0, whole))
                        });
                        let set = move |next: View| zoom.set(Some(next));
                        let gaps = evidence::gap_rows(&channels);
                        view! {
                            <div class="ev-controls" role="group" aria-label="Zoom">
                                <button type="button" on:click=move |_| zoom.set(None)>"Whole period"</button>
                                <button type="button" on:click=move |_| set(evidence::zoomed(view.get(), 0.5, whole))>"Zoom in"</button>
                                <button type="button" on:click=move |_| set(evidence::zoomed(view.get(), 2.0, whole))>"Zoom out"</button>
                                <button type="button" on:click=move |_| set(evidence::panned(view.get(), -0.5, whole))>"◀ Earlier"</button>
                                <button type="button" on:click=move |_| set(evidence::panned(view.get(), 0.5, whole))>"Later ▶"</button>
                                <span class="muted" data-testid="ev-span">
                                    {move || {
                                        let (from, to) = view.get();
                                        format!(" Showing {} (UTC)", seconds_text((to - from) as f64 / 1e6))
                                    }}
                                </span>
                            </div>
                            <evidence::TimelinePicture channels=channels.clone() marks=marks.clone() view />
                            <evidence::Legend />
                            <evidence::Unanswered channels=channels.clone() />
                            <GapList gaps whole zoom />
                            <p class="muted">
                                "Text, ANPR and alarm channels record events, not streams: a blank there (drawn paler) may be a quiet spell rather than a loss, so it is not listed as a gap."
                            </p>
                            <p>
                                <a href=format!("/api/v1/failovers/{id}/coverage.csv") download>"Download as CSV"</a>
                                " · "
                                <a href=format!("/failovers/{id}/report") rel="external">"Printable report"</a>
                            </p>
                        }
                            .into_any()
                    },
                )}
        </div>
    }
}

/// Every gap in seconds; "Show" zooms the picture to it.
#[component]
fn GapList(
    gaps: Vec<(String, Stretch)>,
    whole: View,
    zoom: RwSignal<Option<View>>,
) -> impl IntoView {
    if gaps.is_empty() {
        return view! {
            <p class="ev-no-gaps" data-testid="gaps">
                "No gaps: every channel is held somewhere for the whole period shown."
            </p>
        }
        .into_any();
    }
    view! {
        <table class="ev-gaps" data-testid="gaps">
            <caption>{format!("{} gap(s) where no server holds the material", gaps.len())}</caption>
            <thead>
                <tr>
                    <th>"Channel"</th>
                    <th>"From (UTC)"</th>
                    <th>"To (UTC)"</th>
                    <th>"Length"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {gaps
                    .into_iter()
                    .map(|(channel, gap)| {
                        let around = evidence::around(&gap, whole);
                        let name = channel.clone();
                        view! {
                            <tr data-channel=name>
                                <td>{channel}</td>
                                <td>{evidence::instant_text(&gap.from)}</td>
                                <td>{evidence::instant_text(&gap.to)}</td>
                                <td class="num">{seconds_text(gap.seconds())}</td>
                                <td>
                                    <button type="button" class="ev-show" on:click=move |_| zoom.set(Some(around))>
                                        "Show"
                                    </button>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The four milestones of the seed's processes on one line, each with its time (three for a
/// leg whose failover server was lost).
#[component]
fn Timeline(entry: Failover) -> impl IntoView {
    let who = match (&entry.failback_trigger, &entry.failback_by) {
        (Some(trigger), Some(by)) if trigger == "manual" => format!(" by {by}"),
        (Some(trigger), _) => format!(" ({trigger})"),
        _ => String::new(),
    };
    let mut steps: Vec<(&str, Option<DateTime<Utc>>, String)> = vec![
        ("Failover started", Some(entry.failover_started_at), String::new()),
        ("Failover performed", entry.failover_finished_at, String::new()),
    ];
    if entry.failback_trigger.as_deref() == Some(SUPERSEDED) {
        // This leg ended without a failback: its failover server was lost, and the failover
        // went on under a newer entry (see the notes).
        steps.push(("Failover server lost; moved on", entry.failback_finished_at, String::new()));
    } else if entry.failback_trigger.as_deref() == Some(RESTORED) {
        let by = entry.failback_by.as_ref().map(|by| format!(" by {by}")).unwrap_or_default();
        steps.push(("Restore started", entry.failback_started_at, by));
        steps.push(("Restored", entry.failback_finished_at, String::new()));
    } else {
        steps.push(("Failback started", entry.failback_started_at, who));
        steps.push(("Failback performed", entry.failback_finished_at, String::new()));
    }
    let total =
        entry.failback_finished_at.map(|end| human_duration(end - entry.failover_started_at));
    view! {
        <ol class="timeline" aria-label="Timeline">
            {steps
                .into_iter()
                .map(|(label, at, extra)| {
                    view! {
                        <li class:done=at.is_some()>
                            <span class="dot"></span>
                            <span class="label">{label}{extra}</span>
                            <LocalTime at />
                        </li>
                    }
                })
                .collect_view()}
        </ol>
        {total.map(|total| view! { <p class="muted">"Failover period: " {total}</p> })}
    }
}

#[component]
fn Copying(entry: Failover) -> impl IntoView {
    if entry.copy.channels.is_empty() {
        let status = match entry.copy.status {
            CopyStatus::NotStarted => "Material copying has not started.",
            CopyStatus::Queued => "Material copying is queued on the repaired recorder.",
            CopyStatus::Copying => "Material copying is running.",
            CopyStatus::Done => {
                "All material from the failover period has been copied and verified."
            }
            CopyStatus::Failed => "Material copying failed; it can be started again.",
        };
        return view! {
            <p class="muted">{status}</p>
            <CopyError copy=entry.copy />
        }
        .into_any();
    }
    // The time this answer is rendered at: the same on the server and while hydrating.
    let now = use_clock().now_untracked();
    let period_end = entry.failback_finished_at.unwrap_or(now);
    let start = entry.failover_started_at;
    let shares: Vec<f64> =
        entry.copy.channels.iter().map(|channel| progress(channel, start, period_end)).collect();
    let overall = shares.iter().sum::<f64>() / shares.len().max(1) as f64;
    // While the copy waits for a server, its pace says nothing about the time left.
    let left = match entry.copy.error {
        Some(_) => None,
        None => time_left(overall, entry.copy.started_at, entry.copy.status, now),
    };
    view! {
        <p class="copy-overall" data-testid="copy-overall">
            <progress max="100" value=format!("{:.0}", overall * 100.0)></progress>
            {format!(" {:.0} % of the failover period copied", overall * 100.0)}
            {left.map(|left| format!(" — about {left} left"))}
        </p>
        <CopyError copy=entry.copy.clone() />
        <table class="copy-table">
            <thead>
                <tr>
                    <th>"Channel"</th>
                    <th>"Kind"</th>
                    <th>"Status"</th>
                    <th>"Progress"</th>
                    <th>"Copied"</th>
                </tr>
            </thead>
            <tbody>
                {entry
                    .copy
                    .channels
                    .into_iter()
                    .map(|channel| {
                        let share = progress(&channel, start, period_end);
                        view! {
                            <tr data-channel=channel.channel.clone() data-status=channel.status.as_str()>
                                <td>{channel.channel.clone()}</td>
                                <td>{channel.kind.clone()}</td>
                                <td>{channel.status.as_str().replace('_', " ")}</td>
                                <td>
                                    <progress max="100" value=format!("{:.0}", share * 100.0)></progress>
                                    {format!(" {:.0} %", share * 100.0)}
                                </td>
                                <td>{format_bytes(channel.bytes)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
        .into_any()
}

/// Why the copy waits or failed, in the recorder's words.
#[component]
fn CopyError(copy: CopyProgress) -> impl IntoView {
    let error = copy.error?;
    let text = match copy.status {
        CopyStatus::Failed => error,
        CopyStatus::Done => return None,
        _ => format!("Waiting: {error} The recorder tries again by itself."),
    };
    Some(view! {
        <p class="copy-error" role="status" data-testid="copy-error">
            {text}
        </p>
    })
}

/// An estimate from the pace so far; none before there is a pace, or when it is over.
fn time_left(
    share: f64,
    started_at: Option<DateTime<Utc>>,
    status: CopyStatus,
    now: DateTime<Utc>,
) -> Option<String> {
    if !matches!(status, CopyStatus::Copying | CopyStatus::Queued) || share <= 0.0 || share >= 1.0 {
        return None;
    }
    let elapsed = (now - started_at?).num_milliseconds().max(0) as f64;
    let left = elapsed * (1.0 - share) / share;
    Some(human_duration(chrono::Duration::milliseconds(left as i64)))
}

/// How far into the failover period a channel's copy has come, 0 to 1.
pub fn progress(channel: &ChannelCopy, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    if channel.status == CopyStatus::Done {
        return 1.0;
    }
    let Some(until) = channel.copied_until else { return 0.0 };
    let whole = (end - start).num_milliseconds().max(1) as f64;
    ((until - start).num_milliseconds() as f64 / whole).clamp(0.0, 1.0)
}

pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
