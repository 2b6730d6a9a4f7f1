// Sites of their own for the browser tests (beside the config's demo): a testkit binary that
// starts a site, prints one `<name> ready {json}` line when it is ready, and keeps it running
// until its standard input closes.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";

export const repo = path.resolve(__dirname, "../..");
export const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, "target");
// The binaries it drives: beside `standby`, as the demo's are (STANDBY_BIN, as in the config).
export const binDir = path.dirname(process.env.STANDBY_BIN ?? path.join(targetDir, "debug", "standby"));

/** Runs a command to its end; rejects with its output when it fails. */
export function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} failed (${code}):\n${output}`)),
    );
  });
}

/** The testkit binary `name`, built here unless `prebuilt` names one (a no-op once built). */
export async function siteBinary(name: string, prebuilt: string | undefined, features: string[] = []): Promise<string> {
  if (prebuilt) return prebuilt;
  const flags = features.length > 0 ? ["--features", features.join(",")] : [];
  await run("cargo", ["build", "--locked", "-p", "testkit", "--bin", name, ...flags]);
  return path.join(targetDir, "debug", name);
}

/** A running site: its process, what it printed when ready, and the lines it prints later. */
export type Running<T> = {
  child: ChildProcess;
  site: T;
  /** The rest of the next line `<name> <prefix> …` (one printed already, or the next one). */
  next(prefix: string): Promise<string>;
};

/** Starts the site and resolves once it printed `<name> ready {json}`; its log goes to `log`. */
export function startSite<T>(name: string, binary: string, args: string[], log: string): Promise<Running<T>> {
  const logFile = fs.openSync(log, "w");
  const child = spawn(binary, args, {
    env: { ...process.env, STANDBY_BIN_DIR: binDir },
    // Standard input stays open: when it closes (this process ended, however), the site stops.
    stdio: ["pipe", "pipe", logFile],
  });
  fs.closeSync(logFile);
  // Lines after `ready`, kept until a `next` asks for them.
  const later: string[] = [];
  const pending: { prefix: string; resolve: (rest: string) => void }[] = [];
  const starts = (line: string, prefix: string) => line.startsWith(`${name} ${prefix}`);
  const rest = (line: string, prefix: string) => line.slice(`${name} ${prefix} `.length);
  const next = (prefix: string) =>
    new Promise<string>((resolve) => {
      const found = later.findIndex((line) => starts(line, prefix));
      if (found >= 0) resolve(rest(later.splice(found, 1)[0], prefix));
      else pending.push({ prefix, resolve });
    });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    let ready = false;
    lines.on("line", (line) => {
      if (!ready) {
        if (starts(line, "ready ")) {
          ready = true;
          resolve({ child, site: JSON.parse(rest(line, "ready")), next });
        }
        return;
      }
      const waiter = pending.findIndex(({ prefix }) => starts(line, prefix));
      if (waiter < 0) {
        later.push(line);
        return;
      }
      const { prefix, resolve: answer } = pending.splice(waiter, 1)[0];
      answer(rest(line, prefix));
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (ready) return;
      const tail = fs.readFileSync(log, "utf8").split("\n").slice(-40).join("\n");
      reject(new Error(`${name} ended (${code ?? signal}) before it was ready; its log ${log}:\n${tail}`));
    });
  });
}

/** Ends the site (its standard input closed, then SIGTERM): it kills what it started. */
export async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill("SIGTERM"), 10_000);
  await exited;
  clearTimeout(timer);
}
