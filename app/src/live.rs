//! The page's connection to the manager's event stream (`/api/v1/events`).
//!
//! A change notification carries the changed object, and pages apply it in place
//! ([`Live::each_event`]) rather than loading whole lists again. `version` grows only when what
//! a page shows must be loaded again: after a reconnect (changes may have been missed), a
//! `resync` from the manager, a gap in what a page has applied, or the page's own action.

use crate::model::SystemEvent;
use leptos::prelude::*;
use std::collections::VecDeque;

/// The event stream's last event when the caller's session or token ended.
pub const SIGNED_OUT: &str = "signed_out";

/// Events kept for pages that apply them: a page further behind than this loads again.
const KEPT: usize = 512;

#[derive(Clone, Copy)]
pub struct Live {
    /// Grows by one whenever pages must load what they show again.
    pub version: RwSignal<u64>,
    /// False while the stream is down; the page then says it is reconnecting.
    pub connected: RwSignal<bool>,
    /// How often the stream has opened.
    opened: RwSignal<u64>,
    /// The number of the newest event received.
    newest: RwSignal<u64>,
    /// The last [`KEPT`] events with their numbers, oldest first.
    kept: StoredValue<VecDeque<(u64, SystemEvent)>>,
}

impl Live {
    /// What pages show must be loaded again.
    pub fn changed(&self) {
        self.version.update(|version| *version += 1);
    }

    /// One notification from the stream.
    pub fn received(&self, event: SystemEvent) {
        if event == SystemEvent::Resync {
            self.changed();
            return;
        }
        let number = self.newest.get_untracked() + 1;
        self.kept.update_value(|kept| {
            kept.push_back((number, event));
            if kept.len() > KEPT {
                kept.pop_front();
            }
        });
        self.newest.set(number);
    }

    /// Calls `apply` with every notification from now on, each once and in order (in the
    /// browser; the server renders one moment). A page that somehow missed some (more than
    /// [`KEPT`] at once) loads again instead.
    pub fn each_event(self, mut apply: impl FnMut(&SystemEvent) + 'static) {
        let mut applied = self.newest.get_untracked();
        Effect::new(move |_| {
            let newest = self.newest.get();
            if self.replay(applied, &mut apply).is_err() && newest > applied {
                self.changed();
            }
            applied = newest;
        });
    }

    /// How often the stream has opened, tracked.
    pub(crate) fn opened(self) -> u64 {
        self.opened.get()
    }

    /// How often the stream has opened, not tracked.
    pub(crate) fn opened_untracked(self) -> u64 {
        self.opened.get_untracked()
    }

    /// The number of the newest notification received, tracked.
    pub(crate) fn newest(self) -> u64 {
        self.newest.get()
    }

    /// The number of the newest notification received, not tracked.
    pub(crate) fn newest_untracked(self) -> u64 {
        self.newest.get_untracked()
    }

    /// Calls `apply` with every kept notification numbered above `after`, in order; `Err` (and
    /// nothing applied) when some of those are no longer kept, so the caller loads again.
    pub(crate) fn replay(
        self,
        after: u64,
        mut apply: impl FnMut(&SystemEvent),
    ) -> Result<(), MissedEvents> {
        self.kept.with_value(|kept| {
            let first = kept.front().map_or(self.newest.get_untracked() + 1, |(number, _)| *number);
            if first > after + 1 {
                return Err(MissedEvents);
            }
            for (_, event) in kept.iter().filter(|(number, _)| *number > after) {
                apply(event);
            }
            Ok(())
        })
    }
}

/// Notifications a page needed are no longer kept: it loads what it shows again.
#[derive(Debug)]
pub(crate) struct MissedEvents;

impl Live {
    /// A number that grows with every notification `wanted` picks (and with every reload): for
    /// a page that shows one bounded thing and loads it again when that changes.
    pub fn changes_of(self, wanted: impl Fn(&SystemEvent) -> bool + 'static) -> Signal<u64> {
        let picked = RwSignal::new(0u64);
        self.each_event(move |event| {
            if wanted(event) {
                picked.update(|count| *count += 1);
            }
        });
        Signal::derive(move || picked.get() + self.version.get())
    }
}

/// Provides [`Live`] to the page; [`Live::connect`] starts the stream once someone is logged in.
pub fn provide_live() -> Live {
    let live = Live {
        version: RwSignal::new(0),
        connected: RwSignal::new(true),
        opened: RwSignal::new(0),
        newest: RwSignal::new(0),
        kept: StoredValue::new(VecDeque::new()),
    };
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
    use leptos::prelude::{GetUntracked, Set, Update};
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
            live.opened.update(|opened| *opened += 1);
            live.connected.set(true);
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        on_open.forget();

        let on_change = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data().as_string().unwrap_or_default();
            match serde_json::from_str::<SystemEvent>(&data) {
                Ok(event) => live.received(event),
                // A notification this page cannot read: load what it shows again.
                Err(_) => live.changed(),
            }
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
