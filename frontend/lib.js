// Pure logic of the upload page: no DOM, no network, no timers.
// Everything here is unit-tested by `node --test frontend/tests` (tests/lib.test.mjs).

/** Rejection reasons (crates/core/src/manifest.rs) in plain words. */
export const REASONS = Object.freeze({
  empty: "The file is empty.",
  file_too_large: "The file is larger than the upload limit.",
  not_an_image: "This file is not an image.",
  unsupported_format: "This kind of image is not supported.",
  invalid_dimensions: "The image has no width or no height.",
  dimensions_too_large: "The image is too wide or too tall.",
  too_many_pixels: "The image has too many pixels.",
  extreme_aspect_ratio: "The image is too long and thin to make a thumbnail.",
  decode_limit_exceeded: "The image would need too much memory to open.",
  corrupt: "The file is damaged or incomplete.",
  too_slow: "The image took too long to process.",
  internal_error: "We could not process this photo: a problem on our side, not your file. It has been reported and will be tried again once fixed.",
});

/** The plain-words explanation of a rejection reason code. */
export function reasonText(reason) {
  return Object.hasOwn(REASONS, reason) ? REASONS[reason] : "The image was not accepted.";
}

/** Bytes in binary units, exactly like `human_bytes` in crates/core/src/config.rs: "25 MiB", "1.5 KiB", "12 bytes". */
export function humanBytes(bytes) {
  const units = [
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ];
  for (const [unit, size] of units) {
    if (bytes >= size) {
      return bytes % size === 0 ? `${bytes / size} ${unit}` : `${(bytes / size).toFixed(1)} ${unit}`;
    }
  }
  return bytes === 1 ? "1 byte" : `${bytes} bytes`;
}

const TYPE_LABELS = Object.freeze({
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/webp": "WebP",
  "image/gif": "GIF",
  "image/avif": "AVIF",
  "image/heic": "HEIC",
  "image/heif": "HEIF",
  "image/bmp": "BMP",
  "image/tiff": "TIFF",
  "image/svg+xml": "SVG",
});

/** A short human name of a media type: "image/jpeg" → "JPEG"; unknown types are returned as given. */
export function typeLabel(contentType) {
  if (Object.hasOwn(TYPE_LABELS, contentType)) return TYPE_LABELS[contentType];
  return contentType || "unknown type";
}

/** "A", "A or B", "A, B or C". */
export function orList(words) {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** One sentence describing what may be uploaded: "JPEG, PNG, WebP or GIF images up to 25 MiB each." */
export function limitsText(config) {
  return `${orList(config.allowedContentTypes.map(typeLabel))} images, up to ${humanBytes(config.maxUploadBytes)} each.`;
}

function isPositiveInteger(value) {
  return Number.isSafeInteger(value) && value > 0;
}

/**
 * Checks the `GET /api/config` answer and returns the part the page uses.
 * Throws an Error naming every problem, so a broken server is reported instead of guessed around.
 */
export function parseConfig(body) {
  const problems = [];
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new Error("the upload settings are not a JSON object");
  }
  if (!isPositiveInteger(body.maxUploadBytes)) problems.push("`maxUploadBytes` is not a positive integer");
  const types = body.allowedContentTypes;
  if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === "string" && t !== "")) {
    problems.push("`allowedContentTypes` is not a non-empty list of media types");
  }
  const sizes = body.sizes;
  if (sizes !== undefined && !(Array.isArray(sizes) && sizes.every(isPositiveInteger))) {
    problems.push("`sizes` is not a list of positive integers");
  }
  let auth = null;
  try {
    auth = parseAuth(body.auth);
  } catch (error) {
    problems.push(error.message);
  }
  const details = parseDetailLimits(body.details, problems);
  const namedSizes = parseNamedSizes(body.namedSizes, problems);
  const albumLimits = parseAlbumLimits(body.albumLimits, problems);
  const quotas = parseQuotas(body.quotas, problems);
  if (problems.length > 0) throw new Error(`the upload settings are invalid: ${problems.join("; ")}`);
  return {
    maxUploadBytes: body.maxUploadBytes,
    allowedContentTypes: [...types],
    sizes: Array.isArray(sizes) ? [...sizes] : [],
    formats: Array.isArray(body.formats) ? [...body.formats] : [],
    uploadExpirySeconds: isPositiveInteger(body.uploadExpirySeconds) ? body.uploadExpirySeconds : null,
    auth,
    details,
    namedSizes,
    albumLimits,
    quotas,
  };
}

/**
 * The `quotas` part of `GET /api/config`: `{uploadsPerDay, bytesPerDay, photosStored,
 * bytesStored}`, each a positive integer; `null` when the server names none (the page then says
 * nothing of them, and the server still enforces its own).
 */
export function parseQuotas(value, problems = []) {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    problems.push("`quotas` is not an object");
    return null;
  }
  const quotas = {};
  for (const name of ["uploadsPerDay", "bytesPerDay", "photosStored", "bytesStored"]) {
    if (!isPositiveInteger(value[name])) {
      problems.push(`\`quotas.${name}\` is not a positive integer`);
      return null;
    }
    quotas[name] = value[name];
  }
  return quotas;
}

/** A count with thousands separators, as people read it: `20 000` → "20,000". */
function grouped(n) {
  return n.toLocaleString("en-US");
}

/**
 * What the signed-in user has used of their quotas, in one sentence, or "" when either is
 * unknown: "Today: 3 of 500 uploads (1.2 MiB of 5 GiB). Kept: 12 of 20,000 photos (40 MiB of 50 GiB)."
 */
export function quotaText(quotas, usage) {
  if (!quotas || !usage) return "";
  return (
    `Today: ${grouped(usage.uploadsToday)} of ${grouped(quotas.uploadsPerDay)} uploads ` +
    `(${humanBytes(usage.bytesToday)} of ${humanBytes(quotas.bytesPerDay)}). ` +
    `Kept: ${grouped(usage.photos)} of ${grouped(quotas.photosStored)} photos ` +
    `(${humanBytes(usage.bytes)} of ${humanBytes(quotas.bytesStored)}).`
  );
}

/**
 * Why one more upload of `file` would be refused by the quotas, checked as the server checks
 * them (what is kept first, then today's counts), or `null` when it fits or either is unknown.
 * `usage`: `{uploadsToday, bytesToday, photos, bytes, dayResetsAt}`.
 */
export function quotaRefusal(file, quotas, usage) {
  if (!quotas || !usage) return null;
  const resets = usage.dayResetsAt ? ` It starts again at ${new Date(usage.dayResetsAt).toUTCString().replace(/:00 GMT$/, " UTC")}.` : "";
  if (usage.photos >= quotas.photosStored) {
    return { code: "photo_quota_exceeded", message: `You keep ${grouped(quotas.photosStored)} photos, the most allowed; delete some to upload “${file.name}”.` };
  }
  if (usage.bytes + file.size > quotas.bytesStored) {
    return { code: "storage_quota_exceeded", message: `“${file.name}” would take your photos past ${humanBytes(quotas.bytesStored)} kept, the most allowed; delete some to make room.` };
  }
  if (usage.uploadsToday >= quotas.uploadsPerDay) {
    return { code: "daily_upload_quota_exceeded", message: `You have uploaded ${grouped(quotas.uploadsPerDay)} photos today, the most allowed per day.${resets}` };
  }
  if (usage.bytesToday + file.size > quotas.bytesPerDay) {
    return { code: "daily_bytes_quota_exceeded", message: `“${file.name}” would take today's uploads past ${humanBytes(quotas.bytesPerDay)}, the most allowed per day.${resets}` };
  }
  return null;
}

