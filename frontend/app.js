// The upload page: wires the file picker, the drop zone, the upload rows, the gallery (all
// photos or one album's, optionally with one tag: `?album=…&tag=…`), the albums and the account.
// Selectors are documented in README.md beside this file.

import { AccountTools } from "./account.js";
import { Albums } from "./albums.js";
import {
  ApiError,
  createAlbum,
  createUpload,
  deleteAccount,
  deleteAlbum,
  deleteImage,
  downloadOriginal,
  editImage,
  exportAccount,
  getAccount,
  getConfig,
  listAlbums,
  listImages,
  renameAlbum,
  setAlbumPhoto,
  useCredentials,
} from "./api.js";
import { ConfirmDialog, Gallery, h } from "./gallery.js";
import {
  checkFile,
  countUpload,
  humanBytes,
  limitsText,
  nextPollDelay,
  photoCount,
  quotaRefusal,
  quotaText,
  reasonText,
  sameView,
  urlWithView,
  usageOf,
  viewAnnouncement,
  viewFromSearch,
  viewHeading,
} from "./lib.js";
import { Session } from "./session.js";
import { createLimiter, pollImage, putFile } from "./upload.js";

/** Images per `GET /api/images` page. */
const PAGE_SIZE = 24;
/** Files sent at once. */
const PARALLEL_UPLOADS = 3;
/** How often `POST /api/uploads` is asked again after a transient failure. */
const PRESIGN_RETRIES = 2;
/** Where the view (`?album=…&tag=…`) waits while the user signs in (the provider sends the browser back to `/`). */
const FILTER_KEY = "thumbforge.filter";
/** A sentence for the signed-out screen after a redirect (the account was deleted). */
const NOTICE_KEY = "thumbforge.notice";

const $ = (id) => document.getElementById(id);

const elements = {
  error: $("error"),
  errorList: $("error-list"),
  errorDismiss: $("error-dismiss"),
  dropZone: $("drop-zone"),
  fileInput: $("file-input"),
  limits: $("limits"),
  quota: $("quota"),
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
  signedOutNotice: $("signed-out-notice"),
  sessionEnded: $("session-ended"),
  signInAgain: $("sign-in-again"),
  workspace: $("workspace"),
  selectionBar: $("selection-bar"),
  selectionCount: $("selection-count"),
  addToAlbum: $("add-to-album"),
  removeFromAlbum: $("remove-from-album"),
  clearSelection: $("clear-selection"),
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
  onFilter: (tag) => setView({ album: view.album, tag }).catch((error) => showError(error.message)),
  announce: (text) => announce(text),
  onDeleted: (id) => deleted(id),
  downloadOriginal,
  onSelection: (count) => showSelection(count),
});
const albums = new Albums({
  elements: {
    list: $("album-list"),
    empty: $("albums-empty"),
    createForm: $("album-create"),
    nameInput: $("album-name"),
    nameHint: $("album-name-hint"),
    nameError: $("album-name-error"),
    createButton: $("create-album"),
    bar: $("album-bar"),
    barText: document.querySelector("[data-testid=album-bar-text]"),
    renameButton: $("rename-album"),
    deleteButton: $("delete-album"),
    closeButton: $("close-album"),
    renameForm: $("rename-form"),
    renameInput: $("rename-input"),
    renameError: $("rename-error"),
    dialog: $("album-dialog"),
    dialogForm: $("album-dialog-form"),
    dialogTitle: $("album-dialog-title"),
    dialogText: $("album-dialog-text"),
    select: $("album-select"),
  },
  api: { listAlbums, createAlbum, renameAlbum, deleteAlbum, setAlbumPhoto },
  confirm: confirmDialog,
  announce: (text) => announce(text),
  showError: (text) => showError(text),
  onOpen: (id) => setView({ album: id, tag: null }).catch((error) => showError(error.message)),
  onChanged: () => showView(),
  // The album shown went: all photos are shown instead (resolves once they are).
  onDeleted: (id) =>
    view.album === id
      ? setView({ album: null, tag: null }, { history: "replace", quiet: true }).catch((error) => showError(error.message))
      : undefined,
});
const account = new AccountTools({
  elements: {
    exportButton: $("export-data"),
    exportStatus: $("export-status"),
    deleteButton: $("delete-account"),
    dialog: $("account-dialog"),
    form: $("account-form"),
    text: $("account-dialog-text"),
    phrase: document.querySelector("[data-testid=account-phrase]"),
    input: $("account-confirm"),
    progress: $("account-progress"),
    cancel: document.querySelector("[data-testid=cancel-account]"),
    confirmButton: document.querySelector("[data-testid=confirm-account]"),
  },
  api: { exportAccount, deleteAccount, getAccount },
  announce: (text) => announce(text),
  onDeleted: () => accountDeleted(),
});
const limiter = createLimiter(PARALLEL_UPLOADS);
/** The `GET /api/config` answer once loaded. */
let config = null;
/** What the user has used of their quotas (`GET /api/account`), counted on as uploads start; `null` while unknown. */
let usage = null;

