//! The Servers page: every server's live state at a glance.

use crate::api::{load_servers_page, set_demo_power};
use crate::auth::Right;
use crate::live::use_live;
use crate::model::{DemoPower, Server};
use crate::time::LocalTime;
use crate::view::ServersView;
use leptos::prelude::*;

#[component]
pub fn ServersPage() -> impl IntoView {
    let live = use_live();
    let servers = Resource::new(move || live.version.get(), |_| load_servers_page());
    let filter = RwSignal::new(String::new());
    let switch = Action::new(|(server_id, power): &(i64, DemoPower)| {
        let (server_id, power) = (*server_id, *power);
        async move { set_demo_power(server_id, power).await }
    });
    // The switch's own answer refreshes the page even before the monitor notices the change.
    Effect::new(move |_| {
        if switch.version().get() > 0 {
            live.changed();
        }
    });

    view! {
        <section class="page servers">
            <header class="page-head">
                <h1>"Servers"</h1>
                <input
                    type="search"
                    class="filter"
                    placeholder="Filter by name or address"
                    aria-label="Filter servers"
                    data-testid="server-filter"
                    bind:value=filter
                />
            </header>
            {move || {
                switch
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|failure| view! { <p class="error" role="alert">{failure.message}</p> })
            }}
            <Transition fallback=|| view! { <p>"Loading servers…"</p> }>
                {move || {
                    servers
                        .get()
                        .map(|answer| match answer {
                            Ok(view) => {
                                view! { <ServerTable view filter switch /> }.into_any()
                            }
                            Err(failure) => {
                                view! { <p class="error" role="alert">{failure.message}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn ServerTable(
    view: ServersView,
    filter: RwSignal<String>,
    switch: Action<(i64, DemoPower), Result<(), crate::failure::Failure>>,
) -> impl IntoView {
    let has_demo = view.demo.is_some();
    let rows = view.clone();
    let visible = move || {
        let needle = filter.get().to_lowercase();
        rows.servers
            .iter()
            .filter(|server| {
                needle.is_empty()
                    || server.name.to_lowercase().contains(&needle)
                    || server.address.to_lowercase().contains(&needle)
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    view! {
        <table class="servers-table">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Kind"</th>
                    <th>"State"</th>
                    <th>"Acting for"</th>
                    <th>"Address"</th>
                    <th>"Last seen"</th>
                    <th>"Failover monitoring"</th>
                    <th>"Automatic failback"</th>
                    <th>"Maintenance"</th>
                    {has_demo.then(|| view! { <th>"Demo"</th> })}
                </tr>
            </thead>
            <tbody>
                {move || {
                    let servers = visible();
                    if servers.is_empty() {
                        return view! {
                            <tr>
                                <td colspan="10" class="muted">"No servers match."</td>
                            </tr>
                        }
                            .into_any();
                    }
                    servers
                        .into_iter()
                        .map(|server| {
                            let powered = view.switch_for(server.id).map(|switch| switch.powered);
                            let may_switch = view.me.can(Right::DemoPower);
                            view! { <ServerRow server powered may_switch switch /> }
                        })
                        .collect_view()
                        .into_any()
                }}
            </tbody>
        </table>
    }
}

#[component]
fn ServerRow(
    server: Server,
    /// `Some` when `standby demo` runs this server's process.
    powered: Option<bool>,
    /// The caller's role allows the demo switch (the server checks again).
    may_switch: bool,
    switch: Action<(i64, DemoPower), Result<(), crate::failure::Failure>>,
) -> impl IntoView {
    let state = server.state;
    let id = server.id;
    let yes_no = |flag: bool| if flag { "on" } else { "off" };
    view! {
        <tr data-server=server.name.clone() data-state=state.as_str()>
            <td class="name">{server.name.clone()}</td>
            <td>{server.kind.as_str()}</td>
            <td>
                <span class=format!("state state-{}", state.as_str())>{state.label()}</span>
            </td>
            <td>{server.acting_for.clone().unwrap_or_default()}</td>
            <td class="address">{server.address.clone()}</td>
            <td>
                <LocalTime at=server.last_seen_at />
            </td>
            <td>{yes_no(server.failover_enabled)}</td>
            <td>{yes_no(server.auto_failback)}</td>
            <td>{yes_no(server.maintenance_mode)}</td>
            {powered
                .map(|powered| {
                    let (label, power) = if powered {
                        ("Switch off", DemoPower::Off)
                    } else {
                        ("Switch on", DemoPower::On)
                    };
                    view! {
                        <td>
                            <button
                                class="demo-switch"
                                data-testid=format!("demo-switch-{}", server.name)
                                disabled=move || !may_switch || switch.pending().get()
                                title=(!may_switch).then_some("Your role cannot switch demo servers.")
                                on:click=move |_| {
                                    switch.dispatch((id, power));
                                }
                            >
                                {label}
                            </button>
                            {(!may_switch).then(|| view! { <small class="muted">" operators only"</small> })}
                        </td>
                    }
                })}
        </tr>
    }
}
