// Passkeys, for browsers that have them. Everything else on these pages works without this script:
// it only shows the passkey sections (hidden otherwise) and runs the WebAuthn ceremonies, sending the
// session's CSRF token (from the page's meta tag) with each request.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  const b64 = {
    decode(text) {
      const s = text.replace(/-/g, "+").replace(/_/g, "/");
      const raw = atob(s + "===".slice((s.length + 3) % 4));
      return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buffer) {
      const bytes = new Uint8Array(buffer);
      let s = "";
      bytes.forEach((b) => { s += String.fromCharCode(b); });
      return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "That did not work. Try again, or use your code or email.");
    return data;
  }

  function show(id, message) {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = message;
    el.hidden = false;
  }

  document.querySelectorAll(".passkey-only").forEach((el) => { el.hidden = false; });

  const use = document.getElementById("use-passkey");
  if (use) {
    use.addEventListener("click", async () => {
      try {
        const options = await post("/sign-in/passkey/options");
        options.challenge = b64.decode(options.challenge);
        (options.allowCredentials || []).forEach((c) => { c.id = b64.decode(c.id); });
        const credential = await navigator.credentials.get({ publicKey: options });
        const r = credential.response;
        const result = await post("/sign-in/passkey", {
          next: use.dataset.next || "",
          credential: {
            id: credential.id, rawId: b64.encode(credential.rawId), type: credential.type,
            response: {
              clientDataJSON: b64.encode(r.clientDataJSON), authenticatorData: b64.encode(r.authenticatorData),
              signature: b64.encode(r.signature), userHandle: r.userHandle ? b64.encode(r.userHandle) : null,
            },
          },
        });
        window.location.assign(result.next || "/me");
      } catch (error) {
        show("passkey-error", error.name === "NotAllowedError"
          ? "Signing in with a passkey was cancelled. Try again, or use your code or email."
          : error.message);
      }
    });
  }

  const add = document.getElementById("add-passkey");
  if (add) {
    add.addEventListener("click", async () => {
      try {
        const options = await post("/passkeys/options");
        options.challenge = b64.decode(options.challenge);
        options.user.id = b64.decode(options.user.id);
        (options.excludeCredentials || []).forEach((c) => { c.id = b64.decode(c.id); });
        const credential = await navigator.credentials.create({ publicKey: options });
        const r = credential.response;
        await post("/passkeys", {
          credential: {
            id: credential.id, rawId: b64.encode(credential.rawId), type: credential.type,
            response: { clientDataJSON: b64.encode(r.clientDataJSON), attestationObject: b64.encode(r.attestationObject) },
          },
        });
        show("passkey-added", "Your passkey is added. Next time, choose \u201cSign in with a passkey\u201d.");
      } catch (error) {
        show("passkey-error", error.name === "NotAllowedError"
          ? "Adding a passkey was cancelled. You can try again at any time."
          : error.message);
      }
    });
  }
})();
