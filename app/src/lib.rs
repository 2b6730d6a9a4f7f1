//! What browser and server share: the domain objects, the server functions and the pages.

#[cfg(feature = "ssr")]
pub mod cookies;
pub mod drill;
pub mod evidence;
pub mod failure;
pub mod live;
pub mod model;
pub mod page_data;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod port;
pub mod rights;
pub mod screens;
pub mod server_fns;
pub mod text;
pub mod time;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Redirect, Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Named here, so no browser asks for a /favicon.ico that is not there.
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Only our own scripts run: the hydration script by its nonce, the bundle by its origin.
fn content_security_policy() {
    #[cfg(feature = "ssr")]
    if let (Some(response), Some(nonce)) =
        (use_context::<leptos_axum::ResponseOptions>(), leptos::nonce::use_nonce())
    {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        );
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    live::provide_live();
    time::provide_clock();
    let logout = ServerAction::<server_fns::Logout>::new();

    view! {
        <Stylesheet id="standby" href="/pkg/standby.css" />
        <Title formatter=|page: String| format!("{page} · Standby") />
        <Router>
            <TopBar logout />
            <main>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=|| view! { <Redirect path="/failovers" /> } />
                    <Route
                        path=path!("/failovers")
                        view=|| {
                            view! {
                                <Title text="Failover log" />
                                <pages::failovers::FailoverLogPage />
                            }
                        }
                    />
                    <Route
                        path=path!("/failovers/:id")
                        view=|| {
                            view! {
                                <Title text="Failover" />
                                <pages::failover_detail::FailoverDetailPage />
                            }
                        }
                    />
                    <Route
                        path=path!("/failovers/:id/report")
                        view=|| {
                            view! {
                                <Title text="Failover report" />
                                <pages::report::FailoverReportPage />
                            }
                        }
                    />
                    <Route
                        path=path!("/drills")
                        view=|| {
                            view! {
                                <Title text="Drill log" />
                                <pages::drills::DrillLogPage />
                            }
                        }
                    />
                    <Route
                        path=path!("/dashboard")
                        view=|| {
                            view! {
                                <Title text="Dashboard" />
                                <pages::dashboard::DashboardPage />
                            }
                        }
                    />
                    <Route
                        path=path!("/login")
                        view=|| {
                            view! {
                                <Title text="Log in" />
                                <pages::login::LoginPage />
                            }
                        }
                    />
                    <Route
                        path=path!("/audit")
                        view=|| {
                            view! {
                                <Title text="Audit trail" />
                                <pages::audit::AuditPage />
                            }
                        }
                    />
                    <Route
                        path=path!("/servers")
                        view=|| {
                            view! {
                                <Title text="Servers" />
                                <pages::servers::ServersPage />
                            }
                        }
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// Navigation, who is signed in, and the connection state; the dashboard has its own.
#[component]
fn TopBar(logout: ServerAction<server_fns::Logout>) -> impl IntoView {
    let live = live::use_live();
    let location = leptos_router::hooks::use_location();
    let on_dashboard = move || location.pathname.get() == "/dashboard";
    view! {
        <Show when=move || !on_dashboard()>
            <nav class="top">
                <span class="brand">"Standby"</span>
                <A href="/failovers">"Failover log"</A>
                <A href="/drills">"Drills"</A>
                <A href="/servers">"Servers"</A>
                <A href="/dashboard">"Dashboard"</A>
                <A href="/audit">"Audit"</A>
                <span class="spacer"></span>
                <WhoAmI logout />
                <span class="connection" data-connected=move || live.connected.get().to_string()>
                    {move || if live.connected.get() { "live" } else { "offline" }}
                </span>
            </nav>
            <Show when=move || !live.connected.get()>
                <div class="banner banner-offline" role="status">
                    "Connection to the manager lost — reconnecting…"
                </div>
            </Show>
        </Show>
        // The dashboard needs the stream too, without the navigation.
        <Show when=on_dashboard>
            <WhoAmI logout hidden=true />
        </Show>
    }
}

/// The signed-in user and the way out; refreshed on every navigation (logging in changes it).
#[component]
fn WhoAmI(
    logout: ServerAction<server_fns::Logout>,
    /// Only connect the event stream, show nothing (the dashboard).
    #[prop(optional)]
    hidden: bool,
) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let me = page_data::PageData::new(move || location.pathname.get(), |_| server_fns::whoami());
    let live = live::use_live();
    me.view_once(move |me| {
        let me = Signal::derive(move || me.get().flatten());
        Effect::new(move |_| {
            if me.get().is_some() {
                live.connect();
            }
        });
        move || {
            me.get().filter(|_| !hidden).map(|me| {
                view! {
                    <span class="me" data-role=me.role.as_str()>
                        {me.name} " · " {me.role.as_str()}
                    </span>
                    <ActionForm action=logout attr:class="logout">
                        <button type="submit" class="link">"Log out"</button>
                    </ActionForm>
                }
            })
        }
    })
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="page">
            <h1>"Page not found"</h1>
            <p>
                "There is no page at this address. " <a href="/failovers">"Go to the failover log"</a> "."
            </p>
        </section>
    }
}

/// Tells tests (and curious people) that the wasm has taken over the whole page. Called by the
/// browser entry once hydration has gone through: a mismatch panics before it.
#[cfg(feature = "hydrate")]
pub fn mark_hydrated() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
