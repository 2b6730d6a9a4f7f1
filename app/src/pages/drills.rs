//! The drill log: every drill with its result, newest first, and (for an administrator) the
//! form that starts one. It follows `drill_changed` events, so a running drill is seen moving
//! through its steps to its end without a reload.

use crate::drill::{DEFAULT_SECONDS, Drill, DrillPage, DrillStatus, MAX_SECONDS, MIN_SECONDS};
use crate::failure::Failure;
use crate::live::use_live;
use crate::model::ServerRef;
use crate::page_data::PageData;
use crate::server_fns::{load_drill_page, start_drill};
use crate::time::LocalTime;
use leptos::prelude::*;

type StartAction = Action<(i64, Option<u32>), Result<Drill, Failure>>;

#[component]
pub fn DrillLogPage() -> impl IntoView {
    let live = use_live();
    let changes = live.changes_of(|event| {
        matches!(
            event,
            crate::model::SystemEvent::DrillChanged { .. } | crate::model::SystemEvent::Resync
        )
    });
    let page = PageData::new(move || changes.get(), |_| load_drill_page());
    let start = Action::new(|(id, seconds): &(i64, Option<u32>)| start_drill(*id, *seconds));
    // What the form holds lives apart from the data, so a drill moving on (the log reloads)
    // keeps what was typed.
    let form =
        Form { chosen: RwSignal::new(None), seconds: RwSignal::new(DEFAULT_SECONDS.to_string()) };
    Effect::new(move |_| {
        if start.version().get() > 0 {
            live.changed();
        }
    });
    view! {
        <section class="page drills">
            <header class="page-head">
                <h1>"Drill log"</h1>
                <p class="muted">
                    "A drill test-fails over one recorder without disturbing it: the failover server a failover would use records its channels beside it for a few seconds, Standby checks that material arrives, then stops it and removes what it recorded. A real failure during a drill cancels it. "
                    <a href="/failovers">"Failover log →"</a>
                </p>
            </header>
            {page.view("Loading the drill log…", move |page| view! { <DrillBody page start form /> })}
        </section>
    }
}

/// The recorder chosen (none yet: the first) and the seconds typed.
#[derive(Clone, Copy)]
struct Form {
    chosen: RwSignal<Option<i64>>,
    seconds: RwSignal<String>,
}

#[component]
fn DrillBody(page: DrillPage, start: StartAction, form: Form) -> impl IntoView {
    let DrillPage { drills, recorders, may_drill } = page;
    view! {
        {may_drill.then(|| view! { <StartForm recorders start form /> })}
        {if drills.is_empty() {
            view! { <p class="muted" data-testid="no-drills">"No drill has been run yet."</p> }.into_any()
        } else {
            view! { <DrillTable drills /> }.into_any()
        }}
    }
}

#[component]
fn StartForm(recorders: Vec<ServerRef>, start: StartAction, form: Form) -> impl IntoView {
    let Form { chosen, seconds } = form;
    let first = recorders.first().map(|recorder| recorder.id);
    let chosen_or_first = move || chosen.get().or(first);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if let Some(id) = chosen_or_first() {
            start.dispatch((id, seconds.get().trim().parse().ok()));
        }
    };
    view! {
        <form class="drill-start" on:submit=submit data-testid="drill-form">
            <label>
                "Recorder "
                <select
                    name="recorder"
                    data-testid="drill-recorder"
                    on:change=move |event| chosen.set(event_target_value(&event).parse().ok())
                >
                    {recorders
                        .into_iter()
                        .map(|recorder| {
                            let id = recorder.id;
                            view! {
                                <option value=id.to_string() selected=move || chosen_or_first() == Some(id)>
                                    {recorder.name}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                " for "
                <input
                    type="number"
                    name="seconds"
                    min=MIN_SECONDS.to_string()
                    max=MAX_SECONDS.to_string()
                    prop:value=move || seconds.get()
                    on:input=move |event| seconds.set(event_target_value(&event))
                    data-testid="drill-seconds"
                />
                " s"
            </label>
            <button type="submit" disabled=move || start.pending().get() || chosen_or_first().is_none() data-testid="start-drill">
                "Start drill"
            </button>
            {move || start.pending().get().then(|| view! { <span class="muted">" Starting…"</span> })}
            {move || {
                start
                    .value()
                    .get()
                    .map(|answer| match answer {
                        Ok(drill) => {
                            let text = match (&drill.status, &drill.failover_server) {
                                (DrillStatus::Running, Some(server)) => format!(
                                    "Drill {} started: {} records {} beside it for {} s.",
                                    drill.id, server.name, drill.recorder.name, drill.seconds
                                ),
                                _ => format!(
                                    "Drill {} of {}: {}",
                                    drill.id,
                                    drill.recorder.name,
                                    drill.message.clone().unwrap_or_else(|| drill.status.label().to_owned())
                                ),
                            };
                            view! { <p class="ok" role="status" data-testid="drill-started">{text}</p> }.into_any()
                        }
                        Err(failure) => {
                            view! { <p class="error" role="alert" data-testid="drill-refused">{failure.message}</p> }.into_any()
                        }
                    })
            }}
        </form>
    }
}

#[component]
fn DrillTable(drills: Vec<Drill>) -> impl IntoView {
    view! {
        <table class="drill-table" data-testid="drill-log">
            <thead>
                <tr>
                    <th>"Started"</th>
                    <th>"Recorder"</th>
                    <th>"Failover server"</th>
                    <th>"Seconds"</th>
                    <th>"By"</th>
                    <th>"Result"</th>
                    <th>"Step"</th>
                    <th>"What was found"</th>
                </tr>
            </thead>
            <tbody>
                {drills
                    .into_iter()
                    .map(|drill| {
                        let status = drill.status.as_str();
                        let step = drill.step.map(|step| step.label()).unwrap_or_default();
                        let server = drill.failover_server.map(|server| server.name).unwrap_or_else(|| "—".to_owned());
                        view! {
                            <tr data-drill=drill.id.to_string() data-status=status>
                                <td><LocalTime at=Some(drill.started_at) /></td>
                                <td>{drill.recorder.name}</td>
                                <td>{server}</td>
                                <td class="num">{drill.seconds}</td>
                                <td>{drill.requested_by}</td>
                                <td class=format!("drill-status drill-{status}")>{drill.status.label()}</td>
                                <td>{step}</td>
                                <td class="drill-message">{drill.message.unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
