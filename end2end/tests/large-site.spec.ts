// The dashboard and the Servers page at size (issue 16): a site of its own, not the demo's —
// `large-site` (testkit/src/bin/large-site.rs) runs `standby serve` on a fresh SQLite file with
// 300 stand-in recorders answering the agent's health stream (real HTTP servers on loopback,
// one port each, testkit's bench responders), two real recorder agents, two real failover
// servers and three recorders at addresses where nothing listens, and SIGKILLs one real
// recorder so the manager fails it over. At 1920×1080, a control room must see the problems and
// the active failover without scrolling, and the hundreds that are fine only as a count.
//
// The file builds `large-site` itself (`cargo build -p testkit --bin large-site`, a no-op once
// built); STANDBY_LARGE_SITE=path/to/large-site skips that. Screenshots:
// test-results/screenshots/large-site-*.png.
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Page } from "@playwright/test";
import { expect, test as base } from "./fixtures";
import { demoPassword } from "./login";
import { siteBinary, startSite, stop } from "./sites";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

const standIns = 300;
const viewport = { width: 1920, height: 1080 };

/** What `large-site` printed once the manager showed it: the picture the pages must show. */
type LargeSite = {
  url: string;
  recorders: number;
  recorders_ok: number;
  stand_ins: number;
  failover_servers: number;
  standing_by: string[];
  /** Every server that is not ok or standing by, with its state. */
  problems: { name: string; state: string }[];
  failover: { id: number; recorder: string; failover_server: string };
  registered_s: number;
  ready_s: number;
};

// Started once for this file and stopped after its last test. Its manager has an address of its
// own, so every page and request below names it (`at`); the config's baseURL is the demo's.
let theSite: LargeSite | undefined;
let theSiteProcess: ChildProcess | undefined;

const test = base.extend<{ largeSite: LargeSite }>({
  largeSite: async ({}, use) => use(theSite!),
});

/** An address on the large site's manager. */
function at(site: LargeSite, path: string) {
  return `${site.url}${path}`;
}

test.use({ viewport });
test.describe.configure({ mode: "serial" });

test.beforeAll(async ({}, testInfo) => {
  // A first build of the binary on a busy 2-core machine, then the site's own start.
  testInfo.setTimeout(600_000);
  // Built here, so `npx playwright test` needs nothing beyond what scripts/setup builds.
  const binary = await siteBinary("large-site", process.env.STANDBY_LARGE_SITE);
  const log = path.join(testInfo.project.outputDir, "large-site.log");
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const started = Date.now();
  const { child, site } = await startSite<LargeSite>(
    "large-site",
    binary,
    ["--stand-ins", String(standIns), "--password", demoPassword],
    log,
  );
  theSiteProcess = child;
  theSite = site;
  console.log(
    `large-site: ${site.recorders} recorders (${site.stand_ins} stand-ins) registered in ` +
      `${site.registered_s.toFixed(1)} s, failed over and ready in ${site.ready_s.toFixed(1)} s ` +
      `(${((Date.now() - started) / 1000).toFixed(1)} s from spawn) at ${site.url}`,
  );
});

test.afterAll(async () => {
  if (theSiteProcess) await stop(theSiteProcess);
});

/** 1000 → "1,000", as the dashboard writes counts. */
function thousands(n: number) {
  return n.toLocaleString("en-US");
}

/** Problems in the order both pages promise: unreachable, broken, acting; then by name. */
function urgent(site: LargeSite) {
  const rank: Record<string, number> = { unreachable: 0, broken: 1, acting: 2 };
  return [...site.problems].sort((a, b) => rank[a.state] - rank[b.state] || a.name.localeCompare(b.name));
}

/** Entirely inside the window as it opened, the page not scrolled: seen without scrolling. */
async function aboveTheFold(page: Page, selector: string, what: string) {
  const element = page.locator(selector);
  // IntersectionObserver's ratio, waited for; a table row whose edge falls between pixels
  // reports 0.9995, so the whole of it is checked on its box below, exactly.
  await expect(element, what).toBeInViewport({ ratio: 0.99 });
  expect(await page.evaluate(() => [window.scrollX, window.scrollY]), "the page is not scrolled").toEqual([0, 0]);
  const box = (await element.boundingBox())!;
  expect(box, what).not.toBeNull();
  const edges = { top: box.y, left: box.x, bottom: box.y + box.height, right: box.x + box.width };
  expect(edges.top, `${what}: top edge`).toBeGreaterThanOrEqual(0);
  expect(edges.left, `${what}: left edge`).toBeGreaterThanOrEqual(0);
  expect(edges.bottom, `${what}: bottom edge within ${viewport.height} px`).toBeLessThanOrEqual(viewport.height);
  expect(edges.right, `${what}: right edge within ${viewport.width} px`).toBeLessThanOrEqual(viewport.width);
  return edges;
}

