//! The page's connection to the manager's event stream (`/api/v1/events`).
//!
//! Every system change notification bumps `version`; resources that read it refetch. After a
//! reconnect the version is bumped too, because changes may have been missed meanwhile.

use leptos::prelude::*;

/// The event stream's last event when the caller's session or token ended.
pub const SIGNED_OUT: &str = "signed_out";

#[derive(Clone, Copy)]
pub struct Live {
    /// Grows by one with every change notification.
    pub version: RwSignal<u64>,
    /// False while the stream is down; the page then says it is reconnecting.
    pub connected: RwSignal<bool>,
}

impl Live {
    pub fn changed(&self) {
        self.version.update(|version| *version += 1);
    }
}

/// Provides [`Live`] to the page; [`Live::connect`] starts the stream once someone is logged in.
pub fn provide_live() -> Live {
    let live = Live { version: RwSignal::new(0), connected: RwSignal::new(true) };
    provide_context(live);
    live
}

impl Live {
    /// Opens the event stream unless it is open already (in the browser; nothing on the server).
    pub fn connect(self) {
        #[cfg(feature = "hydrate")]
        browser::ensure_connected(self);
    }
}

pub fn use_live() -> Live {
    use_context::<Live>().unwrap_or_else(provide_live)
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Live;
    use crate::model::SystemEvent;
    use leptos::prelude::{GetUntracked, Set};
    use std::cell::RefCell;
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use web_sys::{EventSource, MessageEvent};

    /// The browser retries by itself after a dropped connection, but gives up for good when the
    /// server answers with an error (e.g. while it restarts): then we open a new stream.
    const RETRY_AFTER_CLOSE: Duration = Duration::from_secs(2);

    thread_local! {
        static SOURCE: RefCell<Option<EventSource>> = const { RefCell::new(None) };
    }

    pub fn ensure_connected(live: Live) {
        let open = SOURCE.with_borrow(|source| {
            source.as_ref().is_some_and(|source| source.ready_state() != EventSource::CLOSED)
        });
        if !open {
            connect(live);
        }
    }

    fn sign_in_again() {
        let Some(window) = web_sys::window() else { return };
        let location = window.location();
        let path = location.pathname().unwrap_or_default();
        if path.starts_with("/login") {
            return;
        }
        let here = format!("{path}{}", location.search().unwrap_or_default());
        let next = String::from(js_sys::encode_uri_component(&here));
        let _ = location.assign(&format!("/login?next={next}"));
    }

    fn connect(live: Live) {
        let Ok(source) = EventSource::new("/api/v1/events") else {
            live.connected.set(false);
            schedule_reconnect(live);
            return;
        };

        let on_open = Closure::<dyn FnMut()>::new(move || {
            if !live.connected.get_untracked() {
                live.changed();
            }
            live.connected.set(true);
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        on_open.forget();

        let on_change = Closure::<dyn FnMut(MessageEvent)>::new(move |_event: MessageEvent| {
            live.changed();
        });
        for name in SystemEvent::NAMES {
            let _ =
                source.add_event_listener_with_callback(name, on_change.as_ref().unchecked_ref());
        }
        on_change.forget();

        // Logged out, revoked or removed: reconnecting would only be refused, and so would
        // asking for the page's data again. The login page, coming back here afterwards.
        let ended = source.clone();
        let on_signed_out = Closure::<dyn FnMut(MessageEvent)>::new(move |_event: MessageEvent| {
            ended.close();
            sign_in_again();
        });
        let _ = source.add_event_listener_with_callback(
            super::SIGNED_OUT,
            on_signed_out.as_ref().unchecked_ref(),
        );
        on_signed_out.forget();

        let watched = source.clone();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            live.connected.set(false);
            if watched.ready_state() == EventSource::CLOSED {
                schedule_reconnect(live);
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        SOURCE.with_borrow_mut(|slot| *slot = Some(source));
    }

    fn schedule_reconnect(live: Live) {
        leptos::prelude::set_timeout(move || ensure_connected(live), RETRY_AFTER_CLOSE);
    }
}
