//! What a page loads from the manager, and the only way a page shows it.
//!
//! A server resource read outside a `<Transition>` is still empty while the server renders that
//! part (so the HTML has nothing there), but already filled while the browser hydrates it (the
//! server sent the answer along), so the browser's first render differs from the HTML and the
//! page dies with a hydration error. [`PageData`] keeps its resource private and reads it only
//! inside a Transition, so pages cannot make that mistake.

use crate::failure::Failure;
use leptos::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

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
