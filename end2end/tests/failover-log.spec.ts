import { expect, test } from "./fixtures";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { asAdmin, loginAs } from "./login";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

test("an operator sees a failover arrive live, fails back, and the entry moves to Finalized", async ({ browser }) => {
  const admin = await asAdmin(browser);
  const servers = await (await admin.get("/api/v1/servers")).json();
  const recorder2 = servers.find((server: any) => server.name === "recorder-2");
  // Manual failback in this test: automatic failback off for recorder-2.
  // Manual failback and manual material copying in this test.
  const patched = await admin.patch(`/api/v1/servers/${recorder2.id}`, { data: { auto_failback: false, copy_after_failback: false } });
  expect(patched.status()).toBe(200);

  const context = await browser.newContext();
  const log = await context.newPage();
  await loginAs(log, "operator", "/failovers");
  await expect(log.getByRole("heading", { name: "Active Failovers" })).toBeVisible();
  await log.evaluate(() => ((window as any).__sameDocument = true));

  // A second tab switches the recorder off, as a power cut would.
  const serversTab = await context.newPage();
  await serversTab.goto("/servers");
  await serversTab.getByTestId("demo-switch-recorder-2").click();

  const activeRow = log.locator('tr[data-status="active"]', { hasText: "recorder-2" });
  await expect(activeRow).toBeVisible();
  // This failover's entry (recorder-2 may have older ones from other tests).
  const id = await activeRow.getAttribute("data-failover");
  await activeRow.click();
  const button = log.getByTestId("start-failback");
  await expect(button).toBeDisabled();
  await expect(log.getByTestId("failback-reason")).toContainText("recorder-2 is not back on the network yet");
  await log.screenshot({ path: `${shots}/log-active-waiting.png`, fullPage: true });

  // The repaired recorder comes back at the same address: failback becomes possible.
  await serversTab.getByTestId("demo-switch-recorder-2").click();
  await expect(button).toBeEnabled();
  await button.click();
  await expect(log.getByRole("dialog", { name: "Confirm failback" })).toContainText("same address");
  await log.screenshot({ path: `${shots}/log-confirm.png`, fullPage: true });
  // A server changing while the operator reads the question reloads the log's page (what the
  // buttons may do depends on the servers' states): the question stays open.
  const reloaded = log.waitForResponse((response) => response.url().includes("/rpc/load_failover_log"));
  const patchedAgain = await admin.patch(`/api/v1/servers/${recorder2.id}`, { data: { copy_after_failback: false } });
  expect(patchedAgain.status()).toBe(200);
  await (await reloaded).finished();
  // The answer is shown within a frame or two of arriving.
  await log.evaluate(() => new Promise((done) => setTimeout(done, 300)));
  await expect(log.getByRole("dialog", { name: "Confirm failback" })).toBeVisible();
  await log.getByTestId("confirm-failback").click();
  await expect(log.getByTestId("failback-ok")).toContainText("Failback OK — started");
  await expect(log.getByTestId("failback-ok")).toContainText("took");
  const finalizedRow = log.locator(`tr[data-status="finalized"][data-failover="${id}"]`);
  await expect(finalizedRow).toBeVisible();
  await expect(finalizedRow).toContainText("manual, operator");
  await log.screenshot({ path: `${shots}/log-failback-ok.png`, fullPage: true });

  // The failover server that recorded the period is switched off before copying starts.
  const entries = await (await admin.get("/api/v1/failovers?state=finalized")).json();
  const entry = entries.find((e: any) => String(e.id) === id);
  const source = entry.failover_server.name;
  await serversTab.getByTestId(`demo-switch-${source}`).click();
  await expect(serversTab.locator("tr", { hasText: source }).locator(".state-unreachable")).toBeVisible();

  // Material copying by hand: the finalized entry is selected, the button is enabled.
  await finalizedRow.click();
  const copy = log.getByTestId("start-copy");
  await expect(copy).toBeEnabled();
  await copy.click();
  await expect(log.getByTestId("copy-started")).toContainText("Material copying to recorder-2 started");

  // The entry's own page tells the incident, and why the copy waits.
  await finalizedRow.getByRole("link", { name: "recorder-2" }).click();
  await expect(log.locator("ol.timeline li.done")).toHaveCount(4);
  await expect(log.getByTestId("copy-error")).toContainText(`Waiting: ${source} is not reachable`, { timeout: 30_000 });
  await expect(log.locator('li[data-code="copy_waiting"]')).toBeVisible();
  await log.screenshot({ path: `${shots}/entry-copy-waiting.png`, fullPage: true });
  // The failover server is back: the recorder goes on by itself.
  await serversTab.getByTestId(`demo-switch-${source}`).click();
  await expect(log.getByTestId("copy-error")).toHaveCount(0, { timeout: 60_000 });
  // Progress reaches done, live, for every channel.
  await expect(log.getByTestId("copy-overall")).toContainText("100 %", { timeout: 60_000 });
  await expect(log.locator('li[data-code="copy_done"]')).toBeVisible({ timeout: 60_000 });
  await expect(log.locator('table.copy-table tr[data-status="done"]').first()).toBeVisible();
  await expect(log.locator('table.copy-table tr[data-status="failed"]')).toHaveCount(0);
  await expect(log.locator('li[data-code="failback_performed"]')).toBeVisible();
  await log.screenshot({ path: `${shots}/entry-detail.png`, fullPage: true });
  await context.close();
});

