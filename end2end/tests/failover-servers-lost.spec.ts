import { expect, expectState, test } from "./fixtures";
import * as fs from "node:fs";
import { asAdmin, loginAs } from "./login";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

test("a failover server that dies while acting hands the recorder on; with none left, the operator restores it", async ({ browser }) => {
  const admin = await asAdmin(browser);
  const all = await (await admin.get("/api/v1/servers")).json();
  const recorder = all.find((server: any) => server.name === "recorder-2");
  const patched = await admin.patch(`/api/v1/servers/${recorder.id}`, { data: { auto_failback: false, copy_after_failback: true } });
  expect(patched.status()).toBe(200);

  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const log = await context.newPage();
  await loginAs(log, "operator", "/failovers");
  const servers = await context.newPage();
  await servers.goto("/servers");
  await expect(servers.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expectState(servers, "failover-1", "standby");
  await expectState(servers, "failover-2", "standby");

  // recorder-2 dies; a failover server records for it.
  await servers.getByTestId("demo-switch-recorder-2").click();
  await expectState(servers, "recorder-2", "broken");
  const active = log.locator('tr[data-status="active"]', { hasText: "recorder-2" });
  await expect(active).toBeVisible();
  const activeEntry = async () => {
    const entries = await (await admin.get("/api/v1/failovers?state=active")).json();
    return entries.find((entry: any) => entry.recorder.name === "recorder-2" && entry.status === "active");
  };
  await expect.poll(async () => (await activeEntry())?.failover_server?.name).toMatch(/^failover-[12]$/);
  const first = await activeEntry();
  const lost = first.failover_server.name as string;
  const next = lost === "failover-1" ? "failover-2" : "failover-1";

  // That failover server dies too: the other one takes recorder-2 over, and the first leg is
  // finalized as ended by the loss.
  await servers.getByTestId(`demo-switch-${lost}`).click();
  await expectState(servers, lost, "unreachable");
  await expect(log.locator('tr[data-status="active"]', { hasText: next })).toContainText("recorder-2");
  const firstLeg = log.locator(`tr[data-failover="${first.id}"]`);
  await expect(firstLeg).toHaveAttribute("data-status", "finalized");
  await expect(firstLeg).toContainText("none: failover server lost");
  await log.screenshot({ path: `${shots}/double-fault-moved-on.png`, fullPage: true });

  // And the second one as well: nowhere left to go; the entry says so.
  await servers.getByTestId(`demo-switch-${next}`).click();
  await expectState(servers, next, "unreachable");
  // The repaired recorder is back; failback cannot hand over, restore can.
  await servers.getByTestId("demo-switch-recorder-2").click();
  await expectState(servers, "recorder-2", "broken");
  const secondLeg = log.locator('tr[data-status="active"]', { hasText: "recorder-2" });
  await secondLeg.click();
  await expect(log.getByTestId("failback-reason")).toContainText(`${next} is gone`);
  await expect(log.getByTestId("start-failback")).toBeDisabled();
  const restore = log.getByTestId("start-restore");
  await expect(restore).toBeEnabled({ timeout: 30_000 });
  await log.screenshot({ path: `${shots}/double-fault-restore-offered.png`, fullPage: true });
  await restore.click();
  await expect(log.getByRole("dialog", { name: "Confirm restore" })).toContainText(`${next} is gone`);
  await log.getByTestId("confirm-restore").click();
  await expect(log.getByTestId("restore-ok")).toContainText("Restored");
  await expect(log.locator('tr[data-status="active"]', { hasText: "recorder-2" })).toHaveCount(0);
  await expect(log.locator('tr[data-status="finalized"]', { hasText: "recorder-2" }).first()).toContainText("restored, operator");
  await expectState(servers, "recorder-2", "ok");
  await log.screenshot({ path: `${shots}/double-fault-restored.png`, fullPage: true });

  // Both failover servers come back (each is told to stop acting for recorder-2), and what
  // each recorded is copied home.
  // One at a time: the Servers page puts problems first, so a row moves when its server
  // comes back, and a second click at once could land on the row that moved there.
  await servers.getByTestId(`demo-switch-${lost}`).click();
  await expectState(servers, lost, "standby");
  await servers.getByTestId(`demo-switch-${next}`).click();
  await expectState(servers, next, "standby");
  await expect
    .poll(
      async () => {
        const entries = await (await admin.get(`/api/v1/failovers?recorder_id=${recorder.id}&state=finalized`)).json();
        return entries.slice(0, 2).map((entry: any) => `${entry.failback_trigger}:${entry.copy.status}`);
      },
      { timeout: 90_000 },
    )
    .toEqual(["restored:done", "superseded:done"]);
  await log.goto(`/failovers/${first.id}`);
  await expect(log.locator("ol.timeline")).toContainText("Failover server lost; moved on");
  await expect(log.locator('li[data-code="failover_server_lost"]')).toBeVisible();
  await log.screenshot({ path: `${shots}/double-fault-first-leg.png`, fullPage: true });
  await context.close();
});
