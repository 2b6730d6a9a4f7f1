//! The one door: every operation of [`Console`], each with the right it needs and the audit
//! action it writes. Reads need [`Right::Read`] and are not audited; everything that changes
//! something goes through [`Engine::act`], so no operation can forget either.

use super::Engine;
use super::failback::Trigger;
use app::cookies::{SESSION_COOKIE, TOKEN_COOKIE, clear_cookie, set_cookie};
use app::failure::Failure;
use app::model::{
    ApiToken, AuditEntry, AuditFilter, CachedSettingsView, CreatedToken, DemoPower, FailbackAnswer,
    Failover, FailoverDetail, FailoverFilter, FailoverGroup, GroupSettings, Licence, LicenceUpdate,
    NewServer, NewToken, NewUser, PasswordChange, Server, ServerPatch, User,
};
use app::port::{Console, Credential, EventStream, LoggedIn, Metrics};
use app::rights::{Caller, CredentialId, RequestInfo, Right, Role, Via};
use app::screens::{DashboardView, DemoSwitch, FailoverLogView};
use async_trait::async_trait;
use futures::StreamExt;
use std::future::Future;

impl Engine {
    /// An action that changes something: the right first, then the work, and the outcome (done
    /// or refused, and why) in the audit trail either way.
    async fn act<T>(
        &self,
        caller: &Caller,
        right: Right,
        action: &str,
        target: Option<String>,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let result = match caller.require(right) {
            Ok(()) => work.await,
            Err(refusal) => Err(refusal),
        };
        self.audited(caller, action, target, result).await
    }

    /// A read: anyone logged in may look.
    async fn read<T>(
        &self,
        caller: &Caller,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        caller.require(Right::Read)?;
        work.await
    }
}

#[async_trait]
impl Console for Engine {
    async fn login(
        &self,
        name: &str,
        password: &str,
        request: &RequestInfo,
    ) -> Result<LoggedIn, Failure> {
        // Cleaned and capped before anything counts, looks up or audits it.
        let name = super::accounts::login_name(name);
        let anonymous = Caller {
            name: name.clone(),
            address: request.address.clone(),
            via: Via::Session,
            role: Role::Viewer,
            ..Caller::system("")
        };
        let result = self.sign_in(&name, password, request.address.clone()).await;
        let login = self.audited(&anonymous, "login", None, result).await?;
        let cookie =
            set_cookie(SESSION_COOKIE, &login.secret, login.max_age.num_seconds(), request.secure);
        Ok(LoggedIn { me: login.caller.me(), set_cookie: cookie })
    }

    async fn logout(&self, caller: &Caller, session: Option<&str>) -> Result<Vec<String>, Failure> {
        if let Some(secret) = session {
            let result = self.end_session(secret).await;
            self.audited(caller, "logout", None, result).await?;
        }
        Ok(vec![clear_cookie(SESSION_COOKIE), clear_cookie(TOKEN_COOKIE)])
    }

    async fn identify(
        &self,
        credential: Credential<'_>,
        address: Option<String>,
    ) -> Result<Option<Caller>, Failure> {
        let caller = match credential {
            Credential::Session(secret) => self.session_caller(secret, address).await,
            Credential::Token(secret) => self.token_caller(secret, address).await,
        };
        Ok(caller?)
    }

    async fn servers(&self, caller: &Caller) -> Result<Vec<Server>, Failure> {
        self.read(caller, async { Ok(self.store.list_servers().await?) }).await
    }

    async fn server(&self, caller: &Caller, id: i64) -> Result<Server, Failure> {
        self.read(caller, self.find_server(id)).await
    }

    async fn add_server(&self, caller: &Caller, new: NewServer) -> Result<Server, Failure> {
        let target = Some(new.name.trim().to_owned());
        self.act(caller, Right::ManageServers, "server.add", target, self.insert_server(new)).await
    }

    async fn edit_server(
        &self,
        caller: &Caller,
        id: i64,
        patch: ServerPatch,
    ) -> Result<Server, Failure> {
        let only_maintenance =
            patch == ServerPatch { maintenance_mode: patch.maintenance_mode, ..Default::default() };
        let (right, action) = if only_maintenance {
            (Right::SetMaintenanceMode, "server.maintenance")
        } else {
            (Right::ManageServers, "server.edit")
        };
        self.act(caller, right, action, Some(id.to_string()), self.change_server(id, patch)).await
    }

    async fn remove_server(&self, caller: &Caller, id: i64) -> Result<(), Failure> {
        let target = Some(id.to_string());
        self.act(caller, Right::ManageServers, "server.remove", target, self.delete_server(id))
            .await
    }

