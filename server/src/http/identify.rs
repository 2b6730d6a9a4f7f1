//! Authentication and request-forgery protection for every request, in one layer:
//! - who: a bearer token, a session cookie, or a dashboard's token (link or cookie);
//! - forgery: a browser request that changes something must come from our own pages;
//! - pages: someone not logged in is sent to the login page.

use super::AppState;
use super::error::ApiError;
use app::cookies::{SESSION_COOKIE, TOKEN_COOKIE, cookie, set_cookie};
use app::failure::{Failure, FailureKind};
use app::port::Credential;
use app::rights::{Caller, RequestInfo};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, ORIGIN, SET_COOKIE,
    TRANSFER_ENCODING,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// A dashboard's token cookie lives as long as a year: the token's revocation is what ends it.
const TOKEN_COOKIE_SECONDS: i64 = 365 * 24 * 3600;

pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let info = request_info(&request);
    let headers = request.headers().clone();
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let mutating = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);

    if mutating && let Err(failure) = same_site(&headers) {
        return ApiError(failure).into_response();
    }

    let console = &state.console;
    let address = info.address.clone();
    if method == Method::GET
        && is_page(&path)
        && let Some(secret) = query_token(request.uri().query())
    {
        // A wall screen's link: the token goes into a cookie and out of the address bar (and
        // so out of every Referer and browser history) at once. A bad token is dropped the
        // same way, so it neither hides a valid session nor comes back after logging in.
        let linked = match console.identify(Credential::Token(&secret), address).await {
            Ok(linked) => linked,
            Err(failure) => return unavailable(&path, failure),
        };
        let mut response = see_other(&without_token(&path, request.uri().query()));
        if linked.is_some()
            && let Ok(value) = HeaderValue::from_str(&set_cookie(
                TOKEN_COOKIE,
                &secret,
                TOKEN_COOKIE_SECONDS,
                info.secure,
            ))
        {
            response.headers_mut().append(SET_COOKIE, value);
        }
        return response;
    }
    let open = is_open(&method, &path);
    let identified = if let Some(secret) = bearer(&headers) {
        match console.identify(Credential::Token(&secret), address).await {
            Ok(Some(caller)) => Ok(Some(caller)),
            // A wrong token is an error, not an anonymous request, except where no credential
            // is needed at all: a stale token must not stop a health check or a login.
            Ok(None) if open => Ok(None),
            Ok(None) => return ApiError(invalid_token()).into_response(),
            Err(failure) => Err(failure),
        }
    } else if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        match console.identify(Credential::Session(&secret), address.clone()).await {
            Ok(None) => match cookie(&headers, TOKEN_COOKIE) {
                Some(token) => console.identify(Credential::Token(&token), address).await,
                None => Ok(None),
            },
            other => other,
        }
    } else if let Some(secret) = cookie(&headers, TOKEN_COOKIE) {
        console.identify(Credential::Token(&secret), address).await
    } else {
        Ok(None)
    };
    let caller = match identified {
        Ok(caller) => caller,
        // Who is asking cannot be told now (the database is away): that is said as it is,
        // never as "not logged in"; what needs no credential is served all the same.
        Err(_) if open => None,
        Err(failure) => return unavailable(&path, failure),
    };

    // Who comes before what: someone not logged in hears 401 whatever they sent, and only a
    // request that could be served is told that its body's type is wrong.
    if mutating
        && path.starts_with("/api/")
        && (caller.is_some() || open)
        && !acceptable_body(&headers)
    {
        return ApiError(super::error::unsupported_media_type()).into_response();
    }
    if caller.is_none() && method == Method::GET && is_page(&path) && path != "/login" {
        return to_login(request.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/"));
    }
    request.extensions_mut().insert(info);
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

/// The database is away: the API answers its JSON error (503, `database_unavailable`, with
/// `Retry-After`); a page says so in a sentence and looks again by itself.
fn unavailable(path: &str, failure: Failure) -> Response {
    if !is_page(path) {
        return ApiError(failure).into_response();
    }
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>Database unreachable · Standby</title>\
         <link rel=\"stylesheet\" href=\"/pkg/standby.css\"></head><body><main class=\"page\">\
         <h1>Standby cannot reach its database</h1><p role=\"alert\" data-testid=\"database-unavailable\">{}</p>\
         <p>This page tries again every 5 seconds.</p></main></body></html>",
        failure.message
    );
    let mut response =
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::response::Html(body)).into_response();
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// The REST handlers' way to say "only for someone logged in".
impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(AuthenticatedCaller)
            .ok_or_else(|| ApiError(Failure::not_logged_in()))
    }
}

pub struct AuthenticatedCaller(pub Caller);

fn request_info(request: &Request) -> RequestInfo {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string());
    let forwarded_https = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let secure = forwarded_https || request.uri().scheme_str() == Some("https");
    RequestInfo { address, secure }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "token")
        .map(|(_, value)| value.to_owned())
}

