import { expect, expectState, test } from "./fixtures";
import * as fs from "node:fs";
import { loginAs } from "./login";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

test("before anything fails, the Servers page and the wall say which recorders a failover would not cover, and why", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const servers = await context.newPage();
  await loginAs(servers, "admin", "/servers");
  const wall = await context.newPage();
  await wall.goto("/dashboard");
  await expect(wall.locator("body")).toHaveAttribute("data-hydrated", "true");

  await expectState(servers, "failover-1", "standby");
  await expectState(servers, "failover-2", "standby");
  const cell = servers.getByTestId("coverage-recorder-1");
  await expect(cell).toHaveText("Covered", { timeout: 30_000 });
  await expect(servers.getByTestId("coverage-summary")).toContainText("covered if they fail");

  // Both failover servers go down, one after the other (problems move to the top of the table).
  await servers.getByTestId("demo-switch-failover-1").click();
  await expectState(servers, "failover-1", "unreachable");
  await servers.getByTestId("demo-switch-failover-2").click();
  await expectState(servers, "failover-2", "unreachable");

  // Told at once, without a reload, with the cause named.
  await expect(cell).toContainText("Not covered");
  await expect(cell).toContainText("No failover server is free: failover-1 is unreachable, failover-2 is unreachable.");
  await expect(servers.getByTestId("coverage-summary")).toHaveAttribute("data-all-covered", "false");
  await expect(servers.getByTestId("coverage-summary")).toContainText(/recorders covered if they fail; \d+ not/);
  await servers.screenshot({ path: `${shots}/readiness-servers-not-covered.png`, fullPage: true });
  const line = wall.getByTestId("dash-coverage");
  await expect(line).toHaveAttribute("data-all-covered", "false");
  await expect(line).toContainText("not");
  await expect(line.locator("li").first()).toContainText("No failover server is free");
  await wall.screenshot({ path: `${shots}/readiness-wall-not-covered.png` });

  // Back again: covered again, on both pages.
  await servers.getByTestId("demo-switch-failover-1").click();
  await expectState(servers, "failover-1", "standby");
  await servers.getByTestId("demo-switch-failover-2").click();
  await expectState(servers, "failover-2", "standby");
  await expect(cell).toHaveText("Covered");
  await expect(line.locator("li")).toHaveCount(0);
  await context.close();
});
