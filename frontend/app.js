// The upload page: wires the file picker, the drop zone, the upload rows and the gallery.
// Selectors are documented in README.md beside this file.

import { ApiError, createUpload, deleteImage, editImage, getConfig, listImages, useCredentials } from "./api.js";
import { ConfirmDialog, Gallery, h } from "./gallery.js";
import {
  checkFile,
  humanBytes,
  limitsText,
  nextPollDelay,
  reasonText,
  tagFromSearch,
  urlWithTag,
} from "./lib.js";
import { Session } from "./session.js";
import { createLimiter, pollImage, putFile } from "./upload.js";

/** Images per `GET /api/images` page. */
const PAGE_SIZE = 24;
/** Files sent at once. */
const PARALLEL_UPLOADS = 3;
/** How often `POST /api/uploads` is asked again after a transient failure. */
const PRESIGN_RETRIES = 2;
/** Where the tag filter waits while the user signs in (the provider sends the browser back to `/`). */
const FILTER_KEY = "thumbforge.filter";

const $ = (id) => document.getElementById(id);

const elements = {
  error: $("error"),
  errorList: $("error-list"),
  errorDismiss: $("error-dismiss"),
  dropZone: $("drop-zone"),
  fileInput: $("file-input"),
  limits: $("limits"),
  uploads: $("uploads"),
  gallery: $("gallery"),
  galleryEmpty: $("gallery-empty"),
  loadMore: $("load-more"),
  announcer: $("announcer"),
  viewer: $("viewer"),
  deleteDialog: $("delete-dialog"),
  galleryHeading: $("gallery-heading"),
  tagFilter: $("tag-filter"),
  tagFilterTag: $("tag-filter-tag"),
  clearFilter: $("clear-filter"),
  account: $("account"),
  accountEmail: document.querySelector("[data-testid=account-email]"),
  signIn: $("sign-in"),
  signOut: $("sign-out"),
  signedOut: $("signed-out"),
  sessionEnded: $("session-ended"),
  signInAgain: $("sign-in-again"),
  workspace: $("workspace"),
};

const confirmDialog = new ConfirmDialog(elements.deleteDialog);
const gallery = new Gallery({
  list: elements.gallery,
  empty: elements.galleryEmpty,
  viewer: elements.viewer,
  heading: elements.galleryHeading,
  confirm: confirmDialog,
  deleteImage,
  editImage,
  onFilter: (tag) => setFilter(tag).catch((error) => showError(error.message)),
  announce: (text) => announce(text),
  onDeleted: (id) => deleted(id),
});
const limiter = createLimiter(PARALLEL_UPLOADS);
/** The `GET /api/config` answer once loaded. */
let config = null;

// ---- messages -------------------------------------------------------------------------------

/** Shows an error in the page-wide error area (never only in the console). */
function showError(message) {
  elements.errorList.append(h("li", { "data-testid": "error-message", text: message }));
  elements.error.hidden = false;
}

elements.errorDismiss.addEventListener("click", () => {
  elements.errorList.replaceChildren();
  elements.error.hidden = true;
});

window.addEventListener("error", (event) => {
  showError(`Something went wrong in this page: ${event.message}`);
});
window.addEventListener("unhandledrejection", (event) => {
  showError(`Something went wrong in this page: ${event.reason?.message ?? event.reason}`);
});

/** Tells screen-reader users about a status change (one polite live region). */
function announce(text) {
  // A sentence equal to the current one would not be read again: make it differ.
  elements.announcer.textContent = elements.announcer.textContent === text ? `${text}\u00a0` : text;
}

// ---- one row per chosen file ----------------------------------------------------------------

const STATE_TEXT = {
  queued: "Waiting to upload…",
  presigning: "Preparing the upload…",
  uploading: "Uploading…",
  processing: "Uploaded. Making thumbnails…",
  ready: "Ready.",
  deleted: "Deleted.",
};

