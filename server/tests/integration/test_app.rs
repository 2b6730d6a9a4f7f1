//! The manager's router in process, with one user and one token per role: what needs the
//! server crate itself, so it lives here and not in testkit.

use app::model::{NewToken, NewUser};
use app::port::Console;
use app::rights::{Caller, Role, Scope};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use leptos::prelude::LeptosOptions;
use serde_json::Value;
use standby::credentials::SessionPolicy;
use standby::engine::{Engine, Parts};
use standby::http::{AppState, router};
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

pub const PASSWORD: &str = "a long enough password";

pub struct TestApp {
    pub router: axum::Router,
    /// The engine's one door, as the REST API and the pages use it.
    pub engine: Arc<dyn Console>,
    /// A token per role.
    pub tokens: HashMap<Role, String>,
    pub dir: tempfile::TempDir,
}

/// How a request proves who it is.
#[derive(Clone, Debug)]
pub enum As {
    Anonymous,
    Token(String),
    Cookie(String),
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

pub async fn test_app() -> TestApp {
    test_app_with(SessionPolicy::default(), None).await
}

pub async fn test_app_with(policy: SessionPolicy, reuse: Option<tempfile::TempDir>) -> TestApp {
    let dir = reuse.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let database_url = format!("sqlite://{}", dir.path().join("standby.db").display());
    let store = standby::store::open(&database_url).await.unwrap();
    let engine: Arc<dyn Console> = Engine::new(Parts { sessions: policy, ..Parts::new(store) });
    let system = Caller::system("test");
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        if engine.users(&system).await.unwrap().iter().all(|user| user.name != role.as_str()) {
            let new = NewUser { name: role.as_str().into(), password: PASSWORD.into(), role };
            engine.add_user(&system, new).await.unwrap();
        }
        let new = NewToken { name: format!("{role}-{}", rand_suffix()), role, scope: Scope::Full };
        tokens.insert(role, engine.create_token(&system, new).await.unwrap().secret);
    }
    let state = AppState {
        leptos: LeptosOptions::builder().output_name("standby").build(),
        console: engine.clone(),
        stop: Default::default(),
    };
    TestApp { router: router(state), engine, tokens, dir }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

impl TestApp {
    pub fn token(&self, role: Role) -> As {
        As::Token(self.tokens[&role].clone())
    }

    pub async fn call(&self, who: &As, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        match who {
            As::Anonymous => {}
            As::Token(token) => {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"))
            }
            As::Cookie(cookie) => request = request.header(header::COOKIE, cookie),
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let streaming = request.uri().path() == "/api/v1/events";
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        if streaming && status.is_success() {
            // An event stream never ends; its status and headers are the answer.
            return Answer { status, headers, json: Value::Null };
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Answer { status, headers, json }
    }

    /// Logs in through the REST API and returns the session cookie.
    pub async fn login(&self, username: &str, password: &str) -> Result<As, Answer> {
        let answer = self
            .call(
                &As::Anonymous,
                "POST",
                "/api/v1/login",
                Some(serde_json::json!({ "username": username, "password": password })),
            )
            .await;
        if answer.status != StatusCode::OK {
            return Err(answer);
        }
        let cookie = answer
            .headers
            .get(header::SET_COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .expect("a session cookie")
            .to_owned();
        Ok(As::Cookie(cookie))
    }
}
