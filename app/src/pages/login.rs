//! The login page. It works without the wasm too: the form posts to the server function.

use crate::server_fns::Login;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let next = move || use_query_map().with(|query| query.get("next")).unwrap_or_default();
    view! {
        <section class="page login">
            <h1>"Log in to Standby"</h1>
            <ActionForm action=login attr:class="login-form">
                <label>
                    "User name" <input type="text" name="username" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                <input type="hidden" name="next" value=next />
                <button type="submit" disabled=move || login.pending().get()>"Log in"</button>
            </ActionForm>
            {move || {
                login
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|failure| view! { <p class="error" role="alert">{failure.message}</p> })
            }}
        </section>
    }
}
