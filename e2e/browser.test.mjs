// The upload page in a real browser: headless Chromium driven by playwright-core, against a
// running stack (`cargo xtask dev`, or the one `crates/dev/tests/browser.rs` boots).
//
//   THUMBFORGE_URL=http://127.0.0.1:8080 node e2e/browser.test.mjs
//
// Optional: THUMBFORGE_CHROMIUM (default /usr/bin/chromium), THUMBFORGE_NODE_MODULES (where
// playwright-core and axe-core are installed; default target/tools/node/node_modules),
// THUMBFORGE_E2E_OUT (screenshots; default target/e2e). The stack must be fresh: the gallery
// starts empty. Prints one "ok N - step" line per step; exits 1 at the first failure, after
// saving failure.png beside the other screenshots. axe-core runs on the main states of the page
// (`axe.run()`, every violation printed in full, none allowed). The last step prints one line
// `THUMBFORGE_DELETED_ACCOUNT {"sub", "email", "images"}` naming the account it deleted, for
// crates/dev/tests/browser.rs to check that nothing of it is left in the bucket or the table.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { ALBUM_LIMITS, humanBytes, reasonText } from "../frontend/lib.js";

/** The local issuer's mail catcher (JSON lines): where sign-up codes arrive. */
const OUTBOX = process.env.THUMBFORGE_OUTBOX;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BASE_URL = process.env.THUMBFORGE_URL;
const CHROMIUM = process.env.THUMBFORGE_CHROMIUM || "/usr/bin/chromium";
const NODE_MODULES = process.env.THUMBFORGE_NODE_MODULES || path.join(ROOT, "target/tools/node/node_modules");
const OUT = process.env.THUMBFORGE_E2E_OUT || path.join(ROOT, "target/e2e");
const PHOTOS = path.join(ROOT, "fixtures/photos");

/** The account the run creates, and its password (within the default policy). */
const FIRST_USER = "ana@example.com";
const SECOND_USER = "ben@example.com";
const PASSWORD = "Thumbforge-e2e-1";

/** The longest any single wait may take. */
const WAIT_MS = 60_000;
/** The longest the whole run may take. */
const TOTAL_MS = 540_000;
/** The accessibility engine, injected into the page (pinned in xtask/src/browser.rs). */
const AXE_SOURCE = path.join(NODE_MODULES, "axe-core/axe.min.js");
/** How the run names the account it deleted, for crates/dev/tests/browser.rs. */
const DELETED_ACCOUNT_MARKER = "THUMBFORGE_DELETED_ACCOUNT ";
/** Upload speed while the first files go up, so that progress can be seen (bytes per second). */
const THROTTLED_UPLOAD = 512 * 1024;

if (!BASE_URL || !OUTBOX) {
  console.error(
    "THUMBFORGE_URL and THUMBFORGE_OUTBOX must be set: a running stack (cargo xtask dev) and its " +
      "identity issuer's outbox.jsonl (the dev stack prints its path)",
  );
  process.exit(2);
}

const require = createRequire(import.meta.url);
const { chromium } = require(path.join(NODE_MODULES, "playwright-core"));

// ---- bookkeeping ----------------------------------------------------------------------------

/** Console errors, page errors, failed requests and 4xx/5xx answers: each fails the run. */
const problems = [];
/** Every request the page made, in order ("METHOD url"). */
const requests = [];
let stepNumber = 0;
let page;

function log(message) {
  console.log(`# ${message}`);
}

async function step(name, body) {
  stepNumber += 1;
  const started = Date.now();
  try {
    await body();
    await expectNoProblems();
  } catch (error) {
    console.log(`not ok ${stepNumber} - ${name}`);
    throw error;
  }
  console.log(`ok ${stepNumber} - ${name} (${Date.now() - started} ms)`);
}

/**
 * Takes the problems matching `pattern` off the list: they were expected (the identity
 * provider's 400 for a refused sign-in, say). At least one must have been there.
 */
function expectProblems(pattern) {
  const others = problems.filter((problem) => !pattern.test(problem));
  assert.ok(others.length < problems.length, `expected a problem matching ${pattern}: ${JSON.stringify(problems)}`);
  problems.splice(0, problems.length, ...others);
}

/**
 * Runs axe-core on the page as it is now (`axe.run()` with its default rules, injected through
 * the DevTools protocol, which the page's CSP does not apply to) and fails on any violation,
 * printing each in full.
 */
async function checkAccessibility(state) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(await readFile(AXE_SOURCE, "utf8"));
  }
  const result = await page.evaluate(async () => {
    const report = await window.axe.run(document);
    return {
      version: report.testEngine.version,
      passes: report.passes.length,
      incomplete: report.incomplete.map((r) => r.id),
      violations: report.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        tags: v.tags,
        nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, failureSummary: n.failureSummary })),
      })),
    };
  });
  if (result.violations.length > 0) {
    for (const line of JSON.stringify(result.violations, null, 2).split("\n")) log(`axe: ${line}`);
    assert.fail(`axe-core ${result.version} found ${result.violations.length} violation(s) in ${state}: ${result.violations.map((v) => v.id).join(", ")}`);
  }
  log(`axe-core ${result.version}: no violation in ${state} (${result.passes} rules pass; to review by hand: ${result.incomplete.join(", ") || "none"})`);
}

function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The album list's names, in display order ("All photos" first). */
function albumNames() {
  return page.$$eval("[data-testid=album-list] [data-testid=album-name]", (names) => names.map((n) => n.textContent));
}

/** Fails on anything the page complained about, or showed in its error area. */
async function expectNoProblems() {
  assert.deepEqual(problems, [], "the page logged errors or made failing requests");
  const errorArea = page.locator("#error");
  if (await errorArea.isVisible()) {
    assert.fail(`the page's error area shows: ${await errorArea.innerText()}`);
  }
}

async function screenshot(name, { fullPage = true, decode = fullPage } = {}) {
  if (decode) await decodeGalleryImages();
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  log(`screenshot ${path.relative(ROOT, file)}`);
}

/** Brings every gallery image in (they load lazily) and waits until each is decoded. */
async function decodeGalleryImages() {
  const images = page.locator("[data-testid=gallery-image]");
  const count = await images.count();
  for (let i = 0; i < count; i += 1) {
    await images.nth(i).scrollIntoViewIfNeeded();
  }
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll("[data-testid=gallery-image]")].every((img) => img.dataset.loaded === "true"),
    null,
    { timeout: WAIT_MS },
  );
  await page.evaluate(() => Promise.all([...document.querySelectorAll("[data-testid=gallery-image]")].map((img) => img.decode())));
  await page.evaluate(() => window.scrollTo(0, 0));
}

