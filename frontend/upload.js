// Sending one file: the pre-signed PUT straight to S3 (XMLHttpRequest, for upload progress) and
// the status polling that follows. No DOM here: callers are told through callbacks.

import { getImage } from "./api.js";
import { POLL, describeUploadFailure, nextPollDelay, planUploadHeaders } from "./lib.js";

export class UploadError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "UploadError";
    this.status = status;
  }
}

/**
 * PUTs `file` as `upload` ({method, url, headers} from `POST /api/uploads`) says, sending every
 * header the browser lets a page set (the browser sets `content-length` from the file itself).
 * `onProgress(loaded, total)` is called as bytes leave. Resolves when S3 answered 2xx.
 */
export function putFile(upload, file, { onProgress = () => {}, signal } = {}) {
  return new Promise((resolve, reject) => {
    let headers;
    try {
      headers = planUploadHeaders(upload.headers, file.size).set;
    } catch (error) {
      reject(new UploadError(`Cannot upload: ${error.message}.`));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method || "PUT", upload.url);
    for (const [name, value] of headers) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        reject(new UploadError(describeUploadFailure(xhr.status, xhr.responseText), xhr.status));
      }
    });
    xhr.addEventListener("error", () => reject(new UploadError(describeUploadFailure(0))));
    xhr.addEventListener("timeout", () => reject(new UploadError(describeUploadFailure(0))));
    xhr.addEventListener("abort", () => reject(new DOMException("The upload was cancelled.", "AbortError")));
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException("The upload was cancelled.", "AbortError"));
        return;
      }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new DOMException("Stopped.", "AbortError"));
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new DOMException("Stopped.", "AbortError"));
      },
      { once: true },
    );
  });
}

/** How many `404` answers are tolerated right after an upload before it counts as lost. */
const NOT_FOUND_TOLERANCE = 3;
/** How many failed polls in a row (network, 5xx) are retried before giving up. */
const ERROR_TOLERANCE = 5;

/**
 * Polls `GET /api/images/{id}` with back-off (lib.js `POLL`) until the image is `ready` or
 * `rejected` or `failed`, honouring `Retry-After`. `onUpdate(image)` gets every answer. Resolves with the
 * final image, or with `{id, status: "pending", slow: true}` when the patience runs out.
 * Rejects with the ApiError when polling keeps failing.
 */
export async function pollImage(id, { onUpdate = () => {}, signal, policy = POLL } = {}) {
  const started = Date.now();
  let retryAfterMs = null;
  let notFound = 0;
  let errors = 0;
  let last = null;
  for (let attempt = 0; ; attempt += 1) {
    const wait = nextPollDelay(attempt, retryAfterMs, policy);
    if (Date.now() - started + wait > policy.giveUpAfterMs) {
      return { ...(last ?? { id }), status: "pending", slow: true };
    }
    await sleep(wait, signal);
    try {
      last = await getImage(id, { signal });
      retryAfterMs = null;
      errors = 0;
      onUpdate(last);
      if (["ready", "rejected", "failed"].includes(last.status)) return last;
    } catch (error) {
      if (error.name === "AbortError") throw error;
      if (error.status === 404 && notFound < NOT_FOUND_TOLERANCE) {
        notFound += 1;
      } else if (error.transient && errors < ERROR_TOLERANCE) {
        errors += 1;
        retryAfterMs = error.retryAfterMs;
      } else {
        throw error;
      }
    }
  }
}

/** Runs at most `limit` tasks at once; `run(task)` resolves like `task()` once it had its turn. */
export function createLimiter(limit) {
  let active = 0;
  const waiting = [];
  const next = () => {
    if (active >= limit || waiting.length === 0) return;
    active += 1;
    const { task, resolve, reject } = waiting.shift();
    Promise.resolve()
      .then(task)
      .then(resolve, reject)
      .finally(() => {
        active -= 1;
        next();
      });
  };
  return {
    run(task) {
      return new Promise((resolve, reject) => {
        waiting.push({ task, resolve, reject });
        next();
      });
    },
  };
}
