// Unit tests of the page's pure logic: `node --test frontend/tests`.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  FORBIDDEN_HEADER_NAMES,
  blurhashPixels,
  cssColor,
  POLL,
  REASONS,
  backoffDelay,
  backoffSchedule,
  checkFile,
  describeApiError,
  describeSource,
  describeUploadFailure,
  humanBytes,
  insertionIndex,
  isForbiddenHeader,
  isImageId,
  limitsText,
  nextPollDelay,
  orList,
  parseConfig,
  parseRetryAfter,
  pictureModel,
  planUploadHeaders,
  reasonText,
  typeLabel,
  parseAuth,
  base64url,
  pkceChallenge,
  authorizeUrl,
  logoutUrl,
  tokenRequest,
  jwtClaims,
  parseTokens,
  renewDelay,
  randomToken,
  deleteImageRequest,
  deleteOutcome,
  photoLabel,
  deleteConfirmation,
  DETAIL_LIMITS,
  parseDetailLimits,
  trimText,
  charCount,
  normalizeTag,
  parseTagsInput,
  compareTags,
  tagsInputText,
  checkDetailText,
  imageDetails,
  buildEditBody,
  editImageRequest,
  splitEditProblems,
  cardTitle,
  isLongDescription,
  tagFromSearch,
  urlWithTag,
  listImagesPath,
  matchesTag,
  ALBUM_LIMITS,
  parseAlbumLimits,
  parseNamedSizes,
  checkAlbumName,
  albumQuotaProblem,
  photoCount,
  isAlbumId,
  createAlbumRequest,
  renameAlbumRequest,
  deleteAlbumRequest,
  albumPhotoRequest,
  imageAlbums,
  albumChangeSummary,
  viewFromSearch,
  urlWithView,
  sameView,
  matchesView,
  viewHeading,
  viewAnnouncement,
  imageContentPath,
  downloadFilename,
  filenameFromDisposition,
  CONFIRMATION_PHRASE,
  confirmationMatches,
  ACCOUNT_POLL,
  accountPollDelay,
  parseAccount,
  accountContents,
  deletionProgress,
  parseQuotas,
  quotaText,
  quotaRefusal,
  usageOf,
  countUpload,
} from "../lib.js";

const here = dirname(fileURLToPath(import.meta.url));
const frontend = join(here, "..");

const AUTH = {
  clientId: "page",
  authorizeUrl: "https://x.auth.eu-west-1.amazoncognito.com/oauth2/authorize",
  tokenUrl: "https://x.auth.eu-west-1.amazoncognito.com/oauth2/token",
  logoutUrl: "https://x.auth.eu-west-1.amazoncognito.com/logout",
  scopes: ["openid", "email"],
};

const CONFIG = parseConfig({
  maxUploadBytes: 26214400,
  allowedContentTypes: ["image/jpeg", "image/png", "image/webp", "image/gif"],
  sizes: [256, 1024],
  formats: ["jpeg", "webp"],
  uploadExpirySeconds: 300,
  auth: AUTH,
});

test("humanBytes matches the Rust human_bytes", () => {
  assert.equal(humanBytes(25 << 20), "25 MiB");
  assert.equal(humanBytes(26214400), "25 MiB");
  assert.equal(humanBytes(1536), "1.5 KiB");
  assert.equal(humanBytes(12), "12 bytes");
  assert.equal(humanBytes(1), "1 byte");
  assert.equal(humanBytes(0), "0 bytes");
  assert.equal(humanBytes(83912 * 1024), "81.9 MiB");
  assert.equal(humanBytes(2 ** 30), "1 GiB");
  assert.equal(humanBytes(26214401), "25.0 MiB");
});

test("type labels and lists read well", () => {
  assert.equal(typeLabel("image/jpeg"), "JPEG");
  assert.equal(typeLabel("image/webp"), "WebP");
  assert.equal(typeLabel("text/plain"), "text/plain");
  assert.equal(typeLabel(""), "unknown type");
  assert.equal(orList([]), "");
  assert.equal(orList(["A"]), "A");
  assert.equal(orList(["A", "B"]), "A or B");
  assert.equal(orList(["A", "B", "C"]), "A, B or C");
  assert.equal(limitsText(CONFIG), "JPEG, PNG, WebP or GIF images, up to 25 MiB each.");
});

test("parseConfig keeps what the page uses and refuses a broken answer", () => {
  assert.deepEqual(CONFIG, {
    maxUploadBytes: 26214400,
    allowedContentTypes: ["image/jpeg", "image/png", "image/webp", "image/gif"],
    sizes: [256, 1024],
    formats: ["jpeg", "webp"],
    uploadExpirySeconds: 300,
    auth: AUTH,
    // No `details` in the answer: the core's limits.
    details: { titleMaxChars: 200, descriptionMaxChars: 2000, tagsMax: 20, tagMaxChars: 32 },
    // No `namedSizes` nor `albumLimits`: none, and the core's album limits.
    namedSizes: [],
    albumLimits: { nameMaxChars: 100, albumsMax: 200, perPhotoMax: 32 },
    // No `quotas`: the page says nothing of them.
    quotas: null,
  });
  assert.throws(() => parseConfig(null), /not a JSON object/);
  assert.throws(() => parseConfig([]), /not a JSON object/);
  assert.throws(() => parseConfig({}), /`maxUploadBytes`.*`allowedContentTypes`.*sign-in settings are missing/);
  assert.throws(() => parseConfig({ maxUploadBytes: 5, allowedContentTypes: ["image/png"] }), /sign-in settings/);
  assert.throws(() => parseConfig({ maxUploadBytes: "25", allowedContentTypes: ["image/png"] }), /maxUploadBytes/);
  assert.throws(() => parseConfig({ maxUploadBytes: 5, allowedContentTypes: [] }), /allowedContentTypes/);
  assert.throws(() => parseConfig({ maxUploadBytes: 5, allowedContentTypes: ["image/png"], sizes: [0] }), /`sizes`/);
  const minimal = parseConfig({ maxUploadBytes: 5, allowedContentTypes: ["image/png"], auth: AUTH });
  assert.deepEqual(minimal.sizes, []);
  assert.equal(minimal.uploadExpirySeconds, null);
});

test("checkFile uses the configured limits and says them in human units", () => {
  assert.equal(checkFile({ name: "a.jpg", type: "image/jpeg", size: 352727 }, CONFIG), null);
  assert.equal(checkFile({ name: "max.gif", type: "image/gif", size: 26214400 }, CONFIG), null);

  const big = checkFile({ name: "big.jpg", type: "image/jpeg", size: 26214401 }, CONFIG);
  assert.equal(big.code, "file_too_large");
  assert.match(big.message, /big\.jpg/);
  assert.match(big.message, /25 MiB limit/);

  const smaller = { ...CONFIG, maxUploadBytes: 1024 * 1024 };
  assert.match(
    checkFile({ name: "x.png", type: "image/png", size: 2 * 1024 * 1024 }, smaller).message,
    /2 MiB, over the 1 MiB limit/,
  );

  const empty = checkFile({ name: "e.png", type: "image/png", size: 0 }, CONFIG);
  assert.equal(empty.code, "empty_file");

  const text = checkFile({ name: "notes.txt", type: "text/plain", size: 10 }, CONFIG);
  assert.equal(text.code, "unsupported_type");
  assert.equal(text.message, "“notes.txt” is not a JPEG, PNG, WebP or GIF image (its type is text/plain).");
  assert.match(checkFile({ name: "x", type: "", size: 10 }, CONFIG).message, /cannot tell/);
  assert.match(checkFile({ name: "x.bmp", type: "image/bmp", size: 10 }, CONFIG).message, /its type is BMP\)\.$/);
  // The type comes before the size: a huge video is refused for what it is.
  assert.equal(checkFile({ name: "v.mp4", type: "video/mp4", size: 2 ** 40 }, CONFIG).code, "unsupported_type");
});

