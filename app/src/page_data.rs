//! What a page loads from the manager, and the only way a page shows it.
//!
//! A server resource read outside a `<Transition>` is still empty while the server renders that
//! part (so the HTML has nothing there), but already filled while the browser hydrates it (the
//! server sent the answer along), so the browser's first render differs from the HTML and the
//! page dies with a hydration error. [`PageData`] keeps its resource private and reads it only
//! inside a Transition, so pages cannot make that mistake.

use crate::failure::Failure;
use crate::live::{Live, use_live};
use crate::model::SystemEvent;
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub struct PageData<T: Send + Sync + 'static>(Resource<Result<T, Failure>>);

impl<T: Send + Sync + 'static> Clone for PageData<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for PageData<T> {}

impl<T> PageData<T>
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Loads with `fetch` from what `source` reads, again whenever that changes.
    pub fn new<S, Fut>(
        source: impl Fn() -> S + Send + Sync + 'static,
        fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
    ) -> Self
    where
        S: PartialEq + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        PageData(Resource::new(source, fetch))
    }

    /// Each answer rendered by `show`; the previous one stays while the next loads; a refusal
    /// is shown as its sentence.
    pub fn view<V: IntoView + 'static>(
        self,
        loading: &'static str,
        show: impl Fn(T) -> V + Send + Sync + 'static,
    ) -> impl IntoView {
        let resource = self.0;
        view! {
            <Transition fallback=move || view! { <p class="loading">{loading}</p> }>
                {move || {
                    resource
                        .get()
                        .map(|answer| match answer {
                            Ok(data) => show(data).into_any(),
                            Err(failure) => {
                                view! { <p class="error" role="alert">{failure.message}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        }
    }

    /// For a part that must not be rebuilt with every answer (a form someone is filling in):
    /// `build` runs once and gets the latest answer as a signal (`None` before the first and
    /// after a refusal), inside a Transition of its own that shows nothing while loading.
    pub fn view_once<V: IntoView + 'static>(
        self,
        build: impl FnOnce(Signal<Option<T>>) -> V + Send + 'static,
    ) -> impl IntoView {
        let resource = self.0;
        let answer = Signal::derive(move || resource.get().and_then(Result::ok));
        view! { <Transition fallback=|| ()>{build(answer)}</Transition> }
    }
}

/// What a page loads once and then keeps current itself from the change notifications (a list
/// of servers): an answer is followed by every notification received since its load *began*,
/// so a change that happened while the manager was answering is not lost, and the part built
/// on it is built once and updated in place, never replaced by a stale answer.
pub struct LiveData<T: Send + Sync + 'static> {
    resource: Resource<Result<Snapshot<T>, Failure>>,
    live: Live,
}

impl<T: Send + Sync + 'static> Clone for LiveData<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for LiveData<T> {}

/// One answer, with the number of the newest notification when its load began.
#[derive(Clone, Serialize, Deserialize)]
struct Snapshot<T> {
    /// Which load this is (the page's reload count when it began).
    load: u64,
    since: u64,
    data: T,
}

/// Where notifications apply: on the newest answer, on top of what it may already contain.
struct Following<T> {
    load: u64,
    applied: u64,
    data: T,
    missed: bool,
}

/// The followed data, readable by the part built on it.
pub struct Followed<T: Send + Sync + 'static> {
    following: Memo<Option<Following<T>>>,
    resource: Resource<Result<Snapshot<T>, Failure>>,
}

impl<T: Send + Sync + 'static> Clone for Followed<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Followed<T> {}

impl<T: Send + Sync + 'static> Followed<T> {
    /// Reads the data, tracked; `None` only before the first answer.
    pub fn with<R>(&self, read: impl FnOnce(&T) -> R) -> Option<R> {
        // The server draws one moment, with no notification to apply, and there a memo read
        // before the answer came is not always read afresh once it has: the answer itself.
        if cfg!(feature = "ssr") {
            return self.resource.with(|answer| match answer {
                Some(Ok(snapshot)) => Some(read(&snapshot.data)),
                _ => None,
            });
        }
        self.following.with(|following| following.as_ref().map(|following| read(&following.data)))
    }
}

impl<T> LiveData<T>
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Loads with `load`, again whenever the page must (a reconnect, its own action).
    pub fn new<Fut>(load: impl Fn() -> Fut + Send + Sync + 'static) -> Self
    where
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let live = use_live();
        let resource = Resource::new(
            move || live.version.get(),
            move |load_number| {
                let since = live.newest_untracked();
                let answer = load();
                async move { answer.await.map(|data| Snapshot { load: load_number, since, data }) }
            },
        );
        LiveData { resource, live }
    }

    /// `show` is built once, on the first answer; `apply` brings the data up to date with a
    /// notification. A refusal is shown as its sentence; the data shown before it stays.
    pub fn view<V: IntoView + 'static>(
        self,
        loading: &'static str,
        apply: impl Fn(&mut T, &SystemEvent) + Send + Sync + 'static,
        show: impl Fn(Followed<T>) -> V + Send + Sync + 'static,
    ) -> impl IntoView {
        let LiveData { resource, live } = self;
        // The first answer is drawn as it came (in the browser: as the server drew it, or
        // hydration fails); notifications apply from the moment it is on the page.
        let mounted = RwSignal::new(false);
        reload_after_first_open(live, mounted);
        view! {
            <Transition fallback=move || view! { <p class="loading">{loading}</p> }>
                {
                    // Made inside the Transition, so its reads of the answer count as the
                    // Transition's (the browser would otherwise warn, and hydrate out of step).
                    let followed = follow(resource, live, mounted, apply);
                    view! {
                        {move || {
                            resource.get().and_then(Result::err).map(|failure| {
                                view! { <p class="error" role="alert">{failure.message}</p> }
                            })
                        }}
                        <Show when=move || followed.with(|_| ()).is_some()>
                            {
                                let shown = show(followed);
                                Effect::new(move |_| mounted.set(true));
                                shown
                            }
                        </Show>
                    }
                }
            </Transition>
        }
    }
}

