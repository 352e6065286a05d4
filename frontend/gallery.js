// The gallery: one card per image, newest first, built from `GET /api/images` items and from
// the uploads of this visit. Ready images are a <picture> (WebP and JPEG srcsets); a click opens
// the largest rendition in a dialog. A card shows the photo's title (else its file name), its
// description (collapsed when long) and its tags, as buttons that filter the gallery by them.
// Every card has an "Edit details" button, which opens a form in the card (EditForm), and a
// delete button, which asks first in a modal dialog (ConfirmDialog). A ready photo has a
// "Download" button (its original), and every photo a checkbox that selects it (for "Add to
// album…" and "Remove from album", see albums.js).

import {
  DETAIL_LIMITS,
  GALLERY_SIZES,
  buildEditBody,
  cardTitle,
  charCount,
  deleteConfirmation,
  deleteOutcome,
  describeSource,
  downloadFilename,
  imageDetails,
  insertionIndex,
  isLongDescription,
  matchesView,
  parseTagsInput,
  photoLabel,
  pictureModel,
  reasonText,
  blurhashPixels,
  cssColor,
  splitEditProblems,
  tagsInputText,
} from "./lib.js";

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** `document.createElement` with attributes (`text` sets textContent) and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

/**
 * Saves a Blob as a file named `filename`, the way a download link does (`<a download>`).
 */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started by then; the URL is only needed until it has.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** A <picture> for a pictureModel(): WebP <source>s, then the JPEG <img>. */
/**
 * A small canvas painted with the photo's BlurHash (at most 32 px on its longer side, stretched
 * by CSS over the card), shown until the thumbnail has loaded; null without a usable one.
 */
function placeholderCanvas(placeholder, width, height) {
  if (!placeholder || !Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) return null;
  const scale = 32 / Math.max(width, height);
  const across = Math.max(1, Math.round(width * scale));
  const down = Math.max(1, Math.round(height * scale));
  const pixels = blurhashPixels(placeholder.blurhash, across, down);
  if (!pixels) return null;
  const canvas = h("canvas", {
    class: "card__placeholder",
    width: across,
    height: down,
    "aria-hidden": "true",
    "data-testid": "gallery-placeholder",
  });
  canvas.getContext("2d")?.putImageData(new ImageData(pixels, across, down), 0, 0);
  return canvas;
}

function picture(model, { alt, sizes, lazy }) {
  const element = h("picture");
  for (const source of model.sources) element.append(h("source", { type: source.type, srcset: source.srcset, sizes }));
  element.append(
    h("img", {
      src: model.img.src,
      srcset: model.img.srcset,
      sizes,
      width: model.img.width,
      height: model.img.height,
      alt,
      loading: lazy ? "lazy" : null,
      decoding: "async",
      "data-testid": "gallery-image",
    }),
  );
  return element;
}

/**
 * A modal confirmation (`<dialog>` with `[data-testid=confirm-delete]` and
 * `[data-testid=cancel-delete]`): `ask()` resolves true for "Delete", false for "Cancel", Escape or
 * a click on the backdrop. Focus starts on Cancel (the harmless choice) and the browser gives it
 * back to the button that opened the dialog when it closes.
 */
export class ConfirmDialog {
  constructor(dialog) {
    this.dialog = dialog;
    this.title = dialog.querySelector("[data-testid=delete-title]");
    this.text = dialog.querySelector("[data-testid=delete-text]");
    this.confirm = dialog.querySelector("[data-testid=confirm-delete]");
    this.cancel = dialog.querySelector("[data-testid=cancel-delete]");
    this.settle = null;
    this.confirm.addEventListener("click", () => dialog.close("confirm"));
    this.cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close("cancel");
    });
    // Escape fires `cancel` and closes the dialog with the returnValue left as "" (see ask()).
    dialog.addEventListener("close", () => {
      const settle = this.settle;
      this.settle = null;
      settle?.(dialog.returnValue === "confirm");
    });
  }

  /**
   * Shows `{title, text}` and resolves to whether the user confirmed; `confirm` is the confirming
   * button's text ("Delete" unless said), `cancel` the other one's ("Cancel").
   */
  ask({ title, text, confirm = "Delete", cancel = "Cancel" }) {
    if (this.dialog.open) return Promise.resolve(false);
    this.title.textContent = title;
    this.text.textContent = text;
    this.confirm.textContent = confirm;
    this.cancel.textContent = cancel;
    this.dialog.returnValue = "";
    return new Promise((resolve) => {
      this.settle = resolve;
      this.dialog.showModal();
      this.cancel.focus();
    });
  }
}

/** Numbers the edit forms, for their fields' ids. */
let formCount = 0;

/**
 * The form that edits a photo's title, description and tags, in its card: each field with its
 * label, a hint, and its problems right under it (`aria-describedby`, `aria-invalid`). The fields
 * are checked like the server checks them (lib.js `buildEditBody`) before anything is sent;
 * Escape or "Cancel" close it without saving.
 */
