//! The failover log: Active Failovers and Finalized Failovers, the failback action, filters,
//! pages and CSV export of what is shown.

use crate::failure::Failure;
use crate::live::use_live;
use crate::model::{
    FailbackAnswer, Failover, FailoverFilter, FailoverStatus, RESTORED, SUPERSEDED,
};
use crate::page_data::PageData;
use crate::screens::{FailoverLogView, LogRow};
use crate::server_fns::{load_failover_log, restore_recorder, start_failback, start_material_copy};
use crate::time::{LocalTime, human_duration, running_time, use_clock};
use chrono::Utc;
use leptos::prelude::*;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

#[component]
pub fn FailoverLogPage() -> impl IntoView {
    let live = use_live();
    let query = use_query_map();
    let filter = move || query.with(|query| FailoverFilter::from_page_query(|key| query.get(key)));
    // A page of the log loads again when an entry or a server's state changes (what the
    // buttons may do depends on both), not with every other notification.
    let changes = live.changes_of(|event| {
        use crate::model::SystemEvent::{FailoverChanged, ServerChanged};
        matches!(event, FailoverChanged { .. } | ServerChanged { .. })
    });
    let log =
        PageData::new(move || (filter(), changes.get()), |(filter, _)| load_failover_log(filter));
    // The selection and an open confirmation live apart from the data, so live refreshes (a
    // server's state moving while the operator reads the question) keep them.
    let selected = RwSignal::new(None::<i64>);
    let confirming = RwSignal::new(None::<Confirming>);
    let failback = Action::new(|id: &i64| start_failback(*id));
    let restore = Action::new(|id: &i64| restore_recorder(*id));
    let copy = Action::new(|id: &i64| start_material_copy(*id));
    let actions = Actions { failback, restore, copy };
    Effect::new(move |_| {
        if failback.version().get() + restore.version().get() + copy.version().get() > 0 {
            live.changed();
        }
    });

    view! {
        <section class="page failovers">
            <header class="page-head">
                <h1>"Failover log"</h1>
                <a href="/drills" class="aside-link">"Drill log →"</a>
            </header>
            {log.view("Loading the failover log…", move |view| view! { <LogBody view selected confirming actions /> })}
        </section>
    }
}

type FailbackAction = Action<i64, Result<FailbackAnswer, Failure>>;
type CopyAction = Action<i64, Result<Failover, Failure>>;

/// What the action panel can do to the selected entry.
#[derive(Clone, Copy)]
struct Actions {
    failback: FailbackAction,
    /// Restore the recorder (same answer as a failback).
    restore: FailbackAction,
    copy: CopyAction,
}

/// The question open in the action panel, for which entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirming {
    Failback(i64),
    Restore(i64),
}

#[component]
fn LogBody(
    view: FailoverLogView,
    selected: RwSignal<Option<i64>>,
    confirming: RwSignal<Option<Confirming>>,
    actions: Actions,
) -> impl IntoView {
    let rows: Vec<LogRow> = view.active.iter().chain(&view.finalized).cloned().collect();
    // Without a choice (or when the chosen entry left the page), the first active entry is
    // preselected, so a single incident needs one press.
    // Else the first finalized entry whose material copy is not finalized (the seed's "select
    // the first material copy which has not been finalized").
    let first_active = view.active.first().map(|row| row.failover.id).or_else(|| {
        view.finalized.iter().find(|row| row.copy_blocker.is_none()).map(|row| row.failover.id)
    });
    let ids: Vec<i64> = rows.iter().map(|row| row.failover.id).collect();
    let current =
        Signal::derive(move || selected.get().filter(|id| ids.contains(id)).or(first_active));
    let chosen = {
        let rows = rows.clone();
        move || current.get().and_then(|id| rows.iter().find(|row| row.failover.id == id).cloned())
    };
    // A link, not the rows themselves: building a data URL of every row on every render was
    // most of the page's time.
    let csv =
        format!("{}?{}", crate::screens::LOG_CSV_PATH, view.filter.page_query(view.filter.offset));
    let filter = view.filter.clone();
    view! {
        <FilterForm filter=view.filter.clone() recorders=view.recorders.clone() />
        <p class="export">
            <a href=csv download="failover-log.csv" data-testid="csv-export">"Export what is shown (CSV)"</a>
        </p>
        <ActionPanel chosen=Signal::derive(chosen) confirming actions />
        <h2>"Active Failovers"</h2>
        <LogTable rows=view.active.clone() current selected empty="No active failovers: every recorder records for itself." />
        <h2>"Finalized Failovers"</h2>
        <LogTable rows=view.finalized.clone() current selected empty="No finalized failovers match." />
        <Pager total=view.finalized_total filter />
    }
}