test("upload headers: every settable header is sent, forbidden ones are skipped", () => {
  const headers = {
    "content-length": "352727",
    "content-type": "image/jpeg",
    "if-none-match": "*",
    "x-amz-meta-filename": "IMG_2041.JPG",
    host: "media.s3.example",
  };
  const plan = planUploadHeaders(headers, 352727);
  assert.deepEqual(plan.set, [
    ["content-type", "image/jpeg"],
    ["if-none-match", "*"],
    ["x-amz-meta-filename", "IMG_2041.JPG"],
  ]);
  assert.deepEqual(plan.skipped, ["content-length", "host"]);
  assert.throws(() => planUploadHeaders(headers, 10), /signed for 352727 bytes but the file has 10/);
  assert.deepEqual(planUploadHeaders(undefined, 1), { set: [], skipped: [] });

  for (const name of ["Content-Length", "HOST", "sec-fetch-mode", "Proxy-Authorization", "origin", "referer"]) {
    assert.ok(isForbiddenHeader(name), name);
  }
  for (const name of ["content-type", "if-none-match", "x-amz-meta-filename", "x-amz-date", "authorization"]) {
    assert.ok(!isForbiddenHeader(name), name);
  }
  assert.ok(FORBIDDEN_HEADER_NAMES.includes("content-length"));
});

test("back-off grows, is capped, and honours Retry-After", () => {
  assert.equal(backoffDelay(0), 500);
  assert.equal(backoffDelay(1), 750);
  assert.equal(backoffDelay(2), 1125);
  assert.equal(backoffDelay(-3), 500);
  assert.equal(backoffDelay(50), POLL.maxDelayMs);
  const schedule = backoffSchedule();
  for (let i = 1; i < schedule.length; i += 1) assert.ok(schedule[i] >= schedule[i - 1]);
  const total = schedule.reduce((a, b) => a + b, 0);
  assert.ok(total <= POLL.giveUpAfterMs && total > POLL.giveUpAfterMs - POLL.maxDelayMs, `${total}`);
  assert.deepEqual(backoffSchedule({ ...POLL, giveUpAfterMs: 2000 }), [500, 750]);

  assert.equal(nextPollDelay(0, null), 500);
  assert.equal(nextPollDelay(0, 3000), 3000);
  assert.equal(nextPollDelay(10, 1000), POLL.maxDelayMs);
  assert.equal(nextPollDelay(0, 10 * 60 * 1000), POLL.maxRetryAfterMs);

  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter("1"), 1000);
  assert.equal(parseRetryAfter(" 120 "), 120000);
  assert.equal(parseRetryAfter("soon"), null);
  const now = Date.parse("2025-03-12T14:00:00Z");
  assert.equal(parseRetryAfter("Wed, 12 Mar 2025 14:00:05 GMT", now), 5000);
  assert.equal(parseRetryAfter("Wed, 12 Mar 2025 13:00:00 GMT", now), 0);
});

// The list of reasons is the Rust enum's (`RejectReason::ALL` in crates/core/src/manifest.rs); its
// test `the_page_explains_every_reason_and_no_other` checks REASONS against it, key for key.
test("every rejection reason has plain words", () => {
  const reasons = Object.keys(REASONS);
  assert.ok(reasons.length > 0);
  for (const reason of reasons) {
    const text = reasonText(reason);
    assert.match(text, /^[A-Z].*\.$/, reason);
    assert.ok(!text.includes("_"), reason);
  }
  assert.equal(reasonText("not_an_image"), "This file is not an image.");
  assert.equal(reasonText("something_new"), "The image was not accepted.");
  assert.equal(reasonText("constructor"), "The image was not accepted.");
  assert.equal(reasonText(null), "The image was not accepted.");
});

test("API errors are described, whatever the body", () => {
  assert.deepEqual(
    describeApiError(
      415,
      "Unsupported Media Type",
      '{"error":{"code":"unsupported_media_type","message":"`contentType` \\"image/bmp\\" is not accepted"}}',
    ),
    { status: 415, code: "unsupported_media_type", message: '`contentType` "image/bmp" is not accepted' },
  );
  assert.deepEqual(describeApiError(404, "Not Found", "<html>nope</html>"), {
    status: 404,
    code: "http_404",
    message: "the server answered 404 Not Found without an explanation",
  });
  assert.equal(describeApiError(502, "", "").message, "the server answered 502 without an explanation");
  assert.equal(describeApiError(500, "", '{"error":"boom"}').code, "http_500");
});

