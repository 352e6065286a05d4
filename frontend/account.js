// The account: "Export my data" (the JSON document of `GET /api/account/export`, saved as a
// file) and "Delete my account", behind a dialog where the user types a fixed phrase before its
// button enables; then `DELETE /api/account` and `GET /api/account` polled (backing off, for up
// to two minutes) until the account is deleted, when app.js signs out.

import { saveBlob } from "./gallery.js";
import {
  ACCOUNT_POLL,
  CONFIRMATION_PHRASE,
  accountContents,
  accountPollDelay,
  confirmationMatches,
  deletionProgress,
} from "./lib.js";

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class AccountTools {
  /**
   * @param {{elements: object, api: {exportAccount, deleteAccount, getAccount},
   *   announce: (text: string) => void, onDeleted: () => void}} options
   * `onDeleted()` is told once the account is deleted.
   */
  constructor({ elements, api, announce, onDeleted }) {
    this.elements = elements;
    this.api = api;
    this.announce = announce;
    this.onDeleted = onDeleted;
    /** Whether the account's deletion was asked for (from then on, the session is not renewed through a prompt). */
    this.deleting = false;
    this.exporting = false;
    const { dialog, form, input, cancel, exportButton, deleteButton } = elements;
    elements.phrase.textContent = CONFIRMATION_PHRASE;
    exportButton.addEventListener("click", () => this.exportData());
    deleteButton.addEventListener("click", () => this.open());
    input.addEventListener("input", () => this.refresh());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    cancel.addEventListener("click", () => {
      if (!this.deleting) dialog.close("cancel");
    });
    // Escape closes the dialog, except while the deletion runs.
    dialog.addEventListener("cancel", (event) => {
      if (this.deleting) event.preventDefault();
    });
    dialog.addEventListener("close", () => {
      if (!this.deleting) deleteButton.focus();
    });
  }

  // ---- export -----------------------------------------------------------------------------------

  /** `GET /api/account/export`, saved as the file the server names (thumbforge-export.json). */
  async exportData() {
    if (this.exporting) return;
    const { exportButton, exportStatus } = this.elements;
    this.exporting = true;
    exportButton.setAttribute("aria-disabled", "true");
    exportButton.textContent = "Exporting…";
    exportStatus.hidden = true;
    this.announce("Exporting your data…");
    try {
      const { text, filename } = await this.api.exportAccount();
      saveBlob(new Blob([text], { type: "application/json" }), filename);
      exportStatus.textContent = `Saved your data as ${filename}. Its links to your originals work for a short while.`;
      exportStatus.classList.remove("is-error");
      this.announce(`Saved your data as ${filename}.`);
    } catch (error) {
      exportStatus.textContent = `Could not export your data. ${error?.message ?? ""}`.trim();
      exportStatus.classList.add("is-error");
      this.announce(exportStatus.textContent);
    } finally {
      exportStatus.hidden = false;
      this.exporting = false;
      exportButton.removeAttribute("aria-disabled");
      exportButton.textContent = "Export my data";
    }
  }

  // ---- deletion -------------------------------------------------------------------------------

  /** Opens the dialog with an empty phrase field (the button off); says what will be deleted. */
  open() {
    const { dialog, input, text, progress, cancel, confirmButton } = this.elements;
    if (dialog.open) return;
    input.value = "";
    input.readOnly = false;
    progress.textContent = "";
    progress.classList.remove("is-error");
    cancel.textContent = "Cancel";
    cancel.disabled = false;
    confirmButton.textContent = "Delete my account";
    this.refresh();
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
    this.api
      .getAccount()
      .then((account) => {
        const contents = accountContents(account);
        if (contents && dialog.open && !this.deleting) {
          text.textContent = `Your ${contents} are deleted, with every thumbnail and detail, and your sign-in account with them. This cannot be undone. Export your data first to keep a copy.`;
        }
      })
      .catch(() => {
        // The general sentence stays; the deletion itself says what goes wrong, if anything.
      });
  }

  /** The button is on only while the phrase is typed. */
  refresh() {
    const { input, confirmButton } = this.elements;
    confirmButton.disabled = this.deleting || !confirmationMatches(input.value);
  }

  /** Sends `DELETE /api/account`, then follows the deletion until it is done. */
  async submit() {
    const { input, confirmButton, cancel, progress } = this.elements;
    if (this.deleting || !confirmationMatches(input.value)) return;
    this.deleting = true;
    input.readOnly = true;
    confirmButton.disabled = true;
    confirmButton.textContent = "Deleting…";
    cancel.disabled = true;
    progress.classList.remove("is-error");
    progress.textContent = "Deleting your account…";
    this.announce("Deleting your account…");
    let account;
    try {
      account = await this.api.deleteAccount();
    } catch (error) {
      this.failed(`Your account was not deleted. ${error?.message ?? ""}`.trim());
      return;
    }
    await this.follow(account);
  }

  /**
   * Polls `GET /api/account` with back-off (lib.js `ACCOUNT_POLL`) until it says `deleted`, then
   * tells app.js. A session refused meanwhile (401) means the sign-in account is gone already.
   */
  async follow(account) {
    const { progress } = this.elements;
    const started = Date.now();
    let retryAfterMs = null;
    for (let attempt = 0; account?.status !== "deleted"; attempt += 1) {
      progress.textContent = deletionProgress(account);
      const wait = accountPollDelay(attempt, retryAfterMs);
      if (Date.now() - started + wait > ACCOUNT_POLL.giveUpAfterMs) {
        this.failed(
          "Your account is still being deleted; this goes on without this page. Reload the page in a few minutes to see it finished.",
          { keepDeleting: true },
        );
        return;
      }
      await sleep(wait);
      try {
        account = await this.api.getAccount();
        retryAfterMs = null;
      } catch (error) {
        if (error?.status === 401 || error?.status === 410) break;
        if (!error?.transient) {
          this.failed(`Could not follow the deletion of your account. ${error?.message ?? ""}`.trim(), { keepDeleting: true });
          return;
        }
        retryAfterMs = error.retryAfterMs ?? null;
      }
    }
    progress.textContent = deletionProgress({ status: "deleted" });
    this.announce("Your account is deleted.");
    this.onDeleted();
  }

  /**
   * The dialog opened on a deletion already under way (found when the page started): the phrase
   * is not asked again, the progress is followed.
   */
  resume(account) {
    const { dialog, input, confirmButton, cancel } = this.elements;
    this.deleting = true;
    input.value = CONFIRMATION_PHRASE;
    input.readOnly = true;
    confirmButton.disabled = true;
    confirmButton.textContent = "Deleting…";
    cancel.disabled = true;
    if (!dialog.open) dialog.showModal();
    return this.follow(account);
  }

  /** Says why the deletion stopped or could not be followed; Cancel closes the dialog again. */
  failed(message, { keepDeleting = false } = {}) {
    const { input, confirmButton, cancel, progress } = this.elements;
    this.deleting = false;
    progress.textContent = message;
    progress.classList.add("is-error");
    this.announce(message);
    input.readOnly = keepDeleting;
    confirmButton.textContent = "Delete my account";
    cancel.disabled = false;
    if (keepDeleting) {
      // Under way on the server: asking again would change nothing.
      confirmButton.disabled = true;
      cancel.textContent = "Close";
      cancel.focus();
    } else {
      this.refresh();
      input.focus();
    }
  }
}
