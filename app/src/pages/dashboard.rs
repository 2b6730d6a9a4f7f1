//! The control-room wall screen: dark, large, readable from across the room; no interaction
//! needed. Every server a tile coloured by state and labelled with it.

use crate::live::use_live;
use crate::model::{Failover, Server};
use crate::page_data::PageData;
use crate::screens::DashboardView;
use crate::server_fns::load_dashboard;
use crate::time::{Clock, LocalTime, running_time, use_clock};
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let live = use_live();
    let data = PageData::new(move || live.version.get(), |_| load_dashboard());
    let clock = use_clock();
    view! {
        <section class="dashboard" data-testid="dashboard">
            <header class="dash-head">
                <span class="brand">"Standby"</span>
                <span class="clock" data-testid="clock">{move || clock.time_of_day(clock.now())}</span>
                <span class="dash-connection" data-connected=move || live.connected.get().to_string()>
                    {move || if live.connected.get() { "LIVE" } else { "OFFLINE" }}
                </span>
            </header>
            <Show when=move || !live.connected.get()>
                <div class="dash-banner" role="status">"Connection lost — reconnecting…"</div>
            </Show>
            {data.view("Loading…", move |view| view! { <Wall view clock /> })}
        </section>
    }
}

#[component]
fn Wall(view: DashboardView, clock: Clock) -> impl IntoView {
    view! {
        <div class="tiles">{view.servers.into_iter().map(|server| view! { <Tile server /> }).collect_view()}</div>
        <div class="dash-columns">
            <div>
                <h2>"Active failovers"</h2>
                {if view.active.is_empty() {
                    view! { <p class="dash-quiet">"None — every recorder records for itself."</p> }.into_any()
                } else {
                    view.active.into_iter().map(|failover| view! { <ActiveFailover failover clock /> }).collect_view().into_any()
                }}
            </div>
            <div>
                <h2>"Last events"</h2>
                <ul class="dash-events">
                    {view
                        .recent
                        .into_iter()
                        .take(12)
                        .map(|event| {
                            view! {
                                <li class=format!("dash-event dash-{}", event.level)>
                                    <LocalTime at=Some(event.at) />
                                    " "
                                    {event.message}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </div>
        </div>
    }
}

#[component]
fn Tile(server: Server) -> impl IntoView {
    view! {
        <div class=format!("tile tile-{}", server.state.as_str()) data-server=server.name.clone() data-state=server.state.as_str()>
            <div class="tile-name">{server.name.clone()}</div>
            <div class="tile-state">{server.state.label()}</div>
            <div class="tile-extra">
                {server.acting_for.clone().map(|name| format!("for {name}")).unwrap_or_else(|| server.kind.as_str().to_owned())}
            </div>
        </div>
    }
}

#[component]
fn ActiveFailover(failover: Failover, clock: Clock) -> impl IntoView {
    let since = failover.failover_started_at;
    view! {
        <div class=format!("dash-failover status-{}", failover.status.as_str()) data-failover=failover.id.to_string()>
            <span class="dash-failover-names">
                {failover.recorder.name.clone()} " → "
                {failover.failover_server.as_ref().map(|server| server.name.clone()).unwrap_or_default()}
            </span>
            <span class="dash-failover-status">{failover.status.label()}</span>
            <span class="dash-elapsed">{move || running_time(clock.now() - since)}</span>
        </div>
    }
}
