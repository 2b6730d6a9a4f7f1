import { expect, test } from "./fixtures";
import * as fs from "node:fs";
import { asAdmin, loginAs } from "./login";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

test("after a failover, failback and copy, the entry's page shows where each channel's footage is, zooms, and prints", async ({ browser }) => {
  const admin = await asAdmin(browser);
  const servers = await (await admin.get("/api/v1/servers")).json();
  const recorder = servers.find((server: any) => server.name === "recorder-1");
  const patched = await admin.patch(`/api/v1/servers/${recorder.id}`, { data: { auto_failback: true, copy_after_failback: true } });
  expect(patched.status()).toBe(200);

  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await loginAs(page, "admin", "/servers");
  await page.getByTestId("demo-switch-recorder-1").click();
  let active: number | null = null;
  await expect
    .poll(async () => {
      const entries = await (await admin.get(`/api/v1/failovers?state=active&recorder_id=${recorder.id}`)).json();
      active = entries.find((entry: any) => entry.status === "active")?.id ?? null;
      return active;
    }, { timeout: 30_000 })
    .not.toBeNull();

  // While the failover goes on, the period is on the failover server only.
  await page.goto(`/failovers/${active}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const evidence = page.getByTestId("evidence");
  await expect(evidence.locator('rect[data-where="failover_server"]').first()).toBeAttached({ timeout: 30_000 });
  await page.screenshot({ path: `${shots}/evidence-active.png`, fullPage: true });

  // Back on: automatic failback, then the copy; the page follows by itself.
  await page.waitForTimeout(3_000);
  const serversPage = await context.newPage();
  await serversPage.goto("/servers");
  await serversPage.getByTestId("demo-switch-recorder-1").click();
  await expect
    .poll(async () => (await (await admin.get(`/api/v1/failovers/${active}`)).json()).copy.status, { timeout: 90_000 })
    .toBe("done");
  await page.reload();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(evidence.locator('rect[data-where="copied"]').first()).toBeAttached({ timeout: 30_000 });
  await expect(evidence.locator('rect[data-where="failover_server"]')).toHaveCount(0);
  await expect(evidence.locator('rect[data-where="recorder"]').first()).toBeAttached();
  await expect(evidence.locator("text.ev-mark-label", { hasText: "failover" })).toBeVisible();
  await expect(page.getByTestId("gaps")).toBeVisible();
  await page.getByTestId("evidence").screenshot({ path: `${shots}/evidence-whole-period.png` });

  // Zoom in on the failover moment: a gap if detection lost frames, else the hand-over itself.
  const span = page.getByTestId("ev-span");
  const whole = await span.textContent();
  // The shortest gap of video-1: the frames lost between the recorder's death and the failover
  // server's first frame, if any were.
  const rows = page.getByTestId("gaps").locator('tr[data-channel="video-1"]');
  if ((await rows.count()) > 0) {
    let shortest = 0;
    let least = Infinity;
    for (let i = 0; i < (await rows.count()); i++) {
      const seconds = parseFloat((await rows.nth(i).locator("td.num").textContent()) ?? "");
      if (seconds < least) [least, shortest] = [seconds, i];
    }
    await rows.nth(shortest).getByRole("button", { name: "Show" }).click();
  } else {
    await page.getByRole("button", { name: "Zoom in" }).click();
    await page.getByRole("button", { name: "Zoom in" }).click();
  }
  await expect(span).not.toHaveText(whole ?? "");
  await page.getByTestId("evidence").screenshot({ path: `${shots}/evidence-zoomed.png` });
  await page.getByRole("button", { name: "Whole period" }).click();
  await expect(span).toHaveText(whole ?? "");

  // The CSV and the printable report say the same.
  const csv = await admin.get(`/api/v1/failovers/${active}/coverage.csv`);
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain(",copied,failover-");
  await page.getByRole("link", { name: "Printable report" }).click();
  await expect(page).toHaveURL(new RegExp(`/failovers/${active}/report$`));
  await expect(page.getByRole("heading", { name: /Failover report/ })).toBeVisible();
  await expect(page.locator('.report-stretches tr[data-where="copied"]').first()).toBeVisible();
  await expect(page.getByTestId("report-gaps")).toBeVisible();
  await page.emulateMedia({ media: "print" });
  await page.screenshot({ path: `${shots}/evidence-report-print.png`, fullPage: true });
  await context.close();
});
