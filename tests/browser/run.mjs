// Townhall's pages in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), against `townhall serve --demo` on 127.0.0.1 with a fresh
// database. A fake Mastodon instance on 127.0.0.1 delivers posts made of hostile
// strings through the real listener, so they arrive as citizens' posts do.
//
// It signs in, triages a case with the keyboard alone (next, open, reply, act,
// refer), checks that no hostile text runs or breaks the layout, audits every page
// with axe-core (WCAG 2.1 A and AA), opens a public page, and saves screenshots at
// desktop and phone widths. Exit status 1 on the first failure.
//
//   node tests/browser/run.mjs [path/to/townhall]   (default: target/debug/townhall)

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const binary = resolve(process.argv[2] ?? join(root, "target/debug/townhall"));
// Screenshots go to an ignored folder; SCREENSHOTS=docs/screenshots refreshes the ones
// the README links to.
const shots = resolve(process.env.SCREENSHOTS ?? join(here, "screenshots"));
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/// Statuses whose HTML itself is hostile, as a remote server could send it.
const HOSTILE_HTML = [
  "<p>@munivalpo ¿Me pueden ayudar? <a href=\"javascript:window.__pwned='html-link'\">mire</a></p>",
  "<p>@munivalpo ¿Me pueden ayudar? <a href=\"https://valparaiso.cl@evil.example/pago\">https://valparaiso.cl/pago</a></p>",
  "<p>@munivalpo ¿Me pueden ayudar? <span class=\"invisible\">oculto</span><img src=x onerror=\"window.__pwned='html-img'\"></p>",
  "<p>@munivalpo ¿Me pueden ayudar?</p><script>window.__pwned='html-script'</script>",
];

const HOSTILE = [
  "<script>window.__pwned = 'script'</script>",
  "<img src=x onerror=\"window.__pwned='onerror'\">",
  "<svg onload=\"window.__pwned='svg'\"></svg>",
  "<a href=\"javascript:window.__pwned='link'\">click</a>",
  "javascript:window.__pwned='text'",
  "\u202eevil\u202c RTL override \u2067isolate",
  "\"><iframe src=\"javascript:window.__pwned='frame'\"></iframe>",
  "x".repeat(5000),
  "\ud83d\ude00 emoji \u0000 NUL \ufffd broken",
];

let failures = 0;
function check(condition, message) {
  if (!condition) {
    failures += 1;
    console.error(`FAIL ${message}`);
  } else {
    console.log(`ok   ${message}`);
  }
}

// ---- a fake Mastodon instance serving hostile mentions ------------------------------
/// The mention the instance streams while a signed-in inbox is open.
const LATE = "¿Pueden retirar el árbol que se cayó en la calle Cumming?";

function fakeMastodon() {
  const escaped = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const contents = [
    ...HOSTILE.map((text) => `<p>@munivalpo ¿Me pueden ayudar? ${escaped(text)}</p>`),
    ...HOSTILE_HTML,
  ];
  const notifications = contents.map((content, i) => {
    const id = String(i + 1);
    const name = (HOSTILE[i] ?? "vecino").slice(0, 200);
    const account = { id: `c${id}`, acct: `vecino${id}`, display_name: name, url: `https://127.0.0.1/@vecino${id}` };
    return {
      id, type: "mention", created_at: new Date().toISOString(), account,
      status: {
        id: `90${id}`, uri: `https://127.0.0.1/users/vecino${id}/statuses/90${id}`, created_at: new Date().toISOString(),
        content, language: "es", visibility: "public", account,
        mentions: [{ acct: "munivalpo@mastodon.cl" }], tags: [], media_attachments: [],
      },
    };
  });
  const streams = new Set();
  const late = (() => {
    const account = { id: "c-late", acct: "vecina.late", display_name: "Vecina", url: "https://127.0.0.1/@late" };
    const at = new Date().toISOString();
    return {
      id: "500", type: "mention", created_at: at, account,
      status: {
        id: "9500", uri: "https://127.0.0.1/users/late/statuses/9500", created_at: at,
        content: `<p>@munivalpo ${LATE}</p>`, language: "es", visibility: "public", account,
        mentions: [{ acct: "munivalpo@mastodon.cl" }], tags: [], media_attachments: [],
      },
    };
  })();
  const server = createServer((request, response) => {
    const url = new URL(request.url, "http://127.0.0.1");
    if (url.pathname === "/api/v1/streaming/user/notification") {
      // The listener keeps this stream open; a mention pushed on it arrives at once.
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(":ok\n\n");
      streams.add(response);
      request.on("close", () => streams.delete(response));
    } else if (url.pathname === "/api/v1/notifications") {
      const after = Number(url.searchParams.get("min_id") ?? 0);
      const page = notifications.filter((n) => Number(n.id) > after).reverse();
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(page));
    } else {
      response.writeHead(503);
      response.end();
    }
  });
  server.streamLate = () => {
    for (const stream of streams) { stream.write(`event: notification\ndata: ${JSON.stringify(late)}\n\n`); }
    return streams.size;
  };
  server.closeStreams = () => { for (const stream of streams) { stream.destroy(); } };
  return new Promise((ready) => server.listen(0, "127.0.0.1", () => ready(server)));
}

