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
async fn a_dashboard_token_link_signs_the_screen_in() {
    let app = test_app().await;
    let As::Token(token) = app.token(Role::Viewer) else { unreachable!() };
    let page = app
        .send(Request::get(format!("/servers?token={token}")).body(Body::empty()).unwrap())
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie =
        page.headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("standby_token="));
    // Later requests (the event stream, server functions) carry only the cookie.
    let events = app
        .send(
            Request::get("/api/v1/events")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(events.status, StatusCode::OK);
    let refused =
        app.send(Request::get("/servers?token=sbt_wrong").body(Body::empty()).unwrap()).await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
}
