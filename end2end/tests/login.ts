import { Browser, expect, Page } from "@playwright/test";

export const demoPassword = "e2e-password-of-the-demo";

export type Role = "admin" | "operator" | "viewer";

/** An admin's API session (a context of its own), for the settings a test needs. */
export async function asAdmin(browser: Browser) {
  const context = await browser.newContext();
  const login = await context.request.post("/api/v1/login", { data: { username: "admin", password: demoPassword } });
  expect(login.status()).toBe(200);
  return context.request;
}

/** The path and query the page shows now. */
export function here(page: Page) {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

/**
 * Logs in through the login page, as a person would, lands on `path` (client-side), then loads
 * it again as a bookmark would: the server's HTML, hydrated. Waits for the wasm and the live event
 * stream. Console and page errors are checked by the `problems` fixture of every test.
 */
export async function loginAs(page: Page, name: Role, path = "/servers") {
  await page.goto(path);
  await expect(page).toHaveURL(/\/login\?next=/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(demoPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("nav .me")).toContainText(name);
  await expect.poll(() => here(page)).toBe(path);
  await page.reload();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("nav .me")).toContainText(name);
  await expect(page.locator("nav .connection")).toHaveAttribute("data-connected", "true");
}
