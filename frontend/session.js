// Who is signed in: the authorization code flow with PKCE through the provider's hosted pages
// (Cognito's hosted UI on AWS, the embedded issuer in `cargo xtask dev`), no SDK.
//
// Tokens live in memory; the refresh token in sessionStorage (so a reload keeps the session and
// closing the tab ends it). Tokens are renewed a minute before they expire. When the API says
// 401 and renewing fails, `reauthenticate()` signs in again in a popup, so that the page, and any
// upload waiting in it, stays as it is.

import { authorizeUrl, jwtClaims, logoutUrl, parseTokens, pkceChallenge, randomToken, renewDelay, tokenRequest } from "./lib.js";

const REFRESH_KEY = "thumbforge.refresh";
const PENDING_KEY = "thumbforge.signin";
const POPUP_MESSAGE = "thumbforge-sign-in";

/**
 * The page's root, the one redirect and sign-out URL registered with the provider (the site and
 * the local stack serve the page at `/`; `/index.html` must come back to the same registered URL).
 */
function pageUrl() {
  return `${location.origin}/`;
}

export class SignInError extends Error {
  constructor(message) {
    super(message);
    this.name = "SignInError";
  }
}

export class Session {
  /** @param {{clientId, authorizeUrl, tokenUrl, logoutUrl, scopes}} auth from `GET /api/config` */
  constructor(auth, { onChange = () => {} } = {}) {
    this.auth = auth;
    this.tokens = null;
    this.onChange = onChange;
    this.timer = null;
    this.renewing = null;
  }

  /** The signed-in user's email (from the ID token), or null. */
  get email() {
    const claims = jwtClaims(this.tokens?.idToken);
    return typeof claims?.email === "string" ? claims.email : null;
  }

  get signedIn() {
    return this.tokens !== null;
  }

  /**
   * Finishes a sign-in that came back to this page (`?code=…&state=…`), or resumes the session
   * of this tab from its refresh token. Returns whether someone is signed in. In a sign-in popup,
   * hands the answer to the page that opened it and returns null.
   */
  async start() {
    const query = new URLSearchParams(location.search);
    const code = query.get("code");
    const error = query.get("error");
    if (code || error) {
      history.replaceState(null, "", pageUrl());
      if (window.opener && window.name === POPUP_MESSAGE) {
        window.opener.postMessage({ type: POPUP_MESSAGE, code, state: query.get("state"), error }, location.origin);
        window.close();
        return null;
      }
      if (error) throw new SignInError(`Signing in failed: ${query.get("error_description") || error}.`);
      await this.exchange(code, query.get("state"));
      return true;
    }
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    if (refresh) {
      try {
        await this.refresh(refresh);
      } catch {
        this.clear();
      }
    }
    return this.signedIn;
  }

  /** Sends the browser to the provider's sign-in page. */
  async signIn() {
    location.assign(await this.beginSignIn());
  }

  /** A fresh authorization URL, remembering its state and verifier for the way back. */
  async beginSignIn() {
    const verifier = randomToken(32);
    const state = randomToken(16);
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state, verifier }));
    const challenge = await pkceChallenge(verifier);
    return authorizeUrl(this.auth, { redirectUri: pageUrl(), state, challenge });
  }

  /**
   * Signs in again without leaving the page (a popup on the same flow), after the session ended
   * under it. Resolves when signed in; rejects when the popup is blocked or closed.
   */
  async reauthenticate() {
    const url = await this.beginSignIn();
    const popup = window.open(url, POPUP_MESSAGE, "popup,width=480,height=640");
    if (!popup) throw new SignInError("The sign-in window was blocked: allow pop-ups for this site, or reload.");
    const answer = await new Promise((resolve, reject) => {
      const closed = setInterval(() => {
        if (popup.closed) {
          cleanup();
          reject(new SignInError("The sign-in window was closed before signing in."));
        }
      }, 500);
      const listen = (event) => {
        if (event.origin !== location.origin || event.data?.type !== POPUP_MESSAGE) return;
        cleanup();
        resolve(event.data);
      };
      const cleanup = () => {
        clearInterval(closed);
        window.removeEventListener("message", listen);
      };
      window.addEventListener("message", listen);
    });
    if (answer.error) throw new SignInError(`Signing in failed: ${answer.error}.`);
    await this.exchange(answer.code, answer.state);
  }

  /** Forgets the tokens and, when the provider has a sign-out page, ends its session too. */
  signOut() {
    this.clear();
    const url = logoutUrl(this.auth, pageUrl());
    if (url) location.assign(url);
  }

  /** The current access token (renewing it first when it is about to expire), or null. */
  async accessToken() {
    if (!this.tokens) return null;
    if (renewDelay(this.tokens.expiresAtMs, Date.now()) === 0) await this.renew();
    return this.tokens?.accessToken ?? null;
  }

  /** Renews the tokens with the refresh token; false when that is no longer possible. */
  async renew() {
    const refresh = this.tokens?.refreshToken ?? sessionStorage.getItem(REFRESH_KEY);
    if (!refresh) return false;
    this.renewing ??= this.refresh(refresh).then(
      () => true,
      () => {
        this.clear();
        return false;
      },
    );
    try {
      return await this.renewing;
    } finally {
      this.renewing = null;
    }
  }

  async exchange(code, state) {
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? "null");
    sessionStorage.removeItem(PENDING_KEY);
    if (!pending || !state || pending.state !== state) {
      throw new SignInError("This sign-in answer does not belong to this page (state mismatch): please sign in again.");
    }
    const body = await this.post({ code, redirectUri: pageUrl(), verifier: pending.verifier });
    this.set(parseTokens(body, Date.now()));
  }

  async refresh(refreshToken) {
    const body = await this.post({ refreshToken });
    this.set(parseTokens(body, Date.now(), refreshToken));
  }

  async post(grant) {
    let response;
    try {
      response = await fetch(this.auth.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: tokenRequest(this.auth, grant),
      });
    } catch {
      throw new SignInError("Could not reach the sign-in service.");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      throw new SignInError(`The sign-in service refused (${body?.error ?? response.status}).`);
    }
    return body;
  }

  set(tokens) {
    this.tokens = tokens;
    if (tokens.refreshToken) sessionStorage.setItem(REFRESH_KEY, tokens.refreshToken);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.renew(), renewDelay(tokens.expiresAtMs, Date.now()));
    this.onChange(this);
  }

  clear() {
    const was = this.tokens !== null;
    this.tokens = null;
    clearTimeout(this.timer);
    sessionStorage.removeItem(REFRESH_KEY);
    if (was) this.onChange(this);
  }
}
