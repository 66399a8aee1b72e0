// The dashboard in a real browser (Debian's chromium, driven by
// playwright-core): see the host, reject a bad manifest inline, deploy
// kv-counter from the page and watch it become Deployed, scale it, see a
// change made with the CLI appear without a reload, and take a screenshot.
//
// Run by cli/tests/ui.rs, which starts nats-server, a host and `weft ui`
// and passes, in the environment:
//   WEFT_UI_URL    the dashboard          WEFT_BIN      the weft binary
//   WEFT_NATS_URL  the nats-server        WEFT_LATTICE  the lattice
//   MANIFEST       a kv-counter manifest  BAD_MANIFEST  an invalid one
//   HOST_ID        the host's id          OUT_DIR       where the screenshot goes
import { chromium } from "playwright-core";
import { execFile } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { promisify } from "node:util";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const run = promisify(execFile);
const step = (what) => console.log(`e2e: ${what}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("dialog", (d) => d.accept());

  // A token given in the URL leaves the address bar (and history) at once.
  await page.goto(env("WEFT_UI_URL") + "?token=e2e-token");
  await page.locator("#live.on").waitFor({ timeout: 15000 });
  step("the page follows the lattice");
  const left = await page.evaluate(() => [location.search, sessionStorage.getItem("weft-token")]);
  if (left[0] !== "" || left[1] !== "e2e-token") throw new Error(`the token stayed in the address bar: ${JSON.stringify(left)}`);
  step("the token moved out of the address bar");
  await page.locator(`#hosts tr[data-host="${env("HOST_ID")}"]`).waitFor({ timeout: 15000 });
  await page.locator("#tile-hosts b", { hasText: "1" }).waitFor();
  step("the host is there");

  // A bad manifest: the errors show inline, by path.
  await page.locator("#deploy-box summary").click();
  await page.locator("#manifest").fill(readFileSync(env("BAD_MANIFEST"), "utf8"));
  await page.locator("#validate").click();
  await page.locator("#deploy-errors li", { hasText: "metadata.annotations.version" }).waitFor({ timeout: 10000 });
  step("validation errors shown inline");

  // Deploy kv-counter from the page.
  await page.locator("#manifest").fill(readFileSync(env("MANIFEST"), "utf8"));
  await page.locator("#deploy").click();
  await page.locator('#apps tr[data-app="kv-counter"] .status.deployed').waitFor({ timeout: 60000 });
  step("kv-counter deployed from the page");
  const row = page.locator('#components tr[data-component="kv-counter"]');
  await row.locator("td.instances", { hasText: /^2$/ }).waitFor({ timeout: 15000 });

  // Scale it.
  await row.locator("input.scale").fill("4");
  await row.locator("button.scale").click();
  await row.locator("td.instances", { hasText: /^4$/ }).waitFor({ timeout: 30000 });
  await page.locator('#apps tr[data-app="kv-counter"] .status.deployed').waitFor({ timeout: 30000 });
  step("scaled to 4 from the page");

  // A change from the CLI appears without a reload.
  const before = await page.evaluate(() => performance.timeOrigin);
  await run(env("WEFT_BIN"), ["label", "put", env("HOST_ID"), "zone=e2e", "--nats", env("WEFT_NATS_URL"), "--lattice", env("WEFT_LATTICE")]);
  const done = Date.now();
  await page.locator(`#hosts tr[data-host="${env("HOST_ID")}"] code`, { hasText: "zone=e2e" }).waitFor({ timeout: 10000 });
  const took = Date.now() - done;
  if ((await page.evaluate(() => performance.timeOrigin)) !== before) throw new Error("the page reloaded");
  step(`the CLI's label appeared ${took} ms after \`weft label put\` returned`);
  if (took > 1000) throw new Error(`the CLI's change took ${took} ms to appear (want ≤ 1000 ms)`);

  await page.locator("#events li", { hasText: "labels_changed" }).waitFor({ timeout: 5000 });
  const out = env("OUT_DIR");
  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: `${out}/dashboard.png`, fullPage: true });
  step(`screenshot: ${out}/dashboard.png`);

  // Undeploy asks first (the dialog is accepted here), then it goes.
  await page.locator('#apps tr[data-app="kv-counter"] button.undeploy').click();
  await page.locator('#apps tr[data-app="kv-counter"] .status.undeployed').waitFor({ timeout: 30000 });
  step("undeployed after the confirmation");
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
} finally {
  await browser.close();
}
