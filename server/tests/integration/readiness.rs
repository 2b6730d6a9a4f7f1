//! Readiness: each cause that would stop a failover made true in turn with real agents, and
//! seen in `GET /api/v1/readiness` and `/metrics` as a code and a sentence naming the cause, and
//! on the Servers page as its server renders it.

use serde_json::{Value, json};
use testkit::{Site, eventually};

/// rec's readiness once its reason codes are `codes` (empty: covered).
async fn readiness_once(site: &Site, recorder: &str, codes: &[&str]) -> Value {
    eventually(&format!("{recorder} with reasons {codes:?}"), || async {
        let all = site.get("/api/v1/readiness").await;
        let found =
            all.as_array()?.iter().find(|entry| entry["server"]["name"] == recorder)?.clone();
        let have: Vec<&str> = found["reasons"]
            .as_array()?
            .iter()
            .filter_map(|reason| reason["code"].as_str())
            .collect();
        (have == codes && found["covered"] == codes.is_empty()).then_some(found)
    })
    .await
}

fn first_message(readiness: &Value) -> String {
    readiness["reasons"][0]["message"].as_str().unwrap_or_default().to_owned()
}

/// The Servers page's "Covered if it fails" cell of `recorder`, as the server renders the page.
async fn servers_page_cell(site: &Site, recorder: &str) -> String {
    let page = site.client.get(site.url("/servers")).send().await.unwrap().text().await.unwrap();
    let marker = format!("data-testid=\"coverage-{recorder}\"");
    let Some(start) = page.find(&marker) else { return String::new() };
    let cell = &page[start..];
    cell[..cell.find("</td>").unwrap_or(cell.len())].to_owned()
}

/// Waits until the page says `message` of `recorder` (as HTML text: `&`, `<`, `>` escaped).
async fn seen_on_the_servers_page(site: &Site, recorder: &str, message: &str) {
    let text = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    eventually(&format!("the Servers page says of {recorder}: {message}"), || async {
        let cell = servers_page_cell(site, recorder).await;
        cell.contains("Not covered") && cell.contains(&text)
    })
    .await;
}

