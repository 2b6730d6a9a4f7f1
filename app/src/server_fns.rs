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
            Ok(ServersView { servers, demo, me: caller.me(), groups })
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
            let cookie = console.logout(&caller, session.as_deref()).await?;
            let response = expect_context::<leptos_axum::ResponseOptions>();
            if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                response.append_header(http::header::SET_COOKIE, value);
            }
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// Only a path on this site: a login link must not send people elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn login_redirects_stay_on_this_site() {
        assert_eq!(safe_next(Some("/servers?x=1")), "/servers?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
