// Browser tests of the backtick dashboard in headless Chromium (the system's package, never a
// downloaded browser), driven by playwright-core. Started by the Rust test
// backtick-cli/tests/dashboard_browser.rs, which seeds a Postgres database with
// backtick_testkit::scene, starts two `backtick serve` processes on loopback and checks the
// database after this script's actions. Every case prints `ok - name` or `not ok - name:
// why`; the last lines are `RESULT <json>` (what was acted on) and `N passed, M failed`.
//
// Environment:
//   BT_DASH_URL        the full server, e.g. http://127.0.0.1:41234
//   BT_DASH_RO_URL     a --read-only server nested under a prefix, e.g. http://127.0.0.1:41235/admin/jobs
//   BT_DASH_EXPECTED   JSON: {"counts": {"queued": 3, ...}, "ids": {"dead": 12, ...}}
//   BT_BACKTICK_BIN    the backtick binary, BT_DATABASE_URL its database (to enqueue a job)
//   BT_SCREENSHOTS     directory for one PNG per page
//   BT_CHROMIUM        the Chromium executable (default /usr/bin/chromium)
"use strict";

const { chromium } = require("playwright-core");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env("BT_DASH_URL").replace(/\/$/, "");
const RO_BASE = env("BT_DASH_RO_URL").replace(/\/$/, "");
const EXPECTED = JSON.parse(env("BT_DASH_EXPECTED"));
const SHOTS = env("BT_SCREENSHOTS");
const PREFIX = new URL(RO_BASE).pathname;

