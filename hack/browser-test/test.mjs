// The tracking page in a real browser (make browser-test; hack/browser-test.sh
// sets the environment). One order, followed the way a customer would:
//   1. the page shows it; a status change made through orders-service shows
//      on the open page, with a new timeline row, within 2 s and without a
//      reload;
//   2. with JavaScript off, a reload shows the current state;
//   3. tracking-service restarts (the stream drops) while the order changes:
//      the open page catches up by itself, without a hole or a duplicate;
//   4. axe-core finds no serious or critical accessibility violation, and
//      nothing overflows a phone-width screen;
//   5. orders-service's Swagger UI (/api-docs) sends a request and shows 200.
// Screenshots at desktop and phone widths go to RUN_DIR/screenshots.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, createWriteStream } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run make browser-test`);
  return v;
};
const require = createRequire(env("BROWSER_TEST_MODULES") + "/");
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const ORDERS = env("ORDERS_URL");
const TRACKING = env("TRACKING_URL");
const RUN_DIR = env("RUN_DIR");
const SHOTS = join(RUN_DIR, "screenshots");
mkdirSync(SHOTS, { recursive: true });

const log = (msg) => console.error(`[browser-test] ${msg}`);
let failures = 0;
const fail = (msg) => { failures++; log(`FAIL: ${msg}`); };