fn invalid_token() -> Failure {
    Failure::new(
        FailureKind::Unauthorized,
        "invalid_token",
        "The API token is unknown or has been revoked.",
    )
}

/// An API request that changes something sends JSON, or nothing at all (failback, material
/// copy, logout, deletions need no body). What a browser can send across sites without a
/// preflight is a form or text, always with a content type of its own, so refusing every
/// other content type keeps forgers out (besides `same_site` and SameSite cookies), while
/// `curl -X POST` without a body keeps working.
fn acceptable_body(headers: &HeaderMap) -> bool {
    match headers.get(CONTENT_TYPE) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json")),
        None => !has_body(headers),
    }
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.to_str().map_or(true, |length| length.trim() != "0"))
}

/// Browsers say where a request comes from; scripts say nothing and are let through (they
/// carry no ambient credentials a forger could borrow).
fn same_site(headers: &HeaderMap) -> Result<(), Failure> {
    let cross_site = || {
        Failure::new(
            FailureKind::Forbidden,
            "cross_site_request",
            "This request came from another web site and was refused.",
        )
    };
    if let Some(site) = headers.get("sec-fetch-site").and_then(|value| value.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(cross_site());
    }
    if let Some(origin) = headers.get(ORIGIN).and_then(|value| value.to_str().ok()) {
        let host = headers.get(HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return Err(cross_site());
        }
    }
    Ok(())
}

/// The operations the API document marks as open (`security: []`).
fn is_open(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => matches!(path, "/healthz" | "/api/v1/openapi.json"),
        Method::POST => path == "/api/v1/login",
        _ => false,
    }
}

/// Pages are everything that is not the API, server functions, the bundle or a file.
fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path.starts_with("/rpc/")
        || path.starts_with("/pkg/")
        || path == "/healthz"
        || path == "/metrics"
        || path.rsplit('/').next().is_some_and(|last| last.contains('.')))
}

fn to_login(next: &str) -> Response {
    see_other(&format!("/login?next={}", encode(next)))
}

/// 303 to a path of this site. The paths come from the request's own URI, which holds only
/// characters a header takes; should one not, the start page.
fn see_other(target: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let value = HeaderValue::from_str(target).unwrap_or(HeaderValue::from_static("/"));
    response.headers_mut().insert(LOCATION, value);
    response
}

/// The same page without its `token` parameter, every other parameter kept as it was.
fn without_token(path: &str, query: Option<&str>) -> String {
    let kept: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("token"))
        .collect();
    if kept.is_empty() { path.to_owned() } else { format!("{path}?{}", kept.join("&")) }
}

/// Percent-encodes what is not safe inside a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_told_apart_from_everything_else() {
        assert!(is_page("/servers"));
        assert!(is_page("/"));
        assert!(is_page("/failovers/12"));
        assert!(!is_page("/api/v1/servers"));
        assert!(!is_page("/rpc/whoami"));
        assert!(!is_page("/pkg/standby.js"));
        assert!(!is_page("/favicon.ico"));
        assert!(!is_page("/healthz"));
    }

    #[test]
    fn cross_site_browser_requests_are_refused_and_scripts_pass() {
        let mut headers = HeaderMap::new();
        assert!(same_site(&headers).is_ok(), "curl sends neither header");
        headers.insert(HOST, "127.0.0.1:3000".parse().unwrap());
        headers.insert(ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_site(&headers).is_ok());
        headers.insert(ORIGIN, "http://evil.example".parse().unwrap());
        assert!(same_site(&headers).is_err());
        headers.insert(ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(same_site(&headers).is_err());
    }

    #[test]
    fn api_changes_send_json_or_nothing() {
        let mut headers = HeaderMap::new();
        assert!(acceptable_body(&headers), "a body-less POST");
        headers.insert(CONTENT_LENGTH, "0".parse().unwrap());
        assert!(acceptable_body(&headers));
        headers.insert(CONTENT_LENGTH, "12".parse().unwrap());
        assert!(!acceptable_body(&headers), "a body of unknown type");
        headers.insert(CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert!(acceptable_body(&headers));
        headers.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!acceptable_body(&headers), "what a cross-site form can send");
        headers.remove(CONTENT_LENGTH);
        assert!(!acceptable_body(&headers), "even without a body");
    }

    #[test]
    fn tokens_come_from_the_header_or_the_link() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Bearer sbt_abc".parse().unwrap());
        assert_eq!(bearer(&headers).as_deref(), Some("sbt_abc"));
        assert_eq!(query_token(Some("a=1&token=sbt_x")).as_deref(), Some("sbt_x"));
        assert_eq!(query_token(Some("a=1")), None);
        assert_eq!(without_token("/dashboard", Some("token=sbt_x")), "/dashboard");
        assert_eq!(without_token("/failovers", Some("a=1&token=sbt_x&b=2")), "/failovers?a=1&b=2");
        assert_eq!(encode("/servers?x=1"), "/servers%3Fx%3D1");
    }
}