/** The Servers page as an operator, signed in through the API in the page's own context. */
async function openServers(page: Page, site: LargeSite) {
  const login = await page.context().request.post(at(site, "/api/v1/login"), { data: { username: "operator", password: demoPassword } });
  expect(login.status()).toBe(200);
  await page.goto(at(site, "/servers"));
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("nav .me")).toContainText("operator");
  await expect(page.locator("nav .connection")).toHaveAttribute("data-connected", "true");
}

test("the site is what the test says: hundreds of recorders, most fine, a few broken or unreachable, one failover", async ({ largeSite: site, request }) => {
  expect(site.recorders).toBeGreaterThanOrEqual(300);
  expect(site.recorders_ok).toBe(site.recorders - 4);
  expect(urgent(site).map((problem) => problem.state)).toEqual(["unreachable", "unreachable", "unreachable", "broken", "acting"]);
  // The manager says so itself, through its API.
  expect((await request.post(at(site, "/api/v1/login"), { data: { username: "admin", password: demoPassword } })).status()).toBe(200);
  const servers: any[] = await (await request.get(at(site, "/api/v1/servers"))).json();
  expect(servers).toHaveLength(site.recorders + site.failover_servers);
  expect(servers.filter((server) => server.kind === "recorder" && server.state === "ok")).toHaveLength(site.recorders_ok);
  const active: any[] = await (await request.get(at(site, "/api/v1/failovers?state=active"))).json();
  expect(active.map((entry) => [entry.recorder.name, entry.failover_server.name, entry.status])).toEqual([
    [site.failover.recorder, site.failover.failover_server, "active"],
  ]);
});

test("at 1920×1080 the wall screen leads with the problems and the active failover, and counts the rest", async ({ largeSite: site, page, request }) => {
  expect((await request.post(at(site, "/api/v1/login"), { data: { username: "admin", password: demoPassword } })).status()).toBe(200);
  const created = await request.post(at(site, "/api/v1/tokens"), { data: { name: "wall-at-size", role: "viewer" } });
  expect(created.status()).toBe(201);
  const { secret } = await created.json();

  await page.goto(at(site, `/dashboard?token=${secret}`));
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(".dash-connection")).toHaveText("LIVE");

  // The rest, only counted: one line.
  const summary = page.getByTestId("dash-summary");
  await expect(summary).toHaveText(
    `${thousands(site.recorders_ok)} of ${thousands(site.recorders)} recorders OK · ` +
      `${site.standing_by.length} of ${site.failover_servers} failover servers standing by`,
  );
  await expect(summary).toHaveAttribute("data-all-fine", "false");
  await aboveTheFold(page, '[data-testid="dash-summary"]', "the summary");

  // The active failover, its time running.
  const failover = page.locator(`.dash-failover[data-failover="${site.failover.id}"]`);
  await expect(page.locator(".dash-failover")).toHaveCount(1);
  await expect(failover.locator(".dash-failover-names")).toHaveText(`${site.failover.recorder} → ${site.failover.failover_server}`);
  await aboveTheFold(page, `.dash-failover[data-failover="${site.failover.id}"]`, "the active failover");
  const elapsed = failover.locator(".dash-elapsed");
  await expect(elapsed).toHaveText(/^\d+ s$|^\d+ min \d+ s$/);
  const before = await elapsed.textContent();
  await expect(elapsed, "the failover's time runs").not.toHaveText(before!);

  // A tile for each problem, in order of urgency, each whole on the screen; none for the
  // hundreds that are fine.
  const expected = urgent(site);
  const tiles = page.locator(".tiles .tile");
  await expect(tiles).toHaveCount(expected.length);
  await expect
    .poll(() => tiles.evaluateAll((all) => all.map((tile) => [tile.getAttribute("data-server"), tile.getAttribute("data-state")])))
    .toEqual(expected.map((problem) => [problem.name, problem.state]));
  for (const problem of expected) {
    await aboveTheFold(page, `.tile[data-server="${problem.name}"]`, `${problem.name}'s tile (${problem.state})`);
  }
  await expect(page.locator(`.tile[data-server="${site.failover.failover_server}"] .tile-extra`)).toHaveText(`for ${site.failover.recorder}`);
  await expect(page.locator('.tile[data-state="ok"], .tile[data-state="standby"]')).toHaveCount(0);

  await page.screenshot({ path: `${shots}/large-site-dashboard-1920x1080.png` });
});