// waitFor polls check until it returns true, or throws after ms.
async function waitFor(what, ms, check) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try { if (await check()) return; } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// tracking-service, run by this test so that it can restart it.
let tracking;
let restarts = 0;
async function startTracking() {
  const out = createWriteStream(join(RUN_DIR, `tracking-service-${restarts++}.log`));
  tracking = spawn(env("TRACKING_BIN"), [], { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  tracking.stdout.pipe(out);
  tracking.stderr.pipe(out);
  await waitFor("tracking-service ready", 60000, async () => (await fetch(`${TRACKING}/readyz`)).ok);
}
async function stopTracking() {
  if (!tracking || tracking.exitCode !== null) return;
  const exited = new Promise((r) => tracking.once("exit", r));
  tracking.kill("SIGTERM");
  const killer = setTimeout(() => tracking.kill("SIGKILL"), 15000);
  await exited;
  clearTimeout(killer);
}

async function setStatus(id, status) {
  const res = await fetch(`${ORDERS}/orders/updateOrderStatus/${id}?status=${status}`, { method: "PUT" });
  if (res.status !== 201 && res.status !== 200) throw new Error(`PUT status ${status}: ${res.status} ${await res.text()}`);
}

// shown reads what the page shows: the status, the timeline's versions
// (newest first) and statuses.
const shown = (page) => page.evaluate(() => ({
  status: document.getElementById("status")?.getAttribute("data-status"),
  versions: [...document.querySelectorAll("#timeline li")].map((li) => Number(li.getAttribute("data-version"))),
  current: document.querySelector("#steps [aria-current=step]")?.getAttribute("data-status") ?? null,
}));

async function expectShown(page, what, ms, status, rows) {
  await waitFor(what, ms, async () => {
    const s = await shown(page);
    return s.status === status && s.versions.length === rows;
  }).catch(async (e) => { throw new Error(`${e.message}; page shows ${JSON.stringify(await shown(page))}`); });
  const s = await shown(page);
  const want = [...Array(rows).keys()].map((i) => rows - i);
  if (JSON.stringify(s.versions) !== JSON.stringify(want)) fail(`${what}: timeline versions ${s.versions}, want ${want}`);
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"), headless: true,
  // Root in a machine without user namespaces for Chromium's sandbox.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  await startTracking();
  const res = await fetch(`${ORDERS}/orders/createOrder`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ customerName: "Ada Lovelace", item: "Espresso machine", quantity: 1 }),
  });
  if (res.status !== 201) throw new Error(`createOrder: ${res.status} ${await res.text()}`);
  const order = await res.json();
  const url = `${TRACKING}/t/${order.trackingCode}`;
  log(`order ${order.id}, page ${url}`);

  // 1. Live update without a reload.
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB", timezoneId: "Europe/Paris" });
  const page = await desktop.newPage();
  const cspErrors = [];
  page.on("console", (m) => { if (m.type() === "error") cspErrors.push(m.text()); });
  const resp = await page.goto(url);
  if (resp.status() !== 200) throw new Error(`GET ${url}: ${resp.status()}`);
  await expectShown(page, "the new order", 5000, "PENDING", 1);
  if ((await page.textContent("body")).includes("Lovelace")) fail("the page shows the customer's name");
  // Wait for the stream to be open before changing anything, as a customer
  // would have it open long before.
  await page.evaluate(() => { window.__notReloaded = true; });
  await waitFor("the stream open", 5000, () => page.evaluate(() => document.getElementById("connection").hidden));
  await setStatus(order.id, "CONFIRMED");
  await expectShown(page, "CONFIRMED on the open page", 2000, "CONFIRMED", 2);
  if (!(await page.evaluate(() => window.__notReloaded === true))) fail("the page reloaded to show the change");
  const announced = await page.textContent("#announce");
  if (!announced.includes("Confirmed")) fail(`the live region says ${JSON.stringify(announced)}, want the new status`);
  const local = await page.textContent("#updated");
  if (local.includes("UTC")) fail(`last updated reads ${JSON.stringify(local)}, want the browser's local time`);
  await page.screenshot({ path: join(SHOTS, "desktop.png"), fullPage: true });
  log("live update: ok");

  // 2. JavaScript off: a reload shows the current state.
  await setStatus(order.id, "SHIPPED");
  const noJS = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
  const still = await noJS.newPage();
  await still.goto(url);
  await waitFor("SHIPPED without JavaScript", 5000, async () => {
    await still.reload();
    const s = await shown(still);
    return s.status === "SHIPPED" && s.versions.length === 3 && s.current === "SHIPPED";
  });
  await noJS.close();
  await expectShown(page, "SHIPPED on the open page", 2000, "SHIPPED", 3);
  log("JavaScript off: ok");

  // 3. tracking-service restarts while the order changes: the page catches up.
  await stopTracking();
  await waitFor("the page noticing the dropped stream", 5000, () => page.evaluate(() => !document.getElementById("connection").hidden));
  await setStatus(order.id, "OUT_FOR_DELIVERY");
  await startTracking();
  await expectShown(page, "OUT_FOR_DELIVERY after the restart", 30000, "OUT_FOR_DELIVERY", 4);
  await waitFor("the reconnected notice gone", 5000, () => page.evaluate(() => document.getElementById("connection").hidden));
  log("restart: ok");

  // 4. Phone width, overflow, accessibility.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, bypassCSP: true });
  const small = await phone.newPage();
  await small.goto(url);
  await expectShown(small, "the phone page", 5000, "OUT_FOR_DELIVERY", 4);
  const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the page is ${overflow}px wider than a phone's screen`);
  await small.screenshot({ path: join(SHOTS, "phone.png"), fullPage: true });
  // bypassCSP lets axe's script in; the page under test is the same.
  const wide = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true })).newPage();
  await wide.goto(url);
  for (const [name, p] of [["desktop", wide], ["phone", small]]) {
    await p.addScriptTag({ content: axeSource });
    const result = await p.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    for (const v of result.violations) {
      const msg = `axe (${name}): ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes)`;
      if (v.impact === "serious" || v.impact === "critical") fail(msg); else log(msg);
    }
  }
  if (cspErrors.length) fail(`console errors on the page: ${cspErrors.join("; ")}`);
  log("phone width and accessibility: checked");

  // 5. Swagger UI on orders-service: it renders the API under its strict
  //    CSP and sends a request ("Try it out", Execute) that answers 200.
  const docs = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const docErrors = [];
  docs.on("console", (m) => { if (m.type() === "error") docErrors.push(m.text()); });
  docs.on("pageerror", (e) => docErrors.push(e.message));
  await docs.goto(`${ORDERS}/api-docs`);
  const op = docs.locator("#operations-legacy-legacyFetchAllOrders");
  await op.waitFor({ timeout: 15000 });
  await op.locator(".opblock-summary-control").click();
  await op.locator(".try-out__btn").click();
  await op.locator(".btn.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status");
  await status.first().waitFor({ timeout: 10000 });
  const got = (await status.first().textContent()).trim();
  if (got !== "200") fail(`Swagger UI's request to fetchAllOrders answered ${got}, want 200`);
  const sent = (await op.locator(".request-url pre").textContent()).trim();
  if (sent !== `${ORDERS}/orders/fetchAllOrders`) fail(`Swagger UI sent its request to ${sent}, want ${ORDERS}/orders/fetchAllOrders`);
  await docs.screenshot({ path: join(SHOTS, "api-docs.png") });
  if (docErrors.length) fail(`console errors in Swagger UI: ${docErrors.join("; ")}`);
  log("api-docs: a request sent from Swagger UI answered 200");
} catch (e) {
  fail(e.message);
} finally {
  await browser.close().catch(() => {});
  await stopTracking();
}
log(`screenshots: ${SHOTS}`);
if (failures) {
  log(`${failures} failure(s); tracking-service logs in ${RUN_DIR}`);
  process.exit(1);
}
log("the tracking page works in Chromium");
