// A drill from the Drills page: an administrator picks a recorder a failover would cover and
// starts it; the drill log shows it running, then passed with what was found, live, without a
// reload; the failover server stands by again and the failover log has no entry of it. An
// operator sees the log but not the form.
import { expect, expectState, test } from "./fixtures";
import * as fs from "node:fs";
import { asAdmin, loginAs } from "./login";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

test("an administrator drills a recorder from the Drills page and sees it pass, live", async ({ browser }) => {
  const admin = await asAdmin(browser);
  const readiness = await (await admin.get("/api/v1/readiness")).json();
  const covered = readiness.find((item: any) => item.covered);
  expect(covered, JSON.stringify(readiness)).toBeTruthy();
  const failoversBefore = (await (await admin.get("/api/v1/failovers")).json()).length;

  const context = await browser.newContext({ viewport: { width: 1500, height: 900 } });
  const page = await context.newPage();
  await loginAs(page, "admin", "/drills");
  await expect(page.getByRole("heading", { name: "Drill log" })).toBeVisible();
  await page.getByTestId("drill-recorder").selectOption(String(covered.server.id));
  await page.getByTestId("drill-seconds").fill("3");
  await page.getByTestId("start-drill").click();

  const started = page.getByTestId("drill-started");
  await expect(started).toContainText(`records ${covered.server.name} beside it for 3 s`);
  const row = page.locator("tr[data-drill]").first();
  await expect(row).toHaveAttribute("data-status", "running");
  // The log reloads as the drill moves on; what the form holds stays.
  await expect(page.getByTestId("drill-seconds")).toHaveValue("3");
  await expect(page.getByTestId("drill-recorder")).toHaveValue(String(covered.server.id));
  await page.screenshot({ path: `${shots}/drill-running.png`, fullPage: true });
  await expect(row).toHaveAttribute("data-status", "passed", { timeout: 60_000 });
  await expect(row).toContainText(covered.server.name);
  await expect(row.locator(".drill-message")).toContainText("kept recording without a gap");
  await expect(row.locator(".drill-message")).toContainText("were removed from");
  await page.screenshot({ path: `${shots}/drill-passed.png`, fullPage: true });

  // No failover came of it, and the failover server stands by again.
  const failovers = await (await admin.get("/api/v1/failovers")).json();
  expect(failovers.length).toBe(failoversBefore);
  const drills = await (await admin.get("/api/v1/drills")).json();
  const server = drills[0].failover_server.name;
  await page.goto("/servers");
  await expectState(page, server, "standby");

  // An operator reads the log but cannot start a drill.
  const operator = await browser.newContext();
  const theirs = await operator.newPage();
  await loginAs(theirs, "operator", "/drills");
  await expect(theirs.locator("tr[data-drill]").first()).toHaveAttribute("data-status", "passed");
  await expect(theirs.getByTestId("drill-form")).toHaveCount(0);
  await operator.close();
  await context.close();
});
