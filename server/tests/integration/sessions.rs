//! Logging in and out: sessions in the database, expiry, the login guard, forgery protection,
//! security headers, and no secret in the log.

use crate::test_app::{As, PASSWORD, test_app, test_app_with};
use app::rights::Role;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use standby::credentials::SessionPolicy;

#[tokio::test]
async fn a_session_opens_works_and_ends_with_logout() {
    let app = test_app().await;
    let login = app
        .call(
            &As::Anonymous,
            "POST",
            "/api/v1/login",
            Some(json!({ "username": "OPERATOR", "password": PASSWORD })),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.json);
    assert_eq!(login.json, json!({ "name": "operator", "role": "operator" }));
    let set_cookie = login.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain HTTP gets no Secure flag");
    let session = As::Cookie(set_cookie.split(';').next().unwrap().to_owned());

    assert_eq!(app.call(&session, "GET", "/api/v1/me", None).await.json["role"], "operator");
    let out = app.call(&session, "POST", "/api/v1/logout", Some(json!({}))).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(&session, "GET", "/api/v1/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tls_behind_a_proxy_makes_the_cookie_secure() {
    let app = test_app().await;
    let request = Request::post("/api/v1/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-proto", "https")
        .body(Body::from(json!({ "username": "viewer", "password": PASSWORD }).to_string()))
        .unwrap();
    let answer = app.send(request).await;
    assert!(answer.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().ends_with("Secure"));
}

#[tokio::test]
async fn sessions_survive_a_manager_restart() {
    let app = test_app().await;
    let session = app.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap();
    let dir = app.dir;
    drop(app.router);
    let restarted = test_app_with(SessionPolicy::default(), Some(dir)).await;
    assert_eq!(restarted.call(&session, "GET", "/api/v1/me", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn idle_and_absolute_expiry_end_sessions() {
    let idle = test_app_with(
        SessionPolicy {
            idle: chrono::Duration::milliseconds(300),
            absolute: chrono::Duration::hours(1),
        },
        None,
    )
    .await;
    let session = idle.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap();
    assert_eq!(idle.call(&session, "GET", "/api/v1/me", None).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        idle.call(&session, "GET", "/api/v1/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let absolute = test_app_with(
        SessionPolicy { idle: chrono::Duration::hours(1), absolute: chrono::Duration::zero() },
        None,
    )
    .await;
    let session = absolute.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap();
    assert_eq!(
        absolute.call(&session, "GET", "/api/v1/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer_and_guessing_slows_down() {
    let app = test_app().await;
    let unknown = app.login("nobody", PASSWORD).await.err().unwrap();
    let wrong = app.login("admin", "not the password").await.err().unwrap();
    assert_eq!((unknown.status, &unknown.json), (wrong.status, &wrong.json));
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    for _ in 0..3 {
        assert_eq!(
            app.login("admin", "still wrong").await.err().unwrap().status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Four failures so far: now even the right password has to wait.
    let slowed = app.login("admin", PASSWORD).await.expect_err("slowed down");
    assert_eq!(slowed.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(slowed.json["error"], "too_many_attempts");
    // Other users are not affected.
    assert!(app.login("viewer", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn cross_site_browser_requests_are_refused_but_scripts_with_a_cookie_work() {
    let app = test_app().await;
    let As::Cookie(cookie) = app.login("admin", PASSWORD).await.map_err(|a| a.json).unwrap() else {
        unreachable!()
    };
    let added = std::sync::atomic::AtomicU16::new(1);
    let add = |origin: Option<&str>, site: Option<&str>| {
        // Each server at an address of its own: duplicate addresses are refused.
        let port = added.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut request = Request::post("/api/v1/servers")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, cookie.clone())
            .header(header::HOST, "127.0.0.1:3000");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.body(Body::from(json!({ "name": format!("r-{origin:?}-{site:?}"), "address": format!("h:{port}"), "kind": "recorder" }).to_string())).unwrap()
    };
    let forged = app.send(add(Some("http://evil.example"), Some("cross-site"))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(forged.json["error"], "cross_site_request");
    assert_eq!(
        app.send(add(Some("http://evil.example"), None)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.send(add(None, Some("same-site"))).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.send(add(Some("http://127.0.0.1:3000"), Some("same-origin"))).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.send(add(None, None)).await.status,
        StatusCode::CREATED,
        "a script with the login cookie"
    );
}

#[tokio::test]
async fn pages_need_a_login_and_carry_security_headers() {
    let app = test_app().await;
    let anonymous = app.send(Request::get("/servers").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers[header::LOCATION], "/login?next=/servers");
    for name in ["x-content-type-options", "x-frame-options", "content-security-policy"] {
        assert!(anonymous.headers.contains_key(name), "{name} missing");
    }

    let session = app.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap();
    let As::Cookie(cookie) = session else { unreachable!() };
    let page = app
        .send(Request::get("/servers").header(header::COOKIE, cookie).body(Body::empty()).unwrap())
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    let html = page.json.as_str().unwrap();
    let nonce =
        policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the policy's nonce"
    );
    assert!(policy.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_dashboard_token_link_signs_the_screen_in_and_leaves_the_address_bar() {
    let app = test_app().await;
    let As::Token(token) = app.token(Role::Viewer) else { unreachable!() };
    let link = app
        .send(Request::get(format!("/dashboard?token={token}&x=1")).body(Body::empty()).unwrap())
        .await;
    assert_eq!(link.status, StatusCode::SEE_OTHER);
    assert_eq!(link.headers[header::LOCATION], "/dashboard?x=1", "the token is gone from the URL");
    let cookie =
        link.headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(cookie, format!("standby_token={token}"));
    // Later requests (the page, the event stream, server functions) carry only the cookie.
    let page = app
        .send(
            Request::get("/dashboard?x=1")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.json.as_str().unwrap().contains(&token), "the page does not repeat the token");
    let events = app
        .send(
            Request::get("/api/v1/events")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(events.status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_token_link_neither_hides_a_session_nor_loops_through_the_login() {
    let app = test_app().await;
    let As::Cookie(session) = app.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap()
    else {
        unreachable!()
    };
    let bad = Request::get("/dashboard?token=sbt_wrong").header(header::COOKIE, &session);
    let bad = app.send(bad.body(Body::empty()).unwrap()).await;
    assert_eq!(bad.status, StatusCode::SEE_OTHER);
    assert_eq!(bad.headers[header::LOCATION], "/dashboard");
    assert!(bad.headers.get(header::SET_COOKIE).is_none(), "a bad token is not remembered");
    let page = Request::get("/dashboard").header(header::COOKIE, &session);
    assert_eq!(app.send(page.body(Body::empty()).unwrap()).await.status, StatusCode::OK);

    // Without a session: to the login page, whose `next` no longer carries the bad token.
    let anonymous =
        app.send(Request::get("/dashboard?token=sbt_wrong").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.headers[header::LOCATION], "/dashboard");
    let then = app.send(Request::get("/dashboard").body(Body::empty()).unwrap()).await;
    assert_eq!(then.headers[header::LOCATION], "/login?next=/dashboard");
}

#[tokio::test]
async fn logging_out_clears_the_token_cookie_too() {
    let app = test_app().await;
    let As::Cookie(session) = app.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap()
    else {
        unreachable!()
    };
    let As::Token(token) = app.token(Role::Viewer) else { unreachable!() };
    let both = format!("{session}; standby_token={token}");
    // No body, no content type: logging out needs neither.
    let out = app
        .send(
            Request::post("/api/v1/logout")
                .header(header::COOKIE, &both)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.json);
    let cleared: Vec<&str> =
        out.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    for name in ["standby_session=;", "standby_token=;"] {
        assert!(
            cleared.iter().any(|c| c.starts_with(name) && c.contains("Max-Age=0")),
            "{cleared:?}"
        );
    }
}

/// Opens `/api/v1/events`, runs `meanwhile`, and tells whether the stream then ended (with its
/// `signed_out` event) within `bound`.
async fn stream_ends_within(
    app: &crate::test_app::TestApp,
    who: &As,
    bound: std::time::Duration,
    meanwhile: impl std::future::Future<Output = ()>,
) -> bool {
    use tower::ServiceExt;
    let mut request = Request::get("/api/v1/events");
    match who {
        As::Token(token) => {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"))
        }
        As::Cookie(cookie) => request = request.header(header::COOKIE, cookie),
        As::Anonymous => {}
    }
    let response = app.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = tokio::spawn(axum::body::to_bytes(response.into_body(), usize::MAX));
    // Still open before the credential goes.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!body.is_finished(), "the stream ended by itself");
    meanwhile.await;
    match tokio::time::timeout(bound, body).await {
        Ok(bytes) => {
            let bytes = bytes.expect("the reader").expect("the body");
            let text = String::from_utf8_lossy(&bytes);
            // The page is told why, so it stops reconnecting.
            assert!(text.contains("event: signed_out"), "{text}");
            true
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn event_streams_end_with_their_session_token_or_user() {
    let app = test_app().await;
    let bound = std::time::Duration::from_secs(3);
    let admin = app.token(Role::Admin);

    let session = app.login("viewer", PASSWORD).await.map_err(|a| a.json).unwrap();
    let logout = async {
        assert_eq!(
            app.call(&session, "POST", "/api/v1/logout", Some(json!({}))).await.status,
            StatusCode::NO_CONTENT
        )
    };
    assert!(stream_ends_within(&app, &session, bound, logout).await, "logged out, still streaming");

    let viewer = app.token(Role::Viewer);
    let revoke = async {
        let tokens = app.call(&admin, "GET", "/api/v1/tokens", None).await.json;
        let id = tokens.as_array().unwrap().iter().find(|t| t["role"] == "viewer").unwrap()["id"]
            .clone();
        let revoked =
            app.call(&admin, "DELETE", &format!("/api/v1/tokens/{id}"), Some(json!({}))).await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json);
    };
    assert!(stream_ends_within(&app, &viewer, bound, revoke).await, "revoked, still streaming");

    let operator = app.login("operator", PASSWORD).await.map_err(|a| a.json).unwrap();
    let remove = async {
        let removed = app.call(&admin, "DELETE", "/api/v1/users/operator", Some(json!({}))).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.json);
    };
    assert!(stream_ends_within(&app, &operator, bound, remove).await, "removed, still streaming");

    // A stream whose credential stays valid stays open.
    let other = app.login("admin", PASSWORD).await.map_err(|a| a.json).unwrap();
    let nothing = async {};
    assert!(!stream_ends_within(&app, &other, std::time::Duration::from_secs(1), nothing).await);
}

/// The login form's server function: form-encoded, as a browser without the wasm sends it.
async fn form_login(app: &crate::test_app::TestApp, next: &str) -> crate::test_app::Answer {
    use leptos::server_fn::ServerFn;
    let body =
        format!("username=admin&password={}&next={}", PASSWORD.replace(' ', "+"), percent(next));
    let request = Request::post(app::server_fns::Login::PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

fn percent(text: &str) -> String {
    text.bytes().map(|byte| format!("%{byte:02X}")).collect()
}

#[tokio::test]
async fn after_login_only_paths_of_this_site_are_followed() {
    let app = test_app().await;
    let kept = form_login(&app, "/servers?x=1").await;
    assert_eq!(kept.headers[header::LOCATION], "/servers?x=1");
    // `next=%2F%09%2Fevil.example%2F`: Chromium drops the tab and lands on evil.example.
    for next in ["/\t/evil.example/", "//evil.example/", "/\\evil.example/", "/ok\n/x", "/a\r\nb"] {
        let answer = form_login(&app, next).await;
        assert_ne!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{next:?}: {}", answer.json);
        assert_eq!(answer.headers[header::LOCATION], "/", "{next:?}");
    }
}

#[tokio::test]
async fn login_names_are_capped_and_cleaned_before_the_audit_trail() {
    let app = test_app().await;
    let huge = format!("evil\u{1b}[31m\n{}", "x".repeat(200_000));
    let refused = app.login(&huge, "wrong password").await.err().unwrap();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let trail = app.call(&app.token(Role::Admin), "GET", "/api/v1/audit?action=login", None).await;
    let lines = trail.json.as_array().unwrap();
    let line = lines.iter().find(|line| line["outcome"] == "bad_credentials").expect("audited");
    let actor = line["actor"].as_str().unwrap();
    assert!(actor.chars().count() <= 100, "{} characters", actor.chars().count());
    assert!(!actor.chars().any(char::is_control), "{actor:?}");
    assert!(actor.starts_with("evil[31m"), "{actor:?}");
}

#[tokio::test]
async fn the_audit_trail_is_paged() {
    let app = test_app().await;
    for _ in 0..130 {
        let _ = app.login("nobody", "wrong").await;
    }
    let admin = app.token(Role::Admin);
    let first = app.call(&admin, "GET", "/api/v1/audit", None).await.json;
    let first = first.as_array().unwrap();
    assert_eq!(first.len(), 100, "a page of 100 by default");
    let oldest = first.last().unwrap()["id"].as_i64().unwrap();
    let path = format!("/api/v1/audit?before={oldest}&limit=10");
    let next = app.call(&admin, "GET", &path, None).await.json;
    let next = next.as_array().unwrap();
    assert_eq!(next.len(), 10);
    assert!(next.iter().all(|line| line["id"].as_i64().unwrap() < oldest));
    let most = app.call(&admin, "GET", "/api/v1/audit?limit=100000", None).await;
    assert_eq!(most.status, StatusCode::OK);
    assert!(most.json.as_array().unwrap().len() <= 1000, "a page has a maximum");
}
