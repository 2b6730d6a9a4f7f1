import { expect, Page } from "@playwright/test";

export const demoPassword = "e2e-password-of-the-demo";

/**
 * Logs in through the login page, as a person would, and waits for the wasm and the live event
 * stream. Returns the page's console errors, to be checked at the end (e.g. for scripts the
 * content security policy blocked).
 */
export async function loginAs(page: Page, name: "admin" | "operator" | "viewer", path = "/servers") {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(path);
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(demoPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(new RegExp(path.replace(/[?]/g, "\\?") + "$"));
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("nav .me")).toContainText(name);
  await expect(page.locator("nav .connection")).toHaveAttribute("data-connected", "true");
  return errors;
}
