// The gallery: one card per image, newest first, built from `GET /api/images` items and from
// the uploads of this visit. Ready images are a <picture> (WebP and JPEG srcsets); a click opens
// the largest rendition in a dialog. Every card has a delete button, which asks first in a modal
// dialog (ConfirmDialog).

import {
  GALLERY_SIZES,
  deleteConfirmation,
  deleteOutcome,
  describeSource,
  insertionIndex,
  photoLabel,
  pictureModel,
  reasonText,
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

/** A <picture> for a pictureModel(): WebP <source>s, then the JPEG <img>. */
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

  /** Shows `{title, text}` and resolves to whether the user confirmed. */
  ask({ title, text }) {
    if (this.dialog.open) return Promise.resolve(false);
    this.title.textContent = title;
    this.text.textContent = text;
    this.dialog.returnValue = "";
    return new Promise((resolve) => {
      this.settle = resolve;
      this.dialog.showModal();
      this.cancel.focus();
    });
  }
}

export class Gallery {
  /**
   * @param {{list: HTMLElement, empty: HTMLElement, viewer: HTMLDialogElement,
   *   heading?: HTMLElement, confirm?: ConfirmDialog, deleteImage?: (id: string) => Promise<unknown>,
   *   announce?: (text: string) => void, onDeleted?: (id: string) => void}} options
   * `deleteImage(id)` sends the delete (it rejects with an ApiError on failure); `onDeleted(id)`
   * is told once a card went because its image is deleted (or was already gone).
   */
  constructor({ list, empty, viewer, heading = null, confirm = null, deleteImage = null, announce = () => {}, onDeleted = () => {} }) {
    this.list = list;
    this.empty = empty;
    this.viewer = viewer;
    this.heading = heading;
    this.confirm = confirm;
    this.deleteImage = deleteImage;
    this.announce = announce;
    this.onDeleted = onDeleted;
    /** id → file name, for the uploads of this visit (the API does not return names). */
    this.names = new Map();
    /** Ids whose delete is under way, and the last update each received meanwhile (or null). */
    this.deleting = new Map();
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

  /** Adds or updates an image (an API image, or `{id, status: "pending"}`), keeping newest first. */
  upsert(image, name = null) {
    if (name) this.names.set(image.id, name);
    if (this.deleted.has(image.id)) return null;
    if (this.deleting.has(image.id)) {
      // Applied if the delete fails; the card keeps showing that it is being deleted meanwhile.
      this.deleting.set(image.id, image);
      return this.item(image.id);
    }
    const card = this.card(image);
    const existing = this.item(image.id);
    if (existing) {
      // Keep a card whose status did not change (a ready image may be loading already).
      if (existing.dataset.status === image.status && !image.slow) return existing;
      existing.replaceWith(card);
    } else {
      const index = insertionIndex(this.ids(), image.id);
      this.list.insertBefore(card, this.list.children[index] ?? null);
    }
    this.updateEmpty();
    return card;
  }

  updateEmpty() {
    this.empty.hidden = !this.loaded || this.list.children.length > 0;
  }

  card(image) {
    const name = (typeof image.filename === "string" && image.filename) || this.names.get(image.id) || null;
    const status = ["ready", "rejected"].includes(image.status) ? image.status : "pending";
    const created = typeof image.createdAt === "string" ? new Date(image.createdAt) : null;
    const createdOk = created !== null && !Number.isNaN(created.getTime());
    const label = photoLabel({ ...image, status }, name, createdOk ? dateFormat.format(created) : null);
    const meta = [];
    if (status === "ready") meta.push(describeSource(image.source));
    const caption = h(
      "figcaption",
      { class: "card__caption" },
      h("span", { class: "card__title", text: name ?? (status === "ready" ? "Photo" : "Upload") }),
      h(
        "span",
        { class: "card__meta" },
        meta.length > 0 && meta[0] ? `${meta[0]} · ` : null,
        createdOk
          ? h("time", { datetime: image.createdAt, text: dateFormat.format(created) })
          : null,
      ),
    );
    const figure = h("figure", { class: "card__figure" });
    const model = status === "ready" ? pictureModel(image.thumbnails) : null;
    if (model) {
      const label = name ?? `Photo, ${describeSource(image.source)}`;
      const link = h(
        "a",
        { class: "card__media", href: model.largest.url, "data-testid": "gallery-open" },
        picture(model, { alt: label, sizes: GALLERY_SIZES, lazy: true }),
      );
      const img = link.querySelector("img");
      img.addEventListener("load", () => {
        img.dataset.loaded = "true";
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
        this.open(image, label);
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
    figure.append(caption);
    const button = h("button", {
      class: "button button--quiet button--small card__delete",
      type: "button",
      "data-testid": "delete",
      "aria-label": `Delete ${label}`,
      text: "Delete",
    });
    button.addEventListener("click", () => {
      this.remove(image.id, { label, name, status }).catch((error) => this.announce(error.message));
    });
    const problem = h("p", { class: "card__error", "data-testid": "delete-error", hidden: true });
    const actions = h("div", { class: "card__actions" }, button, problem);
    return h(
      "li",
      { class: `card card--${status}`, "data-testid": "gallery-item", "data-id": image.id, "data-status": status },
      figure,
      actions,
    );
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
