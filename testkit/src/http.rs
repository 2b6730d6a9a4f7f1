//! JSON over HTTP as the tests and benches speak it: the status and the JSON answer (`Null`
//! when the answer is not JSON), panicking only when the request cannot be made at all.

use serde_json::Value;
use std::time::Duration;

/// A client that sends the bearer token with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().expect("a token is a valid header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().expect("an HTTP client")
}

/// A request with an optional JSON body on `client`, bounded by a minute.
pub async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = client.request(method.clone(), url).timeout(Duration::from_secs(60));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response =
        request.send().await.unwrap_or_else(|error| panic!("{method} {url} failed: {error}"));
    answer(response).await
}

/// GET returning JSON, or `None` when the network or the answer is not what was hoped for:
/// for polls that try again.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).timeout(Duration::from_secs(30)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// GET with a plain client.
pub async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap_or_else(|error| panic!("GET {url}: {error}"));
    answer(response).await
}

/// A request with a JSON body, with a plain client.
pub async fn send_json(method: reqwest::Method, url: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method.clone(), url)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{method} {url}: {error}"));
    answer(response).await
}

/// DELETE with a plain client.
pub async fn delete(url: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .delete(url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("DELETE {url}: {error}"));
    answer(response).await
}

/// POST of a body that is not JSON (e.g. framed records), with a plain client.
pub async fn post_bytes(url: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST {url}: {error}"));
    answer(response).await
}

pub(crate) async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
