//! Who may do what, over every REST route and every server function: anonymous → 401, a role
//! without the right → 403, a role with it → neither. Tokens and sessions alike.

use crate::test_app::{As, PASSWORD, TestApp, test_app};
use app::rights::Role;
use app::server_fns::{
    AddServer, AssignGroup, EditServer, LoadAudit, LoadDashboard, LoadDrillPage, LoadFailover,
    LoadFailoverLog, LoadServersPage, SetDemoPower, StartDrill, StartFailback, StartMaterialCopy,
    Whoami,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};

/// A request and the least role allowed to make it (`None`: anyone, logged in or not).
struct Case {
    method: &'static str,
    path: String,
    body: Option<Value>,
    least: Option<Role>,
}

fn rest(method: &'static str, path: &str, body: Option<Value>, least: Option<Role>) -> Case {
    Case { method, path: path.to_owned(), body, least }
}

fn rest_cases(server_id: i64) -> Vec<Case> {
    let server = format!("/api/v1/servers/{server_id}");
    vec![
        rest("GET", "/api/v1/me", None, Some(Role::Viewer)),
        rest("GET", "/api/v1/servers", None, Some(Role::Viewer)),
        rest("GET", &server, None, Some(Role::Viewer)),
        rest(
            "POST",
            "/api/v1/servers",
            Some(json!({ "name": "new", "address": "h:1", "kind": "recorder" })),
            Some(Role::Admin),
        ),
        rest("PATCH", &server, Some(json!({ "maintenance_mode": true })), Some(Role::Operator)),
        rest("PATCH", &server, Some(json!({ "auto_failback": false })), Some(Role::Admin)),
        rest("GET", "/api/v1/users", None, Some(Role::Admin)),
        rest(
            "POST",
            "/api/v1/users",
            Some(json!({ "name": "someone", "password": PASSWORD, "role": "viewer" })),
            Some(Role::Admin),
        ),
        rest(
            "POST",
            "/api/v1/users/nobody/password",
            Some(json!({ "password": PASSWORD })),
            Some(Role::Admin),
        ),
        rest("DELETE", "/api/v1/users/nobody", Some(json!({})), Some(Role::Admin)),
        rest("GET", "/api/v1/tokens", None, Some(Role::Admin)),
        rest(
            "POST",
            "/api/v1/tokens",
            Some(json!({ "name": "script", "role": "viewer" })),
            Some(Role::Admin),
        ),
        rest("DELETE", "/api/v1/tokens/999", Some(json!({})), Some(Role::Admin)),
        rest("GET", "/api/v1/audit", None, Some(Role::Viewer)),
        rest("GET", "/api/v1/events", None, Some(Role::Viewer)),
        rest("GET", "/api/v1/failovers", None, Some(Role::Viewer)),
        rest("GET", "/api/v1/failovers?state=active", None, Some(Role::Viewer)),
        rest("GET", "/api/v1/failovers/999", None, Some(Role::Viewer)),
        rest("POST", "/api/v1/failovers/999/failback", Some(json!({})), Some(Role::Operator)),
        rest("GET", &format!("{server}/settings"), None, Some(Role::Viewer)),
        rest("POST", &format!("{server}/drill"), Some(json!({ "seconds": 2 })), Some(Role::Admin)),
        rest("GET", "/api/v1/drills", None, Some(Role::Viewer)),
        rest("GET", "/api/v1/drills/999", None, Some(Role::Viewer)),
        rest("GET", "/api/v1/license", None, Some(Role::Viewer)),
        rest(
            "PUT",
            "/api/v1/license",
            Some(json!({ "failover_enabled": true, "failover_servers": 2 })),
            Some(Role::Admin),
        ),
        rest("GET", "/api/v1/failover-groups", None, Some(Role::Viewer)),
        rest(
            "POST",
            "/api/v1/failover-groups",
            Some(json!({ "name": "g", "recorders": [server_id] })),
            Some(Role::Admin),
        ),
        rest(
            "PUT",
            "/api/v1/failover-groups/999",
            Some(json!({ "name": "g2" })),
            Some(Role::Admin),
        ),
        rest("DELETE", "/api/v1/failover-groups/999", Some(json!({})), Some(Role::Admin)),
        rest("GET", "/api/v1/openapi.json", None, None),
        rest("GET", "/healthz", None, None),
        rest("GET", "/metrics", None, Some(Role::Viewer)),
    ]
}