/** Upload rows by image id, to tell them when their image is deleted. */
const rowsById = new Map();

class UploadRow {
  constructor(file) {
    this.file = file;
    this.percent = -1;
    this.progress = h("progress", {
      class: "upload__progress",
      max: 100,
      "data-testid": "upload-progress",
      "aria-label": `Upload progress of ${file.name}`,
    });
    this.status = h("p", { class: "upload__status", "data-testid": "upload-status" });
    this.element = h(
      "li",
      { class: "upload", "data-testid": "upload-row", "data-file": file.name },
      h(
        "div",
        { class: "upload__head" },
        h("span", { class: "upload__name", "data-testid": "upload-name", text: file.name }),
        h("span", { class: "upload__size", text: humanBytes(file.size) }),
      ),
      this.progress,
      this.status,
    );
    elements.uploads.append(this.element);
  }

  /** Moves to a state; `text` replaces the state's usual sentence. */
  set(state, text = STATE_TEXT[state], detail = null) {
    this.state = state;
    this.element.dataset.state = state;
    this.status.replaceChildren(text);
    if (detail) this.status.append(" ", h("span", { class: "upload__detail", text: detail }));
    if (state === "refused" || state === "error") {
      this.progress.hidden = true;
    } else if (state === "queued" || state === "presigning") {
      this.progress.removeAttribute("value"); // indeterminate
    } else if (state === "uploading") {
      this.progress.value = 0;
    } else {
      this.progress.value = 100;
    }
    // A delete is announced by the gallery already.
    if (!["uploading", "queued", "presigning", "deleted"].includes(state)) {
      announce(`${this.file.name}: ${[text, detail].filter(Boolean).join(" ")}`);
    }
  }

  setId(id) {
    this.element.dataset.id = id;
    rowsById.set(id, this);
  }

  onProgress(loaded, total) {
    const percent = total > 0 ? Math.min(100, Math.floor((loaded / total) * 100)) : 0;
    if (percent === this.percent) return;
    this.percent = percent;
    this.progress.value = percent;
    this.element.dataset.progress = String(percent);
    this.status.textContent = `Uploading… ${percent} %`;
  }

  /** Shows the outcome of processing. */
  outcome(image) {
    if (image.status === "ready") this.set("ready");
    else if (image.status === "rejected")
      this.set(
        "rejected",
        `Not accepted: ${reasonText(image.reason)}`,
        image.message ? `Details: ${image.message}` : null,
      );
    else if (image.slow)
      this.set("slow", "Uploaded, still processing. It will show in the gallery when done; reload later.");
  }
}

// ---- watching images until they are done ----------------------------------------------------

/** id → the promise of its final state, so an image is polled once however it was found. */
const watched = new Map();
/** id → the AbortController of its polling, to stop it when the image is deleted. */
const stoppers = new Map();

function watch(id) {
  if (!watched.has(id)) {
    const stopper = new AbortController();
    stoppers.set(id, stopper);
    const done = pollImage(id, { onUpdate: (image) => gallery.upsert(image), signal: stopper.signal })
      .then((image) => {
        gallery.upsert(image);
        return image;
      })
      .finally(() => stoppers.delete(id));
    watched.set(id, done);
  }
  return watched.get(id);
}

/** A polling that stopped because its image was deleted: not an error. */
function stoppedByDelete(error) {
  return error?.name === "AbortError";
}

/** An image was deleted (its card is gone): stop following it, tell its row, fill the page. */
function deleted(id) {
  stoppers.get(id)?.abort();
  const row = rowsById.get(id);
  if (row && row.state !== "error" && row.state !== "refused") row.set("deleted");
  // The last card of the page went but more are on the server: show the next page.
  if (elements.gallery.children.length === 0 && cursor !== null) loadPage();
}

// ---- uploading ------------------------------------------------------------------------------

