//! Server functions: thin, they find the caller, ask the engine port and return its answer or
//! its refusal (with the refusal's HTTP status).

use crate::failure::Failure;
use crate::model::{
    AuditEntry, AuditFilter, DemoPower, FailbackAnswer, Failover, FailoverDetail, FailoverFilter,
    NewServer, Server, ServerPatch,
};
use crate::rights::Me;
use crate::screens::{DashboardView, FailoverLogView, ServersView};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Sets the HTTP status of a refusal, so scripts calling server functions see 401/403/409.
#[cfg(feature = "ssr")]
fn answer<T>(result: Result<T, Failure>) -> Result<T, Failure> {
    if let Err(failure) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(failure.kind.http_status())
    {
        response.set_status(status);
        if let Some(seconds) = failure.retry_after_seconds {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
    }
    result
}

#[server(prefix = "/rpc")]
pub async fn whoami() -> Result<Option<Me>, Failure> {
    Ok(crate::port::current_caller().map(|caller| caller.me()))
}

#[server(prefix = "/rpc")]
pub async fn load_servers_page() -> Result<ServersView, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            let console = crate::port::ConsoleHandle::current()?;
            let servers = console.servers(&caller).await?;
            let demo = console.demo_switches(&caller).await?;
            let groups = console.groups(&caller).await?;
            let managers = console.managers(&caller).await?;
            let coverage = console.coverage(&caller).await?;
            Ok(ServersView { servers, demo, me: caller.me(), groups, managers, coverage })
        }
        .await,
    )
}

#[server(prefix = "/rpc", input = Json)]
pub async fn add_server(new: NewServer) -> Result<Server, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.add_server(&caller, new).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn remove_server(id: i64) -> Result<(), Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.remove_server(&caller, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", input = Json)]
pub async fn edit_server(id: i64, patch: ServerPatch) -> Result<Server, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.edit_server(&caller, id, patch).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", input = Json)]
pub async fn assign_group(server_id: i64, group_id: Option<i64>) -> Result<(), Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.assign_group(&caller, server_id, group_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn set_demo_power(server_id: i64, power: DemoPower) -> Result<(), Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            let console = crate::port::ConsoleHandle::current()?;
            console.set_demo_power(&caller, server_id, power).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn load_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            let console = crate::port::ConsoleHandle::current()?;
            console.audit_trail(&caller, filter).await
        }
        .await,
    )
}

/// JSON arguments: an all-default filter has no form fields at all.
#[server(prefix = "/rpc", input = Json)]
pub async fn load_failover_log(filter: FailoverFilter) -> Result<FailoverLogView, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.failover_log_view(&caller, filter).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn load_failover(id: i64) -> Result<FailoverDetail, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.failover(&caller, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn load_failover_coverage(
    id: i64,
) -> Result<Vec<crate::evidence::ChannelEvidence>, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.failover_coverage(&caller, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn start_failback(id: i64) -> Result<FailbackAnswer, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.failback(&caller, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn restore_recorder(id: i64) -> Result<FailbackAnswer, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.restore(&caller, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn start_material_copy(id: i64) -> Result<Failover, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.material_copy(&caller, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn load_dashboard() -> Result<DashboardView, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            crate::port::ConsoleHandle::current()?.dashboard(&caller).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), Failure> {
    answer(
        async {
            let console = crate::port::ConsoleHandle::current()?;
            let request = crate::port::request_info();
            let login = console.login(&username, &password, &request).await?;
            let response = expect_context::<leptos_axum::ResponseOptions>();
            if let Ok(value) = http::HeaderValue::from_str(&login.set_cookie) {
                response.append_header(http::header::SET_COOKIE, value);
            }
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn logout() -> Result<(), Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            let console = crate::port::ConsoleHandle::current()?;
            let headers = crate::port::request_headers();
            let session = crate::cookies::cookie(&headers, crate::cookies::SESSION_COOKIE);
            let cookies = console.logout(&caller, session.as_deref()).await?;
            let response = expect_context::<leptos_axum::ResponseOptions>();
            for cookie in cookies {
                if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                    response.append_header(http::header::SET_COOKIE, value);
                }
            }
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// Only a path on this site: a login link must not send people elsewhere. Browsers forgive
/// a lot in a `Location` (Chromium drops tabs and newlines, so `/\t/evil.example/` becomes
/// `//evil.example/`, and reads `\` as `/`), so anything unusual falls back to `/`: the path
/// must start with exactly one `/`, its path part must hold no `//`, and nothing may be a
/// backslash, a control character or whitespace. Non-ASCII is percent-encoded, so the answer
/// is always a valid header value (a raw newline used to panic the handler).
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else { return "/".to_owned() };
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let refused = !next.starts_with('/')
        || path.contains("//")
        || next.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if refused {
        return "/".to_owned();
    }
    let mut safe = String::with_capacity(next.len());
    for c in next.chars() {
        if c.is_ascii() {
            safe.push(c);
        } else {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                safe.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn login_redirects_stay_on_this_site() {
        assert_eq!(safe_next(Some("/servers?x=1")), "/servers?x=1");
        assert_eq!(safe_next(Some("/failovers/3#copy")), "/failovers/3#copy");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(Some("/servers//evil")), "/");
        assert_eq!(safe_next(Some("evil")), "/");
        assert_eq!(safe_next(Some("")), "/");
        assert_eq!(safe_next(None), "/");
    }

    /// `next=%2F%09%2Fevil.example%2F` arrives decoded; Chromium drops the tab.
    #[test]
    fn control_characters_and_whitespace_anywhere_fall_back_to_the_start_page() {
        for next in [
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/servers\r\nSet-Cookie: x=1",
            "/ /evil.example/",
            "/servers?x=\u{7f}",
            "/servers?x=\u{3000}",
            "/\u{0}",
        ] {
            assert_eq!(safe_next(Some(next)), "/", "{next:?}");
        }
    }

    #[test]
    fn the_answer_is_always_a_valid_header_value() {
        let next = safe_next(Some("/failovers?search=Müller"));
        assert_eq!(next, "/failovers?search=M%C3%BCller");
        // What `HeaderValue::from_str` accepts without a panic in the redirect.
        assert!(next.bytes().all(|byte| byte.is_ascii_graphic()));
    }
}

#[server(prefix = "/rpc")]
pub async fn start_drill(
    recorder_id: i64,
    seconds: Option<u32>,
) -> Result<crate::drill::Drill, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            let new = crate::drill::NewDrill { seconds };
            crate::port::ConsoleHandle::current()?.start_drill(&caller, recorder_id, new).await
        }
        .await,
    )
}

#[server(prefix = "/rpc")]
pub async fn load_drill_page() -> Result<crate::drill::DrillPage, Failure> {
    answer(
        async {
            let caller = crate::port::require_caller()?;
            let console = crate::port::ConsoleHandle::current()?;
            let (drills, servers) =
                futures::try_join!(console.drills(&caller), console.servers(&caller))?;
            let mut recorders: Vec<crate::model::ServerRef> = servers
                .into_iter()
                .filter(|server| server.kind == crate::model::ServerKind::Recorder)
                .map(|server| crate::model::ServerRef { id: server.id, name: server.name })
                .collect();
            recorders.sort_by(|a, b| a.name.cmp(&b.name));
            let may_drill = caller.me().can(crate::rights::Right::RunDrill);
            Ok(crate::drill::DrillPage { drills, recorders, may_drill })
        }
        .await,
    )
}
