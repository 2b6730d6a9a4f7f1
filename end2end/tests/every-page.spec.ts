// Every page hydrates for every role, in two time zones, in each state a site goes through: fresh,
// during a failover, after a failback with its material copy, with a failover group. Each page is
// loaded as a bookmark would be (the server's HTML, then the wasm takes over); any console error,
// page error (a hydration panic) or failed response fails the test, and one control per page is
// pressed to prove the page is alive.
//
// This file runs first (Playwright runs files in alphabetical order with one worker): its first
// state is the fresh demo site, which it checks.
import { APIRequestContext, Browser, Page } from "@playwright/test";
import * as fs from "node:fs";
import { expect, Problem, test, watch } from "./fixtures";
import { demoPassword, here, Role } from "./login";

const shots = "test-results/screenshots";
fs.mkdirSync(shots, { recursive: true });

const roles: Role[] = ["admin", "operator", "viewer"];
const timeZones = ["UTC", "Europe/Helsinki"];

test.describe.configure({ mode: "serial" });

async function api(browser: Browser, name: Role = "admin"): Promise<APIRequestContext> {
  const context = await browser.newContext();
  const login = await context.request.post("/api/v1/login", { data: { username: name, password: demoPassword } });
  expect(login.status()).toBe(200);
  return context.request;
}

async function serverId(admin: APIRequestContext, name: string): Promise<number> {
  const servers = await (await admin.get("/api/v1/servers")).json();
  return servers.find((server: any) => server.name === name).id;
}

/** Loads `path` as a bookmark would and waits until the wasm has hydrated the whole page. */
async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  // A marker a reload would wipe out: the control pressed next must work without one.
  await page.evaluate(() => ((window as any).__sameDocument = true));
}

async function sameDocument(page: Page) {
  expect(await page.evaluate(() => (window as any).__sameDocument), "no reload").toBe(true);
}

/** The pages, each with one control that only works once the page is alive. */
function pages(entry: number | null, role: Role) {
  return [
    {
      path: "/servers",
      press: async (page: Page) => {
        await page.getByTestId("server-filter").fill("failover-2");
        await expect(page.locator('tr[data-server="recorder-1"]')).toHaveCount(0);
        await expect(page.locator('tr[data-server="failover-2"]')).toBeVisible();
      },
    },
    {
      path: "/failovers",
      press: async (page: Page) => {
        await page.getByLabel("Search").fill("no such recorder");
        await page.getByRole("button", { name: "Filter" }).click();
        await expect(page.getByText("No finalized failovers match.")).toBeVisible();
        expect(here(page)).toMatch(/q=no/);
      },
    },
    {
      // A fresh site has no entry yet: its page then says so.
      path: `/failovers/${entry ?? 1}`,
      press: async (page: Page) => {
        await page.getByRole("link", { name: "← Failover log" }).click();
        await expect(page.getByRole("heading", { name: "Active Failovers" })).toBeVisible();
      },
    },
    {
      path: "/drills",
      press: async (page: Page) => {
        await page.getByRole("link", { name: "Failover log →" }).click();
        await expect(page.getByRole("heading", { name: "Active Failovers" })).toBeVisible();
      },
    },
    {
      path: "/dashboard",
      press: async (page: Page) => {
        // Nothing to press on a wall screen: its clock ticking is the sign of life.
        const clock = page.getByTestId("clock");
        const before = await clock.textContent();
        await expect(clock).not.toHaveText(before!);
        await expect(page.locator(".dash-connection")).toHaveText("LIVE");
      },
    },
    {
      path: "/audit",
      press: async (page: Page) => {
        await page.getByPlaceholder("Who").fill(role);
        await page.getByRole("button", { name: "Filter" }).click();
        await expect.poll(() => here(page)).toMatch(new RegExp(`actor=${role}`));
        await expect(page.locator("tr[data-action]").first()).toBeVisible();
      },
    },
    {
      path: "/login",
      press: async (page: Page) => {
        // An unknown name each time, so no login is slowed down for anyone.
        await page.getByLabel("User name").fill(`nobody-${role}-${Date.now()}`);
        await page.getByLabel("Password").fill("not the password");
        await page.getByRole("button", { name: "Log in" }).click();
        await expect(page.getByRole("alert")).toHaveText("Unknown user name or wrong password.");
      },
    },
  ];
}