test("a viewer sees the failback button disabled, with the reason", async ({ page }) => {
  await loginAs(page, "viewer", "/failovers");
  const row = page.locator('tr[data-status="finalized"]').first();
  await expect(row).toBeVisible();
  await row.click();
  await expect(page.getByTestId("start-failback")).toBeDisabled();
  await expect(page.getByTestId("failback-reason")).toContainText("Your role (viewer) does not allow you to trigger a failback manually");
  // Filters and the CSV export of what is shown.
  const csv = await page.getByTestId("csv-export").getAttribute("href");
  const exported = await page.context().request.get(csv!);
  expect(exported.status()).toBe(200);
  expect(exported.headers()["content-type"]).toContain("text/csv");
  expect(await exported.text()).toContain("recorder-2");
  await page.getByLabel("Search").fill("no such recorder");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/q=no\+such\+recorder|q=no%20such%20recorder/);
  await expect(page.getByText("No finalized failovers match.")).toBeVisible();
  await page.screenshot({ path: `${shots}/log-viewer.png`, fullPage: true });
});

test("the wall-screen dashboard signs in with a token link and follows the site live", async ({ browser }) => {
  const admin = await asAdmin(browser);
  const created = await admin.post("/api/v1/tokens", { data: { name: "control-room-wall", role: "viewer" } });
  expect(created.status()).toBe(201);
  const { secret } = await created.json();

  const wall = await (await browser.newContext({ viewport: { width: 1600, height: 900 } })).newPage();
  await wall.goto(`/dashboard?token=${secret}`);
  // The token went into a cookie and out of the address bar (and every Referer).
  await expect(wall).toHaveURL(/\/dashboard$/);
  await expect(wall.getByTestId("dashboard")).toBeVisible();
  await expect(wall.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(wall.locator(".dash-connection")).toHaveText("LIVE");
  const tile = wall.locator('.tile[data-server="recorder-3"]');
  await expect(tile).toHaveAttribute("data-state", "ok");
  const before = await wall.getByTestId("clock").textContent();
  await expect(wall.getByTestId("clock")).not.toHaveText(before!);

  // Someone switches recorder-3 off; the wall shows the failover without anyone touching it.
  const operator = await (await browser.newContext()).newPage();
  await loginAs(operator, "operator");
  await operator.getByTestId("demo-switch-recorder-3").click();
  await expect(tile).toHaveAttribute("data-state", "broken");
  await expect(tile.locator(".tile-state")).toHaveText("Broken");
  await expect(wall.locator(".dash-failover", { hasText: "recorder-3" })).toBeVisible();
  await wall.screenshot({ path: `${shots}/dashboard.png` });
  await operator.getByTestId("demo-switch-recorder-3").click();
  // Automatic failback after the hold-down brings it back.
  await expect(tile).toHaveAttribute("data-state", "ok", { timeout: 30_000 });
  await wall.screenshot({ path: `${shots}/dashboard-after-failback.png` });
});

const binary = process.env.STANDBY_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.resolve(__dirname, "../../target"), "debug", "standby");

/** A manager of its own (not the demo's), so the test can kill and restart it. */
function startManager(database: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, ["serve", "--listen", `127.0.0.1:${port}`, "--database-url", database], {
    env: { ...process.env, STANDBY_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk) => {
      if (String(chunk).includes("Standby is listening on")) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`standby serve exited with ${code}`)));
  });
}

test("the dashboard survives the manager restarting, and says so while it is away", async ({ browser, problems }) => {
  // The event stream cut by the kill, and refused until the manager is back.
  problems.allow(/net::ERR_\w+ \(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/events\)$/);
  // The wall loads once more when its stream first opens; the kill may cut that load short.
  problems.allow(/net::ERR_\w+ \(http:\/\/127\.0\.0\.1:\d+\/rpc\/load_dashboard\d*\)$/);
  // Chromium may ask for the favicon only after the kill, or just before it (the kill resets it).
  problems.allow(/net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE) \(http:\/\/127\.0\.0\.1:\d+\/favicon\.svg\)$/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "standby-restart-"));
  const database = `sqlite://${dir}/standby.db`;
  const port = 3000 + Math.floor(Math.random() * 2000) + 5000;
  const created = execFileSync(binary, ["token", "create", "wall", "--role", "viewer", "--database-url", database], {
    env: { ...process.env, STANDBY_LOG: "warn" },
  }).toString();
  const secret = created.trim().split("\n").pop()!.trim();
  let manager = await startManager(database, port);
  const wall = await (await browser.newContext()).newPage();
  await wall.goto(`http://127.0.0.1:${port}/dashboard?token=${secret}`);
  await expect(wall.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(wall.locator(".dash-connection")).toHaveText("LIVE");

  manager.kill("SIGKILL");
  await expect(wall.getByRole("status")).toContainText("Connection lost — reconnecting");
  await expect(wall.locator(".dash-connection")).toHaveText("OFFLINE");
  await wall.screenshot({ path: `${shots}/dashboard-manager-away.png` });

  manager = await startManager(database, port);
  // Still signed in (the token cookie), reconnected without anyone touching the screen.
  await expect(wall.locator(".dash-connection")).toHaveText("LIVE", { timeout: 30_000 });
  await expect(wall.getByRole("status")).toHaveCount(0);
  manager.kill("SIGKILL");
});
