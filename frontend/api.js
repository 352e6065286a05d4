// The same-origin API under /api (see "The API" in the repository README), called with the
// signed-in user's access token.
// Every failure becomes an ApiError whose message can be shown as it is.

import {
  albumPhotoRequest,
  createAlbumRequest,
  deleteAlbumRequest,
  deleteImageRequest,
  describeApiError,
  editImageRequest,
  filenameFromDisposition,
  imageContentPath,
  listImagesPath,
  parseAccount,
  parseConfig,
  parseRetryAfter,
  renameAlbumRequest,
} from "./lib.js";

/** How long one API call may take before it is given up. */
const TIMEOUT_MS = 20000;
/** How long a download (an original of up to the upload limit, the export) may take. */
const DOWNLOAD_TIMEOUT_MS = 180000;

export class ApiError extends Error {
  /**
   * @param {string} message a sentence for people
   * @param {{status?: number, code?: string, retryAfterMs?: number|null, request?: string,
   *   detail?: string|null}} details `detail` is the API's own message, as it said it
   */
  constructor(message, { status = 0, code = "network", retryAfterMs = null, request = "", detail = null } = {}) {
    super(message);
    this.detail = detail;
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.request = request;
  }

  /**
   * Whether trying again soon may help (network trouble, throttling, 5xx); a quota's 429 is not
   * that: it lasts until the day's counts start again.
   */
  get transient() {
    const quota = this.code.endsWith("_quota_exceeded");
    return this.status === 0 || (this.status === 429 && !quota) || this.status >= 500;
  }
}

/**
 * Where API calls get their access token: `token()` gives the current one (or null), and
 * `recover()` is called after a 401 and resolves to whether a new token is there (renewed, or
 * signed in again) so the call is made once more.
 */
let credentials = { token: async () => null, recover: async () => false };

/** Sets how API calls are authorised (see `credentials`). */
export function useCredentials(source) {
  credentials = source;
}

/**
 * Calls the API and returns the decoded JSON body, or throws an ApiError. Every route but
 * `GET /api/config` carries the access token; a 401 is recovered from once.
 */
export async function apiFetch(path, options = {}) {
  try {
    return await apiCall(path, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !(await credentials.recover())) throw error;
    return apiCall(path, options);
  }
}

/**
 * One call. `read` says what a successful answer resolves to: `"json"` (the decoded body, null
 * for a `204`), `"text"` (`{text, headers}`) or `"blob"` (`{blob, headers}`, e.g. a file the API
 * redirected to, followed like any redirect).
 */