const results = [];
const acted = {};

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/// A page that records console errors, page errors, CSP violations and failed requests.
async function openPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || /Content.Security.Policy/i.test(msg.text())) page.problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (error) => page.problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => page.problems.push(`request failed: ${request.url()}`));
  page.on("response", (response) => {
    if (response.status() >= 400) page.problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return page;
}

function noProblems(page, where) {
  const problems = page.problems.splice(0);
  check(problems.length === 0, `${where}: ${problems.join("; ")}`);
}

async function test(name, body) {
  try {
    await body();
    results.push(true);
    console.log(`ok - ${name}`);
  } catch (error) {
    results.push(false);
    console.log(`not ok - ${name}: ${error.message.split("\n")[0]}`);
  }
}

async function rowCount(page) {
  return page.locator("table.rows tbody tr").count();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.BT_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: "light" });
  const page = await openPage(context);
  const ids = EXPECTED.ids;

  await test("every page renders without console or CSP errors (screenshots)", async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    const pages = [
      ["overview", "/"],
      ["jobs", "/jobs"],
      ["job", `/jobs/${ids.dead}`],
      ["queues", "/queues"],
      ["cron", "/cron"],
      ["runners", "/runners"],
      ["errors", "/errors"],
    ];
    for (const [name, at] of pages) {
      const response = await page.goto(BASE + at);
      check(response.status() === 200, `${at} answered ${response.status()}`);
      check((response.headers()["content-security-policy"] || "").includes("default-src 'self'"), `${at} has no CSP`);
      const sticky = await page.locator("header.top").evaluate((el) => getComputedStyle(el).position);
      check(sticky === "sticky", `${at}: the stylesheet did not apply`);
      await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
      noProblems(page, at);
    }
    const dark = await browser.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: "dark" });
    const darkPage = await openPage(dark);
    await darkPage.goto(BASE + "/");
    await darkPage.screenshot({ path: path.join(SHOTS, "overview-dark.png"), fullPage: true });
    noProblems(darkPage, "dark overview");
    await dark.close();
  });

  await test("overview counts match the database", async () => {
    await page.goto(BASE + "/");
    for (const [state, count] of Object.entries(EXPECTED.counts)) {
      const shown = (await page.locator(`[data-count="${state}"]`).textContent()).trim();
      check(shown === String(count), `${state}: the page shows ${shown}, the database has ${count}`);
    }
  });

  await test("filters narrow the list", async () => {
    await page.goto(BASE + "/jobs");
    const all = await rowCount(page);
    await page.getByRole("link", { name: /^dead/ }).click();
    const dead = await rowCount(page);
    check(dead === EXPECTED.counts.dead && dead < all, `dead tab: ${dead} rows of ${all}`);
    await page.fill('input[name="worker"]', "send_mail");
    await page.press('input[name="worker"]', "Enter");
    await page.waitForURL(/worker=send_mail/);
    check(page.url().includes("state=dead"), "the state stays in the URL");
    const mailDead = await rowCount(page);
    check(mailDead === 2, `dead send_mail jobs: ${mailDead}`);
    await page.fill('input[name="args"]', '{"to": "bob@example.com"}');
    await page.press('input[name="args"]', "Enter");
    await page.waitForURL(/args=/);
    check((await rowCount(page)) === 1, "args containment narrows to one job");
    check((await page.locator(`a[href$="/jobs/${ids.dead}"]`).count()) > 0, "it is the dead job");
    noProblems(page, "filters");
  });

  await test("the job page shows its attempts", async () => {
    await page.goto(`${BASE}/jobs/${ids.dead}`);
    const attempts = page.locator("table.attempts tbody tr");
    check((await attempts.count()) === 2, `attempts: ${await attempts.count()}`);
    check((await attempts.nth(0).textContent()).includes("smtp: timeout"), "first attempt's error");
    check((await attempts.nth(1).textContent()).includes("smtp: connection refused"), "second attempt's error");
    check((await page.locator("pre.json").textContent()).includes("bob@example.com"), "the arguments");
  });

  await test("retry changes the database", async () => {
    await page.goto(`${BASE}/jobs/${ids.dead}`);
    await page.locator(".actions button", { hasText: "Retry" }).click();
    await page.waitForSelector(".notice");
    check((await page.locator("h1 .state").textContent()) === "queued", "the job is queued again");
    acted.retried = ids.dead;
  });

  await test("cancel changes the database", async () => {
    await page.goto(`${BASE}/jobs/${ids.queued}`);
    await page.locator(".actions button", { hasText: "Cancel" }).click();
    await page.waitForSelector(".notice");
    check((await page.locator("h1 .state").textContent()) === "cancelled", "the job is cancelled");
    acted.cancelled = ids.queued;
  });

  await test("pause changes the database", async () => {
    await page.goto(`${BASE}/queues`);
    const mail = page.locator("tr", { has: page.locator('a:text-is("mail")') });
    await mail.locator('button[value="pause"]').click();
    await page.waitForSelector(".notice");
    check((await mail.locator(".badge-paused").count()) === 1, "mail shows paused");
    acted.paused = "mail";
  });

  await test("a bulk retry of the whole filter previews, confirms and changes the database", async () => {
    await page.goto(`${BASE}/jobs?state=dead`);
    const before = await rowCount(page);
    await page.locator('button[value="retry:filter"]').click();
    const preview = (await page.locator("[data-preview-count]").textContent()).trim();
    check(preview === String(before), `the preview counts ${preview}, the list shows ${before}`);
    await page.locator('button[type="submit"].danger').click();
    await page.waitForSelector(".notice");
    check((await page.locator(".notice").textContent()).includes(`Retried ${before} jobs`), "the notice");
    check((await page.locator("table.rows tbody tr").count()) === 0, "no dead job is left");
    acted.bulk_retried = before;
    noProblems(page, "bulk retry");
  });

  await test("a new job appears within two polls", async () => {
    await page.goto(`${BASE}/jobs?worker=poll_probe`);
    await page.selectOption("#poll", "2");
    check((await rowCount(page)) === 0, "no probe yet");
    execFileSync(env("BT_BACKTICK_BIN"), ["--database-url", env("BT_DATABASE_URL"), "jobs", "enqueue", "poll_probe", "--args", "{}", "--force"]);
    const started = Date.now();
    await page.waitForSelector("table.rows tbody tr", { timeout: 2 * 2000 + 3000 });
    acted.probe_seen_after_ms = Date.now() - started;
    check((await page.locator("#live-status").textContent()).includes("updated"), "the status says it updated");
  });

  await test("polling pauses while rows are selected, keyboard moves and opens rows", async () => {
    await page.goto(`${BASE}/jobs`);
    await page.selectOption("#poll", "2");
    await page.locator('input[name="job"]').first().check();
    await page.waitForFunction(() => document.getElementById("live-status").textContent.includes("rows selected"), null, { timeout: 5000 });
    await page.locator('input[name="job"]').first().uncheck();
    await page.selectOption("#poll", "0");
    await page.locator("body").click({ position: { x: 5, y: 400 } });
    await page.keyboard.press("j");
    const focused = await page.evaluate(() => document.activeElement.dataset.href || "");
    check(focused.includes("/jobs/"), `j focuses a row (${focused})`);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/jobs\/\d+$/);
  });

  const ro = await openPage(context);
  await test("read-only hides actions and refuses them", async () => {
    for (const at of ["", "/jobs", `/jobs/${ids.running}`, "/queues", "/cron", "/errors"]) {
      await ro.goto(RO_BASE + at);
      check((await ro.locator('form[method="post"]').count()) === 0, `${at || "/"} shows an action`);
      check((await ro.locator(".badge-readonly").count()) === 1, `${at || "/"} says read-only`);
    }
    noProblems(ro, "read-only pages");
    // The refused POST is sent from a page of its own: its 403 is expected, not a problem.
    const probe = await context.newPage();
    await probe.goto(RO_BASE);
    const status = await probe.evaluate(async (url) => {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "op=retry" });
      return response.status;
    }, `${RO_BASE}/jobs/${ids.dead_again}/action`);
    await probe.close();
    check(status === 403, `a POST answered ${status}`);
  });

  await test("a nested path prefix works", async () => {
    await ro.goto(RO_BASE);
    const hrefs = await ro.locator("header nav a").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    check(hrefs.length === 6 && hrefs.every((href) => href.startsWith(PREFIX)), `nav links: ${hrefs.join(" ")}`);
    for (const name of ["Jobs", "Queues", "Cron", "Runners", "Errors", "Overview"]) {
      await ro.locator("header nav a", { hasText: name }).click();
      await ro.waitForLoadState();
      check(new URL(ro.url()).pathname.startsWith(PREFIX), `${name} left the prefix: ${ro.url()}`);
      const sticky = await ro.locator("header.top").evaluate((el) => getComputedStyle(el).position);
      check(sticky === "sticky", `${name}: the stylesheet did not load under the prefix`);
    }
    noProblems(ro, "nested");
  });

  await browser.close();
  const passed = results.filter(Boolean).length;
  console.log(`RESULT ${JSON.stringify(acted)}`);
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exitCode = passed === results.length ? 0 : 1;
}

main().catch((error) => {
  console.log(`not ok - the browser test could not run: ${error.message}`);
  process.exitCode = 1;
});
