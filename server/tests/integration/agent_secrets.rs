//! Agents' secrets through the manager: a rotation through `PATCH /api/v1/servers/{id}` reaches
//! the agent without a restart, and everything the manager does afterwards (settings cache,
//! failover) works with the new secret.

use serde_json::{Value, json};
use testkit::agent::secret_of;
use testkit::{Site, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_rotated_through_the_manager_reaches_the_agent_without_a_restart() {
    let mut site = Site::start(Some(1), &[]).await;
    site.agent("rec-1", "recorder").await;
    site.agent("fo-1", "failover").await;
    site.wait_state("rec-1", "ok").await;
    site.wait_state("fo-1", "standby").await;
    for name in ["rec-1", "fo-1"] {
        let id = site.server(name).await["id"].clone();
        let pid = site.agents[name].pid();
        let new = format!("{name}-rotated-secret-0123456789");
        let (status, changed) =
            site.patch(&format!("/api/v1/servers/{id}"), json!({ "secret": new })).await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(changed.get("secret"), None, "never read back: {changed}");
        assert_eq!(secret_of(&site.agents[name].data_dir), new, "{name} keeps the new secret");
        assert_eq!(site.agents[name].pid(), pid, "{name} did not restart");
        let (status, _) = testkit::http::send(
            &testkit::http::client_with_token(&new),
            reqwest::Method::GET,
            &site.agents[name].url("/settings"),
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    // The manager goes on with the new secrets: the settings cache and a failover.
    site.wait_settings_cached("rec-1").await;
    site.kill("rec-1").await;
    let entry = eventually("rec-1 failed over", || async {
        site.failovers("?state=active").await.into_iter().find(|entry| entry["status"] == "active")
    })
    .await;
    assert_eq!(entry["failover_server"]["name"], "fo-1", "{entry}");
    let fo = site.agent_get("fo-1", "/api/v1/health").await;
    assert_eq!(fo["acting_for"], Value::from("rec-1"));
}