/// Server functions: form-encoded arguments, or JSON (a body starting with `{`).
fn server_fn_cases(server_id: i64) -> Vec<(String, String, Option<Role>)> {
    vec![
        (LoadFailoverLog::PATH.to_owned(), r#"{"filter":{}}"#.to_owned(), Some(Role::Viewer)),
        (LoadFailover::PATH.to_owned(), "id=999".to_owned(), Some(Role::Viewer)),
        (LoadDashboard::PATH.to_owned(), String::new(), Some(Role::Viewer)),
        (StartFailback::PATH.to_owned(), "id=999".to_owned(), Some(Role::Operator)),
        (StartMaterialCopy::PATH.to_owned(), "id=999".to_owned(), Some(Role::Operator)),
        (
            AddServer::PATH.to_owned(),
            r#"{"new":{"name":"fn-added","address":"h:1","kind":"recorder"}}"#.to_owned(),
            Some(Role::Admin),
        ),
        (
            EditServer::PATH.to_owned(),
            format!(r#"{{"id":{server_id},"patch":{{"auto_failback":false}}}}"#),
            Some(Role::Admin),
        ),
        (
            EditServer::PATH.to_owned(),
            format!(r#"{{"id":{server_id},"patch":{{"maintenance_mode":true}}}}"#),
            Some(Role::Operator),
        ),
        (
            AssignGroup::PATH.to_owned(),
            format!(r#"{{"server_id":{server_id},"group_id":null}}"#),
            Some(Role::Admin),
        ),
        (LoadServersPage::PATH.to_owned(), String::new(), Some(Role::Viewer)),
        (
            SetDemoPower::PATH.to_owned(),
            format!("server_id={server_id}&power=off"),
            Some(Role::Operator),
        ),
        (LoadAudit::PATH.to_owned(), "filter[failures_only]=false".to_owned(), Some(Role::Viewer)),
        (LoadDrillPage::PATH.to_owned(), String::new(), Some(Role::Viewer)),
        (StartDrill::PATH.to_owned(), format!("recorder_id={server_id}"), Some(Role::Admin)),
        (Whoami::PATH.to_owned(), String::new(), None),
    ]
}

fn expectation(least: Option<Role>, who: Option<Role>) -> &'static str {
    match (least, who) {
        (None, _) => "allowed",
        (Some(_), None) => "401",
        (Some(least), Some(role)) if role >= least => "allowed",
        _ => "403",
    }
}

fn verdict(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "401",
        StatusCode::FORBIDDEN => "403",
        _ => "allowed",
    }
}

async fn server_fn(app: &TestApp, who: &As, path: &str, body: &str) -> StatusCode {
    let content_type = if body.starts_with('{') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let mut request = Request::post(path).header(header::CONTENT_TYPE, content_type);
    match who {
        As::Anonymous => {}
        As::Token(token) => {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"))
        }
        As::Cookie(cookie) => request = request.header(header::COOKIE, cookie),
    }
    app.send(request.body(Body::from(body.to_owned())).unwrap()).await.status
}

async fn check_every_route(app: &TestApp, callers: &[(Option<Role>, As)]) {
    let system = app::rights::Caller::system("test");
    let new = app::model::NewServer {
        name: "rec".into(),
        address: "127.0.0.1:1".into(),
        kind: app::model::ServerKind::Recorder,
        failover_enabled: true,
        auto_failback: true,
        copy_after_failback: true,
        secret: None,
    };
    let server_id = match app.engine.add_server(&system, new).await {
        Ok(server) => server.id,
        Err(_) => app.engine.servers(&system).await.unwrap()[0].id,
    };
    let mut wrong = Vec::new();
    for (role, who) in callers {
        for case in rest_cases(server_id) {
            let answer = app.call(who, case.method, &case.path, case.body.clone()).await;
            let (want, got) = (expectation(case.least, *role), verdict(answer.status));
            if want != got {
                wrong.push(format!(
                    "{role:?} {} {}: want {want}, got {} {}",
                    case.method, case.path, answer.status, answer.json
                ));
            }
        }
        for (path, body, least) in server_fn_cases(server_id) {
            let status = server_fn(app, who, &path, &body).await;
            let (want, got) = (expectation(least, *role), verdict(status));
            if want != got {
                wrong.push(format!("{role:?} server fn {path}: want {want}, got {status}"));
            }
        }
    }
    assert!(wrong.is_empty(), "rights not as specified:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn tokens_have_exactly_their_roles_rights() {
    let app = test_app().await;
    let mut callers = vec![(None, As::Anonymous)];
    callers.extend(Role::ALL.map(|role| (Some(role), app.token(role))));
    check_every_route(&app, &callers).await;
}

#[tokio::test]
async fn sessions_have_exactly_their_roles_rights() {
    let app = test_app().await;
    let mut callers = vec![(None, As::Anonymous)];
    for role in Role::ALL {
        callers.push((
            Some(role),
            app.login(role.as_str(), PASSWORD).await.map_err(|a| a.json).unwrap(),
        ));
    }
    check_every_route(&app, &callers).await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once() {
    let app = test_app().await;
    let viewer = app.token(Role::Viewer);
    assert_eq!(app.call(&viewer, "GET", "/api/v1/servers", None).await.status, StatusCode::OK);
    let tokens = app.call(&app.token(Role::Admin), "GET", "/api/v1/tokens", None).await.json;
    let id =
        tokens.as_array().unwrap().iter().find(|token| token["role"] == "viewer").unwrap()["id"]
            .clone();
    let revoked = app
        .call(&app.token(Role::Admin), "DELETE", &format!("/api/v1/tokens/{id}"), Some(json!({})))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json);
    assert!(revoked.json["revoked_at"].is_string());
    let answer = app.call(&viewer, "GET", "/api/v1/servers", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json["error"], "invalid_token");
    // Its last use is shown.
    let tokens = app.call(&app.token(Role::Admin), "GET", "/api/v1/tokens", None).await.json;
    assert!(
        tokens
            .as_array()
            .unwrap()
            .iter()
            .any(|token| token["role"] == "viewer" && token["last_used_at"].is_string())
    );
}

#[tokio::test]
async fn manual_actions_are_audited_with_their_outcome() {
    let app = test_app().await;
    let viewer = app.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap();
    let refused = app
        .call(&viewer, "POST", "/api/v1/tokens", Some(json!({ "name": "x", "role": "admin" })))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.json["message"].as_str().unwrap().contains("manage API tokens"),
        "{}",
        refused.json
    );
    let admin = app.token(Role::Admin);
    let added = app
        .call(
            &admin,
            "POST",
            "/api/v1/servers",
            Some(json!({ "name": "r9", "address": "h:9", "kind": "recorder" })),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED);

    let trail = app.call(&admin, "GET", "/api/v1/audit", None).await.json;
    let lines = trail.as_array().unwrap();
    let find = |action: &str, actor: &str| {
        lines
            .iter()
            .find(|line| {
                line["action"] == action && line["actor"].as_str().unwrap().starts_with(actor)
            })
            .cloned()
    };
    let refusal = find("token.create", "viewer").expect("the refused token creation is audited");
    assert_eq!(refusal["outcome"], "forbidden");
    let added = find("server.add", "token:admin").expect("the server addition is audited");
    assert_eq!((&added["outcome"], &added["target"]), (&json!("ok"), &json!("r9")));
    assert!(find("login", "viewer").is_some());

    let refusals = app.call(&admin, "GET", "/api/v1/audit?failures_only=true", None).await.json;
    assert!(refusals.as_array().unwrap().iter().all(|line| line["outcome"] != "ok"), "{refusals}");
}

#[tokio::test]
async fn the_last_administrator_cannot_be_removed() {
    let app = test_app().await;
    let admin = app.token(Role::Admin);
    let refused = app.call(&admin, "DELETE", "/api/v1/users/ADMIN", Some(json!({}))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.json);
    assert_eq!(refused.json["error"], "last_admin");
    let second = json!({ "name": "second", "password": PASSWORD, "role": "admin" });
    assert_eq!(
        app.call(&admin, "POST", "/api/v1/users", Some(second)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.call(&admin, "DELETE", "/api/v1/users/admin", Some(json!({}))).await.status,
        StatusCode::NO_CONTENT
    );
    let last = app.call(&admin, "DELETE", "/api/v1/users/second", Some(json!({}))).await;
    assert_eq!(last.json["error"], "last_admin");
    // The command line's door refuses it too.
    let system = app::rights::Caller::system("cli:test");
    let failure = app.engine.remove_user(&system, "second").await.unwrap_err();
    assert_eq!(failure.code, "last_admin");
}

#[tokio::test]
async fn changing_ones_own_password_needs_the_current_one() {
    let app = test_app().await;
    let viewer = app.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap();
    let path = "/api/v1/users/viewer/password";
    let new = "another long password";
    let missing = app.call(&viewer, "POST", path, Some(json!({ "password": new }))).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.json);
    assert_eq!(missing.json["error"], "invalid_current_password");
    let wrong = json!({ "password": new, "current_password": "not it at all" });
    let wrong = app.call(&viewer, "POST", path, Some(wrong)).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.json);
    assert_eq!(wrong.json["error"], "wrong_current_password");
    assert!(app.login("viewer", new).await.is_err(), "nothing changed");
    let right = json!({ "password": new, "current_password": PASSWORD });
    assert_eq!(app.call(&viewer, "POST", path, Some(right)).await.status, StatusCode::NO_CONTENT);
    assert!(app.login("viewer", new).await.is_ok());
    // An administrator resetting someone else's password needs no password of theirs.
    let admin = app.login("admin", PASSWORD).await.map_err(|a| a.json).unwrap();
    let reset = json!({ "password": PASSWORD });
    assert_eq!(app.call(&admin, "POST", path, Some(reset)).await.status, StatusCode::NO_CONTENT);
    assert!(app.login("viewer", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn a_metrics_token_reads_the_metrics_and_nothing_else() {
    let app = test_app().await;
    let admin = app.token(Role::Admin);
    // Even with the admin role: the scope is what limits it.
    let new = json!({ "name": "prometheus", "role": "admin", "scope": "metrics" });
    let created = app.call(&admin, "POST", "/api/v1/tokens", Some(new)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(created.json["token"]["scope"], "metrics");
    let scraper = As::Token(created.json["secret"].as_str().unwrap().to_owned());
    let listed = app.call(&admin, "GET", "/api/v1/tokens", None).await.json;
    assert!(listed.as_array().unwrap().iter().any(|t| t["scope"] == "metrics"), "{listed}");

    let metrics = app.call(&scraper, "GET", "/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.json);
    assert!(metrics.json.as_str().unwrap().contains("standby_servers"));

    let system = app::rights::Caller::system("test");
    let new = app::model::NewServer {
        name: "rec".into(),
        address: "127.0.0.1:1".into(),
        kind: app::model::ServerKind::Recorder,
        failover_enabled: true,
        auto_failback: true,
        copy_after_failback: true,
        secret: None,
    };
    let server_id = app.engine.add_server(&system, new).await.unwrap().id;
    let mut wrong = Vec::new();
    for case in rest_cases(server_id) {
        let answer = app.call(&scraper, case.method, &case.path, case.body.clone()).await;
        let open = case.least.is_none() || case.path == "/metrics";
        let want = if open { "allowed" } else { "403" };
        if verdict(answer.status) != want {
            wrong
                .push(format!("{} {}: want {want}, got {}", case.method, case.path, answer.status));
        }
    }
    for (path, body, least) in server_fn_cases(server_id) {
        let status = server_fn(&app, &scraper, &path, &body).await;
        let want = if least.is_none() { "allowed" } else { "403" };
        if verdict(status) != want {
            wrong.push(format!("server fn {path}: want {want}, got {status}"));
        }
    }
    assert!(wrong.is_empty(), "a metrics token reached more than /metrics:\n{}", wrong.join("\n"));
}
