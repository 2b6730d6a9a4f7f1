//! Times and durations as people read them: the browser's time zone, human durations, and the
//! clock pages render them with.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The clock every page renders times with.
///
/// The server renders a page at one instant, in UTC; the browser hydrates it a moment later, in
/// the reader's time zone. Anything rendered from "now" or in the reader's zone would differ
/// between the two, and a first render in the browser that differs from the server's HTML
/// breaks hydration (or leaves stale text behind). So until the page is hydrated both sides
/// use the instant the server rendered at (sent along with the page) and UTC; only then does
/// an Effect switch to the browser's zone and its clock, ticking every second.
#[derive(Clone, Copy)]
pub struct Clock {
    now: RwSignal<DateTime<Utc>>,
    /// False until the page is hydrated: times are then shown in UTC, as the server did.
    local: RwSignal<bool>,
}

/// Provides the [`Clock`]; once per page, before anything reads it.
pub fn provide_clock() -> Clock {
    let rendered_at = SharedValue::new(Utc::now).into_inner();
    let clock = Clock { now: RwSignal::new(rendered_at), local: RwSignal::new(false) };
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        clock.local.set(true);
        clock.now.set(Utc::now());
        let tick = move || clock.now.set(Utc::now());
        if let Ok(interval) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || interval.clear());
        }
    });
    provide_context(clock);
    clock
}

pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or_else(provide_clock)
}

impl Clock {
    /// Now, tracked: a closure that reads it is run again every second.
    pub fn now(self) -> DateTime<Utc> {
        self.now.get()
    }

    /// Now, for a part rendered once (it shows the time it was rendered at).
    pub fn now_untracked(self) -> DateTime<Utc> {
        self.now.get_untracked()
    }

    /// "2026-12-01 23:48:00 UTC" until hydrated, then the reader's date and time.
    pub fn date_and_time(self, at: DateTime<Utc>) -> String {
        if self.local.get() { browser::date_and_time(at) } else { utc_date_and_time(at) }
    }

    /// "23:48:00 UTC" until hydrated, then the reader's time of day.
    pub fn time_of_day(self, at: DateTime<Utc>) -> String {
        if self.local.get() { browser::time_of_day(at) } else { utc_time_of_day(at) }
    }
}

// Written out rather than through `format("%Y-…")`: a page renders a time per cell, and parsing
// the pattern each time was a tenth of the failover log page's render.
fn utc_date_and_time(at: DateTime<Utc>) -> String {
    use chrono::Datelike;
    let (year, month, day) = (at.year(), at.month(), at.day());
    format!("{year:04}-{month:02}-{day:02} {}", utc_time_of_day(at))
}

fn utc_time_of_day(at: DateTime<Utc>) -> String {
    use chrono::Timelike;
    format!("{:02}:{:02}:{:02} UTC", at.hour(), at.minute(), at.second())
}

/// The reader's formats; only reached after hydration (`Clock::local`).
#[cfg(feature = "hydrate")]
mod browser {
    use chrono::{DateTime, Utc};
    use wasm_bindgen::JsValue;

    fn date(at: DateTime<Utc>) -> js_sys::Date {
        js_sys::Date::new(&JsValue::from_f64(at.timestamp_millis() as f64))
    }

    pub fn date_and_time(at: DateTime<Utc>) -> String {
        date(at).to_locale_string("default", &JsValue::UNDEFINED).into()
    }

    pub fn time_of_day(at: DateTime<Utc>) -> String {
        date(at).to_locale_time_string("default").into()
    }
}

/// Outside a browser there is no reader's zone: UTC.
#[cfg(not(feature = "hydrate"))]
mod browser {
    pub(super) use super::{utc_date_and_time as date_and_time, utc_time_of_day as time_of_day};
}

/// A UTC instant, in the reader's time zone once the page is hydrated.
#[component]
pub fn LocalTime(at: Option<DateTime<Utc>>) -> impl IntoView {
    let Some(at) = at else {
        return view! { <span class="muted">"never"</span> }.into_any();
    };
    let clock = use_clock();
    view! { <time datetime=at.to_rfc3339()>{move || clock.date_and_time(at)}</time> }.into_any()
}

/// How long something has been going on, as a wall screen counts it: whole seconds, never
/// negative ("0 s", "12 s", "3 min 5 s"); a start a moment ahead of the last tick is "0 s".
pub fn running_time(duration: chrono::Duration) -> String {
    match duration.num_seconds().max(0) {
        0 => "0 s".to_owned(),
        seconds => human_duration(chrono::Duration::seconds(seconds)),
    }
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
    use super::{human_duration, running_time};
    use chrono::Duration;

    #[test]
    fn utc_times_read_as_the_server_renders_them() {
        use chrono::TimeZone;
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).single().expect("a time");
        assert_eq!(super::utc_date_and_time(at), "2026-03-04 05:06:07 UTC");
        assert_eq!(super::utc_time_of_day(at), "05:06:07 UTC");
    }

    #[test]
    fn durations_read_like_a_person_says_them() {
        assert_eq!(human_duration(Duration::milliseconds(850)), "850 ms");
        assert_eq!(human_duration(Duration::seconds(9)), "9 s");
        assert_eq!(human_duration(Duration::seconds(134)), "2 min 14 s");
        assert_eq!(human_duration(Duration::seconds(3 * 3600 + 5 * 60 + 7)), "3 h 5 min");
        assert_eq!(human_duration(Duration::seconds(2 * 86_400 + 3600)), "2 d 1 h");
        assert_eq!(human_duration(Duration::seconds(-5)), "0 ms");
    }

    #[test]
    fn a_running_time_counts_whole_seconds_from_zero() {
        assert_eq!(running_time(Duration::milliseconds(-400)), "0 s");
        assert_eq!(running_time(Duration::milliseconds(850)), "0 s");
        assert_eq!(running_time(Duration::milliseconds(12_999)), "12 s");
        assert_eq!(running_time(Duration::seconds(185)), "3 min 5 s");
    }
}
