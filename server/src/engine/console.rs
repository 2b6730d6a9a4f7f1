//! The engine as the server functions see it (the `Console` port of `app`).

use super::Engine;
use crate::auth::sessions::{SESSION_COOKIE, clear_cookie, cookie, set_cookie};
use app::auth::{Caller, Me, RequestInfo, Right};
use app::failure::Failure;
use app::model::{
    AuditEntry, AuditFilter, DemoPower, FailbackAnswer, Failover, FailoverDetail, FailoverFilter,
    FailoverGroup, NewServer, Server, ServerPatch,
};
use app::port::Console;
use app::view::{DashboardView, DemoSwitch, FailoverLogView};
use async_trait::async_trait;
use axum::http::HeaderMap;

#[async_trait]
impl Console for Engine {
    async fn servers(&self, caller: &Caller) -> Result<Vec<Server>, Failure> {
        Engine::servers(self, caller).await
    }

    async fn add_server(&self, caller: &Caller, new: NewServer) -> Result<Server, Failure> {
        Engine::add_server(self, caller, new).await
    }

    async fn edit_server(
        &self,
        caller: &Caller,
        id: i64,
        patch: ServerPatch,
    ) -> Result<Server, Failure> {
        Engine::edit_server(self, caller, id, patch).await
    }

    async fn groups(&self, caller: &Caller) -> Result<Vec<FailoverGroup>, Failure> {
        Engine::groups(self, caller).await
    }

    async fn assign_group(
        &self,
        caller: &Caller,
        server_id: i64,
        group_id: Option<i64>,
    ) -> Result<(), Failure> {
        Engine::assign_group(self, caller, server_id, group_id).await
    }

    async fn demo_switches(&self, caller: &Caller) -> Option<Vec<DemoSwitch>> {
        caller.require(Right::Read).ok()?;
        Some(self.demo.as_ref()?.switches().await)
    }

    async fn set_demo_power(
        &self,
        caller: &Caller,
        server_id: i64,
        power: DemoPower,
    ) -> Result<(), Failure> {
        let result = async {
            caller.require(Right::DemoPower)?;
            let demo = self.demo.as_ref().ok_or_else(|| {
                Failure::not_found("A demo site (this manager was not started with `standby demo`)")
            })?;
            demo.set_power(server_id, power).await
        }
        .await;
        let action = match power {
            DemoPower::On => "demo.power_on",
            DemoPower::Off => "demo.power_off",
        };
        self.audited(caller, action, Some(server_id.to_string()), result).await
    }

    async fn audit_trail(
        &self,
        caller: &Caller,
        filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, Failure> {
        Engine::audit_trail(self, caller, &filter).await
    }

    async fn failover_log(
        &self,
        caller: &Caller,
        filter: FailoverFilter,
    ) -> Result<FailoverLogView, Failure> {
        self.failover_log_view(caller, filter).await
    }

    async fn failover_detail(&self, caller: &Caller, id: i64) -> Result<FailoverDetail, Failure> {
        Engine::failover_detail(self, caller, id).await
    }

    async fn failback(&self, caller: &Caller, id: i64) -> Result<FailbackAnswer, Failure> {
        self.manual_failback(caller, id).await
    }

    async fn material_copy(&self, caller: &Caller, id: i64) -> Result<Failover, Failure> {
        self.start_material_copy(caller, id).await
    }

    async fn dashboard(&self, caller: &Caller) -> Result<DashboardView, Failure> {
        Engine::dashboard(self, caller).await
    }

    async fn login(
        &self,
        name: &str,
        password: &str,
        request: &RequestInfo,
    ) -> Result<(Me, String), Failure> {
        let login = Engine::login(self, name, password, request.address.clone()).await?;
        let cookie =
            set_cookie(SESSION_COOKIE, &login.secret, login.max_age.num_seconds(), request.secure);
        Ok((login.caller.me(), cookie))
    }

    async fn logout(&self, caller: &Caller, headers: &HeaderMap) -> Result<String, Failure> {
        if let Some(secret) = cookie(headers, SESSION_COOKIE) {
            Engine::logout(self, caller, &secret).await?;
        }
        Ok(clear_cookie(SESSION_COOKIE))
    }
}
