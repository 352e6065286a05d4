// Albums: the list of the user's albums (a <nav>: name, count, cover; "All photos" first), the
// form that creates one, the bar of the album shown (rename, delete, back to all photos), and the
// dialog that adds the selected photos to an album. Which album the gallery shows is app.js's
// business (`?album=` in the address); this module is told (`show`) and tells (`onOpen`).

import { ApiError } from "./api.js";
import { h } from "./gallery.js";
import {
  ALBUM_LIMITS,
  albumChangeSummary,
  albumQuotaProblem,
  checkAlbumName,
  photoCount,
  pictureModel,
  urlWithView,
} from "./lib.js";

/** How many album changes (`PUT`/`DELETE …/photos/{id}`) are sent at once. */
const PARALLEL_CHANGES = 3;

/** Sentences from a `400 invalid_request` about an album's name ("`name` is empty; …"). */
function nameProblems(error) {
  const text = typeof error?.detail === "string" ? error.detail : "";
  const parts = text
    .split(/;\s+/)
    .map((part) => part.trim().replace(/\.$/, ""))
    .filter(Boolean)
    .map((part) => part.replace(/^`name`/, "The name"));
  return parts.length > 0 ? parts.map((part) => `${part.charAt(0).toUpperCase()}${part.slice(1)}.`) : [error.message];
}