/**
 * The quota usage in a `GET /api/account` answer (parsed, active), or `null` when it says
 * nothing of it.
 */
export function usageOf(account) {
  if (account?.status !== "active") return null;
  const { images, bytes, uploadsToday, bytesToday, dayResetsAt } = account;
  if ([images, bytes, uploadsToday, bytesToday].some((n) => n === null || n === undefined)) return null;
  return { photos: images, bytes, uploadsToday, bytesToday, dayResetsAt };
}

/** `usage` after one more upload of `size` bytes was accepted (a ticket was handed out). */
export function countUpload(usage, size) {
  if (!usage) return usage;
  return {
    ...usage,
    uploadsToday: usage.uploadsToday + 1,
    bytesToday: usage.bytesToday + size,
    photos: usage.photos + 1,
    bytes: usage.bytes + size,
  };
}

/** The `auth` part of `GET /api/config`: how the page signs in. Throws on anything unusable. */
export function parseAuth(auth) {
  const url = (value) => typeof value === "string" && /^https?:\/\/[^/\s]+/.test(value);
  if (auth === null || typeof auth !== "object" || Array.isArray(auth)) {
    throw new Error("the sign-in settings are missing");
  }
  const problems = [];
  if (typeof auth.clientId !== "string" || auth.clientId === "") problems.push("`auth.clientId` is empty");
  if (!url(auth.authorizeUrl)) problems.push("`auth.authorizeUrl` is not a URL");
  if (!url(auth.tokenUrl)) problems.push("`auth.tokenUrl` is not a URL");
  if (auth.logoutUrl != null && !url(auth.logoutUrl)) problems.push("`auth.logoutUrl` is not a URL");
  const scopes = auth.scopes;
  if (!Array.isArray(scopes) || !scopes.includes("openid") || !scopes.every((s) => typeof s === "string")) {
    problems.push("`auth.scopes` must list openid");
  }
  if (problems.length > 0) throw new Error(`the sign-in settings are invalid: ${problems.join("; ")}`);
  return {
    clientId: auth.clientId,
    authorizeUrl: auth.authorizeUrl,
    tokenUrl: auth.tokenUrl,
    logoutUrl: auth.logoutUrl ?? null,
    scopes: [...scopes],
  };
}

/** Bytes (Uint8Array or ArrayBuffer) as unpadded base64url (RFC 7636's encoding). */
export function base64url(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh random string of `bytes` random bytes in base64url (PKCE verifier, state). */
export function randomToken(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)). */
export async function pkceChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(digest);
}

/** Where the browser goes to sign in (the provider's hosted pages), code + PKCE. */
export function authorizeUrl(auth, { redirectUri, state, challenge }) {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: auth.clientId,
    redirect_uri: redirectUri,
    scope: auth.scopes.join(" "),
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  return `${auth.authorizeUrl}?${query}`;
}

/** Where signing out sends the browser (Cognito's `/logout`), or null when the provider has none. */
export function logoutUrl(auth, redirectUri) {
  if (!auth.logoutUrl) return null;
  return `${auth.logoutUrl}?${new URLSearchParams({ client_id: auth.clientId, logout_uri: redirectUri })}`;
}

/** The form body of a token request: the code exchange or a refresh. */
export function tokenRequest(auth, grant) {
  const body = new URLSearchParams({ client_id: auth.clientId });
  if (grant.code !== undefined) {
    body.set("grant_type", "authorization_code");
    body.set("code", grant.code);
    body.set("redirect_uri", grant.redirectUri);
    body.set("code_verifier", grant.verifier);
  } else {
    body.set("grant_type", "refresh_token");
    body.set("refresh_token", grant.refreshToken);
  }
  return body;
}

