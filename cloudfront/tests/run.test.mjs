// Runs cloudfront/viewer-request.js in a node:vm context and checks it against every JSON test
// object beside this file: {"description", "negotiated"?, "event", "expected": {"request"} or
// {"response"}}. The file runs unmodified, or, for a test object with "negotiated", with its
// NEGOTIATED line replaced by that list, as Terraform deploys it (terraform/cdn.tf).
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

/** The line Terraform replaces: `const NEGOTIATED = [...];`, once, at the start of a line. */
const NEGOTIATED_LINE = /^const NEGOTIATED = .*;$/gm;

/** The code as deployed for a configuration whose negotiated formats are `negotiated`. */
function deployed(negotiated) {
  if (negotiated === undefined) return source;
  return source.replace(NEGOTIATED_LINE, `const NEGOTIATED = ${JSON.stringify(negotiated)};`);
}

/** A fresh context with only what the CloudFront runtime offers that the tests need. */
function load(code = source) {
  const logs = [];
  const context = vm.createContext({ console: { log: (...args) => logs.push(args.join(" ")) } });
  vm.runInContext(code, context, { filename: FUNCTION_FILE });
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

test("the formats Terraform replaces are on one line, the default configuration's", () => {
  const lines = source.match(NEGOTIATED_LINE) ?? [];
  assert.deepEqual(lines, ['const NEGOTIATED = [{"extension":"webp","media_type":"image/webp"}];']);
  const jpegOnly = deployed([]);
  assert.notEqual(jpegOnly, source);
  assert.equal(jpegOnly.split("\n").length, source.split("\n").length);
  assert.deepEqual(plain(vm.runInContext("NEGOTIATED", load(jpegOnly).context)), []);
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
    if ("negotiated" in testCase) assert.ok(Array.isArray(testCase.negotiated), "negotiated is a list");
    const { context, logs } = load(deployed(testCase.negotiated));
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
  // One script per deployed code: the function's source (as deployed for the cases' formats),
  // then a driver that prints each of those cases' results as one JSON line.
  const byCode = new Map();
  all.forEach((testCase, index) => {
    const code = deployed(testCase.negotiated);
    if (!byCode.has(code)) byCode.set(code, []);
    byCode.get(code).push(index);
  });
  const dir = mkdtempSync(join(tmpdir(), "cf-njs-"));
  try {
    let seen = 0;
    for (const [code, indexes] of byCode) {
      const driver = `
var cases = ${JSON.stringify(indexes.map((i) => [i, all[i].event]))};
cases.forEach(function (pair) {
  handler(pair[1]).then(function (result) { console.log(pair[0] + ' ' + JSON.stringify(result)); },
                        function (error) { console.log(pair[0] + ' ERROR ' + error); });
});
`;
      const script = join(dir, "run.js");
      writeFileSync(script, `${code}\n${driver}`);
      const run = spawnSync("njs", [script], { encoding: "utf8", timeout: 10000 });
      assert.equal(run.status, 0, run.stderr || run.stdout);
      const lines = run.stdout.trim().split("\n");
      assert.equal(lines.length, indexes.length, run.stdout);
      for (const line of lines) {
        const space = line.indexOf(" ");
        const index = Number(line.slice(0, space));
        assert.ok(indexes.includes(index), line);
        const expected = all[index].expected;
        assert.deepEqual(JSON.parse(line.slice(space + 1)), expected.request ?? expected.response, cases[index]);
        seen += 1;
      }
    }
    assert.equal(seen, all.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
