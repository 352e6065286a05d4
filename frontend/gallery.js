// The gallery: one card per image, newest first, built from `GET /api/images` items and from
// the uploads of this visit. Ready images are a <picture> (WebP and JPEG srcsets); a click opens
// the largest rendition in a dialog.

import { GALLERY_SIZES, describeSource, insertionIndex, pictureModel, reasonText } from "./lib.js";

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

export class Gallery {
  /**
   * @param {{list: HTMLElement, empty: HTMLElement, viewer: HTMLDialogElement}} elements
   */
  constructor({ list, empty, viewer }) {
    this.list = list;
    this.empty = empty;
    this.viewer = viewer;
    /** id → file name, for the uploads of this visit (the API does not return names). */
    this.names = new Map();
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
    const name = this.names.get(image.id) ?? null;
    const status = ["ready", "rejected"].includes(image.status) ? image.status : "pending";
    const created = typeof image.createdAt === "string" ? new Date(image.createdAt) : null;
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
        created && !Number.isNaN(created.getTime())
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
    return h(
      "li",
      { class: `card card--${status}`, "data-testid": "gallery-item", "data-id": image.id, "data-status": status },
      figure,
    );
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
