//! `/failovers/{id}/report`: one failover as a document an investigator can print and hand on:
//! what happened when, where each channel's material of the period lives, every gap in seconds,
//! and the log's notes. The same listings as the entry's page, the whole period at once.

use crate::evidence::{ChannelEvidence, seconds_text};
use crate::model::FailoverDetail;
use crate::page_data::PageData;
use crate::pages::evidence::{self, Legend, TimelinePicture, Unanswered};
use crate::server_fns::{load_failover, load_failover_coverage};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

#[component]
pub fn FailoverReportPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|params| params.get("id").and_then(|id| id.parse::<i64>().ok()));
    let report = PageData::new(id, |id| async move {
        let Some(id) = id else {
            return Err(crate::failure::Failure::not_found("This failover log entry"));
        };
        Ok((load_failover(id).await?, load_failover_coverage(id).await?))
    });
    view! {
        <section class="page report">
            {report.view("Preparing the report…", |(detail, channels)| view! { <Report detail channels /> })}
        </section>
    }
}

#[component]
fn Report(detail: FailoverDetail, channels: Vec<ChannelEvidence>) -> impl IntoView {
    let entry = detail.failover.clone();
    let id = entry.id;
    let failover_server =
        entry.failover_server.as_ref().map_or("none".to_owned(), |server| server.name.clone());
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or("—".to_owned(), |at| evidence::instant_text(&at))
    };
    let facts = vec![
        ("Recorder", entry.recorder.name.clone()),
        ("Failover server", failover_server),
        ("Status", entry.status.label().to_owned()),
        ("Failover started", when(Some(entry.failover_started_at))),
        ("Failover performed", when(entry.failover_finished_at)),
        ("Failback started", when(entry.failback_started_at)),
        ("Failback performed", when(entry.failback_finished_at)),
        ("Failback", entry.failback_trigger.clone().unwrap_or_else(|| "—".into())),
        ("Material copying", entry.copy.status.as_str().replace('_', " ")),
    ];
    let whole = evidence::window(&channels).unwrap_or((0, 1));
    let gaps = evidence::gap_rows(&channels);
    let gap_total: f64 = gaps.iter().map(|(_, gap)| gap.seconds()).sum();
    view! {
        <p class="no-print">
            <A href=format!("/failovers/{id}")>"← The entry"</A>
            " · "
            <a href=format!("/api/v1/failovers/{id}/coverage.csv") download>"CSV"</a>
        </p>
        <h1>{format!("Failover report: entry {id}, {}", entry.recorder.name)}</h1>
        <p class="muted">"All times UTC."</p>
        <table class="report-facts">
            <tbody>
                {facts
                    .into_iter()
                    .map(|(name, value)| view! { <tr><th>{name}</th><td>{value}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
        <h2>"Where the footage is"</h2>
        <TimelinePicture channels=channels.clone() marks=evidence::marks(&entry) view=Signal::stored(whole) />
        <Legend />
        <Unanswered channels=channels.clone() />
        <h2>"Gaps"</h2>
        <p data-testid="report-gaps">
            {if gaps.is_empty() {
                "None: every channel is held somewhere for the whole period.".to_owned()
            } else {
                format!("{} gap(s), {} in all.", gaps.len(), seconds_text(gap_total))
            }}
        </p>
        <h2>"Every stretch, channel by channel"</h2>
        {channels
            .into_iter()
            .map(|channel| {
                let totals = evidence::totals(&channel);
                view! {
                    <h3>{format!("{} ({})", channel.channel, channel.kind)}</h3>
                    <p class="muted">{totals}</p>
                    <table class="report-stretches">
                        <thead>
                            <tr><th>"From"</th><th>"To"</th><th>"Length"</th><th>"Where"</th><th>"Recorded by"</th></tr>
                        </thead>
                        <tbody>
                            {channel
                                .intervals
                                .into_iter()
                                .map(|stretch| {
                                    view! {
                                        <tr data-where=stretch.place.as_str()>
                                            <td>{evidence::instant_text(&stretch.from)}</td>
                                            <td>{evidence::instant_text(&stretch.to)}</td>
                                            <td class="num">{seconds_text(stretch.seconds())}</td>
                                            <td>{stretch.place.label()}</td>
                                            <td>{stretch.server.unwrap_or_default()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
            })
            .collect_view()}
        <h2>"What happened"</h2>
        <ol class="notes">
            {detail
                .notes
                .into_iter()
                .map(|note| {
                    view! {
                        <li>
                            {evidence::instant_text(&note.at)} " " {note.level.to_uppercase()} " "
                            {note.message}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}