async function uploadFile(file) {
  const row = new UploadRow(file);
  const refusal = checkFile(file, config);
  if (refusal) {
    row.set("refused", refusal.message);
    return;
  }
  row.set("queued");
  const id = await limiter.run(async () => {
    row.set("presigning");
    let ticket;
    for (let attempt = 0; ticket === undefined; attempt += 1) {
      try {
        ticket = await createUpload(file);
      } catch (error) {
        // A busy or unreachable API (503 with Retry-After, network trouble) is asked again, a little.
        if (!(error instanceof ApiError) || !error.transient || attempt >= PRESIGN_RETRIES) {
          row.set("error", `Could not start the upload. ${error.message}`);
          return null;
        }
        const wait = nextPollDelay(attempt + 1, error.retryAfterMs);
        row.set("presigning", `The server is busy; trying again in ${Math.ceil(wait / 1000)} s…`);
        await new Promise((resolve) => window.setTimeout(resolve, wait));
      }
    }
    row.setId(ticket.id);
    row.set("uploading");
    try {
      await putFile(ticket.upload, file, { onProgress: (loaded, total) => row.onProgress(loaded, total) });
    } catch (error) {
      row.set("error", `Upload failed. ${error.message}`);
      return null;
    }
    return ticket.id;
  });
  if (id === null) return;
  row.set("processing");
  gallery.upsert({ id, status: "pending", createdAt: new Date().toISOString() }, file.name);
  try {
    const image = await watch(id);
    if (row.state !== "deleted") row.outcome(image);
  } catch (error) {
    if (stoppedByDelete(error)) return;
    row.set("error", `Could not get the result. ${error.message}`);
  }
}

function uploadFiles(fileList) {
  const files = [...fileList];
  if (files.length === 0) return;
  if (config === null) {
    showError("Uploads are not possible yet: the upload settings could not be loaded.");
    return;
  }
  // A new upload has no tags yet, so a filtered gallery would never show it: show them all.
  if (filterTag !== null) {
    setFilter(null, { why: "so that the new uploads can be seen", focus: false }).catch((error) => showError(error.message));
  }
  for (const file of files) {
    uploadFile(file).catch((error) => showError(`Uploading “${file.name}” failed: ${error.message}`));
  }
}

elements.fileInput.addEventListener("change", () => {
  uploadFiles(elements.fileInput.files);
  elements.fileInput.value = ""; // the same file can be chosen again
});

// The drop zone. Elsewhere on the page a drop is ignored instead of opening the file.
let dragDepth = 0;
elements.dropZone.addEventListener("dragenter", (event) => {
  event.preventDefault();
  dragDepth += 1;
  elements.dropZone.classList.add("is-dragover");
});
elements.dropZone.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) elements.dropZone.classList.remove("is-dragover");
});
elements.dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  if (event.dataTransfer) event.dataTransfer.dropEffect = config ? "copy" : "none";
});
elements.dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  event.stopPropagation();
  dragDepth = 0;
  elements.dropZone.classList.remove("is-dragover");
  uploadFiles(event.dataTransfer?.files ?? []);
});
for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => {
    if (!elements.dropZone.contains(event.target)) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "none";
    }
  });
}

// ---- the gallery listing, all of it or the photos with one tag ---------------------------

let cursor = null;
/** The tag the gallery is filtered by (null: every photo); `?tag=` in the address says it too. */
let filterTag = null;
/** Counts listings: a page that arrives for an earlier one (another filter) is dropped. */
let listing = 0;
/** The page request under way, as {listing, controller}, or null. */
let loading = null;