/** Every page, as every role, in every time zone; `state` names the site's state in messages. */
async function everyPage(browser: Browser, state: string, entry: number | null) {
  for (const timezoneId of timeZones) {
    for (const role of roles) {
      const context = await browser.newContext({ timezoneId });
      const login = await context.request.post("/api/v1/login", { data: { username: role, password: demoPassword } });
      expect(login.status()).toBe(200);
      const problems: Problem[] = [];
      watch(context, problems);
      const page = await context.newPage();
      for (const { path, press } of pages(entry, role)) {
        const where = `${state}, ${role}, ${timezoneId}, ${path}`;
        problems.length = 0;
        await test.step(where, async () => {
          await open(page, path);
          await press(page);
          await sameDocument(page);
          const expected = (problem: Problem) =>
            // The refused login that /login's control provokes, and a missing entry's own answer.
            (path === "/login" && /401.*\/rpc\/login/.test(problem.text)) ||
            (entry === null && path === "/failovers/1" && /404.*\/failovers\/1\)?$/.test(problem.text));
          expect(problems.filter((problem) => !expected(problem)), where).toEqual([]);
        });
      }
      await context.close();
    }
  }
}

let entry: number | null = null;

test("on a fresh site every page hydrates and works, for every role, in two time zones", async ({ browser, problems }) => {
  problems.allow(/401.*\/rpc\/login/);
  problems.allow(/404.*\/failovers\/1\)?$/);
  const admin = await api(browser);
  const failovers = await (await admin.get("/api/v1/failovers")).json();
  expect(failovers, "this file runs first, on a fresh demo site").toEqual([]);
  expect(await (await admin.get("/api/v1/failover-groups")).json()).toEqual([]);
  await everyPage(browser, "fresh site", null);
});

test("on a fresh site an administrator's Servers page works, and the dashboard counts a failover's time up", async ({ page, context, problems }) => {
  problems.allow(/409.*\/rpc\/add_server/);
  await loginAsAdmin(page);
  const row = (name: string) => page.locator(`tr[data-server="${name}"]`);

  // Add a server. A name already taken, so the site the later tests see stays as it is: the
  // refusal proves the form reaches the manager without a reload (servers.spec.ts adds one).
  await page.getByText("Add a server").click();
  await page.getByTestId("add-name").fill("RECORDER-2");
  await page.getByTestId("add-address").fill("127.0.0.1:9");
  await page.locator(".add-form").getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByTestId("add-refused")).toContainText('A server named "RECORDER-2" already exists');

  // Edit a name, and back.
  for (const [from, to] of [["recorder-4", "recorder-4-renamed"], ["recorder-4-renamed", "recorder-4"]]) {
    await page.getByTestId(`edit-${from}`).click();
    await row(from).getByLabel("Name").fill(to);
    await row(from).getByRole("button", { name: "Save" }).click();
    await expect(row(to)).toBeVisible();
  }

  // Each toggle, there and back.
  for (const toggle of ["maintenance-recorder-4", "auto-failback-recorder-4", "monitoring-recorder-4"]) {
    const button = page.getByTestId(toggle);
    const before = (await button.getAttribute("aria-pressed"))!;
    const after = before === "true" ? "false" : "true";
    await button.click();
    await expect(button).toHaveAttribute("aria-pressed", after);
    await button.click();
    await expect(button).toHaveAttribute("aria-pressed", before);
  }

  // A wall screen watches while recorder-1 is switched off.
  const wall = await context.newPage();
  await open(wall, "/dashboard");
  await expect(wall.locator(".dash-failover")).toHaveCount(0);

  // Switch off recorder-1: it fails over, live, without a reload.
  await page.getByTestId("demo-switch-recorder-1").click();
  await expect(row("recorder-1")).toHaveAttribute("data-state", "broken");
  await expect(page.locator('tr[data-state="acting"]')).toContainText("recorder-1");
  await sameDocument(page);
  await page.screenshot({ path: `${shots}/every-page-admin-servers.png`, fullPage: true });

  // The failover's time on the wall counts up from the moment it arrives.
  const elapsed = wall.locator(".dash-failover", { hasText: "recorder-1" }).locator(".dash-elapsed");
  const seconds = async () => {
    const text = (await elapsed.textContent()) ?? "";
    expect(text, "whole seconds or minutes, never milliseconds").toMatch(/^\d+ s$|^\d+ min \d+ s$/);
    const [, minutes, secs] = text.match(/^(?:(\d+) min )?(\d+) s$/)!;
    return Number(minutes ?? 0) * 60 + Number(secs);
  };
  await expect(elapsed).toBeVisible();
  const first = await seconds();
  await wall.screenshot({ path: `${shots}/every-page-dashboard-failover.png` });
  await expect.poll(seconds, { timeout: 10_000 }).toBeGreaterThan(first);
  await sameDocument(wall);
});