// ---- townhall serve --demo ----------------------------------------------------------
function startTownhall(dir, mastodon) {
  // Only this test's settings: none of the developer's TOWNHALL_* reach the server.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("TOWNHALL_")));
  const child = spawn(binary, ["serve", "--demo", "--bind", "127.0.0.1:0"], {
    cwd: dir,
    env: {
      ...env,
      RUST_LOG: "error",
      TOWNHALL_LISTEN_MASTODON_INSTANCE: `http://127.0.0.1:${mastodon.address().port}`,
      TOWNHALL_LISTEN_MASTODON_TOKEN: "browser-test-token",
      // Citizens' messages link to their case's public page; the test opens that path.
      TOWNHALL_SERVER_PUBLIC_URL: "https://townhall.example.org",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  return new Promise((ready, fail) => {
    const timer = setTimeout(() => { child.kill("SIGKILL"); fail(new Error(`townhall did not start in 120 s: ${output}`)); }, 120_000);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const address = output.match(/Townhall is listening on (http:\/\/[^\s/]+)\//);
      if (address) {
        clearTimeout(timer);
        const agent = output.match(/^\s*sign in as agent: (\S+) \/ (\S+)\s*$/m);
        const admin = output.match(/^\s*sign in as admin: (\S+) \/ (\S+)\s*$/m);
        ready({ child, base: address[1], email: agent?.[1], password: agent?.[2], admin: { email: admin?.[1], password: admin?.[2] } });
      }
    });
    child.on("exit", (code) => fail(new Error(`townhall exited with ${code}: ${output}`)));
  });
}

/// Presses `key` and waits for the form it submits to come back as a new page.
async function submit(page, key) {
  await Promise.all([page.waitForEvent("load"), page.keyboard.press(key)]);
}

async function audit(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const violations = result.violations.map((v) => `${v.id} (${v.nodes.length}): ${v.help}`);
  check(violations.length === 0, `${name}: no WCAG 2.1 A/AA violation ${violations.join("; ")}`);
}

async function inert(page, name) {
  const pwned = await page.evaluate(() => window.top.__pwned ?? null);
  check(pwned === null, `${name}: no hostile text ran (${pwned})`);
  // Not only blocked by the CSP: the markup must never have become elements.
  const injected = await page.$$eval("main script, main img, main svg:not(.chart-svg):not(.spark), main iframe, main a[href^='javascript']", (e) => e.length);
  check(injected === 0, `${name}: no hostile markup became an element (${injected})`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 1, `${name}: the layout holds (horizontal overflow ${overflow}px)`);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "townhall-browser-"));
  const mastodon = await fakeMastodon();
  const townhall = await startTownhall(dir, mastodon);
  let browser;
  try {
    // Chromium's sandbox cannot run as root (CI containers); elsewhere it stays on.
    const args = ["--disable-dev-shm-usage", ...(process.getuid?.() === 0 ? ["--no-sandbox"] : [])];
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args });
    check(Boolean(townhall.email), "serve --demo printed an agent's sign-in");
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "es-CL" });
    const page = await context.newPage();
    const dialogs = [];
    page.on("dialog", (dialog) => { dialogs.push(dialog.message()); dialog.dismiss(); });

    // Sign in with the keyboard.
    await page.goto(`${townhall.base}/signin`);
    await audit(page, "sign-in page");
    await page.keyboard.type(townhall.email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(townhall.password);
    await Promise.all([page.waitForURL("**/inbox"), page.keyboard.press("Enter")]);
    check((await page.textContent("h1")).includes("Bandeja"), "signed in, the inbox speaks the browser's Spanish");

    // The hostile posts arrive through the listener and become cases.
    const deadline = Date.now() + 60_000;
    let found = 0;
    while (Date.now() < deadline) {
      await page.goto(`${townhall.base}/inbox?q=ayudar`);
      found = await page.locator("a.case-link").count();
      if (found >= HOSTILE.length + HOSTILE_HTML.length) break;
      await page.waitForTimeout(500);
    }
    const expected = HOSTILE.length + HOSTILE_HTML.length;
    check(found >= expected, `the ${expected} hostile posts became cases (${found})`);
    const hostile = await page.$$eval("a.case-link", (links) => links.map((a) => a.getAttribute("href")));
    await inert(page, "inbox with hostile subjects");
    await audit(page, "inbox");

    // A mention streamed while the inbox is open is announced without a reload; the
    // list changes only when the agent asks (WCAG 2.2.2), and focus goes to the new case.
    await page.goto(`${townhall.base}/inbox`);
    await page.evaluate(() => { window.__sameDocument = true; });
    check(mastodon.streamLate() > 0, "the listener holds the instance's stream open");
    const offered = await page.waitForSelector("#show-new:not([hidden])", { timeout: 60_000 }).then(() => true, () => false);
    check(offered, "a new case is offered in the open inbox without a reload");
    const announced = await page.textContent("#live-status");
    check(/1 caso nuevo/.test(announced ?? ""), `the arrival is announced (${announced})`);
    check(!(await page.content()).includes(LATE), "the list did not change by itself");
    await page.focus("#show-new");
    await page.keyboard.press("Enter");
    const focused = await page.evaluate(() => document.activeElement?.closest("tr")?.textContent ?? "");
    check(focused.includes(LATE), "the new case is at the top, focused");
    check(await page.evaluate(() => window.__sameDocument === true), "the page was not reloaded");
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, "inbox-desktop.png") });

    // Triage with the keyboard alone: next, open, reply, act, refer.
    await page.goto(`${townhall.base}/inbox`);
    await page.keyboard.press("j");
    check(await page.evaluate(() => document.activeElement?.classList.contains("case-link")), "j selects the first case");
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    await Promise.all([page.waitForURL("**/cases/*"), page.keyboard.press("Enter")]);
    const casePath = new URL(page.url()).pathname;
    await inert(page, "case page");
    await audit(page, "case page");
    await page.screenshot({ path: join(shots, "case-desktop.png"), fullPage: true });
    await page.keyboard.press("a");
    check(await page.evaluate(() => document.activeElement?.id === "action"), "a focuses the action");
    await page.keyboard.press("Escape");
    await page.keyboard.press("r");
    check(await page.evaluate(() => document.activeElement?.id === "reply"), "r focuses the reply");
    await page.keyboard.type("Hola, lo estamos revisando con el equipo en terreno.");
    await submit(page, "Control+Enter");
    check((await page.content()).includes("Hola, lo estamos revisando"), "the reply is on the case, with its delivery status");
    // Close with a reason: focus the action, choose it, Tab to the reason, submit.
    await page.keyboard.press("a");
    await page.keyboard.press("End");
    await page.keyboard.press("ArrowUp");
    const chosen = await page.evaluate(() => document.getElementById("action").value);
    check(chosen === "close", `the keyboard chose close (${chosen})`);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Tab");
    await submit(page, "Enter");
    check((await page.content()).includes("case.close"), "the history records the close");
    // Refer another case: j, Enter, f, choose, Tab, reason, Enter.
    await page.goto(`${townhall.base}/inbox?status=new`);
    await page.keyboard.press("j");
    await Promise.all([page.waitForURL("**/cases/*"), page.keyboard.press("Enter")]);
    await page.keyboard.press("f");
    check(await page.evaluate(() => document.activeElement?.id === "refer-to"), "f focuses the referral");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Tab");
    await page.keyboard.type("Corresponde a la región");
    await submit(page, "Enter");
    check((await page.content()).includes("Corresponde a la región"), "the referral is in the case's history");
    // The referral notice carries the citizen's link to the case's public page.
    const link = (await page.content()).match(/https:\/\/townhall\.example\.org(\/public\/cases\/[A-Za-z0-9_-]{43})/);
    check(Boolean(link), "the referral notice links to the case's public page");
    // The shortcuts overlay.
    await page.keyboard.press("?");
    check(await page.isVisible("#shortcuts"), "? shows the shortcuts");
    await audit(page, "case page with the shortcuts");
    await page.keyboard.press("Escape");

    // Today's dashboard: the figures, the chart with its table, the queues.
    await page.goto(`${townhall.base}/dashboard`);
    check(await page.isVisible("svg[role=img]"), "the dashboard draws today's chart");
    await inert(page, "dashboard");
    await audit(page, "dashboard");
    await page.screenshot({ path: join(shots, "dashboard-desktop.png"), fullPage: true });

    // Every hostile case page, read (also those the triage closed or referred): nothing
    // runs, nothing overflows, and a link's real host is shown.
    const tricky = [];
    for (const path of hostile) {
      await page.goto(`${townhall.base}${path}`);
      await inert(page, `hostile case ${path}`);
      tricky.push(...(await page.$$eval("a[href*='evil.example']", (links) => links.map((a) => a.closest("li").textContent))));
    }
    check(dialogs.length === 0, `no dialog opened (${dialogs.join(", ")})`);
    check(tricky.length > 0 && tricky.every((text) => text.includes("(evil.example)")), `a link's real host is shown (${tricky})`);

    // Phone width.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "es-CL", isMobile: true });
    const small = await phone.newPage();
    await small.goto(`${townhall.base}/signin`);
    await small.fill("#email", townhall.email);
    await small.fill("#password", townhall.password);
    await Promise.all([small.waitForURL("**/inbox"), small.press("#password", "Enter")]);
    await inert(small, "inbox on a phone");
    await small.screenshot({ path: join(shots, "inbox-phone.png") });
    await small.goto(`${townhall.base}${casePath}`);
    await inert(small, "case page on a phone");
    await small.screenshot({ path: join(shots, "case-phone.png"), fullPage: true });

    await small.goto(`${townhall.base}/dashboard`);
    await inert(small, "dashboard on a phone");
    await small.screenshot({ path: join(shots, "dashboard-phone.png"), fullPage: true });

    // The admin pages, as the demo's admin.
    const adminPage = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "es-CL" })).newPage();
    await adminPage.goto(`${townhall.base}/signin`);
    await adminPage.fill("#email", townhall.admin.email);
    await adminPage.fill("#password", townhall.admin.password);
    await Promise.all([adminPage.waitForURL("**/inbox"), adminPage.press("#password", "Enter")]);
    for (const path of ["/admin", "/admin/teams", "/admin/users", "/admin/rules", "/admin/deadlines", "/admin/canned"]) {
      await adminPage.goto(`${townhall.base}${path}`);
      check((await adminPage.title()).length > 0 && !(await adminPage.content()).includes("403"), `${path} opens for an admin`);
      await inert(adminPage, path);
      await audit(adminPage, path);
    }
    await adminPage.goto(`${townhall.base}/admin/rules`);
    await adminPage.screenshot({ path: join(shots, "admin-rules-desktop.png"), fullPage: true });
    const rulePath = await adminPage.getAttribute("main a[href^='/admin/rules/']", "href");
    await adminPage.goto(`${townhall.base}${rulePath}`);
    await audit(adminPage, "a routing rule's form");
    // A page that is refused says why, in a page that passes the audit too.
    const refused = await adminPage.goto(`${townhall.base}/cases/not-a-number`);
    check(refused.status() === 404, `an unreadable address is a 404 page (${refused.status()})`);
    await audit(adminPage, "a staff problem page");

    // The public pages, no sign-in: the overview, an institution, the citizen's case.
    const visitor = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await visitor.goto(`${townhall.base}/`);
    await audit(visitor, "public overview");
    await visitor.screenshot({ path: join(shots, "overview-desktop.png") });
    await visitor.goto(`${townhall.base}/public`);
    await audit(visitor, "public index");
    const institution = await visitor.getAttribute("main a[href^='/public/']", "href");
    await visitor.goto(`${townhall.base}/no/such/page`);
    await audit(visitor, "the not-found page");
    await visitor.goto(`${townhall.base}${institution}`);
    check(await visitor.isVisible("svg[role=img]"), "the institution's page draws its weekly chart");
    await inert(visitor, "public institution page");
    await audit(visitor, "public institution page");
    await visitor.screenshot({ path: join(shots, "public-institution-desktop.png"), fullPage: true });
    if (link) {
      await visitor.goto(`${townhall.base}${link[1]}`);
      check((await visitor.content()).includes("Corresponde a la región"), "the citizen's page shows why the case was referred");
      await inert(visitor, "citizen's case page");
      await audit(visitor, "citizen's case page");
      await visitor.screenshot({ path: join(shots, "public-case-desktop.png"), fullPage: true });
    }
    const citizen = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true })).newPage();
    await citizen.goto(`${townhall.base}${institution}`);
    await inert(citizen, "public institution page on a phone");
    await citizen.screenshot({ path: join(shots, "public-institution-phone.png"), fullPage: true });
  } finally {
    await browser?.close();
    const exited = new Promise((done) => townhall.child.once("exit", done));
    townhall.child.kill("SIGTERM");
    await exited;
    mastodon.closeStreams();
    mastodon.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (failures > 0) {
    console.error(`${failures} browser check(s) failed`);
    process.exit(1);
  }
  console.log("browser tests passed");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