export class EditForm {
  /**
   * @param {{image: object, label: string, limits: object, onCancel: () => void,
   *   onSubmit: (body: object) => void, announce?: (text: string) => void}} options
   */
  constructor({ image, label, limits, onCancel, onSubmit, announce = () => {} }) {
    this.image = image;
    this.limits = limits;
    this.onCancel = onCancel;
    this.onSubmit = onSubmit;
    this.announce = announce;
    /** The last update of the image that arrived while the form was open (applied on close). */
    this.update = null;
    this.saving = false;
    /** Once the form was sent, every field is checked again as it is typed in. */
    this.checked = new Set();
    const details = imageDetails(image);
    this.initial = {
      title: details.title ?? "",
      description: details.description ?? "",
      tags: tagsInputText(details.tags),
    };
    formCount += 1;
    const uid = `edit-${formCount}`;
    this.controls = {
      title: h("input", { type: "text", autocomplete: "off", "data-testid": "edit-title" }),
      description: h("textarea", { rows: 4, "data-testid": "edit-description" }),
      tags: h("input", {
        type: "text",
        autocomplete: "off",
        autocapitalize: "none",
        spellcheck: "false",
        placeholder: "e.g. sunset, new york",
        "data-testid": "edit-tags",
      }),
    };
    this.controls.title.value = this.initial.title;
    this.controls.description.value = this.initial.description;
    this.controls.tags.value = this.initial.tags;
    this.errors = {};
    this.counts = {};
    const field = (key, text, control, ...hint) => {
      const id = `${uid}-${key}`;
      control.id = id;
      const error = h("p", { class: "field__error", id: `${id}-error`, "data-testid": `edit-${key}-error`, hidden: true });
      this.errors[key] = error;
      control.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
      return h(
        "div",
        { class: "field" },
        h("label", { class: "field__label", for: id, text }),
        control,
        h("p", { class: "field__hint", id: `${id}-hint` }, ...hint),
        error,
      );
    };
    const count = (key, max) => {
      this.counts[key] = h("span", { class: "field__count", "data-testid": `edit-${key}-count` });
      this.counts[key].dataset.max = String(max);
      return this.counts[key];
    };
    this.preview = h("span", { class: "field__preview", "data-testid": "edit-tags-preview" });
    this.problem = h("div", { class: "card__error", "data-testid": "edit-error", hidden: true });
    this.save = h("button", {
      class: "button button--primary button--small",
      type: "submit",
      "data-testid": "save-edit",
      text: "Save",
    });
    this.cancel = h("button", {
      class: "button button--quiet button--small",
      type: "button",
      "data-testid": "cancel-edit",
      text: "Cancel",
    });
    this.element = h(
      "form",
      { class: "card__edit", "data-testid": "edit-form", novalidate: true, "aria-label": `Edit details of ${label}` },
      field(
        "title",
        "Title",
        this.controls.title,
        `Optional; shown instead of the file name. `,
        count("title", limits.titleMaxChars),
      ),
      field(
        "description",
        "Description",
        this.controls.description,
        "Optional; line breaks are kept. ",
        count("description", limits.descriptionMaxChars),
      ),
      field(
        "tags",
        "Tags",
        this.controls.tags,
        `Separate tags with commas; letters, digits, “-” and “_”, at most ${limits.tagsMax} tags of ${limits.tagMaxChars} characters. `,
        this.preview,
      ),
      this.problem,
      h("div", { class: "card__edit-actions" }, this.save, this.cancel),
    );
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.cancel.addEventListener("click", () => {
      if (!this.saving) this.onCancel();
    });
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.saving) {
        event.preventDefault();
        event.stopPropagation();
        this.onCancel();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target === this.controls.description) {
        event.preventDefault();
        this.submit();
      }
    });
    for (const [key, control] of Object.entries(this.controls)) {
      control.addEventListener("input", () => {
        this.refresh();
        if (this.checked.has(key)) this.check(key);
      });
      // Leaving a changed field checks it, unless for Save (which checks everything) or Cancel:
      // a problem appearing at the mouse-down would move the button from under the pointer.
      control.addEventListener("blur", (event) => {
        if (event.relatedTarget === this.save || event.relatedTarget === this.cancel) return;
        if (control.value === this.initial[key] && !this.checked.has(key)) return;
        this.checked.add(key);
        this.check(key);
      });
    }
    this.refresh();
  }

  values() {
    return {
      title: this.controls.title.value,
      description: this.controls.description.value,
      tags: this.controls.tags.value,
    };
  }

  /** Whether a field differs from what the photo has. */
  dirty() {
    const values = this.values();
    return Object.keys(this.initial).some((key) => values[key] !== this.initial[key]);
  }

  /** The character counts and the tags as they will be saved. */
  refresh() {
    for (const [key, counter] of Object.entries(this.counts)) {
      const used = charCount(this.controls[key].value.trim());
      const max = Number(counter.dataset.max);
      counter.textContent = `${used} / ${max} characters`;
      counter.classList.toggle("is-over", used > max);
    }
    const { tags } = parseTagsInput(this.controls.tags.value, this.limits);
    this.preview.replaceChildren(
      tags.length > 0 ? `Saved as ${tags.map((tag) => `#${tag}`).join(" ")}.` : "No tags.",
    );
  }

  /** Checks one field and shows (or clears) its problems; returns them. */
  check(key) {
    const { problems } = buildEditBody(this.values(), this.image, this.limits);
    this.showField(key, problems[key]);
    return problems[key];
  }

  showField(key, problems = []) {
    const error = this.errors[key];
    const control = this.controls[key];
    error.textContent = problems.join(" ");
    error.hidden = problems.length === 0;
    if (problems.length > 0) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }

  /**
   * Shows problems (`{title, description, tags, other}`, lists of sentences) next to their fields,
   * and `lead` with the others above the buttons; focus goes to the first field with a problem.
   */
  showProblems(problems, lead = null) {
    for (const key of Object.keys(this.controls)) {
      this.showField(key, problems[key] ?? []);
      if ((problems[key] ?? []).length > 0) this.checked.add(key);
    }
    const general = [lead, ...(problems.other ?? [])].filter(Boolean);
    this.problem.replaceChildren(...general.map((text) => h("p", { text })));
    this.problem.hidden = general.length === 0;
    const first = Object.keys(this.controls).find((key) => (problems[key] ?? []).length > 0);
    if (first) this.controls[first].focus();
    else if (general.length > 0 && document.activeElement === document.body) this.save.focus();
  }

  /** Every problem the form shows now. */
  problemSentences() {
    return [this.problem, ...Object.values(this.errors)]
      .filter((element) => !element.hidden)
      .flatMap((element) => (element === this.problem ? [...element.children].map((p) => p.textContent) : [element.textContent]));
  }

  submit() {
    if (this.saving) return;
    const { body, problems, changed } = buildEditBody(this.values(), this.image, this.limits);
    this.showProblems(problems);
    const count = Object.values(problems).reduce((sum, list) => sum + list.length, 0);
    if (count > 0) {
      this.announce(`Not saved: ${count === 1 ? "a problem needs" : `${count} problems need`} fixing. ${this.problemSentences().join(" ")}`);
      return;
    }
    if (!changed) {
      this.onCancel();
      this.announce("Nothing to save: the details are as they were.");
      return;
    }
    this.onSubmit(body);
  }

  /** While saving the fields are read-only and Save reads "Saving…" (it stays focusable). */
  busy(on) {
    this.saving = on;
    this.element.setAttribute("aria-busy", String(on));
    for (const control of Object.values(this.controls)) control.readOnly = on;
    this.save.setAttribute("aria-disabled", String(on));
    this.cancel.disabled = on;
    this.save.textContent = on ? "Saving…" : "Save";
    if (on) {
      this.problem.hidden = true;
      this.problem.replaceChildren();
    }
  }

  focus() {
    this.controls.title.focus();
  }

  dispose() {
    this.element.remove();
  }
}