/** The JSON claims of a JWT, unverified (only to show who is signed in); null when unreadable. */
export function jwtClaims(token) {
  const part = typeof token === "string" ? token.split(".")[1] : undefined;
  if (!part) return null;
  try {
    const text = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/**
 * A token endpoint answer, checked: `{accessToken, idToken, refreshToken, expiresAtMs}`. A refresh
 * answer has no refresh token: `previousRefresh` is kept then. Throws on anything else.
 */
export function parseTokens(body, nowMs, previousRefresh = null) {
  if (!body || typeof body.access_token !== "string" || !isPositiveInteger(body.expires_in)) {
    throw new Error("the sign-in service answered without an access token");
  }
  return {
    accessToken: body.access_token,
    idToken: typeof body.id_token === "string" ? body.id_token : null,
    refreshToken: typeof body.refresh_token === "string" ? body.refresh_token : previousRefresh,
    expiresAtMs: nowMs + body.expires_in * 1000,
  };
}

/** When to renew tokens expiring at `expiresAtMs`: a minute early (a tenth early for short ones). */
export function renewDelay(expiresAtMs, nowMs) {
  const left = expiresAtMs - nowMs;
  return Math.max(0, left - Math.min(60_000, left / 10));
}

/**
 * Checks a file ({name, type, size}) against the limits the API enforces, before anything is sent.
 * Returns null when the file may be uploaded, else {code, message} with a sentence for people.
 */
export function checkFile(file, config) {
  const allowed = orList(config.allowedContentTypes.map(typeLabel));
  if (!config.allowedContentTypes.includes(file.type)) {
    const what = file.type ? `its type is ${typeLabel(file.type)}` : "this browser cannot tell its type";
    return {
      code: "unsupported_type",
      message: `“${file.name}” is not a ${allowed} image (${what}).`,
    };
  }
  if (file.size === 0) {
    return { code: "empty_file", message: `“${file.name}” is empty (0 bytes).` };
  }
  if (file.size > config.maxUploadBytes) {
    return {
      code: "file_too_large",
      message: `“${file.name}” is ${humanBytes(file.size)}, over the ${humanBytes(config.maxUploadBytes)} limit per file.`,
    };
  }
  return null;
}

/**
 * Header names a page may not set on an XMLHttpRequest or fetch (the Fetch standard's forbidden
 * request-header names); the browser sets or refuses them itself. `content-length` is among them:
 * the browser takes it from the Blob, whose size is the `size` the upload URL was signed for.
 */
export const FORBIDDEN_HEADER_NAMES = Object.freeze([
  "accept-charset",
  "accept-encoding",
  "access-control-request-headers",
  "access-control-request-method",
  "connection",
  "content-length",
  "cookie",
  "cookie2",
  "date",
  "dnt",
  "expect",
  "host",
  "keep-alive",
  "origin",
  "referer",
  "set-cookie",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "via",
]);

/** Prefixes of forbidden header names. */
export const FORBIDDEN_HEADER_PREFIXES = Object.freeze(["proxy-", "sec-"]);

/** Whether a page is not allowed to set this request header. */
export function isForbiddenHeader(name) {
  const lower = name.toLowerCase();
  return FORBIDDEN_HEADER_NAMES.includes(lower) || FORBIDDEN_HEADER_PREFIXES.some((p) => lower.startsWith(p));
}

/**
 * Splits the `upload.headers` of `POST /api/uploads` into those to set on the PUT (every one the
 * page may set, values unchanged) and those the browser sets itself (skipped).
 * A declared `content-length` must equal the file's size, or the signature cannot match.
 */
export function planUploadHeaders(headers, fileSize) {
  const set = [];
  const skipped = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (isForbiddenHeader(name)) {
      skipped.push(name);
      if (name.toLowerCase() === "content-length" && String(value) !== String(fileSize)) {
        throw new Error(`the upload was signed for ${value} bytes but the file has ${fileSize}`);
      }
    } else {
      set.push([name, String(value)]);
    }
  }
  return { set, skipped };
}

/** Polling of `GET /api/images/{id}`: first wait, growth, longest wait, and when to stop waiting. */
export const POLL = Object.freeze({
  firstDelayMs: 500,
  factor: 1.5,
  maxDelayMs: 5000,
  maxRetryAfterMs: 30000,
  giveUpAfterMs: 180000,
});

/** The wait before poll number `attempt` (0 for the first): 500 ms, 750 ms, 1.125 s … up to 5 s. */
export function backoffDelay(attempt, policy = POLL) {
  const delay = policy.firstDelayMs * policy.factor ** Math.max(0, attempt);
  return Math.round(Math.min(delay, policy.maxDelayMs));
}

/** The whole schedule of waits that fit in the policy's patience (for display and tests). */
export function backoffSchedule(policy = POLL) {
  const waits = [];
  let total = 0;
  for (let attempt = 0; ; attempt += 1) {
    const wait = backoffDelay(attempt, policy);
    if (total + wait > policy.giveUpAfterMs) return waits;
    waits.push(wait);
    total += wait;
  }
}

/**
 * A `Retry-After` value (delta seconds or an HTTP date) in milliseconds from `nowMs`,
 * or null when absent or unreadable.
 */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/** The wait before the next poll: the back-off, or longer if the server asked for it (capped). */
export function nextPollDelay(attempt, retryAfterMs = null, policy = POLL) {
  const backoff = backoffDelay(attempt, policy);
  if (retryAfterMs === null) return backoff;
  return Math.max(backoff, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

/**
 * Turns an API answer that is not a success into {status, code, message}.
 * API errors are `{"error": {"code", "message"}}`; anything else (a proxy's HTML page, an empty
 * body) still gets a message that says what happened.
 */
export function describeApiError(status, statusText, bodyText) {
  let code = `http_${status}`;
  let message = null;
  try {
    const body = JSON.parse(bodyText);
    if (body && typeof body.error === "object" && body.error !== null) {
      if (typeof body.error.code === "string") code = body.error.code;
      if (typeof body.error.message === "string" && body.error.message !== "") message = body.error.message;
    }
  } catch {
    // not JSON: described below
  }
  if (message === null) {
    const said = statusText ? `${status} ${statusText}` : `${status}`;
    message = `the server answered ${said} without an explanation`;
  }
  return { status, code, message };
}

/** Decodes the five predefined XML entities and numeric references. */
function xmlText(text) {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e) => {
    switch (e) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
      default:
        return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

/**
 * A sentence for a failed PUT to S3, from its status and XML error body
 * (`<Error><Code>…</Code><Message>…</Message></Error>`). Status 0 is a network or CORS failure.
 */
export function describeUploadFailure(status, bodyText = "") {
  if (status === 0) {
    return "The upload did not reach the storage service (network error, or the storage refused this page's origin).";
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(bodyText)?.[1];
  const detail = /<Message>([^<]*)<\/Message>/.exec(bodyText)?.[1];
  const explanation = detail ? `: ${xmlText(detail).trim().replace(/\.$/, "")}` : "";
  const said = code ? ` (${xmlText(code)}${explanation})` : "";
  let sentence;
  if (code === "PreconditionFailed" || status === 412) {
    sentence = "This upload link was already used.";
  } else if (/expired/i.test(detail ?? "") || code === "ExpiredToken") {
    sentence = "The upload link expired before the upload finished; please try again.";
  } else if (code === "EntityTooLarge" || code === "EntityTooSmall" || code === "IncompleteBody") {
    sentence = "The storage refused the file because its size differs from the size announced.";
  } else if (status === 403) {
    sentence = "The storage refused the upload.";
  } else if (status >= 500) {
    sentence = "The storage service failed; please try again.";
  } else {
    sentence = "The storage refused the upload.";
  }
  return `${sentence} Storage answered ${status}${said}.`;
}

/**
 * The formats a `<picture>` offers before its JPEG `<img>`, best (smallest files) first, with the
 * media type a browser matches its `<source type>` against: the order of
 * `Thumbnails::negotiated_formats` (crates/core, whose test checks this list against
 * `OutputFormat::ALL`). Only those an image was written in are offered.
 */
export const PICTURE_SOURCES = Object.freeze([
  { format: "avif", type: "image/avif" },
  { format: "webp", type: "image/webp" },
]);

/**
 * How to show a ready image from its `thumbnails` list ([{url, width, height, format}]):
 * one `<source>` per written format of PICTURE_SOURCES (AVIF, then WebP) and a JPEG `<img>`
 * (each with a `srcset` by actual width), the `<img>`'s fallback `src` and intrinsic size (the
 * smallest rendition), and the largest rendition to open. Returns null when there is nothing
 * to show.
 */
export function pictureModel(thumbnails) {
  if (!Array.isArray(thumbnails) || thumbnails.length === 0) return null;
  const byFormat = new Map();
  for (const t of thumbnails) {
    if (!t || typeof t.url !== "string" || !isPositiveInteger(t.width) || !isPositiveInteger(t.height)) continue;
    if (!byFormat.has(t.format)) byFormat.set(t.format, []);
    byFormat.get(t.format).push(t);
  }
  const srcsetOf = (list) => {
    // Smallest first; one candidate per width (a small source gives equal widths for two boxes).
    const sorted = [...list].sort((a, b) => a.width - b.width);
    const unique = sorted.filter((t, i) => i === 0 || t.width !== sorted[i - 1].width);
    return { list: unique, srcset: unique.map((t) => `${t.url} ${t.width}w`).join(", ") };
  };
  const fallbackFormat = byFormat.has("jpeg") ? "jpeg" : [...byFormat.keys()][0];
  if (fallbackFormat === undefined) return null;
  const fallback = srcsetOf(byFormat.get(fallbackFormat));
  const sources = [];
  for (const { format, type } of PICTURE_SOURCES) {
    if (format !== fallbackFormat && byFormat.has(format)) {
      sources.push({ type, srcset: srcsetOf(byFormat.get(format)).srcset });
    }
  }
  const smallest = fallback.list[0];
  const largest = fallback.list[fallback.list.length - 1];
  return {
    sources,
    img: { src: smallest.url, srcset: fallback.srcset, width: smallest.width, height: smallest.height },
    largest: { url: largest.url, width: largest.width, height: largest.height, format: largest.format },
  };
}

/** The `sizes` attribute matching the gallery grid in app.css. */
export const GALLERY_SIZES = "(max-width: 30rem) 100vw, (max-width: 48rem) 50vw, 18rem";

/**
 * Where to insert an id into a list kept newest first. Ids are UUIDv7, whose canonical text sorts
 * by creation time, so "newest first" is "descending text". Returns -1 if the id is present.
 */
export function insertionIndex(ids, id) {
  for (let i = 0; i < ids.length; i += 1) {
    if (ids[i] === id) return -1;
    if (ids[i] < id) return i;
  }
  return ids.length;
}

/** "1800 × 1200 JPEG, 344.5 KiB" from a ready image's `source`. */
export function describeSource(source) {
  if (!source || typeof source !== "object") return "";
  const parts = [];
  if (isPositiveInteger(source.width) && isPositiveInteger(source.height))
    parts.push(`${source.width} × ${source.height}`);
  if (typeof source.format === "string") parts.push(typeLabel(`image/${source.format}`));
  const head = parts.join(" ");
  return Number.isSafeInteger(source.bytes) ? `${head}, ${humanBytes(source.bytes)}` : head;
}

/** The API id format: a canonical lower-case UUID. */
export function isImageId(text) {
  return typeof text === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text);
}

// ---- deleting a photo ---------------------------------------------------------------------

/** The request that deletes one of the caller's images: `DELETE /api/images/{id}`. */
export function deleteImageRequest(id) {
  if (typeof id !== "string" || id === "") throw new Error("an image id is needed to delete it");
  return { method: "DELETE", path: `/api/images/${encodeURIComponent(id)}` };
}

/**
 * What a `DELETE /api/images/{id}` answer means for the card: `{kind, removeCard, message}`.
 * `answer` is `{status, message}`: the HTTP status (0 for network trouble) and, for a failure,
 * the sentence to show (an ApiError's message); `label` names the photo in that sentence.
 * - 2xx: `deleted`; the card goes.
 * - 404: `gone` (not the caller's, or deleted already, from another tab say); the card goes too,
 *   without an error.
 * - anything else (401 that could not be recovered from, 5xx, network): `failed`; the card stays
 *   and the message says why.
 */
export function deleteOutcome({ status, message = "" } = {}, label = null) {
  if (Number.isInteger(status) && status >= 200 && status < 300) {
    return { kind: "deleted", removeCard: true, message: null };
  }
  if (status === 404) return { kind: "gone", removeCard: true, message: null };
  const said = typeof message === "string" && message.trim() !== "" ? message.trim() : null;
  const fallback =
    status === 0 || status === undefined
      ? "The server could not be reached."
      : `The server answered ${status}.`;
  const what = typeof label === "string" && label !== "" ? `“${label}”` : "the photo";
  return { kind: "failed", removeCard: false, message: `Could not delete ${what}. ${said ?? fallback}` };
}

/**
 * How a card's photo is named to people (the delete button's label, the confirmation): its file
 * name when known, else what it is and when it was added, e.g.
 * "photo, 1800 × 1200 JPEG, 344.5 KiB, added 12 Mar 2025, 14:00".
 * `image` is an API image; `added` the formatted creation time (or null).
 */
export function photoLabel(image, name = null, added = null) {
  if (typeof name === "string" && name.trim() !== "") return name;
  const kind =
    image?.status === "ready"
      ? "photo"
      : image?.status === "rejected"
        ? "rejected upload"
        : image?.status === "failed"
          ? "upload we could not process"
          : "upload in progress";
  const parts = [kind];
  const source = image?.status === "ready" ? describeSource(image.source) : "";
  if (source) parts.push(source);
  if (added) parts.push(`added ${added}`);
  return parts.join(", ");
}

/**
 * The confirmation's title and sentence for deleting a photo named by photoLabel(): the title
 * quotes the file name when it is known (`named`), else the sentence says what the photo is.
 */
export function deleteConfirmation(label, status, named = true) {
  const noun = status === "ready" ? "photo" : "upload";
  const what =
    status === "ready"
      ? "The photo and its thumbnails are removed for good."
      : status === "rejected" || status === "failed"
        ? "The upload is removed for good."
        : "The upload is stopped and removed for good, with any thumbnails made from it.";
  if (named) return { title: `Delete “${label}”?`, text: `${what} This cannot be undone.` };
  const described = label.charAt(0).toUpperCase() + label.slice(1);
  return { title: `Delete this ${noun}?`, text: `${described}. ${what} This cannot be undone.` };
}

// ---- a photo's title, description and tags ------------------------------------------------
// The rules of crates/core/src/describe.rs, checked here before `PATCH /api/images/{id}` is sent
// so that the page names every problem next to its field; the server checks them again.

/** The core's limits (describe.rs), used only when `GET /api/config` has no `details`. */
export const DETAIL_LIMITS = Object.freeze({
  titleMaxChars: 200,
  descriptionMaxChars: 2000,
  tagsMax: 20,
  tagMaxChars: 32,
});

/**
 * The `details` part of `GET /api/config`: `{titleMaxChars, descriptionMaxChars, tagsMax,
 * tagMaxChars}`. A field that is absent takes the core's default; one that is there but not a
 * positive integer is a problem (pushed onto `problems`).
 */
export function parseDetailLimits(details, problems = []) {
  if (details === undefined || details === null) return { ...DETAIL_LIMITS };
  if (typeof details !== "object" || Array.isArray(details)) {
    problems.push("`details` is not an object");
    return { ...DETAIL_LIMITS };
  }
  const limits = {};
  for (const [name, fallback] of Object.entries(DETAIL_LIMITS)) {
    const value = details[name];
    if (value === undefined || value === null) limits[name] = fallback;
    else if (isPositiveInteger(value)) limits[name] = value;
    else {
      problems.push(`\`details.${name}\` is not a positive integer`);
      limits[name] = fallback;
    }
  }
  return limits;
}

/** Rust's `char::is_whitespace` (Unicode White_Space); JavaScript's `\s` differs by U+0085 and U+FEFF. */
const WHITE_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const EDGE_SPACE = new RegExp(`^[${WHITE_SPACE}]+|[${WHITE_SPACE}]+$`, "g");
const INNER_SPACE = new RegExp(`[${WHITE_SPACE}]+`, "g");
/** Rust's `char::is_alphanumeric` (Alphabetic, or a number: Nd, Nl, No), `-` and `_`. */
const TAG_CHAR = /^[\p{Alphabetic}\p{N}_-]$/u;
/** Rust's `char::is_control` (general category Cc). */
const CONTROL = /\p{Cc}/u;

/** Rust's `str::trim`. */
export function trimText(text) {
  return String(text).replace(EDGE_SPACE, "");
}

/** Characters as Rust counts them (Unicode scalar values), not UTF-16 code units. */
export function charCount(text) {
  let count = 0;
  for (const _ of String(text)) count += 1;
  return count;
}

/** A tag quoted for a sentence, the way people read it (control characters made visible). */
function quoteTag(text) {
  return `“${String(text).replace(/\p{Cc}/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`)}”`;
}

/** A character for a sentence: `“#”`, or "a space", or its code point when invisible. */
function quoteChar(c) {
  if (CONTROL.test(c) || /^\p{Z}$/u.test(c)) return `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  return `“${c}”`;
}

/**
 * A tag as the server stores it (describe.rs `normalize_tag`): trimmed, white space inside
 * turned into one `-`, lower-case, 1 to `maxChars` letters, digits, `-` or `_` (of any script).
 * Returns `{tag}` or `{problem}` (a sentence naming the tag).
 * "  Sunset " → "sunset", "New  York" → "new-york", "ÉTÉ_2026" → "été_2026"; "a#b" is refused.
 */
export function normalizeTag(raw, maxChars = DETAIL_LIMITS.tagMaxChars) {
  const trimmed = trimText(raw);
  const tag = trimmed.replace(INNER_SPACE, "-").toLowerCase();
  if (tag === "") return { problem: "A tag is empty." };
  if (charCount(tag) > maxChars) {
    return { problem: `The tag ${quoteTag(trimmed)} is longer than ${maxChars} characters.` };
  }
  for (const c of tag) {
    if (!TAG_CHAR.test(c)) {
      return {
        problem: `The tag ${quoteTag(trimmed)} holds ${quoteChar(c)}: tags are letters, digits, “-” and “_”.`,
      };
    }
  }
  return { tag };
}

/**
 * The tags typed in the comma-separated field: `{tags, problems}`, `tags` normalised, sorted and
 * unique, `problems` every sentence at once (bad tags, a tag given twice, too many tags).
 * Empty pieces (", ,", a trailing comma) are skipped, and a leading `#` is taken off each piece
 * (the page shows tags as "#sunset"), so "#Sunset, new york," gives ["new-york", "sunset"].
 */
export function parseTagsInput(text, limits = DETAIL_LIMITS) {
  const pieces = String(text ?? "")
    .split(",")
    .map((piece) => trimText(piece).replace(/^#/, ""))
    .filter((piece) => trimText(piece) !== "");
  const tags = [];
  const problems = [];
  for (const piece of pieces) {
    const { tag, problem } = normalizeTag(piece, limits.tagMaxChars);
    if (problem) problems.push(problem);
    else if (tags.includes(tag)) problems.push(`The tag “${tag}” is given twice.`);
    else tags.push(tag);
  }
  if (pieces.length > limits.tagsMax) {
    problems.push(`${pieces.length} tags given, at most ${limits.tagsMax} are allowed.`);
  }
  tags.sort(compareTags);
  return { tags, problems };
}

/** Rust's string order (by code point), which is how the server sorts tags. */
export function compareTags(a, b) {
  const x = [...a].map((c) => c.codePointAt(0));
  const y = [...b].map((c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The tags for the comma-separated field: "sunset, new-york". */
export function tagsInputText(tags) {
  return Array.isArray(tags) ? tags.join(", ") : "";
}

/**
 * A typed title or description (describe.rs `text`): `{value, problems}`, `value` trimmed, null
 * when nothing is left. Line breaks and tabs are allowed when `multiline`; no other control
 * character is.
 */
export function checkDetailText(text, { field, max, multiline = false }) {
  const value = trimText(text ?? "");
  const problems = [];
  const count = charCount(value);
  if (count > max) problems.push(`The ${field} is ${count} characters long; at most ${max} are allowed.`);
  const bad = [...value].find((c) => CONTROL.test(c) && !(multiline && (c === "\n" || c === "\r" || c === "\t")));
  if (bad !== undefined) {
    problems.push(
      multiline
        ? `The ${field} holds a control character (${quoteChar(bad)}); only line breaks and tabs are allowed.`
        : `The ${field} holds a control character (${quoteChar(bad)}); it must be one line.`,
    );
  }
  return { value: value === "" ? null : value, problems };
}

/** An image's title, description and tags as the API gives them (missing ones as none). */
export function imageDetails(image) {
  const text = (value) => (typeof value === "string" && value !== "" ? value : null);
  return {
    title: text(image?.title),
    description: text(image?.description),
    tags: Array.isArray(image?.tags) ? image.tags.filter((t) => typeof t === "string") : [],
  };
}

/**
 * Builds the body of `PATCH /api/images/{id}` from the edit form's fields (`{title, description,
 * tags}` as typed, tags comma-separated) and the image as shown: `{body, problems, changed}`.
 * `problems` has a list per field (`title`, `description`, `tags`), each empty when the field is
 * fine; `body` holds only the fields that change (null clears a title or description, [] removes
 * every tag), and is null when there is a problem or nothing changes (`changed` false).
 */
export function buildEditBody(form, image, limits = DETAIL_LIMITS) {
  const current = imageDetails(image);
  const title = checkDetailText(form.title, { field: "title", max: limits.titleMaxChars });
  const description = checkDetailText(form.description, {
    field: "description",
    max: limits.descriptionMaxChars,
    multiline: true,
  });
  const tags = parseTagsInput(form.tags, limits);
  const problems = { title: title.problems, description: description.problems, tags: tags.problems };
  const body = {};
  if (title.value !== current.title) body.title = title.value;
  // A textarea gives "\n" line breaks; the stored text may have "\r\n" ones.
  const normalise = (text) => (text === null ? null : text.replace(/\r\n?/g, "\n"));
  if (normalise(description.value) !== normalise(current.description)) body.description = description.value;
  const sortedCurrent = [...current.tags].sort(compareTags);
  if (tags.tags.length !== sortedCurrent.length || tags.tags.some((t, i) => t !== sortedCurrent[i])) {
    body.tags = tags.tags;
  }
  const changed = Object.keys(body).length > 0;
  const ok = Object.values(problems).every((list) => list.length === 0);
  return { body: ok && changed ? body : null, problems, changed, tags: tags.tags };
}

/** The request that edits one of the caller's images: `PATCH /api/images/{id}`. */
export function editImageRequest(id, body) {
  if (typeof id !== "string" || id === "") throw new Error("an image id is needed to edit it");
  if (!body || typeof body !== "object" || Array.isArray(body) || Object.keys(body).length === 0) {
    throw new Error("an edit needs at least one of title, description, tags");
  }
  return { method: "PATCH", path: `/api/images/${encodeURIComponent(id)}`, body };
}

/**
 * The problems in a `400 invalid_request` message ("problem; problem; …"), each given to the
 * field it is about (`title`, `description`, `tags`), else (an unknown field, say) to `other`:
 * `{title, description, tags, other}`, lists of sentences.
 */
export function splitEditProblems(message) {
  const result = { title: [], description: [], tags: [], other: [] };
  const text = typeof message === "string" ? message.trim() : "";
  if (text === "") return result;
  for (const part of text.split(/;\s+/)) {
    const problem = part.trim().replace(/\.$/, "");
    if (problem === "") continue;
    const sentence = `${problem.charAt(0).toUpperCase()}${problem.slice(1)}.`;
    // describe.rs starts each problem with what it is about.
    if (/^`title`/.test(problem)) result.title.push(sentence);
    else if (/^`description`/.test(problem)) result.description.push(sentence);
    else if (/^(`tags`|(the|a|every) tag\b|\d+ tags given)/i.test(problem)) result.tags.push(sentence);
    else result.other.push(sentence);
  }
  return result;
}

/** What a card shows as its title: the user's title, else the file name, else what it is. */
export function cardTitle(image, name = null, status = image?.status) {
  const { title } = imageDetails(image);
  if (title) return title;
  if (typeof name === "string" && name.trim() !== "") return name;
  if (status === "failed") return "Upload not processed";
  return status === "ready" ? "Photo" : status === "rejected" ? "Rejected upload" : "Upload";
}

/** A description longer than this many characters, or than this many lines, is shown collapsed. */
export const DESCRIPTION_PREVIEW = Object.freeze({ chars: 140, lines: 3 });

/** Whether a description is long enough to be shown collapsed, with a "Show more" button. */
export function isLongDescription(text, preview = DESCRIPTION_PREVIEW) {
  if (typeof text !== "string") return false;
  return charCount(text) > preview.chars || text.split(/\r\n?|\n/).length > preview.lines;
}

// ---- filtering by tag ---------------------------------------------------------------------

/**
 * The tag the page's address asks for (`?tag=`): `{tag}` normalised (null when none), or
 * `{tag: null, problem}` when it cannot be a tag.
 */
export function tagFromSearch(search, limits = DETAIL_LIMITS) {
  const raw = new URLSearchParams(search ?? "").get("tag");
  if (raw === null || trimText(raw) === "") return { tag: null };
  const { tag, problem } = normalizeTag(raw, limits.tagMaxChars);
  return problem ? { tag: null, problem } : { tag };
}

/** The page's address with `?tag=` set to `tag`, or taken off for null; other parts kept. */
export function urlWithTag(href, tag) {
  const url = new URL(href);
  if (tag) url.searchParams.set("tag", tag);
  else url.searchParams.delete("tag");
  return `${url.pathname}${url.search}${url.hash}`;
}

/** `GET /api/images` with its query: `limit`, then `cursor`, `album` and `tag` when given. */
export function listImagesPath({ limit = 24, cursor = null, album = null, tag = null } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  if (album) query.set("album", album);
  if (tag) query.set("tag", tag);
  return `/api/images?${query}`;
}

/** Whether an image belongs in a gallery filtered by `tag` (null: every image does). */
export function matchesTag(image, tag) {
  return tag === null || tag === undefined || imageDetails(image).tags.includes(tag);
}

// ---- albums -------------------------------------------------------------------------------
// The rules of crates/core/src/describe.rs (`check_album_name`, the album limits), checked here
// before `POST`/`PATCH /api/albums…` is sent; the server checks them again.

/** The core's album limits, used only when `GET /api/config` has no `albumLimits`. */
export const ALBUM_LIMITS = Object.freeze({ nameMaxChars: 100, albumsMax: 200, perPhotoMax: 32 });

/**
 * The `albumLimits` part of `GET /api/config`: `{nameMaxChars, albumsMax, perPhotoMax}`; absent
 * fields take the core's defaults, a field that is not a positive integer is a problem.
 */
export function parseAlbumLimits(value, problems = []) {
  if (value === undefined || value === null) return { ...ALBUM_LIMITS };
  if (typeof value !== "object" || Array.isArray(value)) {
    problems.push("`albumLimits` is not an object");
    return { ...ALBUM_LIMITS };
  }
  const limits = {};
  for (const [name, fallback] of Object.entries(ALBUM_LIMITS)) {
    const given = value[name];
    if (given === undefined || given === null) limits[name] = fallback;
    else if (isPositiveInteger(given)) limits[name] = given;
    else {
      problems.push(`\`albumLimits.${name}\` is not a positive integer`);
      limits[name] = fallback;
    }
  }
  return limits;
}

/**
 * The `namedSizes` part of `GET /api/config`: `[{name, size}]`, smallest first (as the server
 * lists them; sorted again here). Absent: none. Anything else is a problem.
 */
export function parseNamedSizes(value, problems = []) {
  if (value === undefined || value === null) return [];
  const ok =
    Array.isArray(value) &&
    value.every((s) => s && typeof s.name === "string" && /^[a-z0-9_-]+$/.test(s.name) && isPositiveInteger(s.size));
  if (!ok) {
    problems.push("`namedSizes` is not a list of {name, size}");
    return [];
  }
  return value.map(({ name, size }) => ({ name, size })).sort((a, b) => a.size - b.size);
}

/**
 * A typed album name (describe.rs `check_album_name`): `{value, problems}`, `value` trimmed
 * (null when there is a problem), `problems` every sentence at once.
 */
export function checkAlbumName(text, limits = ALBUM_LIMITS) {
  const value = trimText(text ?? "");
  const problems = [];
  const count = charCount(value);
  if (count === 0) problems.push("An album needs a name.");
  if (count > limits.nameMaxChars) {
    problems.push(`The name is ${count} characters long; at most ${limits.nameMaxChars} are allowed.`);
  }
  const bad = [...value].find((c) => CONTROL.test(c));
  if (bad !== undefined) problems.push(`The name holds a control character (${quoteChar(bad)}); it must be one line.`);
  return { value: problems.length === 0 ? value : null, problems };
}

/**
 * Whether one more album may be created (`albums` is how many there are): null, or the sentence
 * saying why not.
 */
export function albumQuotaProblem(albums, limits = ALBUM_LIMITS) {
  return albums >= limits.albumsMax
    ? `You have ${albums} albums, the most there may be. Delete one to create another.`
    : null;
}

/** "No photos", "1 photo", "12 photos". */
export function photoCount(count) {
  if (!Number.isSafeInteger(count) || count <= 0) return "No photos";
  return count === 1 ? "1 photo" : `${count} photos`;
}

/** An album id as the API issues them (a canonical lower-case UUID, like image ids). */
export function isAlbumId(text) {
  return isImageId(text);
}

/** The request that creates an album: `POST /api/albums` with `{name}`. */
export function createAlbumRequest(name) {
  return { method: "POST", path: "/api/albums", body: { name } };
}

/** The request that renames an album: `PATCH /api/albums/{id}` with `{name}`. */
export function renameAlbumRequest(id, name) {
  if (!isAlbumId(id)) throw new Error("an album id is needed to rename it");
  return { method: "PATCH", path: `/api/albums/${encodeURIComponent(id)}`, body: { name } };
}

/** The request that deletes an album (its photos stay): `DELETE /api/albums/{id}`. */
export function deleteAlbumRequest(id) {
  if (!isAlbumId(id)) throw new Error("an album id is needed to delete it");
  return { method: "DELETE", path: `/api/albums/${encodeURIComponent(id)}` };
}

/** Adding (`PUT`) or removing (`DELETE`) a photo: `/api/albums/{id}/photos/{imageId}`. */
export function albumPhotoRequest(albumId, imageId, add = true) {
  if (!isAlbumId(albumId)) throw new Error("an album id is needed");
  if (typeof imageId !== "string" || imageId === "") throw new Error("an image id is needed");
  return {
    method: add ? "PUT" : "DELETE",
    path: `/api/albums/${encodeURIComponent(albumId)}/photos/${encodeURIComponent(imageId)}`,
  };
}

/** The album ids an image is in, as the API gives them (null when the answer does not say). */
export function imageAlbums(image) {
  return Array.isArray(image?.albums) ? image.albums.filter((a) => typeof a === "string") : null;
}

/**
 * What came of adding photos to (or removing them from) an album, as one sentence:
 * `results` is `[{label, status, code, message}]` per photo (status 204 when it worked).
 * Returns `{done, failed, text}`; `text` names every failure and why.
 */
export function albumChangeSummary(results, albumName, { add = true } = {}) {
  const done = results.filter((r) => r.status >= 200 && r.status < 300);
  const failed = results.filter((r) => !(r.status >= 200 && r.status < 300));
  const album = `“${albumName}”`;
  const verb = add ? "Added" : "Removed";
  const where = add ? `to ${album}` : `from ${album}`;
  const lead =
    failed.length === 0
      ? `${verb} ${photoCount(done.length).toLowerCase()} ${where}.`
      : done.length === 0
        ? `No photo was ${add ? "added to" : "removed from"} ${album}.`
        : `${verb} ${done.length} of ${photoCount(results.length).toLowerCase()} ${where}.`;
  const why = failed.map((r) => {
    if (r.code === "too_many_albums_for_photo") return `“${r.label}” is in as many albums as a photo may be.`;
    if (r.code === "image_not_found") return `“${r.label}” no longer exists.`;
    if (r.code === "album_not_found") return `The album no longer exists.`;
    return `“${r.label}”: ${String(r.message ?? "it failed").replace(/\.$/, "")}.`;
  });
  const unique = [...new Set(why)];
  return { done: done.length, failed: failed.length, text: [lead, ...unique].join(" ") };
}

// ---- what the gallery shows: all photos, or one album's, each optionally with one tag -------

/**
 * The view the page's address asks for (`?album=…&tag=…`): `{album, tag, problems}`, the tag
 * normalised, each null when absent, `problems` the sentences for parts that cannot be (an album
 * id that is not one, a tag that cannot be a tag); those parts are left out.
 */
export function viewFromSearch(search, limits = DETAIL_LIMITS) {
  const query = new URLSearchParams(search ?? "");
  const problems = [];
  const rawAlbum = query.get("album");
  let album = null;
  if (rawAlbum !== null && trimText(rawAlbum) !== "") {
    const id = trimText(rawAlbum).toLowerCase();
    if (isAlbumId(id)) album = id;
    else problems.push(`“${rawAlbum}” is not an album of this site.`);
  }
  const wanted = tagFromSearch(search, limits);
  if (wanted.problem) problems.push(wanted.problem);
  return { album, tag: wanted.tag, problems };
}

/** The page's address showing `{album, tag}` (`?album=…&tag=…`; null ones left out); other parts kept. */
export function urlWithView(href, { album = null, tag = null } = {}) {
  const url = new URL(href);
  const rest = [...url.searchParams].filter(([name]) => name !== "album" && name !== "tag");
  const query = new URLSearchParams();
  if (album) query.set("album", album);
  if (tag) query.set("tag", tag);
  for (const [name, value] of rest) query.append(name, value);
  const search = query.toString();
  return `${url.pathname}${search ? `?${search}` : ""}${url.hash}`;
}

/** Whether two views are the same. */
export function sameView(a, b) {
  return (a?.album ?? null) === (b?.album ?? null) && (a?.tag ?? null) === (b?.tag ?? null);
}

/**
 * Whether an image belongs in a view `{album, tag}`. An image whose albums are not known (an
 * answer without `albums`) is left to the listing, which only lists an album's photos.
 */
export function matchesView(image, { album = null, tag = null } = {}) {
  if (!matchesTag(image, tag)) return false;
  if (album === null) return true;
  const albums = imageAlbums(image);
  return albums === null || albums.includes(album);
}

/**
 * The gallery's heading for a view: "Your photos", "Your photos tagged #x",
 * "Album “Trip”", "Album “Trip”: photos tagged #x". `albumName` null while it is not known yet.
 */
export function viewHeading({ album = null, tag = null } = {}, albumName = null) {
  if (album === null) return tag === null ? "Your photos" : `Your photos tagged #${tag}`;
  const name = albumName === null ? "Album" : `Album “${albumName}”`;
  return tag === null ? name : `${name}: photos tagged #${tag}`;
}

/** The sentence announced when a view has been listed (`count` cards, `more` when a next page exists). */
export function viewAnnouncement({ album = null, tag = null } = {}, { count, more = false, albumName = null, why = null }) {
  const photos = `${photoCount(count).replace(/^No photos$/, "0 photos")}${more ? " (more to load)" : ""}`;
  const tagged = tag === null ? "" : ` tagged #${tag}`;
  if (album === null) {
    return tag === null ? `Showing all photos${why ? `, ${why}` : ""}.` : `Showing ${photos}${tagged}.`;
  }
  const name = albumName === null ? "this album" : `the album “${albumName}”`;
  return `Showing ${photos} of ${name}${tagged}.`;
}

// ---- a photo's files, and saving things -------------------------------------------------

/**
 * `GET /api/images/{id}/content?size=…&format=…`: a redirect to the original (`size` "original",
 * no format) or to a named size's rendition.
 */
export function imageContentPath(id, { size = "original", format = null } = {}) {
  if (typeof id !== "string" || id === "") throw new Error("an image id is needed");
  const query = new URLSearchParams({ size });
  if (format) query.set("format", format);
  return `/api/images/${encodeURIComponent(id)}/content?${query}`;
}

const EXTENSIONS = Object.freeze({
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
  "image/gif": "gif",
});

/**
 * The file name a downloaded original is saved as: the photo's own file name (the API's
 * `filename`) made safe to save (no folders, no characters systems refuse, at most 200
 * characters, an extension from its type when it has none), else `photo-{id}.{ext}`.
 */
export function downloadFilename(image) {
  const type = typeof image?.contentType === "string" ? image.contentType : image?.source?.format ? `image/${image.source.format}` : null;
  const ext = (type && EXTENSIONS[type]) || null;
  let name = typeof image?.filename === "string" ? image.filename : "";
  name = name.split(/[\\/]/).pop() ?? "";
  name = name
    .replace(/\p{Cc}/gu, "")
    .replace(/[<>:"|?*]/g, "_")
    .replace(/^[\s.]+|[\s.]+$/g, "");
  if ([...name].length > 200) {
    const dot = name.lastIndexOf(".");
    const tail = dot > 0 && name.length - dot <= 10 ? name.slice(dot) : "";
    name = [...name].slice(0, 200 - tail.length).join("") + tail;
  }
  if (name === "") return `photo-${image?.id ?? "download"}${ext ? `.${ext}` : ""}`;
  if (!/\.[A-Za-z0-9]{1,5}$/.test(name) && ext) name = `${name}.${ext}`;
  return name;
}

/**
 * The file name of a `Content-Disposition: attachment; filename=…` header (RFC 6266: `filename*`
 * in UTF-8 first, then `filename`, quoted or not), without any folder; `fallback` when none.
 */
export function filenameFromDisposition(header, fallback) {
  if (typeof header !== "string") return fallback;
  let name = null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star) {
    try {
      name = decodeURIComponent(star[1].trim());
    } catch {
      name = null;
    }
  }
  if (name === null) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(header);
    if (plain) name = plain[1] !== undefined ? plain[1].replace(/\\(.)/g, "$1") : plain[2];
  }
  name = name?.split(/[\\/]/).pop()?.trim() ?? "";
  return name === "" ? fallback : name;
}

// ---- the account: export and deletion -----------------------------------------------------

/** What the user types to confirm deleting their account. */
export const CONFIRMATION_PHRASE = "delete my account";

/**
 * Whether `typed` is the confirmation `phrase`: letter case and the white space around and
 * between words do not matter; anything else does.
 */
export function confirmationMatches(typed, phrase = CONFIRMATION_PHRASE) {
  const tidy = (text) => trimText(String(text ?? "")).replace(INNER_SPACE, " ").toLowerCase();
  return tidy(phrase) !== "" && tidy(typed) === tidy(phrase);
}

/** Polling of `GET /api/account` while the account is deleted: 1 s growing ×1.5 to 10 s, for 2 minutes. */
export const ACCOUNT_POLL = Object.freeze({
  firstDelayMs: 1000,
  factor: 1.5,
  maxDelayMs: 10000,
  maxRetryAfterMs: 30000,
  giveUpAfterMs: 120000,
});

/** The wait before poll number `attempt` of the account's deletion (honouring `Retry-After`). */
export function accountPollDelay(attempt, retryAfterMs = null) {
  return nextPollDelay(attempt, retryAfterMs, ACCOUNT_POLL);
}

/**
 * A `GET /api/account` (or `DELETE /api/account`) answer, checked: `{status: "active", images,
 * bytes, albums}`, `{status: "deleting", requestedAt, imagesLeft}` or `{status: "deleted",
 * deletedAt}`. Throws on anything else.
 */
export function parseAccount(body) {
  const count = (value) => (Number.isSafeInteger(value) && value >= 0 ? value : null);
  const status = body?.status;
  if (status === "active") {
    return {
      status,
      images: count(body.images),
      bytes: count(body.bytes),
      albums: count(body.albums),
      uploadsToday: count(body.uploadsToday),
      bytesToday: count(body.bytesToday),
      dayResetsAt: typeof body.dayResetsAt === "string" ? body.dayResetsAt : null,
    };
  }
  if (status === "deleting") {
    return { status, requestedAt: typeof body.requestedAt === "string" ? body.requestedAt : null, imagesLeft: count(body.imagesLeft) };
  }
  if (status === "deleted") return { status, deletedAt: typeof body.deletedAt === "string" ? body.deletedAt : null };
  throw new Error("the account's state is not one the page knows");
}

/** What the account holds, for the deletion's confirmation: "5 photos (3.2 MiB) and 2 albums". */
export function accountContents(account) {
  if (!account || account.status !== "active") return null;
  const photos = photoCount(account.images ?? 0).replace(/^No photos$/, "no photos");
  const bytes = account.images > 0 && account.bytes !== null ? ` (${humanBytes(account.bytes)})` : "";
  const albums = account.albums === 1 ? "1 album" : `${account.albums ?? 0} albums`;
  return `${photos}${bytes} and ${albums.replace(/^0 albums$/, "no albums")}`;
}

/** The progress of a deletion, said to people. */
export function deletionProgress(account) {
  if (account?.status === "deleted") return "Your account is deleted.";
  if (account?.status === "deleting") {
    const left = account.imagesLeft;
    return left === null || left === undefined
      ? "Deleting your account…"
      : left === 0
        ? "Deleting your account… removing the last files."
        : `Deleting your account… ${photoCount(left).toLowerCase()} left.`;
  }
  return "Deleting your account…";
}

const BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

function decode83(text) {
  let value = 0;
  for (const char of text) {
    const digit = BASE83.indexOf(char);
    if (digit < 0) return Number.NaN;
    value = value * 83 + digit;
  }
  return value;
}

const srgbToLinear = (value) => {
  const v = value / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
};

const linearToSrgb = (value) => {
  const v = Math.min(1, Math.max(0, value));
  return Math.round((v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055) * 255);
};

/**
 * The RGBA pixels (`width` × `height`) of a BlurHash (https://blurha.sh), the placeholder the
 * API gives a ready photo (`placeholder.blurhash`, made by crates/engine with the `blurhash`
 * crate); null for anything that is not a well-formed hash or a sensible size.
 */
export function blurhashPixels(hash, width, height) {
  const sizeOk = (n) => Number.isInteger(n) && n > 0 && n <= 128;
  if (typeof hash !== "string" || hash.length < 6 || !sizeOk(width) || !sizeOk(height)) return null;
  const size = decode83(hash[0]);
  const nx = (size % 9) + 1;
  const ny = Math.floor(size / 9) + 1;
  if (Number.isNaN(size) || hash.length !== 4 + 2 * nx * ny) return null;
  const maxAc = (decode83(hash[1]) + 1) / 166;
  const dc = decode83(hash.slice(2, 6));
  const colors = [[srgbToLinear(dc >> 16), srgbToLinear((dc >> 8) & 255), srgbToLinear(dc & 255)]];
  for (let i = 1; i < nx * ny; i += 1) {
    const value = decode83(hash.slice(4 + i * 2, 6 + i * 2));
    const quantised = [Math.floor(value / 361), Math.floor(value / 19) % 19, value % 19];
    colors.push(quantised.map((q) => Math.sign(q - 9) * ((q - 9) / 9) ** 2 * maxAc));
  }
  if (Number.isNaN(maxAc) || colors.flat().some(Number.isNaN)) return null;
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const rgb = [0, 0, 0];
      for (let j = 0; j < ny; j += 1) {
        for (let i = 0; i < nx; i += 1) {
          const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
          const color = colors[i + j * nx];
          for (let c = 0; c < 3; c += 1) rgb[c] += color[c] * basis;
        }
      }
      const at = (y * width + x) * 4;
      for (let c = 0; c < 3; c += 1) pixels[at + c] = linearToSrgb(rgb[c]);
      pixels[at + 3] = 255;
    }
  }
  return pixels;
}

/** A `#rrggbb` colour from the API, or null (so nothing else reaches a style). */
export function cssColor(value) {
  return typeof value === "string" && /^#[0-9a-f]{6}$/i.test(value) ? value : null;
}