async fn not_covered_metric(site: &Site) -> String {
    let text = site.client.get(site.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("standby_recorders_not_covered "))
        .unwrap_or_else(|| panic!("no coverage gauge in {text}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cause_that_would_stop_a_failover_is_named_in_turn() {
    let mut site = Site::start(Some(1), &[]).await;
    site.covered(json!({})).await;
    readiness_once(&site, "rec-1", &[]).await;
    assert_eq!(not_covered_metric(&site).await, "0");

    // The only failover server is down.
    site.kill("fo-1").await;
    let readiness = readiness_once(&site, "rec-1", &["no_free_failover_server"]).await;
    assert_eq!(
        first_message(&readiness),
        "fo-1 is the only failover server and it is unreachable."
    );
    seen_on_the_servers_page(&site, "rec-1", &first_message(&readiness)).await;
    assert_eq!(not_covered_metric(&site).await, "1");
    site.agent("fo-1", "failover").await;
    readiness_once(&site, "rec-1", &[]).await;

    // Its group has no failover server.
    let rec = site.server("rec-1").await["id"].clone();
    let (status, group) =
        site.post("/api/v1/failover-groups", json!({ "name": "East", "recorders": [rec] })).await;
    assert_eq!(status, 201, "{group}");
    let readiness = readiness_once(&site, "rec-1", &["no_failover_server"]).await;
    assert_eq!(first_message(&readiness), "Group East has no failover server to cover rec-1.");
    seen_on_the_servers_page(&site, "rec-1", &first_message(&readiness)).await;
    let (status, _) = testkit::http::send(
        &site.client,
        reqwest::Method::DELETE,
        &site.url(&format!("/api/v1/failover-groups/{}", group["id"])),
        None,
    )
    .await;
    assert_eq!(status, 204);
    readiness_once(&site, "rec-1", &[]).await;

    // The failover server is too small for what rec-1 records (its default set has several
    // channels); it says so in its health.
    site.agent_args = vec!["--capacity-channels".into(), "1".into()];
    site.agent("fo-1", "failover").await;
    let readiness = readiness_once(&site, "rec-1", &["capacity_short"]).await;
    let message = first_message(&readiness);
    assert!(message.starts_with("No free failover server can carry rec-1 ("), "{message}");
    assert!(message.ends_with("fo-1 takes at most 1 channel."), "{message}");
    seen_on_the_servers_page(&site, "rec-1", &message).await;
    site.agent_args.clear();
    site.agent("fo-1", "failover").await;
    readiness_once(&site, "rec-1", &[]).await;

    // Maintenance mode and monitoring switched off are named too.
    let path = format!("/api/v1/servers/{rec}");
    site.patch(&path, json!({ "maintenance_mode": true, "failover_enabled": false })).await;
    let readiness = readiness_once(&site, "rec-1", &["monitoring_off", "maintenance"]).await;
    for reason in readiness["reasons"].as_array().unwrap() {
        seen_on_the_servers_page(&site, "rec-1", reason["message"].as_str().unwrap()).await;
    }
    site.patch(&path, json!({ "maintenance_mode": false, "failover_enabled": true })).await;
    readiness_once(&site, "rec-1", &[]).await;

    // The licence's one failover server is in use for rec-2, though fo-2 is free.
    site.agent("rec-2", "recorder").await;
    site.agent("fo-2", "failover").await;
    site.wait_state("fo-2", "standby").await;
    site.wait_settings_cached("rec-2").await;
    readiness_once(&site, "rec-2", &[]).await;
    site.kill("rec-2").await;
    let readiness = readiness_once(&site, "rec-1", &["licence_full"]).await;
    assert_eq!(
        first_message(&readiness),
        "The licence allows 1 failover server(s) at once and 1 are in use."
    );
    seen_on_the_servers_page(&site, "rec-1", &first_message(&readiness)).await;
    let failed_over = readiness_once(&site, "rec-2", &["failed_over"]).await;
    assert!(
        first_message(&failed_over).starts_with("rec-2 is failed over to fo-"),
        "{failed_over}"
    );
    assert_eq!(not_covered_metric(&site).await, "2");
}

/// The recorder was reinstalled with another secret and its settings changed: the manager can
/// no longer read them, so a failover now would move the old ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_the_manager_cannot_read_again_are_stale() {
    let mut site = Site::start(Some(1), &[]).await;
    site.covered(json!({})).await;
    readiness_once(&site, "rec-1", &[]).await;
    // Not failed over while it is reinstalled.
    let path = format!("/api/v1/servers/{}", site.server("rec-1").await["id"]);
    site.patch(&path, json!({ "failover_enabled": false })).await;
    site.kill("rec-1").await;
    let secret_file = site.agents["rec-1"].data_dir.join("secret");
    std::fs::write(&secret_file, "reinstalled-with-another-secret-0123456789").unwrap();
    site.agent("rec-1", "recorder").await;
    let rec1 = &site.agents["rec-1"];
    let (status, settings) = rec1.get("/settings").await;
    assert_eq!(status, 200, "{settings}");
    let mut changed = settings.clone();
    changed["channels"][0]["name"] = json!("Entrance, moved");
    let (status, written) = rec1.send_json(reqwest::Method::PUT, "/settings", &changed).await;
    assert_eq!(status, 200, "{written}");
    site.patch(&path, json!({ "failover_enabled": true })).await;
    let readiness = readiness_once(&site, "rec-1", &["settings_stale"]).await;
    let version = written["version"].as_i64().unwrap();
    assert_eq!(
        first_message(&readiness),
        format!(
            "The cached settings of rec-1 are version {}, but it records by version {version}: a failover now would move settings that are out of date.",
            version - 1
        )
    );
    seen_on_the_servers_page(&site, "rec-1", &first_message(&readiness)).await;
}