export class Gallery {
  /**
   * @param {{list: HTMLElement, empty: HTMLElement, viewer: HTMLDialogElement,
   *   heading?: HTMLElement, confirm?: ConfirmDialog, deleteImage?: (id: string) => Promise<unknown>,
   *   editImage?: (id: string, body: object) => Promise<object>, onFilter?: (tag: string) => void,
   *   announce?: (text: string) => void, onDeleted?: (id: string) => void}} options
   * `deleteImage(id)` sends the delete (it rejects with an ApiError on failure); `onDeleted(id)`
   * is told once a card went because its image is deleted (or was already gone).
   * `editImage(id, body)` sends an edit and resolves to the image as it now is; `onFilter(tag)` is
   * told when a tag chip is pressed. `downloadOriginal(id)` resolves to the photo's original (a
   * Blob); `onSelection(count)` is told whenever the selection changes.
   */
  constructor({
    list,
    empty,
    viewer,
    heading = null,
    confirm = null,
    deleteImage = null,
    editImage = null,
    onFilter = () => {},
    announce = () => {},
    onDeleted = () => {},
    downloadOriginal = null,
    onSelection = () => {},
  }) {
    this.list = list;
    this.empty = empty;
    this.viewer = viewer;
    this.heading = heading;
    this.confirm = confirm;
    this.deleteImage = deleteImage;
    this.editImage = editImage;
    this.onFilter = onFilter;
    this.announce = announce;
    this.onDeleted = onDeleted;
    this.downloadOriginal = downloadOriginal;
    this.onSelection = onSelection;
    /** Only the photos of this album are shown (null: all). */
    this.album = null;
    /** Ids of the selected photos. */
    this.selected = new Set();
    /** Ids whose original is being downloaded. */
    this.downloading = new Set();
    /** The limits of titles, descriptions and tags (`GET /api/config` `details`). */
    this.limits = { ...DETAIL_LIMITS };
    /** Only images with this tag are shown (null: all). */
    this.filter = null;
    /** id → file name, for the uploads of this visit (before the API has said the name). */
    this.names = new Map();
    /** id → the image its card shows (the last API answer about it). */
    this.images = new Map();
    /** Ids whose delete is under way, and the last update each received meanwhile (or null). */
    this.deleting = new Map();
    /** id → the EditForm open in its card; updates of the image wait in `form.update` meanwhile. */
    this.editing = new Map();
    /** Ids deleted in this visit: a late poll or listing page must not bring their card back. */
    this.deleted = new Set();
    this.loaded = false;
    viewer.querySelector("[data-testid=viewer-close]").addEventListener("click", () => viewer.close());
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    viewer.addEventListener("click", (event) => {
      if (event.target === viewer) viewer.close();
    });
    viewer.addEventListener("close", () => {
      viewer.querySelector(".viewer__picture").replaceChildren();
    });
  }

