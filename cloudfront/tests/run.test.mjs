// Runs cloudfront/viewer-request.js, unmodified, in a node:vm context and checks it against every
// JSON test object beside this file: {"description", "event", "expected": {"request"} or {"response"}}.
// `node --test cloudfront/tests`
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const here = dirname(fileURLToPath(import.meta.url));
const FUNCTION_FILE = join(here, "..", "viewer-request.js");
const source = readFileSync(FUNCTION_FILE, "utf8");

/** CloudFront Functions refuse code over 10 KB. */
const MAX_FUNCTION_BYTES = 10 * 1024;

/** A fresh context with only what the CloudFront runtime offers that the tests need. */
function load() {
  const logs = [];
  const context = vm.createContext({ console: { log: (...args) => logs.push(args.join(" ")) } });
  vm.runInContext(source, context, { filename: FUNCTION_FILE });
  return { context, logs };
}

/** Values created in the vm realm have that realm's prototypes; compare plain JSON. */
const plain = (value) => JSON.parse(JSON.stringify(value));

test("the file is usable as a cloudfront-js-2.0 function", () => {
  assert.ok(Buffer.byteLength(source) <= MAX_FUNCTION_BYTES, `${Buffer.byteLength(source)} bytes`);
  assert.match(source, /^async function handler\(event\) \{$/m);
  assert.doesNotMatch(source, /^\s*(import|export)\b/m, "no ES module syntax");
  for (const match of source.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    assert.ok(["cloudfront", "crypto"].includes(match[1]), `require(${match[1]}) is not available`);
  }
  // Stay inside what the runtime documents: ES 5.1 plus const/let, template literals, async/await.
  const code = source.replace(/\/\/.*$/gm, "");
  for (const [token, what] of [
    ["=>", "arrow functions (closures in async code are restricted)"],
    ["?.", "optional chaining"],
    ["??", "nullish coalescing"],
    ["...", "spread"],
    ["class ", "classes"],
    ["(?<", "named groups or look-behind"],
  ]) {
    assert.ok(!code.includes(token), `uses ${what}`);
  }
  // CloudFront runs functions in strict mode: it must compile (and run) there too.
  const strict = vm.createContext({});
  vm.runInContext(`"use strict";\n${source}`, strict);
  assert.equal(typeof strict.handler, "function");
});

test("handler is an async function of the unmodified file", () => {
  const { context } = load();
  assert.equal(typeof context.handler, "function");
  assert.equal(context.handler.constructor.name, "AsyncFunction");
  // Nothing from Node leaks into the context the function runs in.
  assert.equal(typeof context.require, "undefined");
  assert.equal(typeof context.process, "undefined");
});

const cases = readdirSync(here)
  .filter((name) => name.endsWith(".json"))
  .sort();

test("there are test objects", () => {
  assert.ok(cases.length >= 10, `${cases.length} test objects`);
});

for (const name of cases) {
  const testCase = JSON.parse(readFileSync(join(here, name), "utf8"));
  test(`${name}: ${testCase.description}`, async () => {
    assert.equal(typeof testCase.description, "string");
    assert.equal(testCase.event?.context?.eventType, "viewer-request");
    const expected = testCase.expected;
    assert.ok(expected && "request" in expected !== "response" in expected, "expected has request xor response");
    const { context, logs } = load();
    const event = structuredClone(testCase.event);
    const result = plain(await context.handler(event));
    if (expected.request) {
      assert.deepEqual(result, expected.request);
    } else {
      assert.deepEqual(result, expected.response);
    }
    assert.deepEqual(logs, []);
  });
}

// CloudFront Functions descend from njs (nginx JavaScript). Where the `njs` command is installed
// (Debian: apt-get install njs), every test object is also run there, as a check that the file
// needs nothing a plain ES 5.1 + let/const/async engine lacks. Skipped without njs.
const njs = spawnSync("njs", ["-v"], { encoding: "utf8" });
test("the test objects also pass under njs", { skip: njs.status === 0 ? false : "njs is not installed" }, () => {
  const all = cases.map((name) => JSON.parse(readFileSync(join(here, name), "utf8")));
  // The function's source unmodified, then a driver that prints each result as one JSON line.
  const driver = `
var cases = ${JSON.stringify(all.map((c) => c.event))};
cases.forEach(function (event, i) {
  handler(event).then(function (result) { console.log(i + ' ' + JSON.stringify(result)); },
                      function (error) { console.log(i + ' ERROR ' + error); });
});
`;
  const dir = mkdtempSync(join(tmpdir(), "cf-njs-"));
  try {
    const script = join(dir, "run.js");
    writeFileSync(script, `${source}\n${driver}`);
    const run = spawnSync("njs", [script], { encoding: "utf8", timeout: 10000 });
    assert.equal(run.status, 0, run.stderr || run.stdout);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, all.length, run.stdout);
    for (const line of lines) {
      const space = line.indexOf(" ");
      const index = Number(line.slice(0, space));
      const expected = all[index].expected;
      assert.deepEqual(JSON.parse(line.slice(space + 1)), expected.request ?? expected.response, cases[index]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
