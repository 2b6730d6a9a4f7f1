//! The control-room wall screen: dark, large, readable from across the room; no interaction
//! needed. What needs attention comes first: a one-line summary, the active failovers with their
//! time running, then a tile for every server that is unreachable, broken or acting. Servers
//! that are fine are counted in the summary; on a small site they get tiles too, after the
//! others.

use crate::live::use_live;
use crate::model::{Coverage, Failover, Managers, Server, ServerKind, ServerState};
use crate::page_data::LiveData;
use crate::screens::DashboardView;
use crate::server_fns::load_dashboard;
use crate::text::thousands;
use crate::time::{Clock, LocalTime, running_time, use_clock};
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let live = use_live();
    let data = LiveData::new(load_dashboard);
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
            {data.view(
                "Loading…",
                move |view: &mut DashboardView, event| view.apply(event, clock.now_untracked()),
                move |view| move || view.with(|view| wall(view.clone(), clock)),
            )}
        </section>
    }
}

/// Up to this many servers, the ones that are fine get tiles too (after the others); beyond,
/// only the summary counts them, so the problems stay on the screen.
const TILES_FOR_ALL_UP_TO: usize = 24;

fn needs_attention(server: &Server) -> bool {
    server.state.needs_attention()
}

/// "996 of 1,000 recorders OK · 2 of 3 failover servers standing by".
fn summary(servers: &[Server]) -> String {
    let count = |kind: ServerKind, state: ServerState| {
        servers.iter().filter(|s| s.kind == kind && s.state == state).count()
    };
    let recorders = servers.iter().filter(|s| s.kind == ServerKind::Recorder).count();
    let failover_servers = servers.len() - recorders;
    let ok = count(ServerKind::Recorder, ServerState::Ok);
    let standby = count(ServerKind::Failover, ServerState::Standby);
    let plural =
        |n: usize, one: &str, many: &str| if n == 1 { one.to_owned() } else { many.to_owned() };
    format!(
        "{} of {} {} OK · {} of {} {} standing by",
        thousands(ok),
        thousands(recorders),
        plural(recorders, "recorder", "recorders"),
        thousands(standby),
        thousands(failover_servers),
        plural(failover_servers, "failover server", "failover servers"),
    )
}

fn wall(view: DashboardView, clock: Clock) -> impl IntoView {
    let line = summary(&view.servers);
    let all_fine = view.servers.iter().all(|server| !needs_attention(server));
    let managers = view.managers.clone();
    let show_fine = view.servers.len() <= TILES_FOR_ALL_UP_TO;
    let mut servers = view.servers;
    servers.retain(|server| show_fine || needs_attention(server));
    servers.sort_by(|a, b| {
        a.state.urgency().cmp(&b.state.urgency()).then_with(|| a.name.cmp(&b.name))
    });
    view! {
        <div class="dash-summary" data-testid="dash-summary" data-all-fine=all_fine.to_string()>{line}</div>
        <CoverageLine coverage=view.coverage />
        <ManagersLine managers />
        {(!view.active.is_empty()).then(|| view! {
            <div class="dash-active">
                <h2>"Active failovers"</h2>
                {view.active.into_iter().map(|failover| view! { <ActiveFailover failover clock /> }).collect_view()}
            </div>
        })}
        <div class="tiles">{servers.into_iter().map(|server| view! { <Tile server /> }).collect_view()}</div>
        <div class="dash-recent">
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

/// Up to this many causes of recorders not covered are on the wall, each naming up to
/// [`NAMES_PER_CAUSE`] recorders; the rest are counted.
const CAUSES_SHOWN: usize = 3;
const NAMES_PER_CAUSE: usize = 4;

/// "998 of 1,000 recorders covered if they fail; 2 not", and why not, before anything fails.
#[component]
fn CoverageLine(coverage: Coverage) -> impl IntoView {
    let all = coverage.not_covered.is_empty();
    let causes = coverage.causes();
    let more = causes.len().saturating_sub(CAUSES_SHOWN);
    view! {
        <div class="dash-coverage" data-testid="dash-coverage" data-all-covered=all.to_string()>
            <div class="dash-coverage-line">{coverage.summary()}</div>
            {(!all).then(|| view! {
                <ul class="dash-uncovered">
                    {causes
                        .into_iter()
                        .take(CAUSES_SHOWN)
                        .map(|cause| {
                            let names = cause.names(NAMES_PER_CAUSE);
                            view! { <li data-code=cause.code>{names} ": " {cause.text}</li> }
                        })
                        .collect_view()}
                    {(more > 0).then(|| view! { <li class="muted">{format!("and {more} other causes (Servers page)")}</li> })}
                </ul>
            })}
        </div>
    }
}

/// On a site with several managers: who leads, and a warning when none could take over.
#[component]
fn ManagersLine(managers: Managers) -> impl IntoView {
    let warning = managers.warning();
    let warned = warning.is_some().to_string();
    managers.shared.then(|| {
        view! {
            <div class="dash-managers" data-testid="dash-managers" data-warning=warned>
                {managers.summary()}
                {managers.leader().and_then(|leader| leader.epoch).map(|epoch| format!(" (term {epoch})"))}
                {warning.map(|warning| view! { <span class="dash-managers-warning">" — " {warning}</span> })}
            </div>
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, kind: ServerKind, state: ServerState) -> Server {
        Server::sample(0, name, kind, state)
    }

    #[test]
    fn the_summary_counts_what_is_fine_and_problems_come_first() {
        let mut servers: Vec<Server> = (0..997)
            .map(|i| server(&format!("rec-{i}"), ServerKind::Recorder, ServerState::Ok))
            .collect();
        servers.push(server("rec-dead", ServerKind::Recorder, ServerState::Unreachable));
        servers.push(server("rec-moved", ServerKind::Recorder, ServerState::Broken));
        servers.push(server("fo-1", ServerKind::Failover, ServerState::Acting));
        servers.push(server("fo-2", ServerKind::Failover, ServerState::Standby));
        assert_eq!(
            summary(&servers),
            "997 of 999 recorders OK · 1 of 2 failover servers standing by"
        );
        assert!(ServerState::Unreachable.urgency() < ServerState::Broken.urgency());
        assert!(ServerState::Acting.urgency() < ServerState::Ok.urgency());
        assert_eq!(servers.iter().filter(|s| needs_attention(s)).count(), 3);
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
