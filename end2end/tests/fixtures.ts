import { test as base, expect, BrowserContext, Page } from "@playwright/test";

export { expect };

/** Something a page reported that a healthy page never does. */
export type Problem = { page: string; text: string };

/**
 * Collects console errors, uncaught page errors (a hydration panic is one) and HTTP errors (a 404
 * for an asset is one) from every page of a browser context.
 */
export function watch(context: BrowserContext, problems: Problem[]) {
  context.on("console", (message) => {
    if (message.type() !== "error") return;
    // For "Failed to load resource" the location is the resource, which the text does not name.
    const source = message.location().url;
    problems.push({ page: message.page()?.url() ?? "", text: `console error: ${message.text()} (${source})` });
  });
  context.on("weberror", (error) => {
    problems.push({ page: error.page()?.url() ?? "", text: `page error: ${error.error().message}` });
  });
  context.on("response", (response) => {
    if (response.status() >= 400) {
      const request = response.request();
      problems.push({
        page: request.frame().page().url(),
        text: `HTTP ${response.status()} for ${request.method()} ${response.url()}`,
      });
    }
  });
}

export const test = base.extend<{ problems: { allow(pattern: RegExp): void } }>({
  // Every test, every page it opens (in any context): no console error, page error or failed
  // response, unless the test provoked it on purpose and said so with `problems.allow`.
  problems: [
    async ({ browser, context }, use) => {
      const seen: Problem[] = [];
      const allowed: RegExp[] = [];
      watch(context, seen);
      const newContext = browser.newContext;
      browser.newContext = async (...args) => {
        const created = await newContext.apply(browser, args);
        watch(created, seen);
        return created;
      };
      try {
        await use({ allow: (pattern) => allowed.push(pattern) });
      } finally {
        browser.newContext = newContext;
      }
      const unexpected = seen.filter((problem) => !allowed.some((pattern) => pattern.test(problem.text)));
      expect(unexpected, "console errors, page errors and failed responses").toEqual([]);
    },
    { auto: true },
  ],
});

/** The Servers page's row of a server shows `state` (within 30 s: the monitor has to notice). */
export async function expectState(servers: Page, name: string, state: string) {
  await expect(servers.locator(`tr[data-server="${name}"]`)).toHaveAttribute("data-state", state, { timeout: 30_000 });
}
