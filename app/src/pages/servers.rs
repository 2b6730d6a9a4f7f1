//! The Servers page: every server's live state at a glance, its settings per server, and (for
//! administrators) adding and editing servers.

use crate::failure::Failure;
use crate::live::use_live;
use crate::model::{
    Coverage, DemoPower, Managers, NewServer, Server, ServerKind, ServerPatch, ServerState,
    WriteOnly,
};
use crate::page_data::{Followed, LiveData};
use crate::rights::Right;
use crate::screens::ServersView;
use crate::server_fns::{
    add_server, assign_group, edit_server, load_servers_page, remove_server, set_demo_power,
};
use crate::time::LocalTime;
use leptos::prelude::*;

type SwitchAction = Action<(i64, DemoPower), Result<(), Failure>>;
type EditAction = Action<(i64, ServerPatch), Result<Server, Failure>>;
type AddAction = Action<NewServer, Result<Server, Failure>>;
type AssignAction = Action<(i64, Option<i64>), Result<(), Failure>>;

#[component]
pub fn ServersPage() -> impl IntoView {
    let live = use_live();
    let servers = LiveData::new(load_servers_page);
    let filter = RwSignal::new(String::new());
    let listing = Listing::default();
    let switch: SwitchAction = Action::new(|(server_id, power): &(i64, DemoPower)| {
        let (server_id, power) = (*server_id, *power);
        async move { set_demo_power(server_id, power).await }
    });
    let edit: EditAction = Action::new(|(id, patch): &(i64, ServerPatch)| {
        let (id, patch) = (*id, patch.clone());
        async move { edit_server(id, patch).await }
    });
    let add: AddAction = Action::new(|new: &NewServer| {
        let new = new.clone();
        async move { add_server(new).await }
    });
    // An action's own answer refreshes the page even before the monitor notices the change.
    let assign: AssignAction = Action::new(|(server, group): &(i64, Option<i64>)| {
        let (server, group) = (*server, *group);
        async move { assign_group(server, group).await }
    });
    Effect::new(move |_| {
        let actions = switch.version().get() + edit.version().get() + add.version().get();
        if actions + assign.version().get() > 0 {
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
                <ListingControls listing />
            </header>
            {move || refusal(switch.value().get().and_then(Result::err))}
            {move || refusal(edit.value().get().and_then(Result::err))}
            {move || refusal(assign.value().get().and_then(Result::err))}
            // Built once and updated in place, so a live refresh keeps what is being typed
            // into the forms.
            {servers.view("Loading servers…", ServersView::apply, move |view| {
                let admin = move || view.with(|view| view.me.can(Right::ManageServers)).unwrap_or_default();
                view! {
                    <Show when=admin>
                        <AddServerForm add />
                    </Show>
                    {move || view.with(|view| view! { <CoverageSummary coverage=view.coverage.clone() /> })}
                    <ServerTable view filter listing switch edit assign />
                }
            })}
        </section>
    }
}

fn refusal(failure: Option<Failure>) -> Option<impl IntoView> {
    failure.map(|failure| view! { <p class="error" role="alert">{failure.message}</p> })
}

#[component]
fn AddServerForm(add: AddAction) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let address = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let failover = RwSignal::new(false);
    let monitored = RwSignal::new(true);
    let auto_failback = RwSignal::new(true);
    view! {
        <details class="add-server">
            <summary>"Add a server"</summary>
            <form
                class="add-form"
                on:submit=move |event| {
                    event.prevent_default();
                    add.dispatch(NewServer {
                        name: name.get(),
                        address: address.get(),
                        kind: if failover.get() { ServerKind::Failover } else { ServerKind::Recorder },
                        failover_enabled: monitored.get(),
                        auto_failback: auto_failback.get(),
                        copy_after_failback: true,
                        secret: Some(secret.get()).filter(|secret| !secret.is_empty()).map(WriteOnly),
                    });
                }
            >
                <label>"Name" <input type="text" required bind:value=name data-testid="add-name" /></label>
                <label>"Address" <input type="text" required placeholder="10.0.0.5:8080" bind:value=address data-testid="add-address" /></label>
                <label title="The contents of DATA_DIR/secret on the recorder (or of its --secret-file)">
                    "Agent secret" <input type="password" autocomplete="off" bind:value=secret data-testid="add-secret" />
                </label>
                <label><input type="checkbox" bind:checked=failover /> " Failover server"</label>
                <label><input type="checkbox" bind:checked=monitored /> " Failover monitoring"</label>
                <label><input type="checkbox" bind:checked=auto_failback /> " Automatic failback"</label>
                <button type="submit" disabled=move || add.pending().get()>"Add"</button>
            </form>
            {move || {
                add.value()
                    .get()
                    .map(|answer| match answer {
                        Ok(server) => view! { <p class="ok" role="status">"Added " {server.name} "."</p> }.into_any(),
                        Err(failure) => view! { <p class="error" role="alert" data-testid="add-refused">{failure.message}</p> }.into_any(),
                    })
            }}
        </details>
    }
}

/// Rows per page: a site of 1,000 servers stays a page a browser draws at once.
const PAGE_ROWS: usize = 50;

/// How the table is narrowed, ordered and paged; kept by the page, so a live refresh keeps it.
#[derive(Clone, Copy)]
struct Listing {
    /// "", "attention", or a state's name.
    state: RwSignal<String>,
    /// "", "none", or a group's id.
    group: RwSignal<String>,
    /// "problems", "name", "state", "seen".
    sort: RwSignal<String>,
    page: RwSignal<usize>,
}

impl Default for Listing {
    fn default() -> Self {
        Listing {
            state: RwSignal::new(String::new()),
            group: RwSignal::new(String::new()),
            sort: RwSignal::new("problems".into()),
            page: RwSignal::new(0),
        }
    }
}

#[component]
fn ListingControls(listing: Listing) -> impl IntoView {
    // A changed narrowing starts at the first page again.
    let reset = move |_| listing.page.set(0);
    view! {
        <select aria-label="Show servers in state" data-testid="state-filter" bind:value=listing.state on:change=reset>
            <option value="">"Every state"</option>
            <option value="attention">"Needs attention"</option>
            {[ServerState::Ok, ServerState::Unreachable, ServerState::Broken, ServerState::Standby, ServerState::Acting]
                .into_iter()
                .map(|state| view! { <option value=state.as_str()>{state.label()}</option> })
                .collect_view()}
        </select>
        <select aria-label="Sort servers by" data-testid="server-sort" bind:value=listing.sort on:change=reset>
            <option value="problems">"Problems first"</option>
            <option value="name">"Name"</option>
            <option value="state">"State"</option>
            <option value="seen">"Last seen (oldest first)"</option>
        </select>
    }
}

/// The rows the listing selects, in its order, before paging.
fn select(view: &ServersView, needle: &str, listing: Listing) -> Vec<Server> {
    let (state, group) = (listing.state.get(), listing.group.get());
    let mut rows: Vec<Server> = view
        .servers
        .iter()
        .filter(|server| {
            needle.is_empty()
                || server.name.to_lowercase().contains(needle)
                || server.address.to_lowercase().contains(needle)
        })
        .filter(|server| match state.as_str() {
            "" => true,
            "attention" => server.state.needs_attention(),
            wanted => server.state.as_str() == wanted,
        })
        .filter(|server| match group.as_str() {
            "" => true,
            "none" => view.group_of(server.id).is_none(),
            wanted => view.group_of(server.id).is_some_and(|(id, _)| id.to_string() == wanted),
        })
        .cloned()
        .collect();
    match listing.sort.get().as_str() {
        "name" => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        "state" => rows
            .sort_by(|a, b| a.state.label().cmp(b.state.label()).then_with(|| a.name.cmp(&b.name))),
        "seen" => rows
            .sort_by(|a, b| a.last_seen_at.cmp(&b.last_seen_at).then_with(|| a.name.cmp(&b.name))),
        _ => rows.sort_by(|a, b| {
            a.state
                .urgency()
                .cmp(&b.state.urgency())
                .then_with(|| {
                    (a.kind != ServerKind::Recorder).cmp(&(b.kind != ServerKind::Recorder))
                })
                .then_with(|| a.name.cmp(&b.name))
        }),
    }
    rows
}

#[component]
fn ServerTable(
    /// The list as loaded, kept up to date by the change notifications themselves.
    view: Followed<ServersView>,
    filter: RwSignal<String>,
    listing: Listing,
    switch: SwitchAction,
    edit: EditAction,
    assign: AssignAction,
) -> impl IntoView {
    let selected = Memo::new(move |_| {
        let needle = filter.get().to_lowercase();
        view.with(|view| select(view, &needle, listing)).unwrap_or_default()
    });
    let pages = move || selected.with(Vec::len).div_ceil(PAGE_ROWS).max(1);
    let page = move || listing.page.get().min(pages() - 1);
    let visible = move || {
        let first = page() * PAGE_ROWS;
        selected.with(|rows| rows.iter().skip(first).take(PAGE_ROWS).cloned().collect::<Vec<_>>())
    };
    let has_demo = move || view.with(|view| view.demo.is_some()).unwrap_or_default();
    let groups = move || {
        view.with(|view| {
            view.groups.iter().map(|group| (group.id, group.name.clone())).collect::<Vec<_>>()
        })
        .unwrap_or_default()
    };
    let admin = move || view.with(|view| view.me.can(Right::ManageServers)).unwrap_or_default();
    view! {
        {move || (!admin()).then(|| view! {
            <p class="muted">"Only administrators change server settings; operators switch maintenance mode."</p>
        })}
        {move || {
            let groups = groups();
            (!groups.is_empty()).then(|| view! {
                <label class="group-filter">
                    "Group "
                    <select aria-label="Show servers of group" data-testid="group-filter" bind:value=listing.group on:change=move |_| listing.page.set(0)>
                        <option value="">"Every group"</option>
                        <option value="none">"No group"</option>
                        {groups.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                    </select>
                </label>
            })
        }}
        <table class="servers-table">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"State"</th>
                    <th>"Covered if it fails"</th>
                    <th>"Acting for"</th>
                    <th>"Address"</th>
                    <th>"Last seen"</th>
                    <th>"Group"</th>
                    <th>"Failover monitoring"</th>
                    <th>"Automatic failback"</th>
                    <th>"Maintenance"</th>
                    {move || has_demo().then(|| view! { <th>"Demo"</th> })}
                </tr>
            </thead>
            <tbody>
                {move || {
                    let servers = visible();
                    if servers.is_empty() {
                        return view! {
                            <tr>
                                <td colspan="11" class="muted">"No servers match."</td>
                            </tr>
                        }
                            .into_any();
                    }
                    let has_demo = has_demo();
                    let groups = groups();
                    view.with(|view| {
                        let rights = RowRights {
                            admin: view.me.can(Right::ManageServers),
                            maintenance: view.me.can(Right::SetMaintenanceMode),
                            switch: view.me.can(Right::DemoPower),
                        };
                        servers
                            .into_iter()
                            .map(|server| {
                                let powered = view.switch_for(server.id).map(|switch| switch.powered);
                                let group = view.group_of(server.id);
                                let groups = groups.clone();
                                let coverage = (server.kind == ServerKind::Recorder).then(|| {
                                    view.coverage
                                        .of_server(server.id)
                                        .map(|readiness| readiness.reasons.iter().map(|reason| reason.message.clone()).collect())
                                        .unwrap_or_default()
                                });
                                view! { <ServerRow server group groups coverage powered has_demo rights switch edit assign /> }
                                    .into_any()
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
                    .into_any()
                }}
            </tbody>
        </table>
        <nav class="pager" data-testid="server-pager">
            <span>{move || {
                let total = selected.with(Vec::len);
                let first = (page() * PAGE_ROWS + 1).min(total);
                let last = ((page() + 1) * PAGE_ROWS).min(total);
                format!("{first}–{last} of {total}")
            }}</span>
            <button type="button" disabled=move || page() == 0 on:click=move |_| listing.page.set(page().saturating_sub(1))>"Previous"</button>
            <button type="button" disabled=move || { page() + 1 >= pages() } on:click=move |_| listing.page.set(page() + 1)>"Next"</button>
        </nav>
        {move || view.with(|view| view! { <ManagersTable managers=view.managers.clone() /> })}
    }
}

/// The managers on the site's database: which leads, since when, in which term.
/// "996 of 1,000 recorders covered if they fail; 4 not", and the ones that are not.
#[component]
fn CoverageSummary(coverage: Coverage) -> impl IntoView {
    let all = coverage.not_covered.is_empty();
    view! {
        <section class="coverage-summary" data-testid="coverage-summary" data-all-covered=all.to_string()>
            <p class=if all { "covered" } else { "not-covered" }>{coverage.summary()}</p>
        </section>
    }
}

#[component]
fn ManagersTable(managers: Managers) -> impl IntoView {
    let warning = managers.warning();
    view! {
        <section class="managers" data-testid="managers">
            <h2>"Managers"</h2>
            {warning.map(|warning| view! { <p class="error" role="status" data-testid="managers-warning">{warning}</p> })}
            {(!managers.shared).then(|| view! {
                <p class="muted">"An SQLite database has exactly one manager; run several on one PostgreSQL database to have another take over."</p>
            })}
            <table class="managers-table">
                <thead>
                    <tr>
                        <th>"Manager"</th>
                        <th>"Listens on"</th>
                        <th>"Role"</th>
                        <th>"Term"</th>
                        <th>"Leads since"</th>
                        <th>"Started"</th>
                        <th>"Last renewal"</th>
                    </tr>
                </thead>
                <tbody>
                    {managers.list.into_iter().map(|manager| view! {
                        <tr data-manager=manager.id.clone() data-leader=manager.leader.to_string()>
                            <td>{manager.id.clone()}</td>
                            <td>{manager.listen.clone()}</td>
                            <td>{if manager.leader { "Leader" } else { "Follower" }}</td>
                            <td>{manager.epoch.map(|epoch| epoch.to_string()).unwrap_or_default()}</td>
                            <td>{manager.leader_since.map(|at| view! { <LocalTime at=Some(at) /> })}</td>
                            <td><LocalTime at=Some(manager.started_at) /></td>
                            <td><LocalTime at=Some(manager.last_renewed_at) /></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// What the caller's role allows on a row (the server checks again).
#[derive(Clone, Copy)]
struct RowRights {
    admin: bool,
    maintenance: bool,
    switch: bool,
}

#[component]
fn ServerRow(
    server: Server,
    /// The server's failover group (id, name), if any.
    group: Option<(i64, String)>,
    /// Every failover group, for an administrator's choice.
    groups: Vec<(i64, String)>,
    /// A recorder: why a failover now would not cover it (empty: it would).
    coverage: Option<Vec<String>>,
    /// `Some` when `standby demo` runs this server's process.
    powered: Option<bool>,
    has_demo: bool,
    rights: RowRights,
    switch: SwitchAction,
    edit: EditAction,
    assign: AssignAction,
) -> impl IntoView {
    let state = server.state;
    let id = server.id;
    let recorder = server.kind == ServerKind::Recorder;
    let toggle =
        move |label: &'static str, on: bool, allowed: bool, patch: ServerPatch, testid: String| {
            view! {
                <button
                    class="toggle"
                    aria-pressed=on.to_string()
                    aria-label=label
                    data-testid=testid
                    disabled=move || !allowed || edit.pending().get()
                    on:click=move |_| {
                        edit.dispatch((id, patch.clone()));
                    }
                >
                    {if on { "on" } else { "off" }}
                </button>
            }
        };
    let name = server.name.clone();
    view! {
        <tr data-server=server.name.clone() data-state=state.as_str()>
            <td class="name">
                {server.name.clone()}
                <div class="muted kind">{server.kind.as_str()}</div>
                {rights.admin.then(|| view! { <EditNameAndAddress server=server.clone() edit /> })}
            </td>
            <td>
                <span class=format!("state state-{}", state.as_str())>{state.label()}</span>
            </td>
            <td class="coverage" data-testid=format!("coverage-{name}")>
                {coverage.map(|reasons| {
                    if reasons.is_empty() {
                        view! { <span class="covered">"Covered"</span> }.into_any()
                    } else {
                        view! {
                            <span class="not-covered">"Not covered"</span>
                            <ul class="reasons">{reasons.into_iter().map(|reason| view! { <li>{reason}</li> }).collect_view()}</ul>
                        }
                            .into_any()
                    }
                })}
            </td>
            <td>{server.acting_for.clone().unwrap_or_default()}</td>
            <td class="address">{server.address.clone()}</td>
            <td>
                <LocalTime at=server.last_seen_at />
            </td>
            <td>
                {if rights.admin {
                    let current = group.as_ref().map(|(id, _)| *id);
                    view! {
                        <select
                            aria-label="Failover group"
                            data-testid=format!("group-{name}")
                            on:change=move |event| {
                                assign.dispatch((id, event_target_value(&event).parse().ok()));
                            }
                        >
                            <option value="" selected=current.is_none()>"—"</option>
                            {groups
                                .into_iter()
                                .map(|(group_id, group_name)| {
                                    view! { <option value=group_id.to_string() selected=current == Some(group_id)>{group_name}</option> }
                                })
                                .collect_view()}
                        </select>
                    }
                        .into_any()
                } else {
                    view! { <span>{group.map(|(_, name)| name).unwrap_or_else(|| "—".into())}</span> }.into_any()
                }}
            </td>
            <td>
                {recorder.then(|| toggle(
                    "Failover monitoring",
                    server.failover_enabled,
                    rights.admin,
                    ServerPatch { failover_enabled: Some(!server.failover_enabled), ..Default::default() },
                    format!("monitoring-{name}"),
                ))}
            </td>
            <td>
                {recorder.then(|| toggle(
                    "Automatic failback",
                    server.auto_failback,
                    rights.admin && server.failover_enabled,
                    ServerPatch { auto_failback: Some(!server.auto_failback), ..Default::default() },
                    format!("auto-failback-{name}"),
                ))}
            </td>
            <td>
                {toggle(
                    "Maintenance mode",
                    server.maintenance_mode,
                    rights.maintenance,
                    ServerPatch { maintenance_mode: Some(!server.maintenance_mode), ..Default::default() },
                    format!("maintenance-{name}"),
                )}
            </td>
            {has_demo.then(|| view! { <td>{powered.map(|powered| view! { <DemoSwitchButton id name=name.clone() powered allowed=rights.switch switch /> })}</td> })}
        </tr>
    }
}

#[component]
fn DemoSwitchButton(
    id: i64,
    name: String,
    powered: bool,
    allowed: bool,
    switch: SwitchAction,
) -> impl IntoView {
    let (label, power) =
        if powered { ("Switch off", DemoPower::Off) } else { ("Switch on", DemoPower::On) };
    view! {
        <button
            class="demo-switch"
            data-testid=format!("demo-switch-{name}")
            disabled=move || !allowed || switch.pending().get()
            title=(!allowed).then_some("Your role cannot switch demo servers.")
            on:click=move |_| {
                switch.dispatch((id, power));
            }
        >
            {label}
        </button>
        {(!allowed).then(|| view! { <small class="muted">" operators only"</small> })}
    }
}

/// An administrator's inline edit of a server's name, address and agent secret, and its removal.
#[component]
fn EditNameAndAddress(server: Server, edit: EditAction) -> impl IntoView {
    let name = RwSignal::new(server.name.clone());
    let address = RwSignal::new(server.address.clone());
    let secret = RwSignal::new(String::new());
    let confirming = RwSignal::new(false);
    let live = use_live();
    let remove = Action::new(|id: &i64| remove_server(*id));
    Effect::new(move |_| {
        if remove.version().get() > 0 {
            live.changed();
        }
    });
    let id = server.id;
    let label = server.name.clone();
    // The table is updated in place, so the editor stays open by itself: a saved edit closes it.
    let editor = NodeRef::<leptos::html::Details>::new();
    let answered_before = edit.version().get_untracked();
    Effect::new(move |_| {
        let new_answer = edit.version().get() > answered_before;
        let saved = new_answer
            && edit.value().with_untracked(|answer| {
                answer
                    .as_ref()
                    .is_some_and(|answer| answer.as_ref().is_ok_and(|server| server.id == id))
            });
        if let (true, Some(editor)) = (saved, editor.get()) {
            editor.set_open(false);
        }
    });
    view! {
        <details class="edit-server" node_ref=editor>
            <summary data-testid=format!("edit-{}", server.name)>"Edit"</summary>
            <form on:submit=move |event| {
                event.prevent_default();
                let secret = Some(secret.get()).filter(|secret| !secret.is_empty()).map(WriteOnly);
                edit.dispatch((id, ServerPatch { name: Some(name.get()), address: Some(address.get()), secret, ..Default::default() }));
            }>
                <input type="text" aria-label="Name" bind:value=name />
                <input type="text" aria-label="Address" bind:value=address />
                <input type="password" aria-label="New agent secret" placeholder="New agent secret (optional)" autocomplete="off" bind:value=secret />
                <button type="submit">"Save"</button>
            </form>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button class="danger" data-testid=format!("remove-{label}") on:click=move |_| confirming.set(true)>"Remove…"</button>
                }
            >
                <span class="confirm">
                    "Remove " {server.name.clone()} "? The failover log keeps it. "
                    <button class="danger" data-testid="remove-confirm" disabled=move || remove.pending().get() on:click=move |_| { remove.dispatch(id); }>"Remove"</button>
                    <button on:click=move |_| confirming.set(false)>"Cancel"</button>
                </span>
            </Show>
            {move || remove.value().get().and_then(Result::err).map(|failure| view! { <p class="error" role="alert">{failure.message}</p> })}
        </details>
    }
}
