//! What browser and server share: the domain objects, the server functions and the pages.

pub mod api;
pub mod failure;
pub mod live;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod port;
pub mod time;
pub mod view;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Redirect, Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let live = live::provide_live();
    mark_hydrated();

    view! {
        <Stylesheet id="standby" href="/pkg/standby.css" />
        <Title formatter=|page: String| format!("{page} · Standby") />
        <Router>
            <nav class="top">
                <span class="brand">"Standby"</span>
                <A href="/servers">"Servers"</A>
                <span class="spacer"></span>
                <span class="connection" data-connected=move || live.connected.get().to_string()>
                    {move || if live.connected.get() { "live" } else { "offline" }}
                </span>
            </nav>
            <Show when=move || !live.connected.get()>
                <div class="banner banner-offline" role="status">
                    "Connection to the manager lost — reconnecting…"
                </div>
            </Show>
            <main>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=|| view! { <Redirect path="/servers" /> } />
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
                "There is no page at this address. " <a href="/servers">"Go to the servers"</a> "."
            </p>
        </section>
    }
}

/// Tells tests (and curious people) that the wasm has taken over the page.
fn mark_hydrated() {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
