//! One failover log entry as an incident: a timeline, material copying per channel, and what
//! happened on the way (refusals and errors included), with who did what.

use crate::live::use_live;
use crate::model::{
    ChannelCopy, CopyProgress, CopyStatus, Failover, FailoverDetail, RESTORED, SUPERSEDED,
    SystemEvent,
};
use crate::page_data::PageData;
use crate::server_fns::load_failover;
use crate::time::{LocalTime, human_duration, use_clock};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

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
    view! {
        <section class="page failover-detail">
            <p><A href="/failovers">"← Failover log"</A></p>
            {detail.view("Loading…", move |detail| view! { <Incident detail /> })}
        </section>
    }
}

#[component]
fn Incident(detail: FailoverDetail) -> impl IntoView {
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