  /** Ids in display order. */
  ids() {
    return [...this.list.children].map((item) => item.dataset.id);
  }

  item(id) {
    return [...this.list.children].find((item) => item.dataset.id === id) ?? null;
  }

  /**
   * Adds or updates an image (an API image, or `{id, status: "pending"}`), keeping newest first.
   * While a filter is set, an image without its tag is not shown (and its card goes if it lost the
   * tag). An image whose card is being deleted or edited waits until that is over.
   */
  upsert(image, name = null) {
    if (name) this.names.set(image.id, name);
    if (this.deleted.has(image.id)) return null;
    if (this.deleting.has(image.id)) {
      // Applied if the delete fails; the card keeps showing that it is being deleted meanwhile.
      this.deleting.set(image.id, image);
      return this.item(image.id);
    }
    const form = this.editing.get(image.id);
    if (form) {
      // Applied when the form closes (its answer, if saved, is newer still).
      form.update = image;
      return this.item(image.id);
    }
    const existing = this.item(image.id);
    if (!matchesView(image, { album: this.album, tag: this.filter })) {
      if (existing) this.drop(image.id);
      return null;
    }
    const before = this.images.get(image.id);
    this.images.set(image.id, image);
    // Keep a card that would look the same (a ready image may be loading already).
    if (existing && before && this.cardKey(before) === this.cardKey(image)) return existing;
    const card = this.card(image);
    if (existing) {
      existing.replaceWith(card);
    } else {
      const index = insertionIndex(this.ids(), image.id);
      this.list.insertBefore(card, this.list.children[index] ?? null);
    }
    this.updateEmpty();
    return card;
  }

  /** What a card shows of an image: when it changes, the card is made again. */
  cardKey(image) {
    const { title, description, tags } = imageDetails(image);
    const name = (typeof image.filename === "string" && image.filename) || this.names.get(image.id) || null;
    return JSON.stringify([image.status, Boolean(image.slow), name, title, description, tags]);
  }

  /** Takes every card away (a new listing follows: another filter, say); open forms are dropped. */
  clear() {
    for (const form of this.editing.values()) form.dispose();
    this.editing.clear();
    this.images.clear();
    this.list.replaceChildren();
    this.loaded = false;
    this.updateEmpty();
    this.clearSelection();
  }

  /**
   * Takes a card out of the list without the photo being deleted (it left the album or the tag
   * shown); focus, if it was in the card, goes to the neighbouring card's checkbox or the heading.
   */
  drop(id) {
    const card = this.item(id);
    this.images.delete(id);
    this.editing.get(id)?.dispose();
    this.editing.delete(id);
    if (card) {
      const neighbour = card.nextElementSibling ?? card.previousElementSibling;
      const focusWasHere = card.contains(document.activeElement);
      card.remove();
      if (focusWasHere) (neighbour?.querySelector("[data-testid=select-photo]") ?? this.heading)?.focus();
    }
    this.updateEmpty();
    if (this.selected.delete(id)) this.onSelection(this.selected.size);
  }

  // ---- selecting photos ---------------------------------------------------------------------

  /** Selects or unselects a photo (its checkbox says so too). */
  select(id, on) {
    const had = this.selected.has(id);
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    const card = this.item(id);
    if (card) {
      card.classList.toggle("card--selected", on);
      if (on) card.dataset.selected = "true";
      else delete card.dataset.selected;
      const box = card.querySelector("[data-testid=select-photo]");
      if (box) box.checked = on;
    }
    if (had !== on) this.onSelection(this.selected.size);
  }