async function apiCall(path, { method = "GET", body, signal, read = "json" } = {}) {
  const request = `${method} ${path}`;
  const limit = read === "blob" ? DOWNLOAD_TIMEOUT_MS : TIMEOUT_MS;
  // One controller for both the caller's signal and the time limit (AbortSignal.any is too new).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, limit);
  const forward = () => controller.abort();
  signal?.addEventListener("abort", forward, { once: true });
  const init = {
    method,
    headers: { accept: "application/json" },
    credentials: "same-origin",
    signal: controller.signal,
  };
  if (path !== "/api/config") {
    const token = await credentials.token();
    if (token) init.headers.authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  let blob;
  try {
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (signal?.aborted) throw error;
      const why = timedOut ? `no answer within ${limit / 1000} s` : "the network request failed";
      throw new ApiError(`Could not reach the server (${request}: ${why}).`, { request });
    }
    try {
      if (read === "blob" && response.ok) blob = await response.blob();
      else text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(`The server's answer to ${request} was cut off.`, { status: response.status, request });
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", forward);
  }
  if (!response.ok) {
    const { code, message } = describeApiError(response.status, response.statusText, text);
    throw new ApiError(`${capitalize(message)} (${request} → ${response.status}).`, {
      status: response.status,
      code,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      request,
      detail: message,
    });
  }
  if (read === "blob") return { blob, headers: response.headers };
  if (read === "text") return { text, headers: response.headers };
  // `204 No Content` (a delete) has no body to decode.
  if (response.status === 204 || (text === "" && method === "DELETE")) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(`The server's answer to ${request} is not JSON.`, {
      status: response.status,
      code: "bad_response",
      request,
    });
  }
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `GET /api/config`, checked. */
export async function getConfig() {
  const body = await apiFetch("/api/config");
  try {
    return parseConfig(body);
  } catch (error) {
    throw new ApiError(`${capitalize(error.message)} (GET /api/config).`, { status: 200, code: "bad_response" });
  }
}

/** `POST /api/uploads` for a File. */
export function createUpload(file) {
  return apiFetch("/api/uploads", {
    method: "POST",
    body: { filename: file.name, contentType: file.type, size: file.size },
  });
}

/** `GET /api/images/{id}`. */
export function getImage(id, { signal } = {}) {
  return apiFetch(`/api/images/${encodeURIComponent(id)}`, { signal });
}

/**
 * `DELETE /api/images/{id}`: resolves (to null) on `204`; a `404` (not the caller's, or gone
 * already), like every other failure, rejects with an ApiError (lib.js `deleteOutcome` says what
 * each means). A 401 is recovered from like any call's: the delete is sent again once signed in.
 */
export function deleteImage(id) {
  const { method, path } = deleteImageRequest(id);
  return apiFetch(path, { method });
}

/**
 * `PATCH /api/images/{id}` with `{title?, description?, tags?}` (lib.js `buildEditBody`): resolves
 * to the image as `GET` now shows it. A `400 invalid_request` rejects with an ApiError whose
 * `detail` lists the problems ("problem; problem"); a 401 is recovered from like any call's.
 */
export function editImage(id, body) {
  const request = editImageRequest(id, body);
  return apiFetch(request.path, { method: request.method, body: request.body });
}

/**
 * `GET /api/images?limit=N&cursor=C&album=A&tag=T`: `{items, next}` (only the photos of album A
 * and tagged T, when given; an album that is not the caller's is a `404 album_not_found`).
 */
export function listImages({ limit = 24, cursor = null, album = null, tag = null, signal } = {}) {
  return apiFetch(listImagesPath({ limit, cursor, album, tag }), { signal });
}

// ---- albums -----------------------------------------------------------------------------------

/** `GET /api/albums`: `{items: [Album]}`, newest first. */
export function listAlbums({ signal } = {}) {
  return apiFetch("/api/albums", { signal });
}

/** `POST /api/albums` with `{name}`: the new album (`201`). */
export function createAlbum(name) {
  const { method, path, body } = createAlbumRequest(name);
  return apiFetch(path, { method, body });
}

/** `PATCH /api/albums/{id}` with `{name}`: the album as it now is. */
export function renameAlbum(id, name) {
  const { method, path, body } = renameAlbumRequest(id, name);
  return apiFetch(path, { method, body });
}

/** `DELETE /api/albums/{id}`: `204`; its photos stay. */
export function deleteAlbum(id) {
  const { method, path } = deleteAlbumRequest(id);
  return apiFetch(path, { method });
}

/** `PUT` (add) or `DELETE` (remove) `/api/albums/{id}/photos/{imageId}`: `204`, either way idempotent. */
export function setAlbumPhoto(albumId, imageId, add) {
  const { method, path } = albumPhotoRequest(albumId, imageId, add);
  return apiFetch(path, { method });
}

// ---- a photo's files ------------------------------------------------------------------------

/**
 * The original of a photo as a Blob: `GET /api/images/{id}/content?size=original` answers `302`
 * to a short-lived pre-signed S3 URL, which `fetch` follows (the bucket allows CORS `GET`; the
 * access token is not sent on to another origin).
 */
export async function downloadOriginal(id) {
  const { blob } = await apiFetch(imageContentPath(id, { size: "original" }), { read: "blob" });
  return blob;
}

// ---- the account ----------------------------------------------------------------------------

/** `GET /api/account`, checked (lib.js `parseAccount`). */
export async function getAccount({ signal } = {}) {
  return checkedAccount(await apiFetch("/api/account", { signal }), "GET /api/account");
}

/** `DELETE /api/account`: `202` with the `deleting` state (or `200` when it is deleted already). */
export async function deleteAccount() {
  return checkedAccount(await apiFetch("/api/account", { method: "DELETE" }), "DELETE /api/account");
}

function checkedAccount(body, request) {
  try {
    return parseAccount(body);
  } catch (error) {
    throw new ApiError(`${capitalize(error.message)} (${request}).`, { status: 200, code: "bad_response", request });
  }
}

/**
 * `GET /api/account/export`: the JSON document as the server wrote it (`text`), and the file
 * name its `Content-Disposition` gives.
 */
export async function exportAccount() {
  const { text, headers } = await apiFetch("/api/account/export", { read: "text" });
  return { text, filename: filenameFromDisposition(headers.get("content-disposition"), "thumbforge-export.json") };
}