test("S3 upload failures become sentences", () => {
  const xml = (code, message) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>1</RequestId></Error>`;
  assert.match(describeUploadFailure(0), /did not reach the storage/);
  assert.equal(
    describeUploadFailure(403, xml("SignatureDoesNotMatch", "The request signature we calculated does not match")),
    "The storage refused the upload. Storage answered 403 (SignatureDoesNotMatch: The request signature we calculated does not match).",
  );
  assert.equal(
    describeUploadFailure(403, xml("AccessDenied", "Access Denied.")),
    "The storage refused the upload. Storage answered 403 (AccessDenied: Access Denied).",
  );
  assert.match(describeUploadFailure(403, xml("AccessDenied", "Request has expired")), /^The upload link expired/);
  assert.match(
    describeUploadFailure(
      412,
      xml("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
    ),
    /already used/,
  );
  assert.match(describeUploadFailure(400, xml("EntityTooLarge", "x")), /size differs/);
  assert.match(
    describeUploadFailure(503, xml("SlowDown", "Please reduce your request rate.")),
    /failed; please try again.*503 \(SlowDown/,
  );
  assert.equal(describeUploadFailure(403, ""), "The storage refused the upload. Storage answered 403.");
  assert.match(describeUploadFailure(400, xml("InvalidArgument", "a &lt;b&gt; &amp; &#65;")), /a <b> & A/);
});

const ID = "0192f0c4-7d1e-7c3a-9b1e-6f4d2c1a0b9e";
const READY_THUMBS = [
  { url: `/thumbs/${ID}/1024.jpg`, width: 1024, height: 683, format: "jpeg" },
  { url: `/thumbs/${ID}/1024.webp`, width: 1024, height: 683, format: "webp" },
  { url: `/thumbs/${ID}/256.jpg`, width: 256, height: 171, format: "jpeg" },
  { url: `/thumbs/${ID}/256.webp`, width: 256, height: 171, format: "webp" },
];

test("pictureModel builds WebP and JPEG srcsets from the thumbnails", () => {
  assert.deepEqual(pictureModel(READY_THUMBS), {
    sources: [{ type: "image/webp", srcset: `/thumbs/${ID}/256.webp 256w, /thumbs/${ID}/1024.webp 1024w` }],
    img: {
      src: `/thumbs/${ID}/256.jpg`,
      srcset: `/thumbs/${ID}/256.jpg 256w, /thumbs/${ID}/1024.jpg 1024w`,
      width: 256,
      height: 171,
    },
    largest: { url: `/thumbs/${ID}/1024.jpg`, width: 1024, height: 683, format: "jpeg" },
  });
});

test("pictureModel offers AVIF before WebP where both were written", () => {
  const withAvif = [
    ...READY_THUMBS,
    { url: `/thumbs/${ID}/1024.avif`, width: 1024, height: 683, format: "avif" },
    { url: `/thumbs/${ID}/256.avif`, width: 256, height: 171, format: "avif" },
  ];
  assert.deepEqual(pictureModel(withAvif).sources, [
    { type: "image/avif", srcset: `/thumbs/${ID}/256.avif 256w, /thumbs/${ID}/1024.avif 1024w` },
    { type: "image/webp", srcset: `/thumbs/${ID}/256.webp 256w, /thumbs/${ID}/1024.webp 1024w` },
  ]);
  // JPEG + AVIF only (no WebP written): only AVIF is offered, JPEG stays the <img>.
  const noWebp = pictureModel(withAvif.filter((t) => t.format !== "webp"));
  assert.deepEqual(
    noWebp.sources.map((s) => s.type),
    ["image/avif"],
  );
  assert.equal(noWebp.img.src, `/thumbs/${ID}/256.jpg`);
  // A format the page does not know is never offered as a <source>.
  const unknown = pictureModel([...READY_THUMBS, { url: "/t/1.jxl", width: 9, height: 9, format: "jxl" }]);
  assert.deepEqual(
    unknown.sources.map((s) => s.type),
    ["image/webp"],
  );
});

test("pictureModel copes with small sources, JPEG only, WebP only and junk", () => {
  // A 200 px source: both boxes give 200 px; one candidate per width.
  const small = pictureModel([
    { url: "/t/1024.jpg", width: 200, height: 100, format: "jpeg" },
    { url: "/t/1024.webp", width: 200, height: 100, format: "webp" },
    { url: "/t/256.jpg", width: 200, height: 100, format: "jpeg" },
    { url: "/t/256.webp", width: 200, height: 100, format: "webp" },
  ]);
  assert.equal(small.img.srcset, "/t/1024.jpg 200w");
  assert.equal(small.sources[0].srcset, "/t/1024.webp 200w");

  const jpegOnly = pictureModel(READY_THUMBS.filter((t) => t.format === "jpeg"));
  assert.deepEqual(jpegOnly.sources, []);
  assert.equal(jpegOnly.largest.url, `/thumbs/${ID}/1024.jpg`);

  const webpOnly = pictureModel(READY_THUMBS.filter((t) => t.format === "webp"));
  assert.deepEqual(webpOnly.sources, []);
  assert.equal(webpOnly.img.src, `/thumbs/${ID}/256.webp`);

  assert.equal(pictureModel([]), null);
  assert.equal(pictureModel(undefined), null);
  assert.equal(pictureModel([{ url: "/x", width: 0, height: 1, format: "jpeg" }, null]), null);
  // Portrait (an EXIF-rotated photo): height > width is kept as is.
  const portrait = pictureModel([{ url: "/p/256.jpg", width: 171, height: 256, format: "jpeg" }]);
  assert.deepEqual([portrait.img.width, portrait.img.height], [171, 256]);
});

test("insertionIndex keeps UUIDv7 ids newest first", () => {
  const a = "0192f0c4-0000-7000-8000-000000000000";
  const b = "0192f0c5-0000-7000-8000-000000000000";
  const c = "0192f0c6-0000-7000-8000-000000000000";
  assert.equal(insertionIndex([], a), 0);
  assert.equal(insertionIndex([c, a], b), 1);
  assert.equal(insertionIndex([b, a], c), 0);
  assert.equal(insertionIndex([c, b], a), 2);
  assert.equal(insertionIndex([c, b, a], b), -1);
});

test("sources and ids are described", () => {
  assert.equal(
    describeSource({ format: "jpeg", width: 1800, height: 1200, bytes: 352727 }),
    "1800 × 1200 JPEG, 344.5 KiB",
  );
  assert.equal(describeSource({ format: "png", width: 10, height: 20 }), "10 × 20 PNG");
  assert.equal(describeSource(null), "");
  assert.ok(isImageId(ID));
  assert.ok(!isImageId(ID.toUpperCase()));
  assert.ok(!isImageId("../etc"));
});

// ---- static checks of the page against the CSP it is served with ----------------------------
// default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; ...

const sources = readdirSync(frontend).filter((name) => /\.(html|js|css)$/.test(name));

test("the page has nothing inline that the CSP forbids", () => {
  const html = readFileSync(join(frontend, "index.html"), "utf8");
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, "inline <script>");
  assert.doesNotMatch(html, /<style/i, "inline <style>");
  assert.doesNotMatch(html, /\sstyle\s*=/i, "style attribute");
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, "inline event handler");
  assert.doesNotMatch(html, /javascript:/i);
  for (const match of html.matchAll(/\b(?:src|href)="([^"]+)"/g)) {
    const url = match[1];
    assert.ok(!/^(https?:)?\/\//.test(url), `external resource ${url}`);
  }
  for (const name of sources.filter((n) => n.endsWith(".js"))) {
    const js = readFileSync(join(frontend, name), "utf8");
    assert.doesNotMatch(js, /\beval\s*\(|new Function\s*\(|setTimeout\(\s*["'`]/, `${name}: eval`);
    assert.doesNotMatch(js, /\.innerHTML\s*=|insertAdjacentHTML|document\.write/, `${name}: HTML strings`);
    assert.doesNotMatch(js, /setAttribute\(\s*["']style["']|["']style["']\s*:/, `${name}: style attribute`);
    assert.doesNotMatch(js, /\bconsole\.(log|error|warn)\b/, `${name}: console output`);
    // img-src is 'self' alone: no picture from a data: or blob: URL (a blob: URL is only ever a
    // download link's href, which img-src does not govern).
    assert.doesNotMatch(js, /["'`]data:/, `${name}: a data: URL`);
    for (const match of js.matchAll(/createObjectURL\(/g)) {
      const after = js.slice(match.index, match.index + 200);
      assert.match(after, /h\("a", \{ href: url, download/, `${name}: a blob: URL used other than as a download link`);
    }
  }
  for (const name of sources.filter((n) => n.endsWith(".css"))) {
    assert.doesNotMatch(readFileSync(join(frontend, name), "utf8"), /url\(\s*["']?(data|blob):/, `${name}: a data: image`);
  }
});

test("every module the page imports exists and has no bare specifiers", () => {
  const html = readFileSync(join(frontend, "index.html"), "utf8");
  const referenced = [...html.matchAll(/\b(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
  for (const url of referenced) assert.ok(sources.includes(url) || url === "favicon.svg", `missing ${url}`);
  for (const name of sources.filter((n) => n.endsWith(".js"))) {
    const js = readFileSync(join(frontend, name), "utf8");
    for (const match of js.matchAll(/^\s*import\b[^"']*["']([^"']+)["']/gm)) {
      const specifier = match[1];
      assert.match(specifier, /^\.\/[a-z]+\.js$/, `${name} imports ${specifier}`);
      assert.ok(sources.includes(specifier.slice(2)), `${name} imports missing ${specifier}`);
    }
  }
});

test("parseAuth keeps the sign-in settings and names what is wrong", () => {
  assert.deepEqual(parseAuth(AUTH), AUTH);
  assert.equal(parseAuth({ ...AUTH, logoutUrl: undefined }).logoutUrl, null);
  assert.throws(() => parseAuth(null), /missing/);
  assert.throws(() => parseAuth({ ...AUTH, clientId: "" }), /clientId/);
  assert.throws(() => parseAuth({ ...AUTH, tokenUrl: "/oauth2/token" }), /tokenUrl/);
  assert.throws(() => parseAuth({ ...AUTH, scopes: ["email"] }), /openid/);
});

test("PKCE: RFC 7636's example verifier gives its challenge; random tokens are base64url", async () => {
  // RFC 7636, appendix B.
  assert.equal(await pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  assert.equal(base64url(new Uint8Array([251, 255, 191])), "-_-_");
  const token = randomToken(32);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(randomToken(32), token);
});

test("the authorization, sign-out and token requests carry exactly the flow's parameters", () => {
  const url = new URL(authorizeUrl(AUTH, { redirectUri: "https://d1.cloudfront.net/", state: "s1", challenge: "c1" }));
  assert.equal(`${url.origin}${url.pathname}`, AUTH.authorizeUrl);
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    response_type: "code",
    client_id: "page",
    redirect_uri: "https://d1.cloudfront.net/",
    scope: "openid email",
    state: "s1",
    code_challenge: "c1",
    code_challenge_method: "S256",
  });
  const out = new URL(logoutUrl(AUTH, "https://d1.cloudfront.net/"));
  assert.deepEqual(Object.fromEntries(out.searchParams), { client_id: "page", logout_uri: "https://d1.cloudfront.net/" });
  assert.equal(logoutUrl({ ...AUTH, logoutUrl: null }, "https://d1.cloudfront.net/"), null);
  const exchange = tokenRequest(AUTH, { code: "k", redirectUri: "https://d1.cloudfront.net/", verifier: "v" });
  assert.equal(exchange.toString(), "client_id=page&grant_type=authorization_code&code=k&redirect_uri=https%3A%2F%2Fd1.cloudfront.net%2F&code_verifier=v");
  assert.equal(tokenRequest(AUTH, { refreshToken: "r" }).toString(), "client_id=page&grant_type=refresh_token&refresh_token=r");
});

test("token answers, claims and renewal times", () => {
  const claims = { email: "ana@example.com", sub: "1", name: "Ána" };
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  assert.deepEqual(jwtClaims(`h.${payload}.s`), claims);
  for (const bad of [null, "", "a", "a..b", "a.!!.b", `h.${Buffer.from("[1]").toString("base64url")}.s`]) {
    assert.equal(jwtClaims(bad), null, String(bad));
  }
  const tokens = parseTokens({ access_token: "a", id_token: "i", refresh_token: "r", expires_in: 3600 }, 1000);
  assert.deepEqual(tokens, { accessToken: "a", idToken: "i", refreshToken: "r", expiresAtMs: 3_601_000 });
  assert.equal(parseTokens({ access_token: "a", expires_in: 60 }, 0, "old").refreshToken, "old");
  assert.throws(() => parseTokens({ error: "invalid_grant" }, 0), /without an access token/);
  assert.equal(renewDelay(3_600_000, 0), 3_540_000);
  assert.equal(renewDelay(300_000, 0), 270_000);
  assert.equal(renewDelay(1000, 5000), 0);
});

// ---- deleting a photo -----------------------------------------------------------------------

test("the delete request is DELETE /api/images/{id}, the id encoded", () => {
  assert.deepEqual(deleteImageRequest(ID), { method: "DELETE", path: `/api/images/${ID}` });
  assert.deepEqual(deleteImageRequest("a/b?c"), { method: "DELETE", path: "/api/images/a%2Fb%3Fc" });
  assert.throws(() => deleteImageRequest(""), /id is needed/);
  assert.throws(() => deleteImageRequest(undefined), /id is needed/);
});

test("a delete's answer says whether the card goes, and why not", () => {
  assert.deepEqual(deleteOutcome({ status: 204 }), { kind: "deleted", removeCard: true, message: null });
  assert.deepEqual(deleteOutcome({ status: 200 }), { kind: "deleted", removeCard: true, message: null });
  // Not the caller's, or gone already (another tab deleted it): the card goes, with no error.
  assert.deepEqual(deleteOutcome({ status: 404, message: "No image has the id … (DELETE … → 404)." }), {
    kind: "gone",
    removeCard: true,
    message: null,
  });
  const busy = deleteOutcome(
    { status: 503, message: "The catalog is busy; try again (DELETE /api/images/x → 503)." },
    "IMG_2041.JPG",
  );
  assert.deepEqual(busy, {
    kind: "failed",
    removeCard: false,
    message: "Could not delete “IMG_2041.JPG”. The catalog is busy; try again (DELETE /api/images/x → 503).",
  });
  assert.equal(deleteOutcome({ status: 502, message: "  " }).message, "Could not delete the photo. The server answered 502.");
  assert.equal(deleteOutcome({ status: 0 }).message, "Could not delete the photo. The server could not be reached.");
  assert.equal(deleteOutcome().kind, "failed");
  // A 401 reaches here only when signing in again did not happen: the card stays.
  assert.equal(deleteOutcome({ status: 401, message: "Sign in again." }, "a.png").removeCard, false);
  for (const status of [400, 403, 409, 429, 500]) assert.equal(deleteOutcome({ status }).kind, "failed", `${status}`);
});

test("photos are named by file name, else by what they are and when they were added", () => {
  const ready = { id: ID, status: "ready", source: { format: "jpeg", width: 1800, height: 1200, bytes: 352727 } };
  assert.equal(photoLabel(ready, "IMG_2041.JPG", "12 Mar 2025, 14:00"), "IMG_2041.JPG");
  assert.equal(
    photoLabel(ready, null, "12 Mar 2025, 14:00"),
    "photo, 1800 × 1200 JPEG, 344.5 KiB, added 12 Mar 2025, 14:00",
  );
  assert.equal(photoLabel(ready, "  "), "photo, 1800 × 1200 JPEG, 344.5 KiB");
  assert.equal(photoLabel({ status: "rejected", reason: "corrupt" }, null, "today"), "rejected upload, added today");
  assert.equal(photoLabel({ status: "failed", reason: "internal_error" }), "upload we could not process");
  assert.equal(photoLabel({ status: "pending" }), "upload in progress");
  assert.equal(photoLabel(null), "upload in progress");
});

test("the delete confirmation names the photo and says it cannot be undone", () => {
  assert.deepEqual(deleteConfirmation("IMG_2041.JPG", "ready"), {
    title: "Delete “IMG_2041.JPG”?",
    text: "The photo and its thumbnails are removed for good. This cannot be undone.",
  });
  assert.match(deleteConfirmation("notes.jpg", "rejected").text, /^The upload is removed for good\./);
  assert.match(deleteConfirmation("x.png", "pending").text, /stopped and removed/);
  assert.match(deleteConfirmation("hard.jpg", "failed").text, /^The upload is removed for good\./);
  // Without a file name the sentence says what the photo is.
  assert.deepEqual(deleteConfirmation("photo, 10 × 20 PNG, added today", "ready", false), {
    title: "Delete this photo?",
    text: "Photo, 10 × 20 PNG, added today. The photo and its thumbnails are removed for good. This cannot be undone.",
  });
  assert.equal(deleteConfirmation("rejected upload", "rejected", false).title, "Delete this upload?");
});

test("the page has the delete dialog, and never asks through window.confirm", () => {
  const html = readFileSync(join(frontend, "index.html"), "utf8");
  const dialog = /<dialog id="delete-dialog"[^>]*>([\s\S]*?)<\/dialog>/.exec(html);
  assert.ok(dialog, "a <dialog id=delete-dialog>");
  for (const testid of ["confirm-delete", "cancel-delete", "delete-title", "delete-text"]) {
    assert.match(dialog[1], new RegExp(`data-testid="${testid}"`), testid);
  }
  assert.match(dialog[0], /aria-labelledby="delete-title"/);
  assert.match(dialog[0], /aria-describedby="delete-text"/);
  for (const name of sources.filter((n) => n.endsWith(".js"))) {
    const js = readFileSync(join(frontend, name), "utf8");
    assert.doesNotMatch(js, /\b(?:window\.)?(?:confirm|alert|prompt)\s*\(/, `${name}: a blocking browser prompt`);
  }
});

// ---- a photo's title, description and tags (crates/core/src/describe.rs) -------------------

test("the detail limits come from the config, the core's defaults only when absent", () => {
  assert.deepEqual(DETAIL_LIMITS, { titleMaxChars: 200, descriptionMaxChars: 2000, tagsMax: 20, tagMaxChars: 32 });
  const given = { titleMaxChars: 80, descriptionMaxChars: 500, tagsMax: 5, tagMaxChars: 10 };
  assert.deepEqual(parseConfig({ maxUploadBytes: 5, allowedContentTypes: ["image/png"], auth: AUTH, details: given }).details, given);
  assert.deepEqual(parseDetailLimits(undefined), DETAIL_LIMITS);
  assert.deepEqual(parseDetailLimits({ tagsMax: 3 }), { ...DETAIL_LIMITS, tagsMax: 3 }, "each absent field falls back");
  const problems = [];
  assert.deepEqual(parseDetailLimits({ tagsMax: 0, titleMaxChars: "200" }, problems), DETAIL_LIMITS);
  assert.deepEqual(problems, ["`details.titleMaxChars` is not a positive integer", "`details.tagsMax` is not a positive integer"]);
  assert.throws(
    () => parseConfig({ maxUploadBytes: 5, allowedContentTypes: ["image/png"], auth: AUTH, details: [] }),
    /`details` is not an object/,
  );
});

test("tags are normalised as the server does: the core's examples", () => {
  assert.deepEqual(normalizeTag("  Sunset "), { tag: "sunset" });
  assert.deepEqual(normalizeTag("New  York"), { tag: "new-york" });
  assert.deepEqual(normalizeTag("ÉTÉ_2026"), { tag: "été_2026" });
  assert.deepEqual(normalizeTag("東京"), { tag: "東京" });
  assert.deepEqual(normalizeTag("tab\there"), { tag: "tab-here" }, "tabs inside become a hyphen too");
  assert.deepEqual(normalizeTag("a".repeat(32)), { tag: "a".repeat(32) });
  assert.deepEqual(normalizeTag("Ⅻ²٣"), { tag: "ⅻ²٣" }, "any script's numbers (Nl, No, Nd)");
  assert.deepEqual(normalizeTag("\u3000wide\u00a0space\u0085"), { tag: "wide-space" }, "Unicode white space, as Rust's trim");
  for (const bad of ["", "   ", "a#b", "a/b", "a,b", "<b>", "a.b", "a\u0000b", "a\ufeffb"]) {
    assert.ok(normalizeTag(bad).problem, JSON.stringify(bad));
    assert.equal(normalizeTag(bad).tag, undefined);
  }
  assert.equal(normalizeTag("a#b").problem, "The tag “a#b” holds “#”: tags are letters, digits, “-” and “_”.");
  assert.equal(normalizeTag(" ").problem, "A tag is empty.");
  assert.match(normalizeTag("a".repeat(33)).problem, /longer than 32 characters/);
  assert.match(normalizeTag("abcdef", 5).problem, /longer than 5 characters/, "the configured limit");
  // Counted in characters, not UTF-16 units: 32 emoji-free astral letters fit.
  assert.deepEqual(normalizeTag("𝒜".repeat(32)), { tag: "𝒜".repeat(32) });
  assert.equal(charCount("𝒜é"), 2);
  assert.equal(trimText(" \n a b \t"), "a b");
});

test("the comma-separated tags field gives sorted unique tags, or every problem at once", () => {
  assert.deepEqual(parseTagsInput("Sunset, New  York,"), { tags: ["new-york", "sunset"], problems: [] });
  assert.deepEqual(parseTagsInput("#beach , ,  "), { tags: ["beach"], problems: [] }, "a leading # and empty pieces");
  assert.deepEqual(parseTagsInput(""), { tags: [], problems: [] });
  assert.deepEqual(parseTagsInput("Sea, beach, SEA "), {
    tags: ["beach", "sea"],
    problems: ["The tag “sea” is given twice."],
  });
  const { problems } = parseTagsInput("ok, a#b, not ok!, x.y");
  assert.equal(problems.length, 3, problems.join(" | "));
  assert.match(problems[0], /“a#b” holds “#”/);
  const many = Array.from({ length: 21 }, (_, i) => `t${i}`).join(",");
  assert.deepEqual(parseTagsInput(many).problems, ["21 tags given, at most 20 are allowed."]);
  assert.deepEqual(parseTagsInput("a,b,c", { ...DETAIL_LIMITS, tagsMax: 2 }).problems, ["3 tags given, at most 2 are allowed."]);
  // Sorted as Rust sorts strings (by code point), like the server's answer.
  assert.deepEqual(parseTagsInput("zoo, été, Apple, _x, 9").tags, ["9", "_x", "apple", "zoo", "été"]);
  assert.ok(compareTags("a", "b") < 0 && compareTags("b", "a") > 0 && compareTags("a", "a") === 0);
  assert.equal(tagsInputText(["new-york", "sunset"]), "new-york, sunset");
  assert.equal(tagsInputText(undefined), "");
});

test("titles and descriptions are trimmed, bounded, and free of control characters", () => {
  assert.deepEqual(checkDetailText("  Sunset  ", { field: "title", max: 200 }), { value: "Sunset", problems: [] });
  assert.deepEqual(checkDetailText("   ", { field: "title", max: 200 }), { value: null, problems: [] }, "blank clears");
  assert.deepEqual(checkDetailText("x".repeat(201), { field: "title", max: 200 }).problems, [
    "The title is 201 characters long; at most 200 are allowed.",
  ]);
  assert.match(checkDetailText("a\nb", { field: "title", max: 200 }).problems[0], /control character \(U\+000A\); it must be one line/);
  assert.deepEqual(checkDetailText("line one\nline two\ttabbed\r\n", { field: "description", max: 2000, multiline: true }), {
    value: "line one\nline two\ttabbed",
    problems: [],
  });
  assert.match(
    checkDetailText("bell\u0007", { field: "description", max: 2000, multiline: true }).problems[0],
    /control character \(U\+0007\); only line breaks and tabs are allowed/,
  );
});

test("the edit body holds only what changes, and nothing when a field has a problem", () => {
  const image = { id: ID, status: "ready", filename: "IMG_1.JPG", title: "Old", description: null, tags: ["sea"] };
  const form = (values) => ({ title: "Old", description: "", tags: "sea", ...values });
  assert.deepEqual(buildEditBody(form({}), image), {
    body: null,
    problems: { title: [], description: [], tags: [] },
    changed: false,
    tags: ["sea"],
  });
  assert.deepEqual(buildEditBody(form({ title: " Sunset at the pier ", tags: "Sea, New York" }), image).body, {
    title: "Sunset at the pier",
    tags: ["new-york", "sea"],
  });
  assert.deepEqual(buildEditBody(form({ description: "Warm.\nWindy." }), image).body, { description: "Warm.\nWindy." });
  assert.deepEqual(buildEditBody(form({ title: "  ", tags: "" }), image).body, { title: null, tags: [] }, "clears");
  assert.deepEqual(buildEditBody(form({ tags: "#SEA" }), image).changed, false, "the same tag, typed otherwise");
  const bad = buildEditBody(form({ title: "x".repeat(201), tags: "a#b, ok" }), image);
  assert.equal(bad.body, null);
  assert.equal(bad.changed, true);
  assert.equal(bad.problems.title.length, 1);
  assert.equal(bad.problems.description.length, 0);
  assert.deepEqual(bad.problems.tags, ["The tag “a#b” holds “#”: tags are letters, digits, “-” and “_”."]);
  // The configured limits.
  const small = { ...DETAIL_LIMITS, titleMaxChars: 3 };
  assert.match(buildEditBody(form({ title: "Long" }), image, small).problems.title[0], /4 characters long; at most 3/);
  // An image without details (an upload of this visit) has none.
  assert.deepEqual(imageDetails({ id: ID, status: "pending" }), { title: null, description: null, tags: [] });
  assert.deepEqual(buildEditBody({ title: "", description: "", tags: "" }, { id: ID }).changed, false);
});

test("the edit request is PATCH /api/images/{id} with a non-empty body", () => {
  assert.deepEqual(editImageRequest(ID, { title: null }), {
    method: "PATCH",
    path: `/api/images/${ID}`,
    body: { title: null },
  });
  assert.equal(editImageRequest("a/b", { tags: [] }).path, "/api/images/a%2Fb");
  assert.throws(() => editImageRequest("", { title: "x" }), /id is needed/);
  assert.throws(() => editImageRequest(ID, {}), /at least one/);
  assert.throws(() => editImageRequest(ID, null), /at least one/);
});

test("a 400's problem list is split and given to the fields it names", () => {
  const message =
    "`title` is 201 characters long, at most 200 are allowed; `description` holds control characters other than line breaks and tabs; " +
    'the tag "not ok!" holds \'!\': tags are letters, digits, `-` and `_`; 21 tags given, at most 20 are allowed; ' +
    "unknown field `owner` (allowed: `title`, `description`, `tags`)";
  const split = splitEditProblems(message);
  assert.deepEqual(split.title, ["`title` is 201 characters long, at most 200 are allowed."]);
  assert.deepEqual(split.description, ["`description` holds control characters other than line breaks and tabs."]);
  assert.equal(split.tags.length, 2, JSON.stringify(split));
  assert.match(split.tags[0], /^The tag "not ok!"/);
  // About no field in particular, though it names them all.
  assert.deepEqual(split.other, ["Unknown field `owner` (allowed: `title`, `description`, `tags`)."]);
  assert.deepEqual(splitEditProblems("every tag must be a string").tags, ["Every tag must be a string."]);
  assert.deepEqual(splitEditProblems("nothing to change: give any of `title`, `description`, `tags`").other.length, 1);
  assert.deepEqual(splitEditProblems(""), { title: [], description: [], tags: [], other: [] });
  assert.deepEqual(splitEditProblems(undefined).other, []);
});

test("a card's title, and when its description is collapsed", () => {
  assert.equal(cardTitle({ status: "ready", title: "Sunset" }, "IMG_1.JPG"), "Sunset");
  assert.equal(cardTitle({ status: "ready", title: null }, "IMG_1.JPG"), "IMG_1.JPG");
  assert.equal(cardTitle({ status: "ready" }, null), "Photo");
  assert.equal(cardTitle({ status: "pending" }, null), "Upload");
  assert.equal(cardTitle({ status: "failed" }, null), "Upload not processed");
  assert.equal(isLongDescription("short"), false);
  assert.equal(isLongDescription("x".repeat(141)), true);
  assert.equal(isLongDescription("a\nb\nc"), false);
  assert.equal(isLongDescription("a\nb\nc\nd"), true, "more than three lines");
  assert.equal(isLongDescription(null), false);
});

test("the tag filter: the address, the listing request, and which images belong", () => {
  assert.deepEqual(tagFromSearch("?tag=sunset"), { tag: "sunset" });
  assert.deepEqual(tagFromSearch("?tag=New%20York"), { tag: "new-york" }, "normalised like the server's");
  assert.deepEqual(tagFromSearch(""), { tag: null });
  assert.deepEqual(tagFromSearch("?tag=+"), { tag: null });
  assert.deepEqual(tagFromSearch("?other=1"), { tag: null });
  const bad = tagFromSearch("?tag=a%23b");
  assert.equal(bad.tag, null);
  assert.match(bad.problem, /“a#b” holds “#”/);
  assert.equal(urlWithTag("https://x.test/?tag=a", "new-york"), "/?tag=new-york");
  assert.equal(urlWithTag("https://x.test/", "été"), "/?tag=%C3%A9t%C3%A9");
  assert.equal(urlWithTag("https://x.test/?tag=a&keep=1#top", null), "/?keep=1#top");
  assert.equal(urlWithTag("https://x.test/?tag=a", null), "/");
  assert.equal(listImagesPath({ limit: 24 }), "/api/images?limit=24");
  assert.equal(listImagesPath({ limit: 24, cursor: ID, tag: "été" }), `/api/images?limit=24&cursor=${ID}&tag=%C3%A9t%C3%A9`);
  assert.equal(matchesTag({ tags: ["sea", "sunset"] }, "sea"), true);
  assert.equal(matchesTag({ tags: ["sea"] }, "sun"), false);
  assert.equal(matchesTag({ id: ID, status: "pending" }, "sea"), false, "an upload of this visit has no tags");
  assert.equal(matchesTag({}, null), true);
});

test("the page has the tag filter bar, and the edit form's test ids are in gallery.js", () => {
  const html = readFileSync(join(frontend, "index.html"), "utf8");
  assert.match(html, /data-testid="tag-filter"/);
  assert.match(html, /data-testid="clear-filter"/);
  const gallery = readFileSync(join(frontend, "gallery.js"), "utf8");
  for (const testid of ["edit", "edit-title", "edit-description", "edit-tags", "save-edit", "cancel-edit", "tag-chip"]) {
    assert.match(gallery, new RegExp(`"data-testid": "${testid}"`), testid);
  }
});

// ---- albums --------------------------------------------------------------------------------

const ALBUM = "01890a5d-ac96-774b-bcce-b302099a8057";

test("the config's album limits and named sizes: given, defaulted, or a problem", () => {
  const config = parseConfig({
    maxUploadBytes: 5,
    allowedContentTypes: ["image/png"],
    auth: AUTH,
    namedSizes: [
      { name: "large", size: 1024 },
      { name: "small", size: 256 },
    ],
    albumLimits: { nameMaxChars: 50, albumsMax: 10, perPhotoMax: 4 },
  });
  assert.deepEqual(config.namedSizes, [
    { name: "small", size: 256 },
    { name: "large", size: 1024 },
  ]);
  assert.deepEqual(config.albumLimits, { nameMaxChars: 50, albumsMax: 10, perPhotoMax: 4 });
  assert.deepEqual(parseAlbumLimits(undefined), ALBUM_LIMITS);
  assert.deepEqual(parseAlbumLimits({ albumsMax: 3 }), { ...ALBUM_LIMITS, albumsMax: 3 });
  const problems = [];
  assert.deepEqual(parseAlbumLimits({ nameMaxChars: 0 }, problems), ALBUM_LIMITS);
  assert.deepEqual(problems, ["`albumLimits.nameMaxChars` is not a positive integer"]);
  assert.deepEqual(parseNamedSizes(null), []);
  assert.throws(
    () => parseConfig({ maxUploadBytes: 5, allowedContentTypes: ["image/png"], auth: AUTH, namedSizes: [{ name: "x" }] }),
    /`namedSizes`/,
  );
  assert.throws(
    () => parseConfig({ maxUploadBytes: 5, allowedContentTypes: ["image/png"], auth: AUTH, albumLimits: [] }),
    /`albumLimits` is not an object/,
  );
});

test("album names are checked as describe.rs checks them: trimmed, 1 to 100 characters, one line", () => {
  assert.deepEqual(checkAlbumName("  Holidays 2026 🌴 "), { value: "Holidays 2026 🌴", problems: [] });
  const longest = "é".repeat(100);
  assert.deepEqual(checkAlbumName(longest), { value: longest, problems: [] });
  assert.deepEqual(checkAlbumName("🌴".repeat(100)).problems, [], "characters, not UTF-16 units");
  assert.deepEqual(checkAlbumName("x".repeat(101)), {
    value: null,
    problems: ["The name is 101 characters long; at most 100 are allowed."],
  });
  assert.deepEqual(checkAlbumName("   ").problems, ["An album needs a name."]);
  assert.deepEqual(checkAlbumName(null).problems, ["An album needs a name."]);
  assert.deepEqual(checkAlbumName("\u3000a\u00a0").value, "a", "Unicode white space is trimmed like Rust's trim");
  assert.match(checkAlbumName("a\u0007b").problems[0], /control character \(U\+0007\)/);
  assert.match(checkAlbumName("a\nb").problems[0], /one line/);
  assert.deepEqual(checkAlbumName("x".repeat(11), { ...ALBUM_LIMITS, nameMaxChars: 10 }).problems, [
    "The name is 11 characters long; at most 10 are allowed.",
  ]);
  assert.equal(albumQuotaProblem(199), null);
  assert.match(albumQuotaProblem(200), /200 albums, the most there may be/);
  assert.match(albumQuotaProblem(3, { ...ALBUM_LIMITS, albumsMax: 3 }), /3 albums/);
});

test("album requests and counts", () => {
  assert.deepEqual(createAlbumRequest("Trip"), { method: "POST", path: "/api/albums", body: { name: "Trip" } });
  assert.deepEqual(renameAlbumRequest(ALBUM, "New"), { method: "PATCH", path: `/api/albums/${ALBUM}`, body: { name: "New" } });
  assert.deepEqual(deleteAlbumRequest(ALBUM), { method: "DELETE", path: `/api/albums/${ALBUM}` });
  assert.deepEqual(albumPhotoRequest(ALBUM, ID), { method: "PUT", path: `/api/albums/${ALBUM}/photos/${ID}` });
  assert.deepEqual(albumPhotoRequest(ALBUM, ID, false), { method: "DELETE", path: `/api/albums/${ALBUM}/photos/${ID}` });
  assert.throws(() => deleteAlbumRequest("../x"), /album id/);
  assert.throws(() => albumPhotoRequest(ALBUM, ""), /image id/);
  assert.equal(isAlbumId(ALBUM), true);
  assert.equal(isAlbumId(ALBUM.toUpperCase()), false);
  assert.equal(photoCount(0), "No photos");
  assert.equal(photoCount(1), "1 photo");
  assert.equal(photoCount(12), "12 photos");
  assert.deepEqual(imageAlbums({ albums: [ALBUM] }), [ALBUM]);
  assert.equal(imageAlbums({}), null, "an answer that does not say");
});

test("what came of adding photos to an album is one sentence naming every failure", () => {
  const ok = (label) => ({ label, status: 204 });
  assert.equal(albumChangeSummary([ok("a.jpg"), ok("b.jpg")], "Trip").text, "Added 2 photos to “Trip”.");
  assert.equal(albumChangeSummary([ok("a.jpg")], "Trip", { add: false }).text, "Removed 1 photo from “Trip”.");
  const mixed = albumChangeSummary(
    [ok("a.jpg"), { label: "b.jpg", status: 409, code: "too_many_albums_for_photo" }, { label: "c.jpg", status: 404, code: "image_not_found" }],
    "Trip",
  );
  assert.deepEqual(mixed, {
    done: 1,
    failed: 2,
    text: "Added 1 of 3 photos to “Trip”. “b.jpg” is in as many albums as a photo may be. “c.jpg” no longer exists.",
  });
  const none = albumChangeSummary([{ label: "a.jpg", status: 503, message: "the table is busy." }], "Trip");
  assert.equal(none.text, "No photo was added to “Trip”. “a.jpg”: the table is busy.");
  assert.equal(
    albumChangeSummary([{ label: "a", status: 404, code: "album_not_found" }, { label: "b", status: 404, code: "album_not_found" }], "T").text,
    "No photo was added to “T”. The album no longer exists.",
    "the same reason once",
  );
});

test("the view in the address: album and tag, each optional, combinable, checked", () => {
  assert.deepEqual(viewFromSearch(""), { album: null, tag: null, problems: [] });
  assert.deepEqual(viewFromSearch(`?album=${ALBUM}`), { album: ALBUM, tag: null, problems: [] });
  assert.deepEqual(viewFromSearch(`?album=${ALBUM.toUpperCase()}&tag=Sea`), { album: ALBUM, tag: "sea", problems: [] });
  assert.deepEqual(viewFromSearch("?tag=New%20York"), { album: null, tag: "new-york", problems: [] });
  const bad = viewFromSearch("?album=nope&tag=a%23b");
  assert.equal(bad.album, null);
  assert.equal(bad.tag, null);
  assert.equal(bad.problems.length, 2);
  assert.match(bad.problems[0], /“nope” is not an album/);
  assert.match(bad.problems[1], /“a#b” holds “#”/);
  assert.equal(urlWithView("https://x.test/", { album: ALBUM, tag: "sea" }), `/?album=${ALBUM}&tag=sea`);
  assert.equal(urlWithView(`https://x.test/?tag=a&album=${ALBUM}`, { album: null, tag: "b" }), "/?tag=b");
  assert.equal(urlWithView(`https://x.test/?album=${ALBUM}&keep=1#top`, {}), "/?keep=1#top", "other parts kept");
  assert.equal(urlWithView("https://x.test/?tag=a", { tag: "été" }), "/?tag=%C3%A9t%C3%A9");
  assert.equal(sameView({ album: null, tag: "a" }, { tag: "a" }), true);
  assert.equal(sameView({ album: ALBUM, tag: null }, { album: null, tag: null }), false);
  assert.equal(
    listImagesPath({ limit: 24, cursor: ID, album: ALBUM, tag: "sea" }),
    `/api/images?limit=24&cursor=${ID}&album=${ALBUM}&tag=sea`,
  );
  assert.equal(listImagesPath({ limit: 5, album: ALBUM }), `/api/images?limit=5&album=${ALBUM}`);
  const inAlbum = { id: ID, albums: [ALBUM], tags: ["sea"] };
  assert.equal(matchesView(inAlbum, { album: ALBUM, tag: "sea" }), true);
  assert.equal(matchesView(inAlbum, { album: ALBUM, tag: "sun" }), false);
  assert.equal(matchesView({ ...inAlbum, albums: [] }, { album: ALBUM }), false, "it left the album");
  assert.equal(matchesView({ id: ID, tags: [] }, { album: ALBUM }), true, "albums not said: the listing decides");
  assert.equal(matchesView({ id: ID, albums: [], tags: [] }, {}), true);
});

test("the gallery's heading and announcement say the view", () => {
  assert.equal(viewHeading({}), "Your photos");
  assert.equal(viewHeading({ tag: "sea" }), "Your photos tagged #sea");
  assert.equal(viewHeading({ album: ALBUM }, "Trip"), "Album “Trip”");
  assert.equal(viewHeading({ album: ALBUM, tag: "sea" }, "Trip"), "Album “Trip”: photos tagged #sea");
  assert.equal(viewHeading({ album: ALBUM }, null), "Album");
  assert.equal(viewAnnouncement({}, { count: 3 }), "Showing all photos.");
  assert.equal(viewAnnouncement({}, { count: 3, why: "so that the new uploads can be seen" }), "Showing all photos, so that the new uploads can be seen.");
  assert.equal(viewAnnouncement({ tag: "sunset" }, { count: 1, more: true }), "Showing 1 photo (more to load) tagged #sunset.");
  assert.equal(viewAnnouncement({ album: ALBUM }, { count: 2, albumName: "Trip" }), "Showing 2 photos of the album “Trip”.");
  assert.equal(viewAnnouncement({ album: ALBUM, tag: "sea" }, { count: 0, albumName: "Trip" }), "Showing 0 photos of the album “Trip” tagged #sea.");
});

// ---- downloads and the export ----------------------------------------------------------------

test("an original's address, and the file name it is saved as", () => {
  assert.equal(imageContentPath(ID), `/api/images/${ID}/content?size=original`);
  assert.equal(imageContentPath(ID, { size: "small", format: "webp" }), `/api/images/${ID}/content?size=small&format=webp`);
  assert.throws(() => imageContentPath(""), /image id/);
  assert.equal(downloadFilename({ id: ID, filename: "IMG_2041.JPG" }), "IMG_2041.JPG");
  assert.equal(downloadFilename({ id: ID, filename: "../../etc/passwd.jpg" }), "passwd.jpg", "no folders");
  assert.equal(downloadFilename({ id: ID, filename: "C:\\Users\\a\\b.png" }), "b.png");
  assert.equal(downloadFilename({ id: ID, filename: 'a<b>:"c"|?*.jpg' }), "a_b___c____.jpg");
  assert.equal(downloadFilename({ id: ID, filename: "bad\u0000name\u0007.gif" }), "badname.gif");
  assert.equal(downloadFilename({ id: ID, filename: "holiday", source: { format: "jpeg" } }), "holiday.jpg", "an extension from its type");
  assert.equal(downloadFilename({ id: ID, filename: "  .hidden.  ", contentType: "image/png" }), "hidden.png");
  assert.equal(downloadFilename({ id: ID, source: { format: "webp" } }), `photo-${ID}.webp`);
  assert.equal(downloadFilename({ id: ID, filename: "..", contentType: "image/gif" }), `photo-${ID}.gif`);
  const long = downloadFilename({ id: ID, filename: `${"x".repeat(300)}.jpeg` });
  assert.equal([...long].length, 200);
  assert.ok(long.endsWith(".jpeg"), "the extension is kept when shortened");
});

test("Content-Disposition gives the export's file name, safely", () => {
  const fallback = "thumbforge-export.json";
  assert.equal(filenameFromDisposition('attachment; filename="thumbforge-export.json"', "x"), "thumbforge-export.json");
  assert.equal(filenameFromDisposition("attachment; filename=plain.json", fallback), "plain.json");
  assert.equal(filenameFromDisposition(`attachment; filename="a.json"; filename*=UTF-8''%C3%A9t%C3%A9.json`, fallback), "été.json");
  assert.equal(filenameFromDisposition('attachment; filename="with \\"quote\\".json"', fallback), 'with "quote".json');
  assert.equal(filenameFromDisposition('attachment; filename="../../x.json"', fallback), "x.json");
  assert.equal(filenameFromDisposition("attachment", fallback), fallback);
  assert.equal(filenameFromDisposition(null, fallback), fallback);
  assert.equal(filenameFromDisposition("attachment; filename*=UTF-8''%E0%A4%A", fallback), fallback, "bad percent-encoding");
});

// ---- deleting the account ------------------------------------------------------------------

test("the account's deletion waits for the typed phrase, exactly (case and spacing aside)", () => {
  assert.equal(CONFIRMATION_PHRASE, "delete my account");
  assert.equal(confirmationMatches("delete my account"), true);
  assert.equal(confirmationMatches("  Delete   My\tAccount "), true);
  assert.equal(confirmationMatches("delete my accoun"), false);
  assert.equal(confirmationMatches("delete myaccount"), false);
  assert.equal(confirmationMatches("delete my account!"), false);
  assert.equal(confirmationMatches(""), false);
  assert.equal(confirmationMatches(null), false);
  assert.equal(confirmationMatches("ana@example.com", "ana@example.com"), true, "another phrase, e.g. an email");
  assert.equal(confirmationMatches("", ""), false, "an empty phrase never matches");
});

test("the deletion is polled with back-off for about two minutes, honouring Retry-After", () => {
  assert.equal(accountPollDelay(0), 1000);
  assert.equal(accountPollDelay(1), 1500);
  assert.equal(accountPollDelay(2), 2250);
  assert.equal(accountPollDelay(20), 10000, "capped");
  assert.equal(accountPollDelay(0, 5000), 5000, "Retry-After, when longer");
  assert.equal(accountPollDelay(0, 600000), ACCOUNT_POLL.maxRetryAfterMs, "Retry-After capped");
  const waits = backoffSchedule(ACCOUNT_POLL);
  const total = waits.reduce((a, b) => a + b, 0);
  assert.ok(total <= 120000 && total > 100000, `about two minutes: ${total}`);
  assert.deepEqual(waits.slice(0, 4), [1000, 1500, 2250, 3375]);
  assert.ok(waits.every((w, i) => i === 0 || w >= waits[i - 1]), "never shorter");
});

test("account states are read, and said to people", () => {
  assert.deepEqual(parseAccount({ status: "active", images: 5, bytes: 3355443, albums: 2 }), {
    status: "active",
    images: 5,
    bytes: 3355443,
    albums: 2,
    uploadsToday: null,
    bytesToday: null,
    dayResetsAt: null,
  });
  assert.deepEqual(parseAccount({ status: "deleting", requestedAt: "2026-12-02T10:00:00Z", imagesLeft: 3 }), {
    status: "deleting",
    requestedAt: "2026-12-02T10:00:00Z",
    imagesLeft: 3,
  });
  assert.deepEqual(parseAccount({ status: "deleted", deletedAt: "2026-12-02T10:01:00Z" }), {
    status: "deleted",
    deletedAt: "2026-12-02T10:01:00Z",
  });
  assert.throws(() => parseAccount({ status: "gone" }), /not one the page knows/);
  assert.throws(() => parseAccount(null), /not one the page knows/);
  assert.equal(accountContents({ status: "active", images: 5, bytes: 3355443, albums: 2 }), "5 photos (3.2 MiB) and 2 albums");
  assert.equal(accountContents({ status: "active", images: 1, bytes: 10, albums: 1 }), "1 photo (10 bytes) and 1 album");
  assert.equal(accountContents({ status: "active", images: 0, bytes: 0, albums: 0 }), "no photos and no albums");
  assert.equal(accountContents({ status: "deleting" }), null);
  assert.equal(deletionProgress({ status: "deleting", imagesLeft: 3 }), "Deleting your account… 3 photos left.");
  assert.equal(deletionProgress({ status: "deleting", imagesLeft: 0 }), "Deleting your account… removing the last files.");
  assert.equal(deletionProgress({ status: "deleting", imagesLeft: null }), "Deleting your account…");
  assert.equal(deletionProgress({ status: "deleted" }), "Your account is deleted.");
});

test("the page has the albums, selection and account parts, and their test ids", () => {
  const html = readFileSync(join(frontend, "index.html"), "utf8");
  for (const testid of [
    "albums",
    "album-list",
    "album-create",
    "album-name-input",
    "create-album",
    "album-bar",
    "rename-album",
    "delete-album",
    "close-album",
    "rename-form",
    "selection-bar",
    "add-to-album",
    "remove-from-album",
    "album-dialog",
    "album-select",
    "confirm-add",
    "export-data",
    "delete-account",
    "account-dialog",
    "account-confirm",
    "confirm-account",
    "signed-out-notice",
  ]) {
    assert.match(html, new RegExp(`data-testid="${testid}"`), testid);
  }
  const dialog = /<dialog id="account-dialog"[^>]*>([\s\S]*?)<\/dialog>/.exec(html);
  assert.match(dialog[1], /data-testid="confirm-account" disabled/, "the button starts off");
  assert.match(dialog[1], /<label class="field__label" for="account-confirm">/, "the phrase field is labelled");
  const gallery = readFileSync(join(frontend, "gallery.js"), "utf8");
  for (const testid of ["select-photo", "download", "download-error"]) {
    assert.match(gallery, new RegExp(`"data-testid": "${testid}"`), testid);
  }
  const albums = readFileSync(join(frontend, "albums.js"), "utf8");
  for (const testid of ["album-link", "album-name", "album-count", "album-cover"]) {
    assert.match(albums, new RegExp(`"data-testid": "${testid}"`), testid);
  }
});

test("quotas are read from the config, said to people and checked before an upload", () => {
  const quotas = { uploadsPerDay: 500, bytesPerDay: 5 * 2 ** 30, photosStored: 20000, bytesStored: 50 * 2 ** 30 };
  assert.deepEqual(parseQuotas(quotas), quotas);
  assert.equal(parseQuotas(undefined), null, "a server without quotas");
  const problems = [];
  assert.equal(parseQuotas({ ...quotas, photosStored: -1 }, problems), null);
  assert.deepEqual(problems, ["`quotas.photosStored` is not a positive integer"]);

  const account = parseAccount({
    status: "active",
    images: 12,
    bytes: 40 * 2 ** 20,
    albums: 1,
    uploadsToday: 3,
    bytesToday: 1.5 * 2 ** 20,
    dayResetsAt: "2026-12-03T00:00:00Z",
  });
  const usage = usageOf(account);
  assert.deepEqual(usage, { photos: 12, bytes: 40 * 2 ** 20, uploadsToday: 3, bytesToday: 1.5 * 2 ** 20, dayResetsAt: "2026-12-03T00:00:00Z" });
  assert.equal(usageOf(parseAccount({ status: "active", images: 1, bytes: 1, albums: 0 })), null, "no usage said");
  assert.equal(usageOf({ status: "deleting" }), null);
  assert.equal(
    quotaText(quotas, usage),
    "Today: 3 of 500 uploads (1.5 MiB of 5 GiB). Kept: 12 of 20,000 photos (40 MiB of 50 GiB).",
  );
  assert.equal(quotaText(null, usage), "");
  assert.equal(quotaText(quotas, null), "");

  const file = { name: "a.jpg", size: 2 ** 20 };
  assert.equal(quotaRefusal(file, quotas, usage), null, "it fits");
  assert.equal(quotaRefusal(file, null, usage), null, "nothing known, nothing refused");
  const full = { ...usage, uploadsToday: 500 };
  assert.deepEqual(quotaRefusal(file, quotas, full), {
    code: "daily_upload_quota_exceeded",
    message: "You have uploaded 500 photos today, the most allowed per day. It starts again at Thu, 03 Dec 2026 00:00 UTC.",
  });
  assert.equal(quotaRefusal({ name: "b.jpg", size: 5 * 2 ** 30 }, quotas, usage).code, "daily_bytes_quota_exceeded");
  assert.equal(quotaRefusal(file, quotas, { ...full, photos: 20000 }).code, "photo_quota_exceeded", "kept first");
  assert.match(
    quotaRefusal(file, quotas, { ...usage, bytes: 50 * 2 ** 30 }).message,
    /“a\.jpg” would take your photos past 50 GiB kept/,
  );
  const after = countUpload(usage, 10);
  assert.deepEqual(
    [after.uploadsToday, after.bytesToday, after.photos, after.bytes],
    [4, 1.5 * 2 ** 20 + 10, 13, 40 * 2 ** 20 + 10],
  );
  assert.equal(countUpload(null, 10), null);
});

test("a quota's 429 is not retried, throttling and 5xx are", async () => {
  const { ApiError } = await import("../api.js");
  const quota = new ApiError("quota", { status: 429, code: "daily_upload_quota_exceeded", retryAfterMs: 3_600_000 });
  assert.equal(quota.transient, false);
  assert.equal(new ApiError("slow down", { status: 429, code: "too_many_requests" }).transient, true);
  assert.equal(new ApiError("down", { status: 503, code: "storage_unavailable" }).transient, true);
  assert.equal(new ApiError("network").transient, true);
  assert.equal(new ApiError("storage", { status: 413, code: "storage_quota_exceeded" }).transient, false);
});

test("a BlurHash decodes to its picture; anything else to null", () => {
  // The engine's placeholder of a flat 300 × 200 picture of rgb(200, 100, 50) (the same string is
  // asserted in crates/engine/src/pixels.rs): decoded, it averages to that colour.
  const pixels = blurhashPixels("L8N6;w=dfQ=d}XoKfQoKfQfQfQfQ", 32, 21);
  assert.equal(pixels.length, 32 * 21 * 4);
  const mean = (channel) => {
    let sum = 0;
    for (let i = channel; i < pixels.length; i += 4) sum += pixels[i];
    return sum / (32 * 21);
  };
  for (const [channel, want] of [[0, 200], [1, 100], [2, 50]]) {
    assert.ok(Math.abs(mean(channel) - want) <= 4, `channel ${channel}: ${mean(channel)}`);
  }
  assert.ok([...pixels].filter((_, i) => i % 4 === 3).every((a) => a === 255), "opaque");
  for (const bad of [null, "", "L8N6;", "L8N6;w=dfQ=d}XoKfQoKfQfQfQf", "L8N6;w=dfQ=d}XoKfQoKfQfQfQ\u00e9Q"]) {
    assert.equal(blurhashPixels(bad, 32, 21), null, String(bad));
  }
  assert.equal(blurhashPixels("L8N6;w=dfQ=d}XoKfQoKfQfQfQfQ", 0, 21), null);
  assert.equal(cssColor("#C86432"), "#C86432");
  for (const bad of ["red", "#c8643", "#c86432;background:url(x)", null]) assert.equal(cssColor(bad), null);
});