/// A page drawn by the server was loaded before this browser's event stream opened, so what
/// changed in between was never sent to it: once the stream is open and the page is on the
/// screen, it loads once more.
fn reload_after_first_open(live: Live, mounted: RwSignal<bool>) {
    let open_before_load = live.opened_untracked() > 0;
    Effect::new(move |done: Option<bool>| {
        if open_before_load || done == Some(true) {
            return true;
        }
        let due = mounted.get() && live.opened() > 0;
        if due {
            live.changed();
        }
        due
    });
}

/// The newest answer, with every notification since its load began applied, then each new one.
fn follow<T>(
    resource: Resource<Result<Snapshot<T>, Failure>>,
    live: Live,
    mounted: RwSignal<bool>,
    apply: impl Fn(&mut T, &SystemEvent) + Send + Sync + 'static,
) -> Followed<T>
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let followed = Memo::new_owning(move |previous: Option<Option<Following<T>>>| {
        let newest = live.newest();
        let previous = previous.flatten();
        let answered = resource.with(|answer| match answer {
            Some(Ok(snapshot)) => Some(snapshot.load),
            _ => None,
        });
        // A refusal, or a reload under way: what was shown stays.
        let (mut following, fresh) = match (previous, answered) {
            (Some(following), Some(load)) if following.load == load => (following, false),
            (previous, Some(_)) => match resource.get() {
                Some(Ok(snapshot)) => {
                    let Snapshot { load, since, data } = snapshot;
                    (Following { load, applied: since, data, missed: false }, true)
                }
                _ => return (previous, false),
            },
            (previous, None) => return (previous, false),
        };
        let behind = mounted.get() && following.applied < newest;
        following.missed = false;
        if behind {
            let data = &mut following.data;
            following.missed = live.replay(following.applied, |event| apply(data, event)).is_err();
            following.applied = newest;
        }
        (Some(following), fresh || behind)
    });
    // A page further behind than the notifications kept loads again.
    Effect::new(move |_| {
        if followed.with(|following| following.as_ref().is_some_and(|f| f.missed)) {
            live.changed();
        }
    });
    Followed { following: followed, resource }
}