  /** The selected photos, in display order: `[{id, image, label}]`. */
  selection() {
    return this.ids()
      .filter((id) => this.selected.has(id))
      .map((id) => {
        const image = this.images.get(id);
        return { id, image, label: image ? this.naming(image).label : id };
      });
  }

  /** Unselects every photo. */
  clearSelection() {
    if (this.selected.size === 0) return;
    for (const id of [...this.selected]) this.select(id, false);
    this.selected.clear();
    this.onSelection(0);
  }

  /** Notes which albums a photo is in now (after it was added to or removed from one). */
  noteAlbums(id, change) {
    const image = this.images.get(id);
    if (!image) return;
    const albums = new Set(Array.isArray(image.albums) ? image.albums : []);
    if (change.add) albums.add(change.add);
    if (change.remove) albums.delete(change.remove);
    this.images.set(id, { ...image, albums: [...albums] });
  }

  // ---- downloading a photo's original -------------------------------------------------------

  /**
   * Downloads a ready photo's original and saves it under the photo's file name; meanwhile its
   * button reads "Downloading…". A failure is said in the card and announced.
   */
  async download(id) {
    const image = this.images.get(id);
    if (!image || !this.item(id) || this.downloading.has(id) || !this.downloadOriginal) return;
    const { label } = this.naming(image);
    this.downloading.add(id);
    this.showDownload(id, { busy: true, problem: null });
    this.announce(`Downloading the original of “${label}”…`);
    try {
      const blob = await this.downloadOriginal(id);
      saveBlob(blob, downloadFilename(image));
      this.downloading.delete(id);
      this.showDownload(id, { busy: false, problem: null });
      this.announce(`Downloaded the original of “${label}”.`);
    } catch (error) {
      this.downloading.delete(id);
      const message = `Could not download the original of “${label}”. ${error?.message ?? "The server could not be reached."}`;
      this.showDownload(id, { busy: false, problem: message });
      this.announce(message);
    }
  }

  /** Shows a card's download state (the card may have been made again meanwhile). */
  showDownload(id, { busy, problem }) {
    const card = this.item(id);
    const button = card?.querySelector("[data-testid=download]");
    const error = card?.querySelector("[data-testid=download-error]");
    if (button) {
      if (busy) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
      button.textContent = busy ? "Downloading…" : "Download";
    }
    if (error) {
      error.textContent = problem ?? "";
      error.hidden = problem === null;
    }
  }

  updateEmpty() {
    this.empty.hidden = !this.loaded || this.list.children.length > 0;
  }

  /** Whether an edit form holds changes not saved yet. */
  hasUnsavedEdits() {
    return [...this.editing.values()].some((form) => form.dirty());
  }

  /** How the card's photo is named to people, and its file name (or null). */
  naming(image) {
    const name = (typeof image.filename === "string" && image.filename) || this.names.get(image.id) || null;
    const status = ["ready", "rejected", "failed"].includes(image.status) ? image.status : "pending";
    const created = typeof image.createdAt === "string" ? new Date(image.createdAt) : null;
    const createdOk = created !== null && !Number.isNaN(created.getTime());
    const { title } = imageDetails(image);
    const label = photoLabel({ ...image, status }, title ?? name, createdOk ? dateFormat.format(created) : null);
    return { name, status, created: createdOk ? created : null, label, named: (title ?? name) !== null };
  }