/** Says the quota usage under the upload limits (hidden while unknown). */
function showUsage() {
  const text = quotaText(config?.quotas, usage);
  elements.quota.textContent = text;
  elements.quota.hidden = text === "";
}

/** Reads the usage again from the server (after a refusal, a delete). */
async function refreshUsage() {
  try {
    const state = await getAccount();
    usage = usageOf(state);
  } catch {
    usage = null; // Unknown: the server still enforces its quotas.
  }
  showUsage();
}

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
    else if (image.status === "failed") this.set("failed", `Not processed: ${reasonText(image.reason)}`);
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
  refreshUsage();
  // The last card of the page went but more are on the server: show the next page.
  if (elements.gallery.children.length === 0 && cursor !== null) loadPage();
}

// ---- uploading ------------------------------------------------------------------------------

async function uploadFile(file) {
  const row = new UploadRow(file);
  const refusal = checkFile(file, config) ?? quotaRefusal(file, config.quotas, usage);
  if (refusal) {
    row.set("refused", refusal.message);
    return;
  }
  // Counted at once, so a batch is checked as a whole; the server's answer corrects it.
  usage = countUpload(usage, file.size);
  showUsage();
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
          refreshUsage();
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
  gallery.upsert({ id, status: "pending", createdAt: new Date().toISOString(), albums: [], tags: [] }, file.name);
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
  // A new upload has no tags and is in no album yet, so a filtered gallery would never show it:
  // show them all.
  if (view.album !== null || view.tag !== null) {
    setView({ album: null, tag: null }, { why: "so that the new uploads can be seen", focus: false }).catch((error) =>
      showError(error.message),
    );
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

// ---- the gallery listing: all photos or one album's, each optionally with one tag ---------

let cursor = null;
/**
 * What the gallery shows: `{album, tag}` (null: every photo, any tag); `?album=…&tag=…` in the
 * address says it too.
 */
let view = { album: null, tag: null };
/** Counts listings: a page that arrives for an earlier one (another view) is dropped. */
let listing = 0;
/** The page request under way, as {listing, controller}, or null. */
let loading = null;

async function loadPage() {
  if (loading?.listing === listing) return;
  loading?.controller.abort();
  const mine = { listing, controller: new AbortController() };
  loading = mine;
  const { album, tag } = view;
  elements.gallery.setAttribute("aria-busy", "true");
  elements.loadMore.disabled = true;
  elements.loadMore.textContent = "Loading…";
  try {
    const page = await listImages({ limit: PAGE_SIZE, cursor, album, tag, signal: mine.controller.signal });
    if (mine.listing !== listing) return;
    if (!page || !Array.isArray(page.items))
      throw new ApiError("The image list from the server is malformed.", { status: 200, code: "bad_response" });
    for (const image of page.items) {
      // An album's listing lists its photos, whether or not the answer says their albums.
      gallery.upsert(album !== null && !Array.isArray(image.albums) ? { ...image, albums: [album] } : image);
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
    if (error instanceof ApiError && error.code === "album_not_found" && album !== null) {
      // Deleted elsewhere, or an address from someone else: show every photo instead.
      showError("That album does not exist (any more): showing all your photos instead.");
      if (loading === mine) loading = null;
      setView({ album: null, tag }, { history: "replace", focus: false }).catch((e) => showError(e.message));
      return;
    }
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

/** The name of the album shown, once the album list has said it (else null). */
function albumName() {
  return view.album === null ? null : (albums.byId(view.album)?.name ?? null);
}

/**
 * Shows what the gallery shows: the heading, the album's bar (rename, delete, back to all
 * photos), the tag's bar ("Show all" takes the tag away), the list of albums with the current one
 * marked, and the empty state's sentence.
 */
function showView() {
  const { album, tag } = view;
  const name = albumName();
  elements.tagFilter.hidden = tag === null;
  elements.tagFilterTag.textContent = tag === null ? "" : `#${tag}`;
  elements.clearFilter.textContent = album === null ? "Show all" : "Show the whole album";
  elements.galleryHeading.textContent = viewHeading(view, name);
  elements.galleryEmpty.textContent =
    album === null
      ? tag === null
        ? "No photos yet. Upload one above."
        : `No photos are tagged #${tag}.`
      : tag === null
        ? "No photos in this album yet. Select photos in “All photos”, then “Add to album…”."
        : `No photos of this album are tagged #${tag}.`;
  document.documentElement.dataset.filter = tag ?? "";
  document.documentElement.dataset.album = album ?? "";
  if (albums.current !== album) albums.show(album);
  else albums.showBar();
  elements.removeFromAlbum.hidden = album === null;
}

/**
 * Shows another view `{album, tag}`: the listing starts again with `GET /api/images?album=&tag=`,
 * and the address says it (a new history entry unless `history` is "replace" or "none", for the
 * back button). Unsaved edits are given up only if the user agrees. Focus goes to the gallery
 * heading (the chip, link or button pressed may be gone); the result is announced.
 */
async function setView(next, { history: mode = "push", why = null, focus = true, quiet = false } = {}) {
  const wanted = { album: next.album ?? null, tag: next.tag ?? null };
  if (sameView(wanted, view)) return;
  if (gallery.hasUnsavedEdits()) {
    const discard = await confirmDialog.ask({
      title: "Discard your changes?",
      text: "The details you are editing are not saved. Showing other photos discards the changes.",
      confirm: "Discard changes",
      cancel: "Keep editing",
    });
    if (!discard) {
      // Back or forward changed the address already: put it back.
      if (mode === "none") window.history.pushState({ ...view }, "", urlWithView(location.href, view));
      return;
    }
  }
  view = wanted;
  gallery.filter = wanted.tag;
  gallery.album = wanted.album;
  listing += 1;
  cursor = null;
  gallery.clear();
  elements.loadMore.hidden = true;
  delete elements.gallery.dataset.loaded;
  showView();
  const url = urlWithView(location.href, wanted);
  if (mode === "push") window.history.pushState({ ...wanted }, "", url);
  else if (mode === "replace") window.history.replaceState({ ...wanted }, "", url);
  if (focus) elements.galleryHeading.focus();
  const mine = listing;
  await loadPage();
  if (mine !== listing || !gallery.loaded || quiet) return;
  announce(
    viewAnnouncement(wanted, {
      count: elements.gallery.children.length,
      more: cursor !== null,
      albumName: albumName(),
      why,
    }),
  );
}

elements.clearFilter.addEventListener("click", () =>
  setView({ album: view.album, tag: null }).catch((error) => showError(error.message)),
);

// Back and forward move between views.
window.addEventListener("popstate", () => {
  if (!session?.signedIn || config === null) return;
  const wanted = viewFromSearch(location.search, config.details);
  setView(wanted, { history: "none" }).catch((error) => showError(error.message));
});

// Leaving the page with an edit not saved asks first (the browser's own question).
window.addEventListener("beforeunload", (event) => {
  if (gallery.hasUnsavedEdits()) {
    event.preventDefault();
    event.returnValue = "";
  }
});

/** The view the address asks for when the page starts; parts that cannot be are said. */
function initialView() {
  let search = location.search;
  const saved = sessionStorage.getItem(FILTER_KEY);
  sessionStorage.removeItem(FILTER_KEY);
  // Back from signing in (the provider returns to `/`): the address had `?album=`/`?tag=` before.
  const query = new URLSearchParams(search);
  if (!query.has("tag") && !query.has("album") && saved) search = saved;
  const wanted = viewFromSearch(search, config.details);
  for (const problem of wanted.problems) {
    showError(`The address asks for something that cannot be shown. ${problem} Showing ${wanted.album ? "the album" : "all photos"} instead.`);
  }
  view = { album: wanted.album, tag: wanted.tag };
  gallery.filter = view.tag;
  gallery.album = view.album;
  showView();
  // The address says the view as it is applied: normalised ("?tag=Sea" → "?tag=sea"), or none.
  const url = urlWithView(location.href, view);
  if (url !== `${location.pathname}${location.search}${location.hash}`) {
    window.history.replaceState({ ...view }, "", url);
  }
}

// ---- selecting photos, and adding them to an album ------------------------------------------

/** The selection's bar: shown while photos are selected, with what can be done with them. */
function showSelection(count) {
  elements.selectionBar.hidden = count === 0;
  elements.selectionCount.textContent = `${photoCount(count)} selected`;
  elements.removeFromAlbum.hidden = view.album === null;
}

elements.clearSelection.addEventListener("click", () => {
  gallery.clearSelection();
  announce("No photo is selected.");
  elements.galleryHeading.focus();
});

/** Where focus goes after the selection was acted on: the first photo's checkbox, else the heading. */
function focusAfterSelection(ids) {
  const card = ids.map((id) => gallery.item(id)).find(Boolean);
  (card?.querySelector("[data-testid=select-photo]") ?? elements.galleryHeading).focus();
}

elements.addToAlbum.addEventListener("click", async () => {
  const photos = gallery.selection();
  if (photos.length === 0) return;
  const albumId = await albums.choose(photos.length);
  if (albumId === null) {
    elements.addToAlbum.focus();
    return;
  }
  elements.addToAlbum.setAttribute("aria-disabled", "true");
  announce(`Adding ${photoCount(photos.length).toLowerCase()}…`);
  try {
    const { results, summary } = await albums.change(albumId, photos, { add: true });
    for (const result of results) {
      if (result.status === 204) {
        gallery.noteAlbums(result.id, { add: albumId });
        gallery.select(result.id, false);
      }
    }
    if (summary.failed > 0) showError(summary.text);
    announce(summary.text);
    focusAfterSelection(photos.map((p) => p.id));
  } finally {
    elements.addToAlbum.removeAttribute("aria-disabled");
  }
});

elements.removeFromAlbum.addEventListener("click", async () => {
  const albumId = view.album;
  const photos = gallery.selection();
  if (albumId === null || photos.length === 0) return;
  elements.removeFromAlbum.setAttribute("aria-disabled", "true");
  announce(`Removing ${photoCount(photos.length).toLowerCase()} from the album…`);
  try {
    const { results, summary } = await albums.change(albumId, photos, { add: false });
    const removed = results.filter((r) => r.status === 204).map((r) => r.id);
    const heading = elements.galleryHeading;
    for (const id of removed) {
      gallery.noteAlbums(id, { remove: albumId });
      gallery.drop(id);
    }
    if (summary.failed > 0) showError(summary.text);
    const kept = summary.done === 0 ? "" : summary.done === 1 ? "It is still in your photos." : "They are still in your photos.";
    announce(`${summary.text} ${kept}`.trim());
    if (gallery.selected.size > 0) focusAfterSelection(photos.map((p) => p.id));
    else heading.focus();
    // The last card of the page went but more are on the server: show the next page.
    if (elements.gallery.children.length === 0 && cursor !== null) loadPage();
  } finally {
    elements.removeFromAlbum.removeAttribute("aria-disabled");
  }
});

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
    // The account is being deleted: its sign-in account may be gone already; nothing to sign in to.
    if (account.deleting) return false;
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
  // Come back to the same view: the provider sends the browser back to `/`.
  const query = new URLSearchParams(location.search);
  if (query.has("tag") || query.has("album")) sessionStorage.setItem(FILTER_KEY, location.search);
  session.signIn().catch((error) => {
    elements.signIn.disabled = false;
    showError(error.message);
  });
});
elements.signOut.addEventListener("click", () => session.signOut());

/** Says something on the signed-out screen (`role="status"`), e.g. that the account was deleted. */
function showNotice(text) {
  elements.signedOutNotice.textContent = text;
  elements.signedOutNotice.hidden = !text;
}

/**
 * The account is deleted: the session is cleared (and the provider's, through its sign-out page
 * when it has one), and the page lands signed out, saying so.
 */
function accountDeleted() {
  const text = "Your account was deleted, with every photo, album and detail in it. Thank you for using thumbforge.";
  for (const stopper of stoppers.values()) stopper.abort();
  showNotice(text);
  if (config.auth.logoutUrl) sessionStorage.setItem(NOTICE_KEY, text);
  document.documentElement.dataset.account = "deleted";
  account.elements.dialog.close();
  session.signOut();
  announce(text);
}

/**
 * Right after signing in: an account whose deletion is under way (asked for in another tab, or
 * before a reload) is followed in the dialog; a deleted one signs out.
 */
async function checkAccount() {
  let state;
  try {
    state = await getAccount();
  } catch {
    return; // The account's tools say what goes wrong when they are used.
  }
  usage = usageOf(state);
  showUsage();
  if (state.status === "deleting") account.resume(state).catch((error) => showError(error.message));
  else if (state.status === "deleted") accountDeleted();
}

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
  albums.setLimits(config.albumLimits);
  document.documentElement.dataset.config = "ready";
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  if (notice) showNotice(notice);

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
    showNotice("");
    initialView();
    checkAccount();
    await Promise.all([albums.load(), loadPage()]);
  }
}

start();