test("the Servers page at 1920×1080 puts the problems first on its first page of 50, and filters by state and group", async ({ largeSite: site, page, request }) => {
  const total = site.recorders + site.failover_servers;
  // A failover group of the first 150 recorders by name, to filter by.
  expect((await request.post(at(site, "/api/v1/login"), { data: { username: "admin", password: demoPassword } })).status()).toBe(200);
  const servers: any[] = await (await request.get(at(site, "/api/v1/servers"))).json();
  const north = servers
    .filter((server) => server.kind === "recorder")
    .sort((a, b) => a.name.localeCompare(b.name))
    .slice(0, 150);
  const group = await request.post(at(site, "/api/v1/failover-groups"), { data: { name: "North", recorders: north.map((server) => server.id) } });
  expect(group.status()).toBe(201);
  const groupId = String((await group.json()).id);

  await openServers(page, site);
  const rows = page.locator("table.servers-table tbody tr[data-server]");
  const pager = page.getByTestId("server-pager");
  const shown = () => rows.evaluateAll((all) => all.map((row) => [row.getAttribute("data-server"), row.getAttribute("data-state")]));

  // Problems first (the default), 50 rows a page: the problems lead the first page.
  await expect(page.getByTestId("server-sort")).toHaveValue("problems");
  await expect(pager).toContainText(`1–50 of ${total}`);
  await expect(rows).toHaveCount(50);
  const expected = urgent(site);
  await expect.poll(async () => (await shown()).slice(0, expected.length)).toEqual(expected.map((problem) => [problem.name, problem.state]));
  for (const problem of expected) {
    await aboveTheFold(page, `tr[data-server="${problem.name}"]`, `${problem.name}'s row (${problem.state})`);
  }
  await page.screenshot({ path: `${shots}/large-site-servers-1920x1080.png` });

  // Needing attention: exactly the problems, on one page.
  await page.getByTestId("state-filter").selectOption("attention");
  await expect(pager).toContainText(`1–${expected.length} of ${expected.length}`);
  await expect.poll(shown).toEqual(expected.map((problem) => [problem.name, problem.state]));

  // OK: the hundreds, paged.
  await page.getByTestId("state-filter").selectOption("ok");
  await expect(pager).toContainText(`1–50 of ${site.recorders_ok}`);
  await expect(rows).toHaveCount(50);
  await expect.poll(async () => (await shown()).filter(([, state]) => state !== "ok")).toEqual([]);

  // A group, problems first within it.
  await page.getByTestId("state-filter").selectOption("");
  await page.getByTestId("group-filter").selectOption(groupId);
  await expect(pager).toContainText(`1–50 of ${north.length}`);
  const northProblems = expected.filter((problem) => north.some((server) => server.name === problem.name));
  expect(northProblems.length, "the group holds some of the problems").toBeGreaterThan(0);
  await expect
    .poll(async () => (await shown()).slice(0, northProblems.length))
    .toEqual(northProblems.map((problem) => [problem.name, problem.state]));
  await expect.poll(async () => (await shown()).slice(northProblems.length).filter(([, state]) => state !== "ok")).toEqual([]);
  await page.screenshot({ path: `${shots}/large-site-servers-group.png` });
});

test("the Servers page's Next button shows the next 50 rows", async ({ largeSite: site, page }) => {
  await openServers(page, site);
  const pager = page.getByTestId("server-pager");
  await page.getByTestId("state-filter").selectOption("ok");
  await expect(pager).toContainText(`1–50 of ${site.recorders_ok}`);
  // The count is drawn: the buttons were drawn in the same pass, so no long wait for them.
  const next = pager.getByRole("button", { name: "Next" });
  await expect(next).toHaveText("Next", { timeout: 2_000 });
  await expect(next).toBeEnabled({ timeout: 2_000 });
  await next.click();
  await expect(pager).toContainText(`51–100 of ${site.recorders_ok}`);
  await expect(page.locator("table.servers-table tbody tr[data-server]")).toHaveCount(50);
});