async function loginAsAdmin(page: Page) {
  const login = await page.request.post("/api/v1/login", { data: { username: "admin", password: demoPassword } });
  expect(login.status()).toBe(200);
  await open(page, "/servers");
  await expect(page.locator("nav .me")).toContainText("admin");
  await expect(page.locator("nav .connection")).toHaveAttribute("data-connected", "true");
}

test("during a failover every page hydrates", async ({ browser, problems }) => {
  problems.allow(/401.*\/rpc\/login/);
  const admin = await api(browser);
  const active = await (await admin.get("/api/v1/failovers?state=active")).json();
  expect(active.map((failover: any) => failover.recorder.name)).toEqual(["recorder-1"]);
  entry = active[0].id;
  await everyPage(browser, "during a failover", entry);
});

test("after a failback with its material copy every page hydrates", async ({ browser, page, problems }) => {
  problems.allow(/401.*\/rpc\/login/);
  await loginAsAdmin(page);
  await page.getByTestId("demo-switch-recorder-1").click();
  const admin = await api(browser);
  // Automatic failback after the hold-down, then material copying by itself.
  await expect
    .poll(
      async () => {
        const entries = await (await admin.get("/api/v1/failovers?state=finalized")).json();
        return entries.find((failover: any) => failover.id === entry)?.copy?.status ?? "not finalized";
      },
      { timeout: 90_000 },
    )
    .toBe("done");
  await everyPage(browser, "after a failback with a copy", entry);
});

test("with a failover group every page hydrates, and an administrator chooses a server's group", async ({ browser, page, problems }) => {
  problems.allow(/401.*\/rpc\/login/);
  const admin = await api(browser);
  const created = await admin.post("/api/v1/failover-groups", {
    data: { name: "East", recorders: [await serverId(admin, "recorder-3")], failover_servers: [await serverId(admin, "failover-2")] },
  });
  expect(created.status()).toBe(201);
  const group = await created.json();

  await everyPage(browser, "with a failover group", entry);

  await loginAsAdmin(page);
  await page.getByTestId("group-recorder-4").selectOption({ label: "East" });
  await expect
    .poll(async () => {
      const groups = await (await admin.get("/api/v1/failover-groups")).json();
      return groups.find((found: any) => found.id === group.id).recorders.map((server: any) => server.name);
    })
    .toEqual(["recorder-3", "recorder-4"]);
  await page.screenshot({ path: `${shots}/every-page-admin-groups.png`, fullPage: true });
  // The site as the other tests expect it: no groups.
  // Like every changing API request, a delete says it speaks JSON (forgery protection).
  const deleted = await admin.delete(`/api/v1/failover-groups/${group.id}`, { headers: { "content-type": "application/json" } });
  expect(deleted.status(), await deleted.text()).toBe(204);
});