async function loadPage() {
  if (loading?.listing === listing) return;
  loading?.controller.abort();
  const mine = { listing, controller: new AbortController() };
  loading = mine;
  const tag = filterTag;
  elements.gallery.setAttribute("aria-busy", "true");
  elements.loadMore.disabled = true;
  elements.loadMore.textContent = "Loading…";
  try {
    const page = await listImages({ limit: PAGE_SIZE, cursor, tag, signal: mine.controller.signal });
    if (mine.listing !== listing) return;
    if (!page || !Array.isArray(page.items))
      throw new ApiError("The image list from the server is malformed.", { status: 200, code: "bad_response" });
    for (const image of page.items) {
      gallery.upsert(image);
      if (image.status === "pending")
        watch(image.id).catch((error) => {
          if (!stoppedByDelete(error)) showError(`Could not follow an upload: ${error.message}`);
        });
    }
    cursor = typeof page.next === "string" ? page.next : null;
    gallery.loaded = true;
    gallery.updateEmpty();
    elements.loadMore.hidden = cursor === null;
    elements.loadMore.textContent = "Load more";
    elements.gallery.dataset.loaded = "true";
  } catch (error) {
    if (mine.listing !== listing) return;
    showError(`Could not load the gallery. ${error.message}`);
    elements.loadMore.hidden = false;
    elements.loadMore.textContent = "Try loading again";
  } finally {
    if (loading === mine) {
      loading = null;
      elements.loadMore.disabled = false;
      elements.gallery.setAttribute("aria-busy", "false");
    }
  }
}

elements.loadMore.addEventListener("click", () => loadPage());

/** Shows which tag the gallery is filtered by (the bar with "Show all"), or that it is not. */
function showFilter() {
  const tag = filterTag;
  elements.tagFilter.hidden = tag === null;
  elements.tagFilterTag.textContent = tag === null ? "" : `#${tag}`;
  elements.galleryHeading.textContent = tag === null ? "Your photos" : `Your photos tagged #${tag}`;
  elements.galleryEmpty.textContent =
    tag === null ? "No photos yet. Upload one above." : `No photos are tagged #${tag}.`;
  document.documentElement.dataset.filter = tag ?? "";
}

/**
 * Shows only the photos tagged `tag` (null: all of them): the listing starts again with
 * `GET /api/images?tag=`, and the address gets `?tag=` (a new history entry unless `history` is
 * "replace" or "none", for the back button). Unsaved edits are given up only if the user agrees.
 * Focus goes to the gallery heading (the chip or button pressed is gone); the result is announced.
 */
async function setFilter(tag, { history: mode = "push", why = null, focus = true } = {}) {
  if (tag === filterTag) return;
  if (gallery.hasUnsavedEdits()) {
    const discard = await confirmDialog.ask({
      title: "Discard your changes?",
      text: "The details you are editing are not saved. Showing other photos discards the changes.",
      confirm: "Discard changes",
      cancel: "Keep editing",
    });
    if (!discard) {
      // Back or forward changed the address already: put it back.
      if (mode === "none") window.history.pushState({ tag: filterTag }, "", urlWithTag(location.href, filterTag));
      return;
    }
  }
  filterTag = tag;
  gallery.filter = tag;
  listing += 1;
  cursor = null;
  gallery.clear();
  elements.loadMore.hidden = true;
  delete elements.gallery.dataset.loaded;
  showFilter();
  const url = urlWithTag(location.href, tag);
  if (mode === "push") window.history.pushState({ tag }, "", url);
  else if (mode === "replace") window.history.replaceState({ tag }, "", url);
  if (focus) elements.galleryHeading.focus();
  const mine = listing;
  await loadPage();
  if (mine !== listing || !gallery.loaded) return;
  const count = elements.gallery.children.length;
  const more = cursor !== null ? " (more to load)" : "";
  const photos = `${count} photo${count === 1 ? "" : "s"}`;
  announce(
    tag === null
      ? `Showing all photos${why ? `, ${why}` : ""}.`
      : `Showing ${photos}${more} tagged #${tag}.`,
  );
}

elements.clearFilter.addEventListener("click", () => setFilter(null).catch((error) => showError(error.message)));

// Back and forward move between filters.
window.addEventListener("popstate", () => {
  if (!session?.signedIn || config === null) return;
  const wanted = tagFromSearch(location.search, config.details);
  setFilter(wanted.tag, { history: "none" }).catch((error) => showError(error.message));
});