#[component]
fn FilterForm(filter: FailoverFilter, recorders: Vec<crate::model::ServerRef>) -> impl IntoView {
    let current = filter;
    view! {
        <Form method="GET" action="/failovers" attr:class="filters">
            <select name="recorder" aria-label="Recorder">
                <option value="" selected=current.recorder_id.is_none()>"All recorders"</option>
                {recorders
                    .iter()
                    .map(|recorder| {
                        view! {
                            <option value=recorder.id.to_string() selected=current.recorder_id == Some(recorder.id)>
                                {recorder.name.clone()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <select name="status" aria-label="Status">
                <option value="" selected=current.status.is_none()>"Any status"</option>
                {FailoverStatus::ALL
                    .into_iter()
                    .map(|status| {
                        view! { <option value=status.as_str() selected=current.status == Some(status)>{status.label()}</option> }
                    })
                    .collect_view()}
            </select>
            <input type="search" name="q" placeholder="Search" aria-label="Search" value=current.search.clone().unwrap_or_default() />
            <button type="submit">"Filter"</button>
        </Form>
    }
}

#[component]
fn ActionPanel(
    chosen: Signal<Option<LogRow>>,
    confirming: RwSignal<Option<Confirming>>,
    actions: Actions,
) -> impl IntoView {
    let Actions { failback, restore, copy } = actions;
    view! {
        <div class="action-panel" data-testid="action-panel">
            {move || match chosen.get() {
                None => view! { <p class="muted">"Select an entry in the log to act on it."</p> }.into_any(),
                Some(row) => {
                    let entry = row.failover.clone();
                    let id = entry.id;
                    let blocker = row.failback_blocker.clone();
                    let allowed = blocker.is_none();
                    let copy_blocker = row.copy_blocker.clone();
                    let may_copy = copy_blocker.is_none();
                    let may_restore = row.restore_offered;
                    let server_name = entry.failover_server.as_ref().map(|server| server.name.clone()).unwrap_or_default();
                    let recorder_name = entry.recorder.name.clone();
                    let target = format!(
                        "{} ← {}",
                        entry.recorder.name,
                        entry.failover_server.as_ref().map(|server| server.name.clone()).unwrap_or_else(|| "—".into())
                    );
                    view! {
                        <p class="selected">"Selected: " <strong>{target}</strong></p>
                        <button
                            data-testid="start-failback"
                            disabled=move || !allowed || failback.pending().get()
                            on:click=move |_| confirming.set(Some(Confirming::Failback(id)))
                        >
                            "Start failback to the selected server"
                        </button>
                        {blocker.map(|reason| view! { <p class="reason" data-testid="failback-reason">{reason}</p> })}
                        {may_restore.then(|| view! {
                            <button
                                data-testid="start-restore"
                                disabled=move || restore.pending().get()
                                on:click=move |_| confirming.set(Some(Confirming::Restore(id)))
                            >
                                "Restore the recorder"
                            </button>
                        })}
                        <button
                            data-testid="start-copy"
                            disabled=move || !may_copy || copy.pending().get()
                            on:click=move |_| {
                                copy.dispatch(id);
                            }
                        >
                            "Start material copying to the selected server"
                        </button>
                        {copy_blocker.map(|reason| view! { <p class="reason" data-testid="copy-reason">{reason}</p> })}
                        <Show when=move || confirming.get() == Some(Confirming::Restore(id)) && may_restore>
                            <div class="confirm" role="dialog" aria-label="Confirm restore">
                                <p>
                                    {server_name.clone()} " is gone, so failback cannot hand over without a gap. Restore gives the repaired "
                                    {recorder_name.clone()} " its settings from the cache and it records for itself again now; what "
                                    {server_name.clone()} " recorded is copied to " {recorder_name.clone()} " once " {server_name.clone()} " is back."
                                </p>
                                <button
                                    data-testid="confirm-restore"
                                    on:click=move |_| {
                                        confirming.set(None);
                                        restore.dispatch(id);
                                    }
                                >
                                    "Yes, restore " {recorder_name.clone()}
                                </button>
                                <button class="secondary" on:click=move |_| confirming.set(None)>"Cancel"</button>
                            </div>
                        </Show>
                        <Show when=move || confirming.get() == Some(Confirming::Failback(id)) && allowed>
                            <div class="confirm" role="dialog" aria-label="Confirm failback">
                                <p>
                                    "Is the repaired " {entry.recorder.name.clone()}
                                    " back on the network with the same address? Failback moves its cameras and settings back from "
                                    {entry.failover_server.as_ref().map(|server| server.name.clone()).unwrap_or_default()} "."
                                </p>
                                <button
                                    data-testid="confirm-failback"
                                    on:click=move |_| {
                                        confirming.set(None);
                                        failback.dispatch(id);
                                    }
                                >
                                    "Yes, start failback"
                                </button>
                                <button class="secondary" on:click=move |_| confirming.set(None)>"Cancel"</button>
                            </div>
                        </Show>
                    }
                        .into_any()
                }
            }}
            {move || failback.pending().get().then(|| view! { <p class="muted">"Failing back…"</p> })}
            {move || restore.pending().get().then(|| view! { <p class="muted">"Restoring…"</p> })}
            {move || {
                restore
                    .value()
                    .get()
                    .map(|answer| match answer {
                        Ok(ok) => view! {
                            <p class="ok" role="status" data-testid="restore-ok">
                                "Restored — the recorder records for itself again; took "
                                {human_duration(chrono::Duration::milliseconds(ok.duration_ms))} "."
                            </p>
                        }
                            .into_any(),
                        Err(failure) => view! { <p class="error" role="alert" data-testid="restore-refused">{failure.message}</p> }.into_any(),
                    })
            }}
            {move || {
                copy.value()
                    .get()
                    .map(|answer| match answer {
                        Ok(entry) => view! {
                            <p class="ok" role="status" data-testid="copy-started">
                                "Material copying to " {entry.recorder.name} " started. "
                                <a href=format!("/failovers/{}", entry.id)>"Follow its progress"</a>
                            </p>
                        }
                            .into_any(),
                        Err(failure) => view! { <p class="error" role="alert" data-testid="copy-refused">{failure.message}</p> }.into_any(),
                    })
            }}
            {move || {
                failback
                    .value()
                    .get()
                    .map(|answer| match answer {
                        Ok(ok) => view! {
                            <p class="ok" role="status" data-testid="failback-ok">
                                "Failback OK — started " <LocalTime at=Some(ok.started_at) /> ", ended "
                                <LocalTime at=Some(ok.finished_at) /> ", took "
                                {human_duration(chrono::Duration::milliseconds(ok.duration_ms))} "."
                            </p>
                        }
                            .into_any(),
                        Err(failure) => view! { <p class="error" role="alert" data-testid="failback-refused">{failure.message}</p> }.into_any(),
                    })
            }}
        </div>
    }
}

#[component]
fn LogTable(
    rows: Vec<LogRow>,
    /// The entry the action panel acts on.
    current: Signal<Option<i64>>,
    selected: RwSignal<Option<i64>>,
    empty: &'static str,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted empty">{empty}</p> }.into_any();
    }
    let clock = use_clock();
    view! {
        <table class="log-table">
            <thead>
                <tr>
                    <th></th>
                    <th>"Recorder"</th>
                    <th>"Failover server"</th>
                    <th>"Status"</th>
                    <th>"Failover start"</th>
                    <th>"Failback start"</th>
                    <th>"Failback end"</th>
                    <th>"Duration"</th>
                    <th>"Trigger and user"</th>
                    <th>"Material copy"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        let entry = row.failover;
                        let id = entry.id;
                        let recorder = entry.recorder.name.clone();
                        view! {
                            <tr
                                data-failover=id.to_string()
                                data-status=entry.status.as_str()
                                class:selected=move || current.get() == Some(id)
                                on:click=move |_| selected.set(Some(id))
                            >
                                <td>
                                    <input
                                        type="radio"
                                        name="entry"
                                        aria-label=format!("Select entry {id}")
                                        prop:checked=move || current.get() == Some(id)
                                        on:change=move |_| selected.set(Some(id))
                                    />
                                </td>
                                <td><a href=format!("/failovers/{id}")>{recorder}</a></td>
                                <td>{entry.failover_server.as_ref().map(|server| server.name.clone()).unwrap_or_else(|| "—".into())}</td>
                                <td>
                                    <span class=format!("status status-{}", entry.status.as_str())>{entry.status.label()}</span>
                                    {entry.error.clone().map(|error| view! { <div class="entry-error">{error}</div> })}
                                </td>
                                <td><LocalTime at=Some(entry.failover_started_at) /></td>
                                <td><LocalTime at=entry.failback_started_at /></td>
                                <td><LocalTime at=entry.failback_finished_at /></td>
                                <td>{period(clock, entry.status, entry.failover_started_at, entry.failback_finished_at)}</td>
                                <td>{trigger(&entry)}</td>
                                <td>{entry.copy.status.as_str().replace('_', " ")}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
        .into_any()
}

#[component]
fn Pager(total: i64, filter: FailoverFilter) -> impl IntoView {
    let limit = i64::from(filter.limit.unwrap_or(25).max(1));
    let offset = i64::from(filter.offset.unwrap_or(0));
    let link =
        move |offset: i64| format!("/failovers?{}", filter.page_query(u32::try_from(offset).ok()));
    let (first, last) = (offset + 1, (offset + limit).min(total));
    view! {
        <nav class="pager" aria-label="Pages of finalized failovers">
            {(offset > 0).then(|| view! { <A href=link((offset - limit).max(0))>"← Newer"</A> })}
            <span class="muted">{if total == 0 { "0 entries".to_owned() } else { format!("{first}–{last} of {total}") }}</span>
            {(offset + limit < total).then(|| view! { <A href=link(offset + limit)>"Older →"</A> })}
        </nav>
    }
}

/// From failover start to failback end, or counting up while it lasts.
fn period(
    clock: crate::time::Clock,
    status: FailoverStatus,
    start: chrono::DateTime<Utc>,
    end: Option<chrono::DateTime<Utc>>,
) -> impl IntoView {
    use leptos::either::Either;
    match (status, end) {
        (FailoverStatus::Failed, _) => Either::Left("—".to_owned()),
        (_, Some(end)) => Either::Left(human_duration(end - start)),
        (_, None) => Either::Right(move || running_time(clock.now() - start)),
    }
}

fn trigger(entry: &Failover) -> String {
    match (&entry.failback_trigger, &entry.failback_by) {
        (Some(trigger), Some(by)) if trigger == "manual" || trigger == RESTORED => {
            format!("{trigger}, {by}")
        }
        (Some(trigger), _) if trigger == SUPERSEDED => "none: failover server lost".into(),
        (Some(trigger), _) => trigger.clone(),
        _ => "—".into(),
    }
}