  card(image) {
    const { name, status, created, label, named } = this.naming(image);
    const details = imageDetails(image);
    const meta = [];
    if (details.title && name) meta.push(name);
    if (status === "ready") meta.push(describeSource(image.source));
    const metaParts = meta.filter(Boolean).join(" · ");
    const caption = h(
      "figcaption",
      { class: "card__caption" },
      h("span", { class: "card__title", "data-testid": "card-title", text: cardTitle(image, name, status) }),
      h(
        "span",
        { class: "card__meta" },
        metaParts ? `${metaParts}${created ? " · " : ""}` : null,
        created ? h("time", { datetime: image.createdAt, text: dateFormat.format(created) }) : null,
      ),
    );
    const figure = h("figure", { class: "card__figure" });
    const model = status === "ready" ? pictureModel(image.thumbnails) : null;
    if (model) {
      const alt = details.title ?? name ?? `Photo, ${describeSource(image.source)}`;
      const link = h(
        "a",
        { class: "card__media", href: model.largest.url, "data-testid": "gallery-open" },
        picture(model, { alt, sizes: GALLERY_SIZES, lazy: true }),
      );
      const img = link.querySelector("img");
      // While the thumbnail loads: the photo's colour and its blurred sketch behind it.
      const color = cssColor(image.placeholder?.color);
      if (color) link.style.backgroundColor = color;
      const sketch = placeholderCanvas(image.placeholder, model.img.width, model.img.height);
      if (sketch) link.prepend(sketch);
      img.addEventListener("load", () => {
        img.dataset.loaded = "true";
        sketch?.remove();
      });
      img.addEventListener("error", () => {
        // Say so in the card instead of leaving a blank tile.
        link.replaceWith(
          h(
            "div",
            { class: "card__media card__media--rejected", "data-testid": "gallery-image-error" },
            h("p", { class: "card__reason", text: "The thumbnail could not be loaded." }),
            h("a", { href: model.largest.url, text: "Try opening it directly" }),
          ),
        );
      });
      link.addEventListener("click", (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        this.open(image, alt);
      });
      figure.append(link);
    } else if (status === "rejected") {
      figure.append(
        h(
          "div",
          { class: "card__media card__media--rejected" },
          h("span", { class: "card__badge", text: "Not accepted" }),
          h("p", { class: "card__reason", "data-testid": "gallery-reason", text: reasonText(image.reason) }),
          image.message ? h("p", { class: "card__detail", text: `Details: ${image.message}` }) : null,
        ),
      );
    } else if (status === "failed") {
      // Our failure, not the file's: said in those words (the original is kept).
      figure.append(
        h(
          "div",
          { class: "card__media card__media--rejected" },
          h("span", { class: "card__badge", text: "Not processed" }),
          h("p", { class: "card__reason", "data-testid": "gallery-reason", text: reasonText(image.reason) }),
        ),
      );
    } else if (status === "ready") {
      figure.append(
        h(
          "div",
          { class: "card__media card__media--rejected" },
          h("p", { class: "card__reason", text: "This image is ready but has no thumbnails to show." }),
        ),
      );
    } else {
      figure.append(
        h(
          "div",
          { class: "card__media card__media--pending" },
          h("span", { class: "spinner", "aria-hidden": "true" }),
          h("span", { text: image.slow ? "Still processing; reload later." : "Making thumbnails…" }),
        ),
      );
    }
    if (details.description) caption.append(this.description(image.id, details.description));
    if (details.tags.length > 0) caption.append(this.chips(details.tags));
    figure.append(caption);
    // The checkbox comes first in the card (over the picture's corner), before its link.
    const selected = this.selected.has(image.id);
    const check = status === "rejected" || status === "failed"
      ? null
      : h("input", {
          type: "checkbox",
          class: "card__check",
          "data-testid": "select-photo",
          "aria-label": `Select ${label}`,
          checked: selected,
        });
    check?.addEventListener("change", () => this.select(image.id, check.checked));
    // A failed upload is kept (our failure, not the file's): its original can be downloaded.
    const download =
      status === "ready" || status === "failed"
        ? h("button", {
            class: "button button--quiet button--small card__download",
            type: "button",
            "data-testid": "download",
            "aria-label": `Download the original of ${label}`,
            "aria-disabled": this.downloading.has(image.id) ? "true" : null,
            text: this.downloading.has(image.id) ? "Downloading…" : "Download",
          })
        : null;
    download?.addEventListener("click", () => {
      this.download(image.id).catch((error) => this.announce(error.message));
    });
    const edit = h("button", {
      class: "button button--quiet button--small card__edit",
      type: "button",
      "data-testid": "edit",
      "aria-label": `Edit details of ${label}`,
      text: "Edit details",
    });
    edit.addEventListener("click", () => this.edit(image.id));
    const button = h("button", {
      class: "button button--quiet button--small card__delete",
      type: "button",
      "data-testid": "delete",
      "aria-label": `Delete ${label}`,
      text: "Delete",
    });
    button.addEventListener("click", () => {
      this.remove(image.id, { label, name: named ? label : null, status }).catch((error) => this.announce(error.message));
    });
    const problem = h("p", { class: "card__error", "data-testid": "delete-error", hidden: true });
    const downloadProblem = download
      ? h("p", { class: "card__error", "data-testid": "download-error", hidden: true })
      : null;
    // A rejected or failed upload is not a photo to describe: no edit button.
    const actions = h(
      "div",
      { class: "card__actions" },
      status === "rejected" || status === "failed" ? null : edit,
      download,
      button,
      problem,
      downloadProblem,
    );
    return h(
      "li",
      {
        class: `card card--${status}${selected ? " card--selected" : ""}`,
        "data-testid": "gallery-item",
        "data-id": image.id,
        "data-status": status,
        "data-selected": selected ? "true" : null,
      },
      check ? h("div", { class: "card__select" }, check) : null,
      figure,
      actions,
    );
  }