/** The newest sign-up code mailed to `email`, waiting for it to arrive. */
async function mailedCode(email) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const text = await readFile(OUTBOX, "utf8").catch(() => "");
    const mails = text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    const mail = mails.filter((m) => m.to === email && m.kind === "signup").at(-1);
    if (mail) return mail.code;
    assert.ok(Date.now() < deadline, `no sign-up code for ${email} in ${OUTBOX}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Creates an account through the provider's hosted pages, from the page's sign-in button. */
async function signUp(email, password) {
  await page.click("[data-testid=sign-in]");
  await page.waitForSelector("[data-testid=signup-link]");
  await page.click("[data-testid=signup-link]");
  await page.fill("[data-testid=email]", email);
  await page.fill("[data-testid=password]", password);
  await page.fill("[data-testid=confirm-password]", password);
  await page.click("[data-testid=submit]");
  await page.waitForSelector("[data-testid=code]");
  await page.fill("[data-testid=code]", await mailedCode(email));
  await page.click("[data-testid=submit]");
  await page.waitForSelector("html[data-session=signed-in]", { state: "attached", timeout: WAIT_MS });
}

/** `GET path` on the API as the signed-in user of the page (a token from the tab's refresh token). */
async function apiAsUser(path) {
  return page.evaluate(async (path) => {
    const auth = (await (await fetch("/api/config")).json()).auth;
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: auth.clientId,
      refresh_token: sessionStorage.getItem("thumbforge.refresh"),
    });
    const tokens = await (await fetch(auth.tokenUrl, { method: "POST", body })).json();
    const answer = await fetch(path, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    return answer.json();
  }, path);
}

/** A fresh access token of the page's signed-in user (from the tab's refresh token). */
async function userToken() {
  return page.evaluate(async () => {
    const auth = (await (await fetch("/api/config")).json()).auth;
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: auth.clientId,
      refresh_token: sessionStorage.getItem("thumbforge.refresh"),
    });
    return (await (await fetch(auth.tokenUrl, { method: "POST", body })).json()).access_token;
  });
}

/** Signs in with an existing account through the provider's sign-in page. */
async function signIn(email, password) {
  await page.click("[data-testid=sign-in]");
  await page.waitForSelector("[data-testid=password]");
  await page.fill("[data-testid=email]", email);
  await page.fill("[data-testid=password]", password);
  await page.click("[data-testid=submit]");
  await page.waitForSelector("html[data-session=signed-in]", { state: "attached", timeout: WAIT_MS });
  await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
}

/**
 * The status of `GET url` asked from here, not from the page (whose 4xx answers count as
 * problems), never from a cache.
 */
async function statusOf(url) {
  const answer = await fetch(new URL(url, BASE_URL), { cache: "no-store" });
  await answer.arrayBuffer();
  return answer.status;
}

/** Every thumbnail URL a gallery card references: its <img> src and srcset, its <source> srcsets. */
function cardImageUrls(item) {
  const urls = new Set();
  const add = (srcset) => {
    for (const candidate of (srcset ?? "").split(",")) {
      const url = candidate.trim().split(/\s+/)[0];
      if (url) urls.add(new URL(url, location.href).pathname);
    }
  };
  const img = item.querySelector("[data-testid=gallery-image]");
  add(img?.getAttribute("src"));
  add(img?.getAttribute("srcset"));
  for (const source of item.querySelectorAll("picture source")) add(source.getAttribute("srcset"));
  return [...urls].sort();
}

/** Records, in window.__deleteLog, every change of a card's deleting state and button. */
function recordDeleteStates() {
  const entries = [];
  window.__deleteLog = entries;
  new MutationObserver((records) => {
    for (const record of records) {
      const item = record.target.closest?.("[data-testid=gallery-item]");
      if (!item) continue;
      const button = item.querySelector("[data-testid=delete]");
      entries.push({
        id: item.dataset.id,
        deleting: item.dataset.deleting === "true",
        busy: item.getAttribute("aria-busy"),
        disabled: button?.disabled ?? null,
        text: button?.textContent ?? null,
      });
    }
  }).observe(document.getElementById("gallery"), {
    subtree: true,
    attributes: true,
    attributeFilter: ["data-deleting", "disabled", "aria-busy"],
  });
}

const row = (file) => `[data-testid=upload-row][data-file="${file}"]`;
const card = (id) => `[data-testid=gallery-item][data-id="${id}"]`;

/** Waits until every named row reached a final state; returns {file: {state, id, status, progress}}. */
async function settledRows(files) {
  await page.waitForFunction(
    (names) =>
      names.every((name) =>
        ["ready", "rejected", "refused", "error", "slow"].includes(
          document.querySelector(`[data-testid=upload-row][data-file="${name}"]`)?.dataset.state,
        ),
      ),
    files,
    { timeout: WAIT_MS },
  );
  return page.evaluate((names) => {
    const result = {};
    for (const name of names) {
      const element = document.querySelector(`[data-testid=upload-row][data-file="${name}"]`);
      const progress = element.querySelector("[data-testid=upload-progress]");
      result[name] = {
        state: element.dataset.state,
        id: element.dataset.id ?? null,
        status: element.querySelector("[data-testid=upload-status]").textContent,
        progress: progress.hidden ? null : progress.value,
        dataProgress: element.dataset.progress ?? null,
      };
    }
    return result;
  }, files);
}

/** What a card shows of a photo's details. */
function cardDetails(id) {
  return page.$eval(card(id), (item) => ({
    title: item.querySelector("[data-testid=card-title]")?.textContent ?? null,
    description: item.querySelector("[data-testid=card-description]")?.textContent ?? null,
    tags: [...item.querySelectorAll("[data-testid=tag-chip]")].map((chip) => chip.textContent),
    editing: item.dataset.editing === "true",
  }));
}

/** The focused element's test id and the gallery item it is in. */
function focused() {
  return page.evaluate(() => ({
    testid: document.activeElement?.dataset?.testid ?? document.activeElement?.id ?? null,
    id: document.activeElement?.closest("[data-testid=gallery-item]")?.dataset.id ?? null,
  }));
}

/** The text of the live region. */
async function announced() {
  return (await page.locator("#announcer").textContent()).trim();
}

/** How many requests with this method the page made so far. */
function sent(method) {
  return requests.filter((r) => r.startsWith(`${method} `)).length;
}

/** Waits for the page's answer of `GET /api/images` whose query has every one of `params`. */
function listingAnswer(params) {
  return page.waitForResponse((response) => {
    const url = new URL(response.url());
    return (
      response.request().method() === "GET" &&
      url.pathname === "/api/images" &&
      Object.entries(params).every(([name, value]) =>
        value === true ? url.searchParams.has(name) : url.searchParams.get(name) === value,
      )
    );
  });
}

/** Ids of the gallery's items, in display order. */
function galleryIds() {
  return page.$$eval("[data-testid=gallery-item]", (items) => items.map((item) => item.dataset.id));
}

/** Newest first: UUIDv7 text sorts by creation time. */
function newestFirst(ids) {
  return [...ids].sort().reverse();
}

// ---- in-page helpers (run inside the page, through page.evaluate) ----------------------------

/** Keeps every change of a row's data-state / data-progress in window.__rowLog. */
function recordRowChanges() {
  const entries = [];
  window.__rowLog = entries;
  new MutationObserver((records) => {
    for (const record of records) {
      const element = record.target;
      if (!(element instanceof HTMLElement) || element.dataset.testid !== "upload-row") continue;
      const progress = element.querySelector("[data-testid=upload-progress]");
      entries.push({
        file: element.dataset.file,
        state: element.dataset.state,
        progress: element.dataset.progress ?? null,
        progressShown: !progress.hidden && progress.getClientRects().length > 0,
      });
    }
  }).observe(document.getElementById("uploads"), {
    subtree: true,
    attributes: true,
    attributeFilter: ["data-state", "data-progress"],
  });
}

/**
 * Derives photos from a fixture with a canvas: `window.__photo` (the decoded fixture) and files
 * returned as base64. Each spec: {name, type, crop: [x, y, w, h], size: [w, h]}.
 */
async function derivePhotos({ base64, specs }) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const photo = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
  const out = {};
  for (const { name, type, crop, size } of specs) {
    const canvas = new OffscreenCanvas(size[0], size[1]);
    canvas.getContext("2d").drawImage(photo, ...crop, 0, 0, ...size);
    const blob = await canvas.convertToBlob({ type, quality: 0.9 });
    const data = new Uint8Array(await blob.arrayBuffer());
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
    out[name] = btoa(binary);
  }
  return out;
}

/**
 * The size of the file an <img> shows, in pixels. (An <img> with a `w` srcset reports a
 * density-corrected natural size: the file's size scaled to the `sizes` slot.)
 */
async function shownFile(img) {
  const file = new Image();
  file.src = img.currentSrc;
  await file.decode();
  return {
    url: img.currentSrc,
    natural: [img.naturalWidth, img.naturalHeight],
    pixels: [file.naturalWidth, file.naturalHeight],
  };
}

/** Drops one file on the drop zone the way a browser does: dragenter, dragover, drop. */
function dropFile({ base64, name, type }) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const zone = document.getElementById("drop-zone");
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const fire = (kind) => {
    const event = new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true });
    zone.dispatchEvent(event);
    return event.defaultPrevented;
  };
  const entered = fire("dragenter");
  const highlighted = zone.classList.contains("is-dragover");
  const over = fire("dragover");
  const dropped = fire("drop");
  return { entered, highlighted, over, dropped, highlightedAfter: zone.classList.contains("is-dragover") };
}

/** Chooses a Blob one byte over the limit through the file input (no 25 MiB file on disk). */
async function chooseOverLimitFile({ name }) {
  const config = await (await fetch("/api/config")).json();
  const input = document.getElementById("file-input");
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(config.maxUploadBytes + 1)], name, { type: "image/jpeg" }));
  input.files = transfer.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
  return config.maxUploadBytes;
}

/**
 * Compares the 256 px JPEG thumbnails of two images (their `GET /api/images/{id}` answers) on a small canvas: mean absolute difference
 * per channel (0–255) as they are, with the second turned half a turn, and mirrored.
 */
async function compareThumbnails({ expected: expectedImage, actual: actualImage }) {
  const thumbnail = async (image) => {
    const small = image.thumbnails
      .filter((t) => t.format === "jpeg")
      .sort((a, b) => Math.max(a.width, a.height) - Math.max(b.width, b.height))[0];
    return createImageBitmap(await (await fetch(small.url)).blob());
  };
  const [expected, actual] = await Promise.all([thumbnail(expectedImage), thumbnail(actualImage)]);
  const [w, h] = [48, 32];
  const pixels = (bitmap, transform = () => {}) => {
    const context = new OffscreenCanvas(w, h).getContext("2d");
    transform(context);
    context.drawImage(bitmap, 0, 0, w, h);
    return context.getImageData(0, 0, w, h).data;
  };
  const difference = (a, b) => {
    let sum = 0;
    for (let i = 0; i < a.length; i += 4) {
      sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
    }
    return sum / ((a.length / 4) * 3);
  };
  const reference = pixels(expected);
  return {
    expectedSize: [expected.width, expected.height],
    actualSize: [actual.width, actual.height],
    same: difference(reference, pixels(actual)),
    halfTurn: difference(
      reference,
      pixels(actual, (c) => {
        c.translate(w, h);
        c.rotate(Math.PI);
      }),
    ),
    mirrored: difference(
      reference,
      pixels(actual, (c) => {
        c.translate(w, 0);
        c.scale(-1, 1);
      }),
    ),
  };
}

// ---- the run --------------------------------------------------------------------------------

async function main() {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps calling Google's hosts.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: WAIT_MS,
  });
  log(`Chromium ${browser.version()} (${CHROMIUM}) against ${BASE_URL}`);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    context.setDefaultTimeout(WAIT_MS);
    page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") {
        const { url, lineNumber } = message.location();
        problems.push(`console error: ${message.text()}${url ? ` (${url}:${lineNumber})` : ""}`);
      } else if (message.type() === "warning") {
        log(`console warning: ${message.text()}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.stack ?? error.message}`));
    page.on("request", (request) => requests.push(`${request.method()} ${request.url()}`));
    page.on("requestfailed", (request) =>
      problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
    );
    page.on("response", (response) => {
      if (response.status() >= 400) {
        problems.push(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
      }
    });
    await run(context);
  } catch (error) {
    if (page) {
      await page
        .screenshot({ path: path.join(OUT, "failure.png"), fullPage: true })
        .then(() => log(`screenshot ${path.relative(ROOT, path.join(OUT, "failure.png"))}`))
        .catch(() => {});
      const rows = await page
        .$$eval("[data-testid=upload-row]", (list) =>
          list.map((r) => `${r.dataset.file}: ${r.dataset.state} — ${r.querySelector("[data-testid=upload-status]").textContent}`),
        )
        .catch(() => []);
      for (const line of rows) log(`row ${line}`);
    }
    for (const problem of problems) log(`problem: ${problem}`);
    throw error;
  } finally {
    await browser.close();
  }
}

async function run(context) {
  const orient1 = await readFile(path.join(PHOTOS, "orient_1.jpg"));
  const derived = {};
  /** file name → image id. */
  const ids = {};

  await step("signed out, the page offers only signing in", async () => {
    await page.goto(BASE_URL, { waitUntil: "load" });
    await page.waitForSelector("html[data-session=signed-out]", { state: "attached" });
    assert.equal(await page.locator("[data-testid=signed-out]").isVisible(), true);
    assert.equal(await page.locator("[data-testid=workspace]").isVisible(), false);
    assert.equal(await page.locator("[data-testid=account]").isVisible(), false);
    await screenshot("00-signed-out");
  });

  await step("a newcomer creates an account on the sign-in pages and comes back signed in", async () => {
    await signUp(FIRST_USER, PASSWORD);
    assert.equal(new URL(page.url()).search, "", "the code and state are gone from the address bar");
    assert.equal(await page.locator("[data-testid=account-email]").innerText(), FIRST_USER);
  });

  await step("the page loads its limits and an empty gallery", async () => {
    await page.waitForSelector("html[data-config=ready]", { state: "attached" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.equal(await page.locator("#file-input").isEnabled(), true);
    const { maxUploadBytes } = await page.evaluate(async () => (await fetch("/api/config")).json());
    const limits = await page.locator("#limits").innerText();
    assert.ok(limits.includes(`up to ${humanBytes(maxUploadBytes)} each`), limits);
    // The quotas, before anything is uploaded.
    await page.waitForSelector("#quota:not([hidden])", { state: "visible" });
    assert.match(await page.locator("#quota").innerText(), /^Today: 0 of [\d,]+ uploads \(0 bytes of [\d.]+ GiB\)\. Kept: 0 of [\d,]+ photos \(0 bytes of [\d.]+ GiB\)\.$/);
    assert.equal(await page.locator("#gallery-empty").isVisible(), true, "the empty gallery says so");
    await page.evaluate(recordRowChanges);
    await screenshot("01-empty");
  });

  await step("a third photo and a PNG are derived from a fixture", async () => {
    Object.assign(
      derived,
      await page.evaluate(derivePhotos, {
        base64: orient1.toString("base64"),
        specs: [
          // A portrait crop of the photo, re-encoded as JPEG (EXIF-free).
          { name: "portrait.jpg", type: "image/jpeg", crop: [500, 0, 800, 1200], size: [800, 1200] },
          // The whole photo at half size as PNG, for the drop.
          { name: "dropped.png", type: "image/png", crop: [0, 0, 1800, 1200], size: [900, 600] },
        ],
      }),
    );
    log(`portrait.jpg ${Buffer.from(derived["portrait.jpg"], "base64").length} bytes, dropped.png ${Buffer.from(derived["dropped.png"], "base64").length} bytes`);
  });

  const picked = ["orient_1.jpg", "orient_6.jpg", "portrait.jpg"];
  await step("three photos chosen through the file input show progress, then become ready", async () => {
    // Throttle the upload so that the progress bars can be seen moving (loopback is instant).
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: THROTTLED_UPLOAD,
    });
    const jpeg = (name, buffer) => ({ name, mimeType: "image/jpeg", buffer });
    await page.locator("#file-input").setInputFiles([
      jpeg("orient_1.jpg", orient1),
      jpeg("orient_6.jpg", await readFile(path.join(PHOTOS, "orient_6.jpg"))),
      jpeg("portrait.jpg", Buffer.from(derived["portrait.jpg"], "base64")),
    ]);
    assert.deepEqual(
      await page.$$eval("[data-testid=upload-row]", (rows) => rows.map((r) => r.dataset.file)),
      picked,
      "one row per file, in the order chosen",
    );
    // A screenshot while the bars move (or go on at once if every row is already done).
    const midway = await page.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll("[data-testid=upload-row]")];
        if (rows.some((r) => r.dataset.state === "uploading" && Number(r.dataset.progress) > 0 && Number(r.dataset.progress) < 100))
          return "midway";
        return rows.every((r) => ["ready", "rejected", "refused", "error", "slow"].includes(r.dataset.state)) && "done";
      },
      null,
      { timeout: WAIT_MS, polling: 20 },
    );
    if ((await midway.jsonValue()) === "midway") await screenshot("02-uploading", { decode: false });

    const rows = await settledRows(picked);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await cdp.detach();
    for (const file of picked) {
      const { state, id, status, progress } = rows[file];
      assert.equal(state, "ready", `${file}: ${status}`);
      assert.equal(progress, 100, `${file}: the progress bar ends full`);
      assert.equal(rows[file].dataProgress, "100", `${file}: the last progress sent is 100 %`);
      ids[file] = id;
    }
    const changes = await page.evaluate(() => window.__rowLog);
    for (const file of picked) {
      const mine = changes.filter((c) => c.file === file);
      // States as seen by a MutationObserver (two changes in one task show as the later one).
      const states = mine.map((c) => c.state).filter((state, i, all) => state !== all[i - 1]);
      assert.deepEqual(states.slice(-3), ["uploading", "processing", "ready"], `${file}: states ${states}`);
      const percents = mine.filter((c) => c.state === "uploading" && c.progress !== null).map((c) => Number(c.progress));
      assert.ok(percents.length > 0, `${file}: progress was reported`);
      assert.ok(
        mine.filter((c) => c.state === "uploading").every((c) => c.progressShown),
        `${file}: the progress bar is visible while uploading`,
      );
      assert.deepEqual(percents, [...percents].sort((a, b) => a - b), `${file}: progress only grows`);
      log(`${file}: progress ${percents.join(" → ")} %`);
    }
    const seenMidway = changes.some((c) => c.state === "uploading" && Number(c.progress) > 0 && Number(c.progress) < 100);
    assert.ok(seenMidway, "progress between 0 and 100 % was shown");
  });

  await step("their thumbnails appear in the gallery, newest first", async () => {
    for (const file of picked) {
      await page.waitForSelector(`${card(ids[file])}[data-status=ready]`, { state: "attached" });
    }
    await decodeGalleryImages();
    assert.deepEqual(await galleryIds(), newestFirst(Object.values(ids)));
  });

  await step("the EXIF-rotated photo's thumbnail is upright", async () => {
    const shown = (id) => page.$eval(`${card(id)} [data-testid=gallery-image]`, shownFile);
    const rotated = await shown(ids["orient_6.jpg"]);
    const plain = await shown(ids["orient_1.jpg"]);
    const portrait = await shown(ids["portrait.jpg"]);
    for (const [name, image] of Object.entries({ orient_6: rotated, orient_1: plain, portrait })) {
      log(`${name}: ${image.url} is ${image.pixels.join("×")}, natural size ${image.natural.join("×")}`);
    }
    // orient_6.jpg is stored 1200×1800 and displays 1800×1200: its thumbnails are landscape, 3:2.
    for (const [width, height] of [rotated.natural, rotated.pixels]) {
      assert.ok(width > height, "orient_6's thumbnail is landscape");
      assert.ok(Math.abs(width / height - 1.5) < 0.01, "orient_6's thumbnail is 3:2");
    }
    assert.deepEqual(rotated.pixels, plain.pixels, "orient_6's thumbnail has orient_1's size");
    assert.deepEqual(rotated.natural, plain.natural);
    assert.ok(portrait.pixels[1] > portrait.pixels[0], "the portrait crop stays portrait");
    assert.ok(portrait.natural[1] > portrait.natural[0], "the portrait crop stays portrait");

    const pixels = await page.evaluate(compareThumbnails, {
      expected: await apiAsUser(`/api/images/${ids["orient_1.jpg"]}`),
      actual: await apiAsUser(`/api/images/${ids["orient_6.jpg"]}`),
    });
    log(`256 px thumbnails, mean difference per channel: ${JSON.stringify(pixels)}`);
    assert.deepEqual(pixels.actualSize, pixels.expectedSize);
    assert.ok(pixels.same < 8, `orient_6's thumbnail looks like orient_1's (difference ${pixels.same})`);
    assert.ok(pixels.halfTurn > 4 * pixels.same && pixels.halfTurn > 20, "…and not like it turned half a turn");
    assert.ok(pixels.mirrored > 4 * pixels.same && pixels.mirrored > 20, "…and not like it mirrored");
  });

  await step("a photo dropped on the drop zone is uploaded too", async () => {
    const drop = await page.evaluate(dropFile, {
      base64: derived["dropped.png"],
      name: "dropped.png",
      type: "image/png",
    });
    assert.deepEqual(
      drop,
      { entered: true, highlighted: true, over: true, dropped: true, highlightedAfter: false },
      "the drop zone takes the drag (highlighted while over it) and the drop",
    );
    const { "dropped.png": dropped } = await settledRows(["dropped.png"]);
    assert.equal(dropped.state, "ready", dropped.status);
    assert.equal(dropped.progress, 100);
    ids["dropped.png"] = dropped.id;
    await page.waitForSelector(`${card(dropped.id)}[data-status=ready]`, { state: "attached" });
    await decodeGalleryImages();
    assert.equal((await galleryIds())[0], dropped.id, "the newest upload comes first");
  });

  await step("a text file renamed .jpg is rejected with the reason in plain words", async () => {
    await page.locator("#file-input").setInputFiles({
      name: "notes.jpg",
      mimeType: "image/jpeg",
      buffer: Buffer.from("just some text, not a picture\n"),
    });
    const { "notes.jpg": notes } = await settledRows(["notes.jpg"]);
    assert.equal(notes.state, "rejected", notes.status);
    assert.ok(notes.status.includes(reasonText("not_an_image")), notes.status);
    ids["notes.jpg"] = notes.id;
    const item = page.locator(`${card(notes.id)}[data-status=rejected]`);
    await item.waitFor({ state: "attached" });
    assert.equal(await item.locator("[data-testid=gallery-reason]").innerText(), reasonText("not_an_image"));
  });

  await step("an over-limit file is refused before upload, naming the limit", async () => {
    const presignsBefore = requests.filter((r) => r.startsWith("POST ")).length;
    const requestsBefore = requests.length;
    const limit = await page.evaluate(chooseOverLimitFile, { name: "huge.jpg" });
    const { "huge.jpg": huge } = await settledRows(["huge.jpg"]);
    assert.equal(huge.state, "refused", huge.status);
    assert.ok(huge.status.includes(humanBytes(limit)), `the message names the limit: ${huge.status}`);
    assert.match(huge.status, /over the \d+(\.\d)? [KMG]iB limit/, huge.status);
    assert.equal(huge.progress, null, "no progress bar for a refused file");
    assert.equal(huge.id, null, "no upload was asked for");
    await page.waitForTimeout(500);
    const after = requests.slice(requestsBefore);
    assert.equal(requests.filter((r) => r.startsWith("POST ")).length, presignsBefore, `nothing was sent: ${after}`);
    assert.ok(after.every((r) => r === `GET ${BASE_URL}/api/config`), `only the test's own config read: ${after}`);
    log(`refused: ${huge.status}`);
    await screenshot("03-uploaded");
  });

  await step("a thumbnail opens the largest rendition in the viewer", async () => {
    await page.locator(`${card(ids["orient_6.jpg"])} [data-testid=gallery-open]`).click();
    const viewer = page.locator("#viewer[open]");
    await viewer.waitFor({ state: "visible" });
    const image = viewer.locator("[data-testid=viewer-image]");
    await image.evaluate((img) => img.decode());
    const { pixels } = await image.evaluate(shownFile);
    assert.deepEqual(pixels, [1024, 683], "the 1024 px rendition, upright");
    await screenshot("04-viewer", { fullPage: false });
    await page.keyboard.press("Escape");
    await page.locator("#viewer").waitFor({ state: "hidden" });
  });

  await step("a photo's delete button asks first, naming its file; Escape and Cancel keep it", async () => {
    const target = card(ids["portrait.jpg"]);
    const button = page.locator(`${target} [data-testid=delete]`);
    assert.equal(await button.getAttribute("aria-label"), "Delete portrait.jpg", "the button names the file");
    assert.equal(await button.innerText(), "Delete");
    const deletesBefore = requests.filter((r) => r.startsWith("DELETE ")).length;
    const activeTestid = () =>
      page.evaluate(() => ({
        testid: document.activeElement?.dataset?.testid ?? null,
        id: document.activeElement?.closest("[data-testid=gallery-item]")?.dataset.id ?? null,
        inDialog: document.activeElement?.closest("dialog")?.id ?? null,
      }));
    // Keyboard: Tab from the card's link reaches its "Edit details" button, its "Download"
    // button, then its delete button; Enter opens the dialog.
    await page.locator(`${target} [data-testid=gallery-open]`).focus();
    await page.keyboard.press("Tab");
    assert.deepEqual(await activeTestid(), { testid: "edit", id: ids["portrait.jpg"], inDialog: null }, "Tab reaches Edit");
    await page.keyboard.press("Tab");
    assert.deepEqual(await activeTestid(), { testid: "download", id: ids["portrait.jpg"], inDialog: null }, "Tab reaches Download");
    await page.keyboard.press("Tab");
    assert.deepEqual(await activeTestid(), { testid: "delete", id: ids["portrait.jpg"], inDialog: null }, "Tab reaches the button");
    await page.keyboard.press("Enter");
    const dialog = page.locator("#delete-dialog");
    await dialog.waitFor({ state: "visible" });
    assert.equal(await dialog.evaluate((d) => d.open && d.matches(":modal")), true, "a modal dialog");
    assert.equal(await dialog.locator("[data-testid=delete-title]").innerText(), "Delete “portrait.jpg”?");
    assert.match(await dialog.locator("[data-testid=delete-text]").innerText(), /cannot be undone/);
    assert.deepEqual(
      await activeTestid(),
      { testid: "cancel-delete", id: null, inDialog: "delete-dialog" },
      "focus moves into the dialog, on Cancel",
    );
    await screenshot("05-delete-dialog", { fullPage: false });
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.deepEqual(await activeTestid(), { testid: "delete", id: ids["portrait.jpg"], inDialog: null }, "focus is back on the button");
    // The mouse: the button, then Cancel.
    await button.click();
    await dialog.waitFor({ state: "visible" });
    await dialog.locator("[data-testid=cancel-delete]").click();
    await dialog.waitFor({ state: "hidden" });
    await page.waitForTimeout(300);
    assert.equal(await page.locator(target).count(), 1, "the card stays");
    assert.equal(await button.isEnabled(), true);
    assert.equal(requests.filter((r) => r.startsWith("DELETE ")).length, deletesBefore, "nothing was deleted");
    assert.deepEqual(await galleryIds(), newestFirst(Object.values(ids)));
  });

  await step("while a thumbnail loads, its card shows the photo's colour and blurred sketch", async () => {
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    await page.route("**/thumbs/**", async (route) => {
      await gate;
      // The page may have dropped the request meanwhile (a card re-rendered): nothing to do then.
      await route.continue().catch(() => {});
    });
    await page.reload({ waitUntil: "domcontentloaded" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    const id = ids["orient_1.jpg"];
    const { placeholder } = await apiAsUser(`/api/images/${id}`);
    assert.match(placeholder.color, /^#[0-9a-f]{6}$/);
    const sketch = page.locator(`${card(id)} [data-testid=gallery-placeholder]`);
    await sketch.waitFor({ state: "attached", timeout: WAIT_MS });
    const painted = await sketch.evaluate((canvas) => {
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      return data.some((value, i) => i % 4 !== 3 && value !== 0);
    });
    assert.ok(painted, "the BlurHash is painted");
    const background = await page.locator(`${card(id)} [data-testid=gallery-open]`).evaluate((el) => el.style.backgroundColor);
    const [r, g, b] = [1, 3, 5].map((at) => parseInt(placeholder.color.slice(at, at + 2), 16));
    assert.equal(background, `rgb(${r}, ${g}, ${b})`);
    release();
    await page.unroute("**/thumbs/**");
    await decodeGalleryImages();
    assert.equal(await sketch.count(), 0, "the sketch goes once the thumbnail is in");
  });

  await step("after a reload the gallery lists the uploads newest first", async () => {
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    const shown = await galleryIds();
    const uploadOrder = [...picked, "dropped.png", "notes.jpg"];
    // The three chosen together were sent in parallel; each later one was started after them.
    assert.deepEqual(shown.slice(0, 2), [ids["notes.jpg"], ids["dropped.png"]]);
    assert.deepEqual(new Set(shown.slice(2)), new Set(picked.map((f) => ids[f])));
    assert.deepEqual(shown, newestFirst(uploadOrder.map((f) => ids[f])), "newest first");
    const statuses = await page.$$eval("[data-testid=gallery-item]", (items) => items.map((i) => i.dataset.status));
    assert.deepEqual(statuses, ["rejected", "ready", "ready", "ready", "ready"]);
    // Every upload started today counts against the daily quota, the rejected one too; the
    // page says what the server counted.
    await page.waitForSelector("#quota:not([hidden])", { state: "visible" });
    const quota = await page.locator("#quota").innerText();
    assert.ok(quota.startsWith(`Today: ${uploadOrder.length} of `), quota);
    assert.equal((await apiAsUser("/api/account")).uploadsToday, uploadOrder.length);
    assert.equal(
      await page.locator(`${card(ids["notes.jpg"])} [data-testid=gallery-reason]`).innerText(),
      reasonText("not_an_image"),
    );
    const api = (await apiAsUser("/api/images")).items.map((i) => i.id);
    assert.deepEqual(shown, api, "the same order as the API's listing");
    assert.equal(await page.locator("[data-testid=account-email]").innerText(), FIRST_USER, "still signed in");
    await screenshot("06-reloaded");
  });

  // ---- a photo's details, and filtering by tag ----------------------------------------------

  const described = ids["orient_6.jpg"];
  const alsoTagged = ids["dropped.png"];
  const TITLE = "Sunset at the pier";
  const DESCRIPTION = "Warm evening light.\nThe wind had dropped.";
  await step("a photo's title, description and two tags are edited in its card, and shown on it", async () => {
    const target = card(described);
    const edit = page.locator(`${target} [data-testid=edit]`);
    assert.equal(await edit.getAttribute("aria-label"), "Edit details of orient_6.jpg", "the button names the photo");
    assert.equal(await edit.innerText(), "Edit details");
    assert.deepEqual(await cardDetails(described), { title: "orient_6.jpg", description: null, tags: [], editing: false });
    // The keyboard: Tab from the photo's link reaches "Edit details"; Enter opens the form.
    await page.locator(`${target} [data-testid=gallery-open]`).focus();
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(), { testid: "edit", id: described });
    await page.keyboard.press("Enter");
    const form = page.locator(`${target} [data-testid=edit-form]`);
    await form.waitFor({ state: "visible" });
    assert.deepEqual(await focused(), { testid: "edit-title", id: described }, "focus moves to the title field");
    for (const [testid, label] of [["edit-title", "Title"], ["edit-description", "Description"], ["edit-tags", "Tags"]]) {
      const labels = await form.locator(`[data-testid=${testid}]`).evaluate((c) => [...c.labels].map((l) => l.textContent));
      assert.deepEqual(labels, [label], `${testid} has its label`);
    }
    await page.keyboard.type(TITLE);
    await form.locator("[data-testid=edit-description]").fill(DESCRIPTION);
    await form.locator("[data-testid=edit-tags]").fill("  Sunset , New  York");
    assert.equal(await form.locator("[data-testid=edit-tags-preview]").innerText(), "Saved as #new-york #sunset.");
    await screenshot("06a-editing", { fullPage: false });
    const patch = page.waitForRequest((r) => r.method() === "PATCH");
    const answer = page.waitForResponse((r) => r.request().method() === "PATCH");
    await form.locator("[data-testid=save-edit]").click();
    const request = await patch;
    assert.equal(request.url(), `${BASE_URL}/api/images/${described}`);
    assert.deepEqual(
      request.postDataJSON(),
      { title: TITLE, description: DESCRIPTION, tags: ["new-york", "sunset"] },
      "the tags are sent normalised and sorted",
    );
    assert.equal((await answer).status(), 200, "PATCH answers 200");
    await form.waitFor({ state: "detached" });
    assert.deepEqual(await cardDetails(described), {
      title: TITLE,
      description: DESCRIPTION,
      tags: ["#new-york", "#sunset"],
      editing: false,
    });
    assert.match(await page.locator(`${target} .card__meta`).innerText(), /^orient_6\.jpg · /, "the file name stays in view");
    assert.equal(await announced(), `Saved the details of “${TITLE}”.`, "announced");
    assert.deepEqual(await focused(), { testid: "edit", id: described }, "focus is back on the card's Edit button");
    assert.equal(await page.locator(`${target} [data-testid=edit]`).getAttribute("aria-label"), `Edit details of ${TITLE}`);
    const api = await apiAsUser(`/api/images/${described}`);
    assert.deepEqual([api.title, api.description, api.tags], [TITLE, DESCRIPTION, ["new-york", "sunset"]]);
    await screenshot("06b-described");
  });

  await step("Escape and Cancel close the form and put the card back as it was, sending nothing", async () => {
    const target = card(described);
    const patches = sent("PATCH");
    await page.locator(`${target} [data-testid=edit]`).click();
    const form = page.locator(`${target} [data-testid=edit-form]`);
    await form.waitFor({ state: "visible" });
    assert.equal(await form.locator("[data-testid=edit-title]").inputValue(), TITLE, "the form starts from the photo's details");
    assert.equal(await form.locator("[data-testid=edit-description]").inputValue(), DESCRIPTION);
    assert.equal(await form.locator("[data-testid=edit-tags]").inputValue(), "new-york, sunset");
    await form.locator("[data-testid=edit-title]").fill("Something else");
    await page.keyboard.press("Escape");
    await form.waitFor({ state: "detached" });
    assert.equal((await cardDetails(described)).title, TITLE, "Escape restores");
    assert.deepEqual(await focused(), { testid: "edit", id: described });
    await page.locator(`${target} [data-testid=edit]`).click();
    await form.waitFor({ state: "visible" });
    await form.locator("[data-testid=edit-tags]").fill("other");
    await form.locator("[data-testid=cancel-edit]").click();
    await form.waitFor({ state: "detached" });
    assert.deepEqual((await cardDetails(described)).tags, ["#new-york", "#sunset"], "Cancel restores");
    assert.deepEqual(await focused(), { testid: "edit", id: described });
    await page.waitForTimeout(300);
    assert.equal(sent("PATCH"), patches, "nothing was sent");
  });

  await step("after a reload the card still shows the title, description and tags", async () => {
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.deepEqual(await cardDetails(described), {
      title: TITLE,
      description: DESCRIPTION,
      tags: ["#new-york", "#sunset"],
      editing: false,
    });
    assert.deepEqual(await galleryIds(), newestFirst(Object.values(ids)));
  });

  await step("a second photo is tagged with one of the same tags", async () => {
    const target = card(alsoTagged);
    await page.locator(`${target} [data-testid=edit]`).click();
    const form = page.locator(`${target} [data-testid=edit-form]`);
    await form.waitFor({ state: "visible" });
    await form.locator("[data-testid=edit-tags]").fill("#SUNSET");
    const patch = page.waitForRequest((r) => r.method() === "PATCH");
    const answer = page.waitForResponse((r) => r.request().method() === "PATCH");
    await form.locator("[data-testid=edit-tags]").press("Enter");
    assert.deepEqual((await patch).postDataJSON(), { tags: ["sunset"] }, "only what changed is sent");
    assert.equal((await answer).status(), 200);
    await form.waitFor({ state: "detached" });
    assert.deepEqual(await cardDetails(alsoTagged), { title: "dropped.png", description: null, tags: ["#sunset"], editing: false });
    assert.equal(await announced(), "Saved the details of “dropped.png”.");
  });

  await step("an invalid tag and a too-long title are shown next to their fields, and nothing is sent", async () => {
    const { details } = await page.evaluate(async () => (await fetch("/api/config")).json());
    const target = card(alsoTagged);
    const patches = sent("PATCH");
    await page.locator(`${target} [data-testid=edit]`).click();
    const form = page.locator(`${target} [data-testid=edit-form]`);
    await form.waitFor({ state: "visible" });
    const title = form.locator("[data-testid=edit-title]");
    const tags = form.locator("[data-testid=edit-tags]");
    await title.fill("x".repeat(details.titleMaxChars + 1));
    await tags.fill("sunset, a#b");
    await form.locator("[data-testid=save-edit]").click();
    const tagsError = form.locator("[data-testid=edit-tags-error]");
    await tagsError.waitFor({ state: "visible" });
    assert.equal(await tagsError.innerText(), "The tag “a#b” holds “#”: tags are letters, digits, “-” and “_”.");
    assert.equal(await tags.getAttribute("aria-invalid"), "true");
    const titleError = form.locator("[data-testid=edit-title-error]");
    assert.equal(
      await titleError.innerText(),
      `The title is ${details.titleMaxChars + 1} characters long; at most ${details.titleMaxChars} are allowed.`,
    );
    // The problems are part of their fields' descriptions, and focus is on the first field with one.
    const descriptions = await title.evaluate((input) =>
      input.getAttribute("aria-describedby").split(" ").map((id) => document.getElementById(id)?.textContent),
    );
    assert.ok(descriptions.some((text) => text?.includes("characters long")), JSON.stringify(descriptions));
    assert.deepEqual(await focused(), { testid: "edit-title", id: alsoTagged });
    assert.match(await announced(), /^Not saved: 2 problems need fixing\. /);
    await screenshot("06c-invalid-tag", { fullPage: false });
    // Fixing a field takes its problem away as it is typed.
    await title.fill("");
    await titleError.waitFor({ state: "hidden" });
    assert.equal(await title.getAttribute("aria-invalid"), null);
    assert.equal(await tagsError.isVisible(), true, "the tag's problem stays until it is fixed");
    await page.waitForTimeout(300);
    assert.equal(sent("PATCH"), patches, "nothing was sent");
    await page.keyboard.press("Escape");
    await form.waitFor({ state: "detached" });
    assert.deepEqual((await cardDetails(alsoTagged)).tags, ["#sunset"]);
  });

  const tagged = newestFirst([described, alsoTagged]);
  await step("a tag chip shows only the photos with that tag, page by page, and says so", async () => {
    // One photo per page while filtered, to see the paging go on within the filter.
    const onePerPage = (url) => url.pathname === "/api/images" && url.searchParams.has("tag");
    await page.route(onePerPage, (route) => {
      const url = new URL(route.request().url());
      url.searchParams.set("limit", "1");
      route.continue({ url: url.toString() });
    });
    try {
      const first = listingAnswer({ tag: "sunset" });
      await page.locator(`${card(described)} [data-testid=tag-chip][data-tag=sunset]`).click();
      assert.equal((await first).status(), 200);
      await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
      assert.equal(new URL(page.url()).search, "?tag=sunset", "the address says the filter");
      const bar = page.locator("[data-testid=tag-filter]");
      assert.equal(await bar.isVisible(), true);
      assert.equal(await page.locator("[data-testid=tag-filter-text]").innerText(), "Showing photos tagged #sunset");
      assert.equal(await page.locator("[data-testid=clear-filter]").innerText(), "Show all");
      assert.deepEqual(await galleryIds(), tagged.slice(0, 1), "the first page of the tagged photos");
      assert.deepEqual(await focused(), { testid: "gallery-heading", id: null }, "focus on the gallery's heading");
      assert.equal(await page.locator("#gallery-heading").innerText(), "Your photos tagged #sunset");
      assert.equal(await announced(), "Showing 1 photo (more to load) tagged #sunset.");
      const more = page.locator("[data-testid=load-more]");
      assert.equal(await more.isVisible(), true);
      const second = listingAnswer({ tag: "sunset", cursor: true });
      await more.click();
      assert.equal((await second).status(), 200);
      await page.waitForFunction((count) => document.querySelectorAll("[data-testid=gallery-item]").length === count, 2);
      await more.waitFor({ state: "hidden" });
      assert.deepEqual(await galleryIds(), tagged, "only the tagged photos, newest first");
    } finally {
      await page.unroute(onePerPage);
    }
    const current = await page.$$eval("[data-testid=tag-chip][data-tag=sunset]", (chips) =>
      chips.map((chip) => chip.getAttribute("aria-current")),
    );
    assert.deepEqual(current, ["true", "true"], "the chips of the filter's tag say they are the current one");
    assert.deepEqual((await apiAsUser("/api/images?tag=sunset")).items.map((i) => i.id), tagged, "as the API lists them");
    await screenshot("06d-filtered");
  });

  await step("another tag's chip narrows the list to it, and Back returns to the previous filter", async () => {
    const answer = listingAnswer({ tag: "new-york" });
    await page.locator(`${card(described)} [data-testid=tag-chip][data-tag=new-york]`).click();
    assert.equal((await answer).status(), 200);
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, "?tag=new-york");
    assert.deepEqual(await galleryIds(), [described]);
    assert.equal(await page.locator("[data-testid=tag-filter-text]").innerText(), "Showing photos tagged #new-york");
    await page.evaluate(() => history.back());
    await page.waitForSelector("html[data-filter=sunset] #gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, "?tag=sunset");
    assert.deepEqual(await galleryIds(), tagged);
  });

  await step("a reload with ?tag= in the address keeps the filter", async () => {
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, "?tag=sunset");
    assert.equal(await page.locator("[data-testid=tag-filter]").isVisible(), true);
    assert.equal(await page.locator("[data-testid=tag-filter-text]").innerText(), "Showing photos tagged #sunset");
    assert.deepEqual(await galleryIds(), tagged);
    // An address typed otherwise is read as the server reads tags, and written back normalised.
    const answer = listingAnswer({ tag: "sunset" });
    await page.goto(`${BASE_URL}/?tag=%20SUNSET`, { waitUntil: "load" });
    assert.equal((await answer).status(), 200);
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, "?tag=sunset");
    assert.deepEqual(await galleryIds(), tagged);
  });

  await step("“Show all” lists every photo again", async () => {
    const answer = page.waitForResponse(
      (r) => new URL(r.url()).pathname === "/api/images" && !new URL(r.url()).searchParams.has("tag"),
    );
    await page.locator("[data-testid=clear-filter]").click();
    assert.equal((await answer).status(), 200);
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, "", "the address has no filter");
    assert.equal(await page.locator("[data-testid=tag-filter]").isVisible(), false);
    assert.deepEqual(await galleryIds(), newestFirst(Object.values(ids)));
    assert.equal(await page.locator("#gallery-heading").innerText(), "Your photos");
    assert.deepEqual(await focused(), { testid: "gallery-heading", id: null });
    assert.equal(await announced(), "Showing all photos.");
    await decodeGalleryImages();
  });

  await step("signing out returns to the sign-in screen, and a reload stays signed out", async () => {
    await page.click("[data-testid=sign-out]");
    await page.waitForSelector("html[data-session=signed-out]", { state: "attached", timeout: WAIT_MS });
    assert.equal(new URL(page.url()).origin, new URL(BASE_URL).origin, "back on the page");
    assert.equal(await page.locator("[data-testid=workspace]").isVisible(), false);
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("html[data-session=signed-out]", { state: "attached" });
    await screenshot("07-signed-out-again");
  });

  const firstUsersIds = newestFirst(Object.values(ids));
  /** The second account's photo, as the API listed it. */
  let secondUsersImage = null;
  await step("a second account sees none of the first one's photos, only its own", async () => {
    await signUp(SECOND_USER, PASSWORD);
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.deepEqual(await galleryIds(), [], "nothing of the first account");
    assert.equal(await page.locator("#gallery-empty").isVisible(), true);
    await page.locator("#file-input").setInputFiles(path.join(PHOTOS, "orient_1.jpg"));
    const rows = await settledRows(["orient_1.jpg"]);
    assert.equal(rows["orient_1.jpg"].state, "ready", JSON.stringify(rows));
    const own = rows["orient_1.jpg"].id;
    await page.locator(`${card(own)}[data-status=ready]`).waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await galleryIds(), [own]);
    const listed = (await apiAsUser("/api/images")).items;
    assert.deepEqual(listed.map((i) => i.id), [own], "the API lists only it");
    secondUsersImage = listed[0];
    // Asked from here rather than from the page, whose failed requests would count as problems.
    const token = await userToken();
    for (const id of firstUsersIds) {
      const other = await fetch(`${BASE_URL}/api/images/${id}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(other.status, 404, `the first account's ${id} is not found`);
      assert.equal((await other.json()).error.code, "image_not_found");
    }
    await screenshot("08-second-account");
    await page.click("[data-testid=sign-out]");
    await page.waitForSelector("html[data-session=signed-out]", { state: "attached", timeout: WAIT_MS });
  });

  await step("the first account signs in again and finds exactly its own photos", async () => {
    await signIn(FIRST_USER, PASSWORD);
    assert.deepEqual(await galleryIds(), firstUsersIds);
  });

  const doomed = ids["portrait.jpg"];
  const kept = firstUsersIds.filter((id) => id !== doomed);
  /** The deleted photo's thumbnail URLs, as its card referenced them. */
  let doomedUrls = [];
  /** The thumbnail URLs of the photos that stay (the first account's and the second's). */
  let keptUrls = [];
  await step("the first account deletes a ready photo through its button and dialog; its card goes", async () => {
    await decodeGalleryImages(); // nothing still loading in the card that goes
    const target = card(doomed);
    doomedUrls = await page.$eval(target, cardImageUrls);
    const api = await apiAsUser(`/api/images/${doomed}`);
    assert.deepEqual(doomedUrls, api.thumbnails.map((t) => t.url).sort(), "the card shows every rendition");
    assert.ok(doomedUrls.length >= 2, `${doomedUrls}`);
    for (const url of doomedUrls) assert.equal(await statusOf(url), 200, `${url} before the delete`);
    for (const id of kept) {
      const image = await apiAsUser(`/api/images/${id}`);
      keptUrls.push(...image.thumbnails.map((t) => t.url));
    }
    keptUrls.push(...secondUsersImage.thumbnails.map((t) => t.url));
    log(`deleting ${doomed}: ${doomedUrls.join(", ")}`);

    // After a sign-in the page still names the photo by its file name: the API gives it.
    const button = page.locator(`${target} [data-testid=delete]`);
    const label = (await button.getAttribute("aria-label")).replace(/^Delete /, "");
    assert.equal(label, "portrait.jpg", "the file name from GET /api/images");
    await page.evaluate(recordDeleteStates);
    await button.click();
    const dialog = page.locator("#delete-dialog");
    await dialog.waitFor({ state: "visible" });
    assert.equal(await dialog.locator("[data-testid=delete-title]").innerText(), "Delete “portrait.jpg”?");
    assert.equal(await dialog.locator("[data-testid=confirm-delete]").innerText(), "Delete");
    const text = await dialog.locator("[data-testid=delete-text]").innerText();
    assert.match(text, /^The photo and its thumbnails are removed for good\. This cannot be undone\.$/, text);
    const answer = page.waitForResponse(
      (response) => response.request().method() === "DELETE" && response.url() === `${BASE_URL}/api/images/${doomed}`,
    );
    await dialog.locator("[data-testid=confirm-delete]").click();
    assert.equal((await answer).status(), 204, "DELETE answers 204");
    await page.locator(target).waitFor({ state: "detached" });
    await dialog.waitFor({ state: "hidden" });
    const states = (await page.evaluate(() => window.__deleteLog)).filter((e) => e.id === doomed);
    assert.ok(
      states.some((e) => e.deleting && e.disabled && e.busy === "true" && e.text === "Deleting…"),
      `the card showed it was being deleted: ${JSON.stringify(states)}`,
    );
    assert.deepEqual(await galleryIds(), kept, "only that card went");
    assert.equal((await page.locator("#announcer").textContent()).trim(), `Deleted “${label}”.`, "announced");
    const focus = await page.evaluate(() => ({
      testid: document.activeElement?.dataset?.testid ?? null,
      id: document.activeElement?.closest("[data-testid=gallery-item]")?.dataset.id ?? null,
    }));
    assert.equal(focus.testid, "delete", `focus moved to a neighbouring card's button: ${JSON.stringify(focus)}`);
    assert.ok(kept.includes(focus.id));
    assert.equal(await page.locator("#gallery-empty").isVisible(), false);
    await screenshot("09-deleted");
  });

  await step("after a reload the deleted photo is still gone, the others are there", async () => {
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.deepEqual(await galleryIds(), kept);
    assert.deepEqual((await apiAsUser("/api/images")).items.map((i) => i.id), kept, "the API lists the others only");
    const answer = await fetch(`${BASE_URL}/api/images/${doomed}`, {
      headers: { authorization: `Bearer ${await userToken()}` },
    });
    assert.equal(answer.status, 404, "GET /api/images/{id} of the deleted photo");
    assert.equal((await answer.json()).error.code, "image_not_found");
    await decodeGalleryImages();
  });

  await step("the deleted photo's thumbnails answer 404 within 20 s", async () => {
    const started = Date.now();
    let statuses = {};
    for (;;) {
      statuses = Object.fromEntries(await Promise.all(doomedUrls.map(async (url) => [url, await statusOf(url)])));
      if (Object.values(statuses).every((status) => status === 404)) break;
      assert.ok(
        Date.now() - started < 20_000,
        `the deleted photo's thumbnails still answer after 20 s: ${JSON.stringify(statuses)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    log(`every thumbnail of ${doomed} answers 404 after ${Date.now() - started} ms`);
  });

  await step("the other photos, the second account's included, are untouched", async () => {
    for (const url of keptUrls) assert.equal(await statusOf(url), 200, `${url} is still there`);
    await page.click("[data-testid=sign-out]");
    await page.waitForSelector("html[data-session=signed-out]", { state: "attached", timeout: WAIT_MS });
    await signIn(SECOND_USER, PASSWORD);
    assert.deepEqual(await galleryIds(), [secondUsersImage.id]);
    await page.locator(`${card(secondUsersImage.id)}[data-status=ready]`).waitFor({ state: "attached" });
    await decodeGalleryImages();
    assert.deepEqual(await apiAsUser(`/api/images/${secondUsersImage.id}`), secondUsersImage, "as it was");
  });

  // ---- albums, downloads, the export, and deleting the account --------------------------------

  const ALBUM_NAME = "Summer trip";
  const RENAMED = "Summer 2026";
  const HARBOUR_TITLE = "Harbour at dawn";
  const harbour = ids["orient_1.jpg"];
  const inAlbum = newestFirst([ids["orient_1.jpg"], described]);
  let albumId = null;
  const albumCard = (id) => `[data-testid=album][data-id="${id}"]`;

  await step("the first account, signed in again, has no album yet; the gallery passes axe", async () => {
    await page.click("[data-testid=sign-out]");
    await page.waitForSelector("html[data-session=signed-out]", { state: "attached", timeout: WAIT_MS });
    await signIn(FIRST_USER, PASSWORD);
    await page.waitForSelector("#album-list[aria-busy=false]", { state: "attached" });
    assert.deepEqual(await galleryIds(), kept);
    assert.deepEqual(await albumNames(), ["All photos"]);
    assert.equal(await page.locator("[data-testid=albums-empty]").isVisible(), true);
    assert.equal(
      await page.locator("[data-testid=all-photos] [data-testid=album-link]").getAttribute("aria-current"),
      "page",
      "“All photos” is the one shown",
    );
    assert.equal(await page.locator("[data-testid=selection-bar]").isVisible(), false, "nothing selected");
    await decodeGalleryImages();
    await checkAccessibility("the signed-in gallery");
    await screenshot("10-albums-empty");
  });

  await step("an album is created from its form, the name checked as the server checks it first", async () => {
    const input = page.locator("[data-testid=album-name-input]");
    assert.deepEqual(await input.evaluate((c) => [...c.labels].map((l) => l.textContent)), ["New album"]);
    // The limits the page checks against: `GET /api/config` `albumLimits`, else the core's (as the page does).
    const config = await page.evaluate(async () => (await fetch("/api/config")).json());
    const albumLimits = { ...ALBUM_LIMITS, ...config.albumLimits };
    if (!config.albumLimits) log("GET /api/config has no albumLimits: the core's defaults apply");
    const posts = sent("POST");
    await input.fill("x".repeat(albumLimits.nameMaxChars + 1));
    await input.press("Enter");
    const error = page.locator("[data-testid=album-name-error]");
    await error.waitFor({ state: "visible" });
    assert.equal(
      await error.innerText(),
      `The name is ${albumLimits.nameMaxChars + 1} characters long; at most ${albumLimits.nameMaxChars} are allowed.`,
    );
    assert.equal(await input.getAttribute("aria-invalid"), "true");
    assert.ok((await input.getAttribute("aria-describedby")).split(" ").includes("album-name-error"));
    assert.deepEqual(await focused(), { testid: "album-name-input", id: null });
    await page.waitForTimeout(300);
    assert.equal(sent("POST"), posts, "nothing was sent");
    await input.fill(`  ${ALBUM_NAME}  `);
    await error.waitFor({ state: "hidden" }); // checked again as it is typed
    const request = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/api/albums");
    const answer = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/albums");
    await page.locator("[data-testid=create-album]").click();
    assert.deepEqual((await request).postDataJSON(), { name: ALBUM_NAME }, "the name is sent trimmed");
    const response = await answer;
    assert.equal(response.status(), 201, "POST /api/albums answers 201");
    const album = await response.json();
    albumId = album.id;
    assert.equal(response.headers().location, `/api/albums/${albumId}`);
    assert.deepEqual([album.name, album.count, album.cover], [ALBUM_NAME, 0, null]);
    await page.locator(albumCard(albumId)).waitFor();
    assert.deepEqual(await albumNames(), ["All photos", ALBUM_NAME]);
    assert.equal(await page.locator(`${albumCard(albumId)} [data-testid=album-count]`).innerText(), "No photos");
    assert.equal(await input.inputValue(), "", "the form is ready for another");
    assert.equal(await announced(), `Created the album “${ALBUM_NAME}”.`);
    assert.equal(await page.locator("[data-testid=albums-empty]").isVisible(), false);
  });

  await step("two photos are selected with the keyboard and added to the album through its dialog", async () => {
    const box = (id) => page.locator(`${card(id)} [data-testid=select-photo]`);
    assert.equal(await box(harbour).getAttribute("aria-label"), "Select orient_1.jpg");
    assert.equal(await box(described).getAttribute("aria-label"), `Select ${TITLE}`);
    assert.equal(await page.locator(`${card(ids["notes.jpg"])} [data-testid=select-photo]`).count(), 0, "not a rejected upload");
    // Shift+Tab from a photo's link reaches its checkbox, Space ticks it.
    for (const id of inAlbum) {
      await page.locator(`${card(id)} [data-testid=gallery-open]`).focus();
      await page.keyboard.press("Shift+Tab");
      assert.deepEqual(await focused(), { testid: "select-photo", id });
      await page.keyboard.press("Space");
      assert.equal(await box(id).isChecked(), true);
      assert.equal(await page.locator(card(id)).getAttribute("data-selected"), "true");
    }
    const bar = page.locator("[data-testid=selection-bar]");
    assert.equal(await bar.isVisible(), true);
    assert.equal(await page.locator("[data-testid=selection-count]").innerText(), "2 photos selected");
    assert.equal(await page.locator("[data-testid=remove-from-album]").isVisible(), false, "only inside an album");
    await page.locator("[data-testid=add-to-album]").focus();
    await page.keyboard.press("Enter");
    const dialog = page.locator("#album-dialog");
    await dialog.waitFor({ state: "visible" });
    assert.equal(await dialog.evaluate((d) => d.open && d.matches(":modal")), true, "a modal dialog");
    assert.equal(await dialog.locator("[data-testid=album-dialog-title]").innerText(), "Add 2 photos to an album");
    assert.deepEqual(await focused(), { testid: "album-select", id: null }, "focus on the album's choice");
    assert.deepEqual(
      await dialog.locator("[data-testid=album-select] option").evaluateAll((options) => options.map((o) => [o.value, o.textContent])),
      [[albumId, `${ALBUM_NAME} (no photos)`]],
    );
    assert.deepEqual(
      await dialog.locator("[data-testid=album-select]").evaluate((c) => [...c.labels].map((l) => l.textContent)),
      ["Album"],
    );
    await checkAccessibility("the add-to-album dialog");
    await screenshot("11a-add-to-album", { fullPage: false });
    const puts = [];
    const listen = (response) => {
      if (response.request().method() === "PUT" && new URL(response.url()).pathname.startsWith("/api/albums/")) puts.push(response);
    };
    page.on("response", listen);
    try {
      await dialog.locator("[data-testid=confirm-add]").click();
      await dialog.waitFor({ state: "hidden" });
      await bar.waitFor({ state: "hidden" });
    } finally {
      page.off("response", listen);
    }
    assert.deepEqual(
      puts.map((r) => [new URL(r.url()).pathname, r.status()]).sort(),
      inAlbum.map((id) => [`/api/albums/${albumId}/photos/${id}`, 204]).sort(),
      "one PUT per photo, each 204",
    );
    assert.equal(await announced(), `Added 2 photos to “${ALBUM_NAME}”.`);
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent === "2 photos",
      `${albumCard(albumId)} [data-testid=album-count]`,
    );
    const api = await apiAsUser(`/api/albums/${albumId}`);
    assert.equal(api.count, 2);
    assert.ok(inAlbum.includes(api.cover?.id), `the cover is one of its photos: ${api.cover?.id}`);
    const cover = await page.locator(`${albumCard(albumId)} [data-testid=album-cover]`).getAttribute("src");
    assert.ok(api.cover.thumbnails.some((t) => t.url === cover), `the list shows the cover: ${cover}`);
    for (const id of inAlbum) {
      assert.deepEqual((await apiAsUser(`/api/images/${id}`)).albums, [albumId], `${id} says it is in the album`);
      assert.equal(await box(id).isChecked(), false, "the selection is cleared");
    }
  });

  await step("the album opens in the gallery: only its photos, ?album= in the address, kept by a reload", async () => {
    const answer = listingAnswer({ album: albumId });
    await page.locator(`${albumCard(albumId)} [data-testid=album-link]`).click();
    assert.equal((await answer).status(), 200);
    await page.waitForSelector(`html[data-album="${albumId}"] #gallery[data-loaded=true]`, { state: "attached" });
    assert.equal(new URL(page.url()).search, `?album=${albumId}`);
    assert.deepEqual(await galleryIds(), inAlbum);
    assert.equal(await page.locator("#gallery-heading").innerText(), `Album “${ALBUM_NAME}”`);
    assert.deepEqual(await focused(), { testid: "gallery-heading", id: null });
    assert.equal(await announced(), `Showing 2 photos of the album “${ALBUM_NAME}”.`);
    assert.equal(await page.locator(`${albumCard(albumId)} [data-testid=album-link]`).getAttribute("aria-current"), "page");
    assert.match(await page.locator("[data-testid=album-bar-text]").innerText(), /^2 photos in this album\./);
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    await page.waitForFunction((name) => document.getElementById("gallery-heading").textContent === `Album “${name}”`, ALBUM_NAME);
    assert.equal(new URL(page.url()).search, `?album=${albumId}`);
    assert.deepEqual(await galleryIds(), inAlbum);
    await decodeGalleryImages();
    await checkAccessibility("an album open");
    await screenshot("11b-album");
  });

  await step("in the album a photo gets a title and a tag; a chip filters the album by tag (?album=&tag=)", async () => {
    const target = card(harbour);
    await page.locator(`${target} [data-testid=edit]`).click();
    const form = page.locator(`${target} [data-testid=edit-form]`);
    await form.waitFor({ state: "visible" });
    await form.locator("[data-testid=edit-title]").fill(HARBOUR_TITLE);
    await form.locator("[data-testid=edit-tags]").fill("Harbour, sunset");
    const answer = page.waitForResponse((r) => r.request().method() === "PATCH");
    await form.locator("[data-testid=save-edit]").click();
    assert.equal((await answer).status(), 200);
    await form.waitFor({ state: "detached" });
    assert.deepEqual(await cardDetails(harbour), { title: HARBOUR_TITLE, description: null, tags: ["#harbour", "#sunset"], editing: false });
    // #sunset: both photos of the album have it; dropped.png has it too but is not in the album.
    const sunset = listingAnswer({ album: albumId, tag: "sunset" });
    await page.locator(`${card(described)} [data-testid=tag-chip][data-tag=sunset]`).click();
    assert.equal((await sunset).status(), 200);
    await page.waitForSelector("html[data-filter=sunset] #gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, `?album=${albumId}&tag=sunset`);
    assert.deepEqual(await galleryIds(), inAlbum, "the album's photos tagged #sunset, not dropped.png");
    assert.ok(!(await galleryIds()).includes(alsoTagged));
    assert.equal(await page.locator("#gallery-heading").innerText(), `Album “${ALBUM_NAME}”: photos tagged #sunset`);
    assert.equal(await announced(), `Showing 2 photos of the album “${ALBUM_NAME}” tagged #sunset.`);
    // #harbour: only the photo just tagged.
    const only = listingAnswer({ album: albumId, tag: "harbour" });
    await page.locator(`${card(harbour)} [data-testid=tag-chip][data-tag=harbour]`).click();
    assert.equal((await only).status(), 200);
    await page.waitForSelector("html[data-filter=harbour] #gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, `?album=${albumId}&tag=harbour`);
    assert.deepEqual(await galleryIds(), [harbour]);
    assert.equal(await page.locator("[data-testid=tag-filter-text]").innerText(), "Showing photos tagged #harbour");
    assert.equal(await page.locator("[data-testid=clear-filter]").innerText(), "Show the whole album");
    assert.equal(await page.locator("[data-testid=album-bar]").isVisible(), true, "still in the album");
    assert.deepEqual(
      (await apiAsUser(`/api/images?album=${albumId}&tag=sunset`)).items.map((i) => i.id),
      inAlbum,
      "as the API lists them",
    );
    await screenshot("11c-album-tagged");
  });

  await step("a reload keeps the album and the tag, and shows the new title; the whole album comes back", async () => {
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("#gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, `?album=${albumId}&tag=harbour`);
    assert.deepEqual(await galleryIds(), [harbour]);
    assert.deepEqual(await cardDetails(harbour), { title: HARBOUR_TITLE, description: null, tags: ["#harbour", "#sunset"], editing: false });
    const answer = listingAnswer({ album: albumId });
    await page.locator("[data-testid=clear-filter]").click();
    assert.equal((await answer).status(), 200);
    await page.waitForSelector("html[data-filter=''] #gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, `?album=${albumId}`);
    assert.deepEqual(await galleryIds(), inAlbum);
  });

  await step("a photo leaves the album through the selection and stays among all photos; the album is renamed", async () => {
    await page.locator(`${card(harbour)} [data-testid=select-photo]`).check();
    const remove = page.locator("[data-testid=remove-from-album]");
    assert.equal(await remove.isVisible(), true);
    const answer = page.waitForResponse((r) => r.request().method() === "DELETE");
    await remove.click();
    const response = await answer;
    assert.equal(new URL(response.url()).pathname, `/api/albums/${albumId}/photos/${harbour}`);
    assert.equal(response.status(), 204);
    await page.locator(card(harbour)).waitFor({ state: "detached" });
    assert.deepEqual(await galleryIds(), [described]);
    assert.equal(await announced(), `Removed 1 photo from “${ALBUM_NAME}”. It is still in your photos.`);
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent === "1 photo",
      `${albumCard(albumId)} [data-testid=album-count]`,
    );
    assert.match(await page.locator("[data-testid=album-bar-text]").innerText(), /^1 photo in this album\./);
    const still = await apiAsUser(`/api/images/${harbour}`);
    assert.deepEqual([still.id, still.albums], [harbour, []], "the photo is still there, in no album");

    const rename = page.locator("[data-testid=rename-album]");
    assert.equal(await rename.getAttribute("aria-label"), `Rename the album ${ALBUM_NAME}`);
    await rename.click();
    const input = page.locator("[data-testid=rename-input]");
    await input.waitFor({ state: "visible" });
    assert.deepEqual(await focused(), { testid: "rename-input", id: null });
    assert.equal(await input.inputValue(), ALBUM_NAME);
    assert.deepEqual(await input.evaluate((c) => [...c.labels].map((l) => l.textContent)), ["Album name"]);
    await input.fill(RENAMED);
    const patch = page.waitForRequest((r) => r.method() === "PATCH");
    const renamed = page.waitForResponse((r) => r.request().method() === "PATCH");
    await input.press("Enter");
    assert.equal(new URL((await patch).url()).pathname, `/api/albums/${albumId}`);
    assert.deepEqual((await patch).postDataJSON(), { name: RENAMED });
    assert.equal((await renamed).status(), 200);
    await input.waitFor({ state: "hidden" });
    assert.equal(await page.locator("#gallery-heading").innerText(), `Album “${RENAMED}”`);
    assert.equal(await page.locator(`${albumCard(albumId)} [data-testid=album-name]`).innerText(), RENAMED);
    assert.equal(await announced(), `Renamed the album to “${RENAMED}”.`);
    assert.deepEqual(await focused(), { testid: "rename-album", id: null });
    assert.equal((await apiAsUser(`/api/albums/${albumId}`)).name, RENAMED);
  });

  await step("another album gets a photo and is deleted through the dialog, which says its photos are kept", async () => {
    const input = page.locator("[data-testid=album-name-input]");
    await input.fill("Scratch");
    const created = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/albums");
    await input.press("Enter");
    const scratch = (await (await created).json()).id;
    await page.locator(albumCard(scratch)).waitFor();
    assert.deepEqual(await albumNames(), ["All photos", "Scratch", RENAMED], "newest first");
    // From all photos, dropped.png goes into it.
    const all = listingAnswer({ limit: "24" });
    await page.locator("[data-testid=all-photos] [data-testid=album-link]").click();
    assert.equal((await all).status(), 200);
    await page.waitForSelector("html[data-album=''] #gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, "");
    await page.locator(`${card(alsoTagged)} [data-testid=select-photo]`).check();
    await page.locator("[data-testid=add-to-album]").click();
    const dialog = page.locator("#album-dialog");
    await dialog.waitFor({ state: "visible" });
    await dialog.locator("[data-testid=album-select]").selectOption(scratch);
    const put = page.waitForResponse((r) => r.request().method() === "PUT");
    await dialog.locator("[data-testid=confirm-add]").click();
    assert.equal((await put).status(), 204);
    await dialog.waitFor({ state: "hidden" });
    await page.waitForFunction(() => !/^Adding /.test(document.getElementById("announcer").textContent.trim()));
    assert.equal(await announced(), "Added 1 photo to “Scratch”.");
    const opened = listingAnswer({ album: scratch });
    await page.locator(`${albumCard(scratch)} [data-testid=album-link]`).click();
    assert.equal((await opened).status(), 200);
    await page.waitForSelector(`html[data-album="${scratch}"] #gallery[data-loaded=true]`, { state: "attached" });
    assert.deepEqual(await galleryIds(), [alsoTagged]);

    await page.locator("[data-testid=delete-album]").click();
    const confirm = page.locator("#delete-dialog");
    await confirm.waitFor({ state: "visible" });
    assert.equal(await confirm.locator("[data-testid=delete-title]").innerText(), "Delete the album “Scratch”?");
    assert.equal(
      await confirm.locator("[data-testid=delete-text]").innerText(),
      "Its 1 photo is kept: it stays in your photos and in any other album. Only the album goes.",
    );
    assert.equal(await confirm.locator("[data-testid=confirm-delete]").innerText(), "Delete album");
    assert.deepEqual(await focused(), { testid: "cancel-delete", id: null }, "focus on Cancel");
    const deleted = page.waitForResponse((r) => r.request().method() === "DELETE");
    await confirm.locator("[data-testid=confirm-delete]").click();
    const response = await deleted;
    assert.equal(new URL(response.url()).pathname, `/api/albums/${scratch}`);
    assert.equal(response.status(), 204);
    await page.waitForSelector("html[data-album=''] #gallery[data-loaded=true]", { state: "attached" });
    assert.equal(new URL(page.url()).search, "", "back to all photos");
    assert.deepEqual(await albumNames(), ["All photos", RENAMED]);
    assert.deepEqual(await galleryIds(), kept, "every photo is still there");
    assert.equal(await announced(), "Deleted the album “Scratch”. Its photos are kept.");
    assert.deepEqual(await focused(), { testid: "gallery-heading", id: null });
    assert.deepEqual((await apiAsUser(`/api/images/${alsoTagged}`)).albums, []);
    assert.equal((await apiAsUser("/api/albums")).items.length, 1);
  });

  await step("a ready photo's original downloads with exactly the bytes that were uploaded", async () => {
    const uploaded = await readFile(path.join(PHOTOS, "orient_6.jpg"));
    const button = page.locator(`${card(described)} [data-testid=download]`);
    assert.equal(await button.getAttribute("aria-label"), `Download the original of ${TITLE}`);
    const redirected = page.waitForRequest((r) => r.redirectedFrom()?.url().includes(`/api/images/${described}/content`));
    const downloading = page.waitForEvent("download");
    await button.click();
    const toStorage = await redirected;
    const first = toStorage.redirectedFrom();
    assert.equal(new URL(first.url()).search, "?size=original");
    assert.equal((await first.response()).status(), 302, "the API answers with a redirect");
    assert.equal((await first.allHeaders()).authorization?.startsWith("Bearer "), true, "the API call carries the token");
    assert.equal((await toStorage.allHeaders()).authorization, undefined, "the token is not sent on to the storage");
    assert.notEqual(new URL(toStorage.url()).origin, new URL(BASE_URL).origin, "a pre-signed URL of the bucket");
    const download = await downloading;
    assert.equal(download.suggestedFilename(), "orient_6.jpg", "saved under the photo's file name");
    const bytes = await readFile(await download.path());
    assert.equal(bytes.length, uploaded.length);
    assert.equal(sha256(bytes), sha256(uploaded), "the same bytes as uploaded");
    await page.waitForFunction(() => document.getElementById("announcer").textContent.startsWith("Downloaded"));
    assert.equal(await announced(), `Downloaded the original of “${TITLE}”.`);
    assert.equal(await button.innerText(), "Download");
    log(`original of ${described}: ${bytes.length} bytes, sha256 ${sha256(bytes)}`);
  });

  /** The first account's sub (from its access token) and its ready photos' thumbnail URLs. */
  const firstUser = { sub: null, thumbnails: [] };
  await step("“Export my data” saves one JSON document listing the photos and the album", async () => {
    const token = await userToken();
    firstUser.sub = JSON.parse(Buffer.from(token.split(".")[1], "base64url")).sub;
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/account/export");
    const downloading = page.waitForEvent("download");
    await page.locator("[data-testid=export-data]").click();
    const response = await answer;
    assert.equal(response.status(), 200);
    assert.match(response.headers()["content-disposition"] ?? "", /attachment; filename="?thumbforge-export\.json"?/);
    const download = await downloading;
    assert.equal(download.suggestedFilename(), "thumbforge-export.json");
    const exported = JSON.parse(await readFile(await download.path(), "utf8"));
    log(`export: ${Object.keys(exported).join(", ")}; ${exported.images.length} images, ${exported.albums.length} albums`);
    assert.ok(typeof exported.exportedAt === "string" && !Number.isNaN(Date.parse(exported.exportedAt)), "exportedAt");
    assert.equal(exported.owner, firstUser.sub, "the owner is the signed-in user");
    assert.equal(typeof exported.profile, "object");
    assert.deepEqual(exported.images.map((i) => i.id).sort(), [...kept].sort(), "every photo of the account, none other");
    for (const image of exported.images) {
      if (image.status === "ready") {
        assert.ok(image.original && typeof image.original.url === "string", `${image.id} links to its original`);
        assert.ok(!Number.isNaN(Date.parse(image.original.expiresAt)), `${image.id}: expiresAt`);
        firstUser.thumbnails.push(...image.thumbnails.map((t) => t.url));
      } else {
        assert.equal(image.original, null, `${image.id} (${image.status}) has no original`);
      }
    }
    const titled = exported.images.find((i) => i.id === harbour);
    assert.deepEqual([titled.title, titled.tags], [HARBOUR_TITLE, ["harbour", "sunset"]]);
    assert.deepEqual(
      exported.albums.map((a) => ({ id: a.id, name: a.name, images: a.images })),
      [{ id: albumId, name: RENAMED, images: [described] }],
    );
    assert.ok(!Number.isNaN(Date.parse(exported.albums[0].createdAt)));
    // Its link to an original gives the uploaded file.
    const original = exported.images.find((i) => i.id === described).original.url;
    const fetched = Buffer.from(await (await fetch(original)).arrayBuffer());
    assert.equal(sha256(fetched), sha256(await readFile(path.join(PHOTOS, "orient_6.jpg"))), "the export's link gives the original");
    assert.match(await page.locator("[data-testid=export-status]").innerText(), /^Saved your data as thumbforge-export\.json\./);
  });

  await step("“Delete my account” asks for the typed phrase first; Escape and Cancel keep everything", async () => {
    const deletes = sent("DELETE");
    const open = page.locator("[data-testid=delete-account]");
    await open.focus();
    await page.keyboard.press("Enter");
    const dialog = page.locator("#account-dialog");
    await dialog.waitFor({ state: "visible" });
    assert.equal(await dialog.evaluate((d) => d.open && d.matches(":modal")), true, "a modal dialog");
    assert.deepEqual(await focused(), { testid: "account-confirm", id: null }, "focus in the phrase field");
    const input = dialog.locator("[data-testid=account-confirm]");
    assert.deepEqual(await input.evaluate((c) => [...c.labels].map((l) => l.textContent)), ["To confirm, type delete my account"]);
    const button = dialog.locator("[data-testid=confirm-account]");
    assert.equal(await button.isDisabled(), true, "off until the phrase is typed");
    await page.waitForFunction(() => /are deleted/.test(document.getElementById("account-dialog-text").textContent));
    const said = await dialog.locator("[data-testid=account-dialog-text]").innerText();
    assert.match(said, /^Your \d+ photos \(.+\) and 1 album are deleted/, said);
    await checkAccessibility("the delete-account dialog");
    await screenshot("12-delete-account", { fullPage: false });
    await page.keyboard.type("delete my accoun");
    assert.equal(await button.isDisabled(), true, "not quite the phrase");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.deepEqual(await focused(), { testid: "delete-account", id: null }, "focus back on the button");
    await open.click();
    await dialog.waitFor({ state: "visible" });
    assert.equal(await input.inputValue(), "", "the field starts empty again");
    await input.fill("Delete my account");
    assert.equal(await button.isEnabled(), true, "the phrase enables it");
    await dialog.locator("[data-testid=cancel-account]").click();
    await dialog.waitFor({ state: "hidden" });
    await page.waitForTimeout(300);
    assert.equal(sent("DELETE"), deletes, "nothing was sent");
    assert.equal((await apiAsUser("/api/account")).status, "active");
  });

  await step("deleting the account with the typed phrase lands signed out, saying so; it cannot sign in again", async () => {
    await page.locator("[data-testid=delete-account]").click();
    const dialog = page.locator("#account-dialog");
    await dialog.waitFor({ state: "visible" });
    await dialog.locator("[data-testid=account-confirm]").fill("delete my account");
    const answer = page.waitForResponse((r) => r.request().method() === "DELETE" && new URL(r.url()).pathname === "/api/account");
    const started = Date.now();
    await dialog.locator("[data-testid=confirm-account]").click();
    const response = await answer;
    assert.equal(response.status(), 202, "DELETE /api/account answers 202");
    assert.equal((await response.json()).status, "deleting");
    // The page follows the deletion, then leaves through the provider's sign-out page (too quickly
    // to watch its own `data-account=deleted` mark) and comes back fresh, saying so.
    await page.waitForSelector("html[data-session=signed-out]:not([data-account]) #signed-out-notice:not([hidden])", {
      state: "attached",
      timeout: 150_000,
    });
    await page.waitForLoadState("load");
    log(`account deleted and signed out after ${Date.now() - started} ms`);
    const polls = requests.filter((r) => r === `GET ${BASE_URL}/api/account`).length;
    assert.ok(polls >= 1, "GET /api/account was polled");
    const notice = page.locator("[data-testid=signed-out-notice]");
    await notice.waitFor({ state: "visible" });
    assert.match(await notice.innerText(), /^Your account was deleted/);
    assert.equal(await page.locator("[data-testid=workspace]").isVisible(), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("thumbforge.refresh")), null, "no session is kept");
    await checkAccessibility("signed out after the deletion");
    await screenshot("13-account-deleted");
    // The sign-in account is gone: its email and password are refused (the provider's 400 is expected).
    await page.click("[data-testid=sign-in]");
    await page.waitForSelector("[data-testid=password]");
    await page.fill("[data-testid=email]", FIRST_USER);
    await page.fill("[data-testid=password]", PASSWORD);
    await page.click("[data-testid=submit]");
    const refused = page.locator("[data-testid=error]");
    await refused.waitFor({ state: "visible" });
    assert.match(await refused.innerText(), /Incorrect username or password/);
    expectProblems(/(HTTP 400 for POST|status of 400)/);
    await page.goto(BASE_URL, { waitUntil: "load" });
    await page.waitForSelector("html[data-session=signed-out]", { state: "attached" });
  });

  await step("the second account is untouched; the deleted one's thumbnails answer 404", async () => {
    await signIn(SECOND_USER, PASSWORD);
    assert.deepEqual(await galleryIds(), [secondUsersImage.id]);
    for (const url of secondUsersImage.thumbnails.map((t) => t.url)) assert.equal(await statusOf(url), 200, url);
    const started = Date.now();
    for (;;) {
      const statuses = await Promise.all(firstUser.thumbnails.map((url) => statusOf(url)));
      if (statuses.every((status) => status === 404)) break;
      assert.ok(Date.now() - started < 30_000, `the deleted account's thumbnails still answer: ${statuses}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(firstUser.thumbnails.length >= 6, `${firstUser.thumbnails}`);
    // For crates/dev/tests/browser.rs, which then looks through the bucket and the table itself.
    console.log(
      `${DELETED_ACCOUNT_MARKER}${JSON.stringify({ sub: firstUser.sub, email: FIRST_USER, images: Object.values(ids) })}`,
    );
  });
}

const watchdog = setTimeout(() => {
  console.error(`the browser tests did not finish within ${TOTAL_MS / 1000} s`);
  process.exit(1);
}, TOTAL_MS);
watchdog.unref();

try {
  await main();
  console.log(`${stepNumber} passed, 0 failed`);
} catch (error) {
  console.error(error);
  console.log(`${stepNumber - 1} passed, 1 failed`);
  process.exitCode = 1;
}
