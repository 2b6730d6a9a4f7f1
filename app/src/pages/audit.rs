//! The audit trail: every manual action, newest first, filterable.

use crate::live::use_live;
use crate::model::AuditFilter;
use crate::page_data::PageData;
use crate::server_fns::load_audit;
use crate::time::LocalTime;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

const PAGE: u32 = 100;

#[component]
pub fn AuditPage() -> impl IntoView {
    let live = use_live();
    let query = use_query_map();
    let filter = move || {
        query.with(|query| AuditFilter {
            actor: query.get("actor").filter(|actor| !actor.is_empty()),
            action: query.get("action").filter(|action| !action.is_empty()),
            failures_only: query.get("failures").is_some_and(|value| value == "on"),
            before_id: query.get("before").and_then(|id| id.parse().ok()),
            limit: Some(PAGE),
        })
    };
    let entries =
        PageData::new(move || (filter(), live.version.get()), |(filter, _)| load_audit(filter));
    view! {
        <section class="page audit">
            <header class="page-head">
                <h1>"Audit trail"</h1>
                <Form method="GET" action="/audit" attr:class="filters">
                    <input type="search" name="actor" placeholder="Who" value=move || filter().actor.unwrap_or_default() />
                    <input type="search" name="action" placeholder="Action, e.g. login" value=move || filter().action.unwrap_or_default() />
                    <label>
                        <input type="checkbox" name="failures" checked=move || filter().failures_only />
                        " Refusals only"
                    </label>
                    <button type="submit">"Filter"</button>
                </Form>
            </header>
            {entries.view("Loading the audit trail…", move |entries| {
                if entries.is_empty() {
                    return view! { <p class="muted">"Nothing recorded matches."</p> }.into_any();
                }
                let older = (entries.len() == PAGE as usize)
                    .then(|| entries.last().map(|entry| entry.id))
                    .flatten();
                view! {
                    <table class="audit-table">
                        <thead>
                            <tr>
                                <th>"When"</th>
                                <th>"Who"</th>
                                <th>"From"</th>
                                <th>"Action"</th>
                                <th>"Target"</th>
                                <th>"Outcome"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {entries
                                .into_iter()
                                .map(|entry| {
                                    let ok = entry.outcome == "ok";
                                    let (action, outcome) = (entry.action.clone(), entry.outcome.clone());
                                    view! {
                                        <tr data-action=action data-outcome=outcome>
                                            <td><LocalTime at=Some(entry.at) /></td>
                                            <td>{entry.actor}</td>
                                            <td class="address">{entry.address.unwrap_or_default()}</td>
                                            <td>{entry.action}</td>
                                            <td>{entry.target.unwrap_or_default()}</td>
                                            <td class=if ok { "outcome-ok" } else { "outcome-refused" }>
                                                {if ok { "OK".to_owned() } else { entry.detail.unwrap_or(entry.outcome) }}
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                    {older.map(|id| {
                        let mut href = format!("/audit?before={id}");
                        let current = filter();
                        if let Some(actor) = current.actor { href.push_str(&format!("&actor={}", query_value(&actor))); }
                        if let Some(action) = current.action { href.push_str(&format!("&action={}", query_value(&action))); }
                        if current.failures_only { href.push_str("&failures=on"); }
                        view! { <p><a href=href>"Older entries →"</a></p> }
                    })}
                }
                    .into_any()
            })}
        </section>
    }
}

/// Percent-encodes a filter for the "older entries" link, so a `&` or `#` in it stays in it.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_stay_whole_in_the_older_link() {
        assert_eq!(super::query_value("token:ci&x=1"), "token:ci%26x%3D1");
    }
}