  /** The description, its line breaks kept; a long one is clamped with a "Show more" button. */
  description(id, text) {
    const paragraph = h("p", {
      class: "card__description",
      id: `description-${id}`,
      "data-testid": "card-description",
      text,
    });
    if (!isLongDescription(text)) return paragraph;
    paragraph.classList.add("is-collapsed");
    const toggle = h("button", {
      class: "card__more",
      type: "button",
      "data-testid": "description-toggle",
      "aria-expanded": "false",
      "aria-controls": paragraph.id,
      text: "Show more",
    });
    toggle.addEventListener("click", () => {
      const expand = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(expand));
      toggle.textContent = expand ? "Show less" : "Show more";
      paragraph.classList.toggle("is-collapsed", !expand);
    });
    return h("div", { class: "card__description-box" }, paragraph, toggle);
  }

  /** The tags as buttons that show only the photos with that tag. */
  chips(tags) {
    const list = h("ul", { class: "card__tags", "data-testid": "card-tags", "aria-label": "Tags" });
    for (const tag of tags) {
      const current = tag === this.filter;
      const chip = h("button", {
        class: `chip${current ? " chip--current" : ""}`,
        type: "button",
        "data-testid": "tag-chip",
        "data-tag": tag,
        "aria-label": current ? `#${tag}, shown now` : `Show photos tagged #${tag}`,
        "aria-current": current ? "true" : null,
        text: `#${tag}`,
      });
      chip.addEventListener("click", () => {
        if (!current) this.onFilter(tag);
      });
      list.append(h("li", {}, chip));
    }
    return list;
  }

  // ---- editing a photo's details ----------------------------------------------------------

  /** Opens the edit form in a card (or moves focus to it, if open already). */
  edit(id) {
    const card = this.item(id);
    const image = this.images.get(id);
    if (!card || !image || !this.editImage || this.deleting.has(id)) return;
    const open = this.editing.get(id);
    if (open) {
      open.focus();
      return;
    }
    const { label } = this.naming(image);
    const form = new EditForm({
      image,
      label,
      limits: this.limits,
      announce: this.announce,
      onCancel: () => this.closeEdit(id, { focus: true }),
      onSubmit: (body) => this.save(id, body),
    });
    this.editing.set(id, form);
    card.classList.add("card--editing");
    card.dataset.editing = "true";
    for (const part of card.querySelectorAll(".card__caption, .card__actions")) part.hidden = true;
    card.querySelector(".card__figure").after(form.element);
    form.focus();
  }

  /**
   * Closes a card's edit form: the card shows `image` (the saved answer), else the last update
   * that arrived while the form was open, else what it showed. Focus goes to its Edit button.
   */
  closeEdit(id, { image = null, focus = false } = {}) {
    const form = this.editing.get(id);
    if (!form) return null;
    this.editing.delete(id);
    form.dispose();
    const card = this.item(id);
    const shown = image ?? form.update ?? this.images.get(id) ?? form.image;
    // Make the card again even if it looks the same (its caption was hidden).
    this.images.delete(id);
    card?.remove();
    const fresh = this.upsert(shown);
    if (focus) {
      const target = fresh?.querySelector("[data-testid=edit]") ?? this.heading;
      target?.focus();
    }
    return fresh;
  }

  /**
   * Sends an edit (`body` from lib.js `buildEditBody`) and shows what came of it: the card made
   * from the answer; a `400`'s problems next to their fields; a `404` (deleted meanwhile,
   * elsewhere) takes the card away; any other failure is said in the form, which stays open.
   */
  async save(id, body) {
    const form = this.editing.get(id);
    if (!form) return;
    const { label } = this.naming(form.image);
    form.busy(true);
    this.announce(`Saving the details of “${label}”…`);
    let answer;
    try {
      answer = await this.editImage(id, body);
    } catch (error) {
      if (this.editing.get(id) !== form) return; // the gallery was emptied meanwhile
      form.busy(false);
      if (error?.status === 404) {
        this.editing.delete(id);
        form.dispose();
        this.deleted.add(id);
        this.images.delete(id);
        const card = this.item(id);
        const neighbour = card?.nextElementSibling ?? card?.previousElementSibling;
        card?.remove();
        this.updateEmpty();
        (neighbour?.querySelector("[data-testid=edit]") ?? this.heading)?.focus();
        this.announce(`“${label}” no longer exists (it was deleted elsewhere); nothing was saved.`);
        this.onDeleted(id);
        return;
      }
      if (error?.status === 400 && error.code === "invalid_request") {
        const problems = splitEditProblems(error.detail ?? "");
        form.showProblems(problems, `The server did not accept the details.`);
        this.announce(`Not saved. ${form.problemSentences().join(" ")}`);
        return;
      }
      const message = `Could not save the details. ${error?.message ?? "The server could not be reached."}`;
      form.showProblems({ other: [message] });
      this.announce(message);
      return;
    }
    if (this.editing.get(id) !== form) {
      // The gallery was emptied meanwhile (another filter): show the answer if it belongs.
      this.upsert(answer);
      return;
    }
    // Polling may have seen the image become ready after the answer was made: keep the newer state.
    const update = form.update;
    const shown =
      answer?.status === "pending" && update && update.status !== "pending"
        ? { ...update, title: answer.title, description: answer.description, tags: answer.tags }
        : answer;
    const saved = cardTitle(shown, this.naming(shown).name);
    const card = this.item(id);
    const neighbour = card?.nextElementSibling ?? card?.previousElementSibling ?? null;
    const fresh = this.closeEdit(id, { image: shown, focus: true });
    if (!fresh && this.filter !== null) {
      // It lost the tag the gallery is showing: it left the list.
      (neighbour?.querySelector("[data-testid=edit]") ?? this.heading)?.focus();
      this.announce(`Saved the details of “${saved}”. It no longer has the tag #${this.filter}, so it is not shown here.`);
      return;
    }
    this.announce(`Saved the details of “${saved}”.`);
  }

  /**
   * Asks, then deletes an image: the card shows it is being deleted (its button disabled) while
   * the request runs, goes when the image is deleted or was gone already (404), and stays with the
   * reason when the delete failed. A 401 is recovered from by api.js (the request waits for the
   * user to sign in again and is sent once more).
   */
  async remove(id, { label, name = null, status }) {
    if (!this.item(id) || !this.deleteImage || this.deleting.has(id)) return;
    const confirmed = this.confirm ? await this.confirm.ask(deleteConfirmation(label, status, name !== null)) : true;
    // The card may have been replaced while the dialog was open (a pending image became ready).
    const card = this.item(id);
    if (!card || this.deleting.has(id)) return;
    const button = card.querySelector("[data-testid=delete]");
    const problem = card.querySelector("[data-testid=delete-error]");
    if (!confirmed) {
      button.focus();
      return;
    }
    this.deleting.set(id, null);
    card.classList.add("card--deleting");
    card.dataset.deleting = "true";
    card.setAttribute("aria-busy", "true");
    button.disabled = true;
    button.textContent = "Deleting…";
    problem.hidden = true;
    problem.textContent = "";
    // Spoken: "Deleting “IMG_2041.JPG”…", or "Deleting the photo, 1800 × 1200 JPEG, …".
    const spoken = name !== null ? `“${name}”` : `the ${label}`;
    this.announce(`Deleting ${spoken}…`);
    let outcome;
    try {
      await this.deleteImage(id);
      outcome = deleteOutcome({ status: 204 });
    } catch (error) {
      // The card names the photo already; the sentence names it by file name only.
      outcome = deleteOutcome({ status: error?.status ?? 0, message: error?.message }, name);
    }
    const update = this.deleting.get(id);
    this.deleting.delete(id);
    if (outcome.removeCard) {
      this.deleted.add(id);
      this.names.delete(id);
      this.images.delete(id);
      if (this.selected.delete(id)) this.onSelection(this.selected.size);
      // Keep the keyboard where it was: on the next card's delete button (or the previous one's,
      // or the heading), if focus was in this card or got lost when the button was disabled.
      const neighbour = card.nextElementSibling ?? card.previousElementSibling;
      const focusWasHere = card.contains(document.activeElement) || document.activeElement === document.body;
      card.remove();
      this.updateEmpty();
      if (focusWasHere) {
        const target = neighbour?.querySelector("[data-testid=delete]:not(:disabled)") ?? this.heading;
        target?.focus();
      }
      this.announce(outcome.kind === "gone" ? `Already deleted: ${spoken}.` : `Deleted ${spoken}.`);
      this.onDeleted(id);
      return;
    }
    card.classList.remove("card--deleting");
    delete card.dataset.deleting;
    card.removeAttribute("aria-busy");
    button.disabled = false;
    button.textContent = "Delete";
    problem.textContent = outcome.message;
    problem.hidden = false;
    this.announce(name ? outcome.message : `${outcome.message} (${label})`);
    if (update) {
      // The image changed while the delete ran (a pending one became ready): show it now, with the error.
      const fresh = this.upsert(update);
      const freshProblem = fresh?.querySelector("[data-testid=delete-error]");
      if (fresh !== card && freshProblem) {
        freshProblem.textContent = outcome.message;
        freshProblem.hidden = false;
      }
      fresh?.querySelector("[data-testid=delete]")?.focus();
    } else if (document.activeElement === document.body || document.activeElement === button) {
      button.focus();
    }
  }

  /** Shows the largest rendition of a ready image in the dialog. */
  open(image, label) {
    const model = pictureModel(image.thumbnails);
    if (!model) return;
    const largest = image.thumbnails.filter((t) => t.width === model.largest.width);
    const big = pictureModel(largest);
    this.viewer.querySelector(".viewer__title").textContent = label;
    const link = this.viewer.querySelector("[data-testid=viewer-link]");
    link.href = model.largest.url;
    const slot = this.viewer.querySelector(".viewer__picture");
    const element = picture(big, { alt: label, sizes: null, lazy: false });
    element.querySelector("img").dataset.testid = "viewer-image";
    slot.replaceChildren(element);
    this.viewer.showModal();
  }
}
