//! Times and durations as people read them: the browser's time zone, human durations.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A UTC instant, shown in the browser's local time zone once the page is hydrated
/// (the server does not know the reader's zone, so it renders UTC first).
#[component]
pub fn LocalTime(at: Option<DateTime<Utc>>) -> impl IntoView {
    let Some(at) = at else {
        return view! { <span class="muted">"never"</span> }.into_any();
    };
    let text = RwSignal::new(at.format("%Y-%m-%d %H:%M:%S UTC").to_string());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let date =
            js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.timestamp_millis() as f64));
        text.set(String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)));
    });
    view! { <time datetime=at.to_rfc3339()>{move || text.get()}</time> }.into_any()
}

/// "2 min 14 s", "3 h 5 min", "850 ms".
pub fn human_duration(duration: chrono::Duration) -> String {
    let millis = duration.num_milliseconds().max(0);
    if millis < 1_000 {
        return format!("{millis} ms");
    }
    let seconds = millis / 1_000;
    let (days, hours, minutes, secs) =
        (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, _) => format!("{minutes} min {secs} s"),
        (0, _, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use chrono::Duration;

    #[test]
    fn durations_read_like_a_person_says_them() {
        assert_eq!(human_duration(Duration::milliseconds(850)), "850 ms");
        assert_eq!(human_duration(Duration::seconds(9)), "9 s");
        assert_eq!(human_duration(Duration::seconds(134)), "2 min 14 s");
        assert_eq!(human_duration(Duration::seconds(3 * 3600 + 5 * 60 + 7)), "3 h 5 min");
        assert_eq!(human_duration(Duration::seconds(2 * 86_400 + 3600)), "2 d 1 h");
        assert_eq!(human_duration(Duration::seconds(-5)), "0 ms");
    }
}