    async fn cached_settings(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<CachedSettingsView, Failure> {
        self.read(caller, async {
            let cached = self.store.cached_settings(id).await?.ok_or_else(|| {
                Failure::not_found(format!("Cached settings of server {id} (not read from it yet)"))
            })?;
            Ok(CachedSettingsView {
                version: cached.version,
                fetched_at: cached.fetched_at,
                bundle: cached.bundle,
            })
        })
        .await
    }

    async fn groups(&self, caller: &Caller) -> Result<Vec<FailoverGroup>, Failure> {
        self.read(caller, async { Ok(self.store.groups().await?) }).await
    }

    async fn save_group(
        &self,
        caller: &Caller,
        id: Option<i64>,
        group: GroupSettings,
    ) -> Result<FailoverGroup, Failure> {
        let target = Some(group.name.trim().to_owned());
        self.act(caller, Right::ManageServers, "group.save", target, self.store_group(id, group))
            .await
    }

    async fn delete_group(&self, caller: &Caller, id: i64) -> Result<(), Failure> {
        let target = Some(id.to_string());
        self.act(caller, Right::ManageServers, "group.delete", target, self.remove_group(id)).await
    }

    async fn assign_group(
        &self,
        caller: &Caller,
        server_id: i64,
        group_id: Option<i64>,
    ) -> Result<(), Failure> {
        let target = Some(format!("server {server_id} → group {group_id:?}"));
        let work = self.move_to_group(server_id, group_id);
        self.act(caller, Right::ManageServers, "group.assign", target, work).await
    }

    async fn licence(&self, caller: &Caller) -> Result<Licence, Failure> {
        self.read(caller, self.current_licence()).await
    }

    async fn set_licence(
        &self,
        caller: &Caller,
        update: LicenceUpdate,
    ) -> Result<Licence, Failure> {
        let target = Some(format!(
            "failover_enabled={} failover_servers={}",
            update.failover_enabled, update.failover_servers
        ));
        let work = self.change_licence(update, &caller.name);
        self.act(caller, Right::ManageLicence, "licence.set", target, work).await
    }

    async fn users(&self, caller: &Caller) -> Result<Vec<User>, Failure> {
        caller.require(Right::ManageUsers)?;
        Ok(self.store.list_users().await?)
    }

    async fn add_user(&self, caller: &Caller, new: NewUser) -> Result<User, Failure> {
        let target = Some(new.name.trim().to_owned());
        let work = self.insert_user(&new.name, &new.password, new.role);
        self.act(caller, Right::ManageUsers, "user.add", target, work).await
    }

    async fn remove_user(&self, caller: &Caller, name: &str) -> Result<(), Failure> {
        let target = Some(name.trim().to_owned());
        self.act(caller, Right::ManageUsers, "user.remove", target, self.delete_user(name)).await
    }

    async fn set_password(
        &self,
        caller: &Caller,
        name: &str,
        change: PasswordChange,
    ) -> Result<(), Failure> {
        // Everyone may change their own password; other people's need the right.
        let own = caller.name.eq_ignore_ascii_case(name.trim()) && caller.via == Via::Session;
        let right = if own { Right::Read } else { Right::ManageUsers };
        let target = Some(name.trim().to_owned());
        let work = async {
            // A session left open on a shared screen must not let someone lock its owner out;
            // an administrator resetting someone else's password (or the command line) needs
            // no password of theirs.
            if own {
                self.confirm_password(caller, change.current_password.as_deref()).await?;
            }
            self.change_password(name, &change.password).await
        };
        self.act(caller, right, "user.passwd", target, work).await
    }

    async fn tokens(&self, caller: &Caller) -> Result<Vec<ApiToken>, Failure> {
        caller.require(Right::ManageTokens)?;
        Ok(self.store.list_tokens().await?)
    }

    async fn create_token(&self, caller: &Caller, new: NewToken) -> Result<CreatedToken, Failure> {
        let target = Some(new.name.trim().to_owned());
        let work = self.new_token(&new.name, new.role, new.scope, &caller.name);
        self.act(caller, Right::ManageTokens, "token.create", target, work).await
    }

    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<ApiToken, Failure> {
        let target = Some(id.to_string());
        self.act(caller, Right::ManageTokens, "token.revoke", target, self.revoke(id)).await
    }

    async fn audit_trail(
        &self,
        caller: &Caller,
        filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, Failure> {
        self.read(caller, async { Ok(self.store.list_audit(&filter).await?) }).await
    }

    async fn failover_log(
        &self,
        caller: &Caller,
        filter: FailoverFilter,
    ) -> Result<Vec<Failover>, Failure> {
        self.read(caller, async { Ok(self.store.failovers(&filter).await?) }).await
    }

    async fn failover(&self, caller: &Caller, id: i64) -> Result<FailoverDetail, Failure> {
        self.read(caller, self.failover_detail(id)).await
    }

    async fn failover_coverage(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<Vec<app::evidence::ChannelEvidence>, Failure> {
        self.read(caller, self.failover_evidence(id)).await
    }

    async fn failback(&self, caller: &Caller, id: i64) -> Result<FailbackAnswer, Failure> {
        let work = self.fail_back(id, Trigger::Manual, &caller.name);
        self.act(caller, Right::ManualFailback, "failback", Some(id.to_string()), work).await
    }

    async fn restore(&self, caller: &Caller, id: i64) -> Result<FailbackAnswer, Failure> {
        let work = self.restore(id, &caller.name);
        self.act(caller, Right::ManualFailback, "restore", Some(id.to_string()), work).await
    }

    async fn material_copy(&self, caller: &Caller, id: i64) -> Result<Failover, Failure> {
        let work = self.start_material_copy(id);
        self.act(caller, Right::StartMaterialCopy, "material_copy", Some(id.to_string()), work)
            .await
    }

    async fn start_drill(
        &self,
        caller: &Caller,
        recorder_id: i64,
        new: app::drill::NewDrill,
    ) -> Result<app::drill::Drill, Failure> {
        let work = self.begin_drill(recorder_id, new, &caller.name);
        self.act(caller, Right::RunDrill, "drill", Some(recorder_id.to_string()), work).await
    }

    async fn drills(&self, caller: &Caller) -> Result<Vec<app::drill::Drill>, Failure> {
        self.read(caller, self.drill_log()).await
    }

    async fn drill(&self, caller: &Caller, id: i64) -> Result<app::drill::Drill, Failure> {
        self.read(caller, self.drill_now(id)).await
    }

    async fn failover_log_view(
        &self,
        caller: &Caller,
        filter: FailoverFilter,
    ) -> Result<FailoverLogView, Failure> {
        self.read(caller, self.log_view(caller, filter)).await
    }

    async fn dashboard(&self, caller: &Caller) -> Result<DashboardView, Failure> {
        self.read(caller, self.dashboard_view()).await
    }

    async fn demo_switches(&self, caller: &Caller) -> Result<Option<Vec<DemoSwitch>>, Failure> {
        self.read(caller, async {
            Ok(match &self.demo {
                Some(demo) => Some(demo.switches().await),
                None => None,
            })
        })
        .await
    }

    async fn set_demo_power(
        &self,
        caller: &Caller,
        server_id: i64,
        power: DemoPower,
    ) -> Result<(), Failure> {
        let action = match power {
            DemoPower::On => "demo.power_on",
            DemoPower::Off => "demo.power_off",
        };
        let work = async {
            let demo = self.demo.as_ref().ok_or_else(|| {
                Failure::not_found("A demo site (this manager was not started with `standby demo`)")
            })?;
            demo.set_power(server_id, power).await
        };
        self.act(caller, Right::DemoPower, action, Some(server_id.to_string()), work).await
    }

    async fn managers(&self, caller: &Caller) -> Result<app::model::Managers, Failure> {
        self.read(caller, self.managers_now()).await
    }

    async fn readiness(&self, caller: &Caller) -> Result<Vec<app::model::Readiness>, Failure> {
        self.read(caller, self.readiness_now()).await
    }

    async fn coverage(&self, caller: &Caller) -> Result<app::model::Coverage, Failure> {
        self.read(caller, self.coverage_now()).await
    }

    async fn metrics(&self, caller: &Caller) -> Result<Metrics, Failure> {
        // Its own right: the one a metrics-scoped token has.
        caller.require(Right::ReadMetrics)?;
        self.figures().await
    }

    fn events(&self, caller: &Caller) -> Result<EventStream, Failure> {
        caller.require(Right::Read)?;
        let changes = self.events.stream();
        // The system's own streams have no credential that could end.
        let Some(credential) = caller.credential.clone() else { return Ok(changes) };
        let ended = credential_ended(
            self.store.clone(),
            self.sessions,
            credential,
            self.credentials.subscribe(),
        );
        Ok(changes.take_until(ended).boxed())
    }
}

/// How often an open event stream checks that its credential is still accepted, even when this
/// manager saw no logout, revocation or removal (another manager on the same database may have,
/// or the session expired).
const RECHECK_STREAMS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves once the credential behind an event stream is no longer accepted: checked at once
/// when this engine ends a session, revokes a token or removes a user, and every
/// [`RECHECK_STREAMS_EVERY`] anyway.
async fn credential_ended(
    store: crate::store::SharedStore,
    policy: crate::credentials::SessionPolicy,
    credential: CredentialId,
    mut changed: tokio::sync::watch::Receiver<()>,
) {
    let mut told = true;
    loop {
        if told {
            tokio::select! {
                _ = tokio::time::sleep(RECHECK_STREAMS_EVERY) => {}
                // An error: the engine is gone; only the clock is left.
                result = changed.changed() => told = result.is_ok(),
            }
        } else {
            tokio::time::sleep(RECHECK_STREAMS_EVERY).await;
        }
        if !super::accounts::still_accepted(&store, policy, &credential).await {
            return;
        }
    }
}