// Leaving the page with an edit not saved asks first (the browser's own question).
window.addEventListener("beforeunload", (event) => {
  if (gallery.hasUnsavedEdits()) {
    event.preventDefault();
    event.returnValue = "";
  }
});

/** The filter the address asks for when the page starts; a tag that cannot be one is said. */
function initialFilter() {
  let search = location.search;
  const saved = sessionStorage.getItem(FILTER_KEY);
  sessionStorage.removeItem(FILTER_KEY);
  // Back from signing in (the provider returns to `/`): the address had `?tag=` before.
  if (!new URLSearchParams(search).has("tag") && saved) search = `?${new URLSearchParams({ tag: saved })}`;
  const raw = new URLSearchParams(search).get("tag");
  const wanted = tagFromSearch(search, config.details);
  if (wanted.problem) {
    showError(`The address asks for the photos tagged “${raw}”, which cannot be a tag. ${wanted.problem} Showing all photos.`);
  }
  filterTag = wanted.tag;
  gallery.filter = wanted.tag;
  showFilter();
  // The address says the filter as it is applied: normalised ("?tag=Sea" → "?tag=sea"), or none.
  const url = urlWithTag(location.href, wanted.tag);
  if (url !== `${location.pathname}${location.search}${location.hash}`) {
    window.history.replaceState({ tag: wanted.tag }, "", url);
  }
}

// ---- signing in ----------------------------------------------------------------------------

/** The session once the configuration is known. */
let session = null;

/** Shows the signed-in workspace or the signed-out screen. */
function showSession() {
  const signedIn = session?.signedIn ?? false;
  elements.workspace.hidden = !signedIn;
  elements.signedOut.hidden = signedIn || session === null;
  elements.account.hidden = !signedIn;
  elements.accountEmail.textContent = session?.email ?? "";
  document.documentElement.dataset.session = signedIn ? "signed-in" : "signed-out";
}

/** The session ended under the page (renewal failed): wait for the user to sign in again. */
let recovering = null;
function recover() {
  recovering ??= (async () => {
    if (await session.renew()) return true;
    elements.sessionEnded.hidden = false;
    announce("Your session has ended. Sign in again to continue.");
    await new Promise((resolve) => {
      elements.signInAgain.onclick = () =>
        session.reauthenticate().then(resolve, (error) => showError(error.message));
    });
    elements.sessionEnded.hidden = true;
    return true;
  })().finally(() => {
    recovering = null;
  });
  return recovering;
}

elements.signIn.addEventListener("click", () => {
  elements.signIn.disabled = true;
  const tag = new URLSearchParams(location.search).get("tag");
  if (tag) sessionStorage.setItem(FILTER_KEY, tag);
  session.signIn().catch((error) => {
    elements.signIn.disabled = false;
    showError(error.message);
  });
});
elements.signOut.addEventListener("click", () => session.signOut());

// ---- start ----------------------------------------------------------------------------------

async function start() {
  try {
    config = await getConfig();
  } catch (error) {
    elements.limits.textContent = "Uploading is unavailable right now.";
    elements.dropZone.classList.add("is-disabled");
    document.documentElement.dataset.config = "failed";
    showError(`Could not load the page's settings; reload the page to try again. ${error.message}`);
    return;
  }
  elements.limits.textContent = limitsText(config);
  elements.fileInput.accept = config.allowedContentTypes.join(",");
  elements.fileInput.disabled = false;
  gallery.limits = config.details;
  document.documentElement.dataset.config = "ready";

  session = new Session(config.auth, { onChange: showSession });
  useCredentials({ token: () => session.accessToken(), recover });
  let signedIn;
  try {
    signedIn = await session.start();
  } catch (error) {
    showError(error.message);
    signedIn = false;
  }
  if (signedIn === null) return; // a sign-in popup, handing its answer back
  showSession();
  if (signedIn) {
    initialFilter();
    await loadPage();
  }
}

start();
