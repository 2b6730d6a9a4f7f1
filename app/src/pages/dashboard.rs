//! The control-room wall screen: dark, large, readable from across the room; no interaction
//! needed. Every server a tile coloured by state and labelled with it.

use crate::api::load_dashboard;
use crate::live::use_live;
use crate::model::{Failover, Server};
use crate::time::{LocalTime, human_duration};
use crate::view::DashboardView;
use chrono::Utc;
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let live = use_live();
    let data = Resource::new(move || live.version.get(), |_| load_dashboard());
    let now = clock();
    view! {
        <section class="dashboard" data-testid="dashboard">
            <header class="dash-head">
                <span class="brand">"Standby"</span>
                <span class="clock" data-testid="clock">{move || clock_text(now.get())}</span>
                <span class="dash-connection" data-connected=move || live.connected.get().to_string()>
                    {move || if live.connected.get() { "LIVE" } else { "OFFLINE" }}
                </span>
            </header>
            <Show when=move || !live.connected.get()>
                <div class="dash-banner" role="status">"Connection lost — reconnecting…"</div>
            </Show>
            <Transition fallback=|| view! { <p class="dash-loading">"Loading…"</p> }>
                {move || {
                    data.get()
                        .map(|answer| match answer {
                            Ok(view) => view! { <Wall view now /> }.into_any(),
                            Err(failure) => view! { <p class="dash-error" role="alert">{failure.message}</p> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// The current time, ticking every second in the browser.
fn clock() -> RwSignal<chrono::DateTime<Utc>> {
    let now = RwSignal::new(Utc::now());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let _ = leptos::prelude::set_interval_with_handle(
            move || now.set(Utc::now()),
            std::time::Duration::from_secs(1),
        );
    });
    now
}

/// The wall clock in the browser's time zone (UTC while rendered on the server).
fn clock_text(now: chrono::DateTime<Utc>) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date =
            js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(now.timestamp_millis() as f64));
        String::from(date.to_locale_time_string("default"))
    }
    #[cfg(not(feature = "hydrate"))]
    now.format("%H:%M:%S UTC").to_string()
}

#[component]
fn Wall(view: DashboardView, now: RwSignal<chrono::DateTime<Utc>>) -> impl IntoView {
    view! {
        <div class="tiles">{view.servers.into_iter().map(|server| view! { <Tile server /> }).collect_view()}</div>
        <div class="dash-columns">
            <div>
                <h2>"Active failovers"</h2>
                {if view.active.is_empty() {
                    view! { <p class="dash-quiet">"None — every recorder records for itself."</p> }.into_any()
                } else {
                    view.active.into_iter().map(|failover| view! { <ActiveFailover failover now /> }).collect_view().into_any()
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
fn ActiveFailover(failover: Failover, now: RwSignal<chrono::DateTime<Utc>>) -> impl IntoView {
    let since = failover.failover_started_at;
    view! {
        <div class=format!("dash-failover status-{}", failover.status.as_str()) data-failover=failover.id.to_string()>
            <span class="dash-failover-names">
                {failover.recorder.name.clone()} " → "
                {failover.failover_server.as_ref().map(|server| server.name.clone()).unwrap_or_default()}
            </span>
            <span class="dash-failover-status">{failover.status.label()}</span>
            <span class="dash-elapsed">{move || human_duration(now.get() - since)}</span>
        </div>
    }
}
