// Several managers (issue 17): a dashboard served by a follower stays live while the leader is
// SIGKILLed, shows the new leader, and then shows a failover the new leader performs. The site
// is `ha-site` (testkit/src/bin/ha-site.rs): two `standby serve` on a fresh PostgreSQL database,
// a recorder and a failover server, with a switch on its standard input to kill the leader.
// Screenshots: test-results/screenshots/managers-*.png.
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect, test } from "./fixtures";
import { demoPassword } from "./login";
import { Running, siteBinary, startSite, stop } from "./sites";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

type HaSite = {
  leader: { url: string; id: string; epoch: number };
  follower: { url: string; id: string };
};

let running: Running<HaSite> | undefined;
let child: ChildProcess | undefined;

test.describe.configure({ mode: "serial" });
test.use({ viewport: { width: 1920, height: 1080 } });

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(600_000);
  const binary = await siteBinary("ha-site", process.env.STANDBY_HA_SITE, ["postgres"]);
  const log = path.join(testInfo.project.outputDir, "ha-site.log");
  fs.mkdirSync(path.dirname(log), { recursive: true });
  running = await startSite<HaSite>("ha-site", binary, ["--password", demoPassword], log);
  child = running.child;
});

test.afterAll(async () => {
  if (child) await stop(child);
});

test("a follower's dashboard stays live while the leader is killed, and shows the new leader's failover", async ({ page }) => {
  const { site, next } = running!;
  const follower = site.follower.url;
  const login = await page.context().request.post(`${follower}/api/v1/login`, { data: { username: "viewer", password: demoPassword } });
  expect(login.status()).toBe(200);
  await page.goto(`${follower}/dashboard`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(".dash-connection")).toHaveText("LIVE");
  const managers = page.getByTestId("dash-managers");
  await expect(managers).toHaveText(`${site.leader.id} leads · 2 managers (term ${site.leader.epoch})`);
  await expect(managers).toHaveAttribute("data-warning", "false");
  await page.screenshot({ path: `${shots}/managers-dashboard-two-managers.png` });

  child!.stdin!.write("kill-leader\n");
  const after = JSON.parse(await next("killed-leader")) as { id: string; epoch: number };
  expect(after.id).toBe(site.follower.id);
  // The page was never reloaded: the change arrived on its event stream from the new leader.
  await expect(managers).toContainText(`${site.follower.id} leads`);
  await expect(managers).toContainText(`(term ${after.epoch})`);
  await expect(managers, "one manager left is a warning").toHaveAttribute("data-warning", "true", { timeout: 30_000 });
  await expect(managers).toContainText("Only one manager is running");
  await expect(page.locator(".dash-connection")).toHaveText("LIVE");

  child!.stdin!.write("kill rec-1\n");
  await next("killed rec-1");
  await expect(page.locator(".dash-failover .dash-failover-names")).toHaveText("rec-1 → fo-1");
  await expect(page.locator('.tile[data-server="rec-1"]')).toHaveAttribute("data-state", "broken");
  await expect(page.locator(".dash-connection")).toHaveText("LIVE");
  await page.screenshot({ path: `${shots}/managers-dashboard-after-takeover.png` });

  // The Servers page of the survivor lists it as the leader.
  await page.goto(`${follower}/servers`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const row = page.locator(`.managers-table tr[data-manager="${site.follower.id}"]`);
  await expect(row).toHaveAttribute("data-leader", "true");
  await expect(row.locator("td").nth(2)).toHaveText("Leader");
  await expect(row.locator("td").nth(3)).toHaveText(String(after.epoch));
  await expect(page.getByTestId("managers-warning")).toContainText("Only one manager is running");
  await page.locator(".managers").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/managers-servers-page.png`, fullPage: true });
});