/** Shows a field's problems under it (`aria-invalid`, the error in its `aria-describedby`). */
function showFieldProblems(input, error, problems) {
  error.textContent = problems.join(" ");
  error.hidden = problems.length === 0;
  if (problems.length > 0) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

/** Runs `task(item)` for every item, at most `limit` at once; resolves to the results in order. */
async function eachLimited(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export class Albums {
  /**
   * @param {{elements: object, api: {listAlbums, createAlbum, renameAlbum, deleteAlbum,
   *   setAlbumPhoto}, confirm: import("./gallery.js").ConfirmDialog, announce: (text: string) => void,
   *   showError: (text: string) => void, onOpen: (id: string|null) => void,
   *   onChanged: (album: object|null) => void, onDeleted: (id: string) => void}} options
   * `onOpen(id)` is told when an album's link (or "All photos", null) is followed; `onChanged(album)`
   * when the album shown was renamed or its count changed; `onDeleted(id)` when an album was deleted.
   */
  constructor({ elements, api, confirm, announce, showError, onOpen, onChanged, onDeleted }) {
    this.elements = elements;
    this.api = api;
    this.confirm = confirm;
    this.announce = announce;
    this.showError = showError;
    this.onOpen = onOpen;
    this.onChanged = onChanged;
    this.onDeleted = onDeleted;
    this.limits = { ...ALBUM_LIMITS };
    /** The albums, newest first, as `GET /api/albums` listed them. */
    this.albums = [];
    this.loaded = false;
    /** The album the gallery shows (null: all photos). */
    this.current = null;
    /** Once the create form was sent, its field is checked again as it is typed in. */
    this.createChecked = false;
    this.busy = false;

    const { createForm, nameInput, renameForm, renameInput, dialog, dialogForm } = elements;
    createForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create().catch((error) => this.showError(error.message));
    });
    nameInput.addEventListener("input", () => {
      if (this.createChecked) this.checkCreate();
    });
    elements.renameButton.addEventListener("click", () => this.openRename());
    elements.deleteButton.addEventListener("click", () => {
      this.remove().catch((error) => this.showError(error.message));
    });
    elements.closeButton.addEventListener("click", () => this.onOpen(null));
    renameForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveRename().catch((error) => this.showError(error.message));
    });
    renameForm.querySelector("[data-testid=cancel-rename]").addEventListener("click", () => this.closeRename());
    renameForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.busy) {
        event.preventDefault();
        event.stopPropagation();
        this.closeRename();
      }
    });
    renameInput.addEventListener("input", () => {
      if (!elements.renameError.hidden) showFieldProblems(renameInput, elements.renameError, checkAlbumName(renameInput.value, this.limits).problems);
    });
    dialogForm.addEventListener("submit", (event) => {
      event.preventDefault();
      dialog.close("add");
    });
    dialog.querySelector("[data-testid=cancel-add]").addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close("cancel");
    });
    dialog.addEventListener("close", () => {
      const settle = this.settleDialog;
      this.settleDialog = null;
      settle?.(dialog.returnValue === "add" ? elements.select.value : null);
    });
  }

  /** The limits of `GET /api/config` `albumLimits`; the create form's hint says them. */
  setLimits(limits) {
    this.limits = { ...limits };
    this.elements.nameHint.textContent = `A name of up to ${limits.nameMaxChars} characters.`;
  }

  byId(id) {
    return this.albums.find((album) => album.id === id) ?? null;
  }

  /** `GET /api/albums`, then the list shows it. A failure is said in the error area. */
  async load() {
    const list = this.elements.list;
    list.setAttribute("aria-busy", "true");
    try {
      const answer = await this.api.listAlbums();
      if (!answer || !Array.isArray(answer.items)) {
        throw new ApiError("The album list from the server is malformed.", { status: 200, code: "bad_response" });
      }
      this.albums = answer.items.filter((album) => album && typeof album.id === "string");
      this.loaded = true;
      this.render();
      const current = this.current === null ? null : this.byId(this.current);
      this.showBar();
      if (current) this.onChanged(current);
    } catch (error) {
      this.showError(`Could not load your albums. ${error.message}`);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  /** Puts an album answer (created, renamed) into the list, newest first. */
  put(album) {
    const others = this.albums.filter((a) => a.id !== album.id);
    this.albums = [...others, album].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    this.render();
  }

  /** The list: "All photos", then every album with its cover, name and count; the one shown marked. */
  render() {
    const items = [this.link(null)];
    for (const album of this.albums) items.push(this.link(album));
    this.elements.list.replaceChildren(...items);
    this.elements.empty.hidden = !this.loaded || this.albums.length > 0;
    document.documentElement.dataset.albums = String(this.albums.length);
  }

  link(album) {
    const id = album?.id ?? null;
    const current = id === this.current;
    const href = urlWithView(location.href, { album: id, tag: null });
    const cover = album ? pictureModel(album.cover?.thumbnails) : null;
    const media = cover
      ? h("img", {
          class: "album__cover",
          src: cover.img.src,
          width: cover.img.width,
          height: cover.img.height,
          alt: "",
          loading: "lazy",
          decoding: "async",
          "data-testid": "album-cover",
        })
      : h("span", { class: "album__cover album__cover--empty", "aria-hidden": "true" });
    const anchor = h(
      "a",
      {
        class: `album${current ? " album--current" : ""}`,
        href,
        "data-testid": "album-link",
        "data-album": id ?? "",
        "aria-current": current ? "page" : null,
      },
      media,
      h("span", { class: "album__name", "data-testid": "album-name", text: album ? album.name : "All photos" }),
      album ? h("span", { class: "album__count", "data-testid": "album-count", text: photoCount(album.count) }) : null,
    );
    anchor.addEventListener("click", (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      if (!current) this.onOpen(id);
    });
    return h("li", { class: "albums__item", "data-testid": album ? "album" : "all-photos", "data-id": id }, anchor);
  }

  /** The gallery shows album `id` (null: all photos): the list marks it, the bar shows it. */
  show(id) {
    this.current = id;
    this.closeRename({ focus: false });
    if (this.loaded) this.render();
    this.showBar();
  }

  showBar() {
    const album = this.current === null ? null : this.byId(this.current);
    this.elements.bar.hidden = this.current === null;
    this.elements.barText.textContent = album
      ? `${photoCount(album.count)} in this album. Removing a photo from it, or deleting the album, keeps the photo.`
      : "";
    this.elements.renameButton.setAttribute("aria-label", album ? `Rename the album ${album.name}` : "Rename the album");
    this.elements.deleteButton.setAttribute("aria-label", album ? `Delete album ${album.name}` : "Delete album");
  }

  // ---- creating -------------------------------------------------------------------------------

  /** The create form's problems now (shown under its field). */
  checkCreate() {
    const { value, problems } = checkAlbumName(this.elements.nameInput.value, this.limits);
    const quota = albumQuotaProblem(this.albums.length, this.limits);
    if (quota && problems.length === 0) problems.push(quota);
    showFieldProblems(this.elements.nameInput, this.elements.nameError, problems);
    return { value, problems };
  }

  /**
   * Creates an album from the form: checked first as the server checks it (nothing is sent when
   * there is a problem), then `POST /api/albums`; the new album joins the list, announced.
   */
  async create() {
    if (this.busy) return;
    const { nameInput, nameError, createButton } = this.elements;
    this.createChecked = true;
    const { value, problems } = this.checkCreate();
    if (problems.length > 0) {
      nameInput.focus();
      this.announce(`Not created: ${problems.join(" ")}`);
      return;
    }
    this.busy = true;
    nameInput.readOnly = true;
    createButton.setAttribute("aria-disabled", "true");
    createButton.textContent = "Creating…";
    try {
      const album = await this.api.createAlbum(value);
      nameInput.value = "";
      this.createChecked = false;
      showFieldProblems(nameInput, nameError, []);
      this.put(album);
      this.announce(`Created the album “${album.name}”.`);
    } catch (error) {
      const shown =
        error?.status === 400 && error.code === "invalid_request"
          ? nameProblems(error)
          : error?.status === 409
            ? [error.detail ? `${error.detail.charAt(0).toUpperCase()}${error.detail.slice(1).replace(/\.$/, "")}.` : error.message]
            : [`Could not create the album. ${error?.message ?? ""}`.trim()];
      showFieldProblems(nameInput, nameError, shown);
      nameInput.focus();
      this.announce(`Not created: ${shown.join(" ")}`);
    } finally {
      this.busy = false;
      nameInput.readOnly = false;
      createButton.removeAttribute("aria-disabled");
      createButton.textContent = "Create album";
    }
  }

  // ---- renaming and deleting the album shown ---------------------------------------------------

  openRename() {
    const album = this.byId(this.current);
    if (!album) return;
    const { renameForm, renameInput, renameError } = this.elements;
    renameInput.value = album.name;
    showFieldProblems(renameInput, renameError, []);
    renameForm.hidden = false;
    this.elements.renameButton.setAttribute("aria-expanded", "true");
    renameInput.focus();
    renameInput.select();
  }

  closeRename({ focus = true } = {}) {
    const { renameForm, renameButton } = this.elements;
    if (renameForm.hidden) return;
    renameForm.hidden = true;
    renameButton.setAttribute("aria-expanded", "false");
    if (focus) renameButton.focus();
  }

  async saveRename() {
    if (this.busy) return;
    const album = this.byId(this.current);
    if (!album) return;
    const { renameInput, renameError, renameForm } = this.elements;
    const { value, problems } = checkAlbumName(renameInput.value, this.limits);
    showFieldProblems(renameInput, renameError, problems);
    if (problems.length > 0) {
      renameInput.focus();
      this.announce(`Not renamed: ${problems.join(" ")}`);
      return;
    }
    if (value === album.name) {
      this.closeRename();
      return;
    }
    const save = renameForm.querySelector("[data-testid=save-rename]");
    this.busy = true;
    renameInput.readOnly = true;
    save.setAttribute("aria-disabled", "true");
    save.textContent = "Saving…";
    try {
      const renamed = await this.api.renameAlbum(album.id, value);
      this.put(renamed);
      this.closeRename();
      this.showBar();
      this.onChanged(renamed);
      this.announce(`Renamed the album to “${renamed.name}”.`);
    } catch (error) {
      if (error?.status === 404) {
        await this.gone(album);
        return;
      }
      const shown = error?.status === 400 ? nameProblems(error) : [`Could not rename the album. ${error?.message ?? ""}`.trim()];
      showFieldProblems(renameInput, renameError, shown);
      renameInput.focus();
      this.announce(`Not renamed: ${shown.join(" ")}`);
    } finally {
      this.busy = false;
      renameInput.readOnly = false;
      save.removeAttribute("aria-disabled");
      save.textContent = "Save";
    }
  }

  /** The album shown was deleted elsewhere: it leaves the list, and all photos are shown. */
  async gone(album) {
    this.albums = this.albums.filter((a) => a.id !== album.id);
    this.render();
    await this.onDeleted(album.id);
    this.announce(`The album “${album.name}” no longer exists.`);
  }

  /** Asks, then deletes the album shown; its photos stay. */
  async remove() {
    const album = this.byId(this.current);
    if (!album || this.busy) return;
    const kept =
      album.count > 0
        ? `Its ${photoCount(album.count).toLowerCase()} ${album.count === 1 ? "is" : "are"} kept: ${album.count === 1 ? "it stays" : "they stay"} in your photos and in any other album.`
        : "It has no photos.";
    const confirmed = await this.confirm.ask({
      title: `Delete the album “${album.name}”?`,
      text: `${kept} Only the album goes.`,
      confirm: "Delete album",
    });
    if (!confirmed) {
      this.elements.deleteButton.focus();
      return;
    }
    this.busy = true;
    this.elements.deleteButton.setAttribute("aria-disabled", "true");
    this.elements.deleteButton.textContent = "Deleting…";
    try {
      await this.api.deleteAlbum(album.id);
    } catch (error) {
      if (error?.status !== 404) {
        this.showError(`Could not delete the album “${album.name}”. ${error?.message ?? ""}`.trim());
        this.elements.deleteButton.focus();
        return;
      }
    } finally {
      this.busy = false;
      this.elements.deleteButton.removeAttribute("aria-disabled");
      this.elements.deleteButton.textContent = "Delete album";
    }
    this.albums = this.albums.filter((a) => a.id !== album.id);
    this.render();
    await this.onDeleted(album.id);
    this.announce(`Deleted the album “${album.name}”. Its photos are kept.`);
  }

  // ---- adding and removing photos ---------------------------------------------------------------

  /**
   * Asks which album to add `count` photos to (the dialog; the album shown is not offered).
   * Resolves to the album's id, or null when cancelled (or there is none to offer).
   */
  choose(count) {
    const { dialog, select, dialogTitle, dialogText } = this.elements;
    if (dialog.open) return Promise.resolve(null);
    const offered = this.albums.filter((album) => album.id !== this.current);
    dialogTitle.textContent = `Add ${photoCount(count).toLowerCase()} to an album`;
    select.replaceChildren(
      ...offered.map((album) => h("option", { value: album.id, text: `${album.name} (${photoCount(album.count).toLowerCase()})` })),
    );
    const add = dialog.querySelector("[data-testid=confirm-add]");
    select.hidden = offered.length === 0;
    select.closest(".field").hidden = offered.length === 0;
    add.disabled = offered.length === 0;
    dialogText.textContent =
      offered.length === 0
        ? "You have no other album. Create one under Albums first."
        : "A photo can be in several albums; adding it again changes nothing.";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      this.settleDialog = resolve;
      dialog.showModal();
      (offered.length > 0 ? select : dialog.querySelector("[data-testid=cancel-add]")).focus();
    });
  }

  /**
   * Adds (`add`) or removes photos: `PUT`/`DELETE /api/albums/{id}/photos/{imageId}` for each of
   * `photos` (`[{id, label}]`), a few at once. Resolves to `{album, results, summary}`; the list
   * is loaded again (counts, covers).
   */
  async change(albumId, photos, { add }) {
    const album = this.byId(albumId);
    const name = album?.name ?? "the album";
    const results = await eachLimited(photos, PARALLEL_CHANGES, async (photo) => {
      try {
        await this.api.setAlbumPhoto(albumId, photo.id, add);
        return { id: photo.id, label: photo.label, status: 204 };
      } catch (error) {
        return { id: photo.id, label: photo.label, status: error?.status ?? 0, code: error?.code, message: error?.detail ?? error?.message };
      }
    });
    const summary = albumChangeSummary(results, name, { add });
    await this.load();
    return { album, results, summary };
  }
}
