import { defineConfig } from "@playwright/test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

// The tests drive a real `standby demo`: manager, recorder agents and failover servers.
// A port of its own per run (below the kernel's ephemeral range), so that two runs on one machine,
// or a manager someone left on a fixed port, do not collide. Set once, in the runner: its
// workers inherit the environment and so agree on it.
process.env.STANDBY_E2E_PORT ??= String(20000 + Math.floor(Math.random() * 10000));
const port = Number(process.env.STANDBY_E2E_PORT);
const targetDir = process.env.CARGO_TARGET_DIR ?? path.resolve(__dirname, "../target");
const binary = process.env.STANDBY_BIN ?? path.join(targetDir, "debug", "standby");
const demoDir = fs.mkdtempSync(path.join(os.tmpdir(), "standby-e2e-"));
// The demo's accounts (admin, operator, viewer) all get this password.
// Must match tests/login.ts.
const demoPassword = "e2e-password-of-the-demo";

export default defineConfig({
  testDir: "./tests",
  timeout: 120_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "off",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download is not available here.
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `${binary} demo --listen 127.0.0.1:${port} --data-dir ${demoDir} --monitor-interval-ms 250 --password ${demoPassword}`,
    url: `http://127.0.0.1:${port}/healthz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
  },
});
