// Autosave for the reply box: the draft is saved through the JSON API about 1.5 s after
// the last keystroke, when the box loses focus, and when the page is hidden. Each save
// that changes the text is a new version; unchanged text is never sent. Without
// JavaScript the form's own buttons save (no inline script: the CSP forbids it).
(function () {
  "use strict";
  var IDLE_MS = 1500;
  var form = document.querySelector("form.draft-form[data-create-url]");
  var text = form ? form.querySelector("textarea[name=text]") : null;
  if (!form || !text || !window.fetch) { return; }
  var statusLine = document.getElementById("autosave-status");
  var meta = form.querySelector("[data-draft-meta]");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = tokenMeta ? tokenMeta.content : "";
  var box = form.closest(".reply-box") || document;
  var versionInputs = box.querySelectorAll('input[name="version"]');
  var draftId = form.dataset.draftId || "";
  var saved = text.defaultValue; // the text the server has (as the page came)
  var timer = null;
  var saving = false;
  var again = false; // typed while a save was in flight
  var stopped = false; // a 409: the draft moved on without us, only a reload helps
  var held = null; // a form submitted while a save was in flight: {form, button}

  function say(message, isError) {
    if (!statusLine) { return; }
    statusLine.textContent = message;
    statusLine.classList.toggle("form-error", Boolean(isError));
  }

  function showVersion(draft) {
    versionInputs.forEach(function (input) { input.value = String(draft.version); });
    if (meta) {
      var stock = "";
      if (draft.unedited_stock) { stock = " · unedited pre-approved stock response"; }
      else if (draft.stock_response_id) { stock = " · from a stock response, edited"; }
      meta.textContent = "Version " + draft.version + stock;
    }
  }

  // Saving takes an unclaimed message: say so where the Claim button was.
  function showClaimed() {
    var claimBox = document.querySelector(".claim-box");
    if (!claimBox || !claimBox.querySelector('form[action$="/claim"]')) { return; }
    var line = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = "You have claimed this message.";
    line.appendChild(strong);
    line.appendChild(document.createTextNode(
      " Saving your draft took it: nobody else can draft a reply while you hold it."));
    claimBox.replaceChildren(line);
  }

  function send(value) {
    var headers = {
      Accept: "application/json",
      "Content-Type": "application/json",
      "X-CSRFToken": csrfToken,
    };
    var url = form.dataset.createUrl;
    var method = "POST";
    if (draftId) {
      url = form.dataset.updateUrlTemplate.replace("{id}", encodeURIComponent(draftId));
      method = "PUT";
      headers["If-Match"] = '"' + versionInputs[0].value + '"';
    }
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify({ text: value }),
      // Outlive the page if it is being left (browsers cap such bodies at 64 KB).
      keepalive: value.length < 15000,
    }).then(function (response) {
      return response.json()
        .catch(function () { return {}; })
        .then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function answered(value, answer) {
    var body = answer.body;
    if (answer.status === 200 || answer.status === 201) {
      saved = value;
      draftId = String(body.id);
      form.dataset.draftId = draftId;
      showVersion(body);
      showClaimed();
      say("Saved · version " + body.version);
    } else if (answer.status === 409) {
      stopped = true;
      say(body.field === "version"
        ? "Someone else changed this draft — reload to see their version"
        : "Not saved: " + body.error, true);
    } else {
      say("Not saved: " + (body.error || "the server answered " + answer.status), true);
    }
  }

  function save() {
    window.clearTimeout(timer);
    timer = null;
    if (stopped) { return release(); }
    if (saving) { again = true; return; }
    var value = text.value;
    if (value === saved) { return release(); }
    saving = true;
    say("Saving…");
    send(value)
      .then(function (answer) { answered(value, answer); })
      .catch(function () { say("Not saved: the server cannot be reached. Saving again as you type.", true); })
      .then(function () {
        saving = false;
        if (again && !held) { again = false; save(); } else { again = false; release(); }
      });
  }

  // A button pressed mid-save waits for it, then goes ahead with the version it made.
  function release() {
    if (!held) { return; }
    var pending = held;
    held = null;
    if (pending.form.requestSubmit) { pending.form.requestSubmit(pending.button); }
    else { pending.form.submit(); }
  }

  function saveSoon() {
    if (stopped) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(save, IDLE_MS);
  }

  text.addEventListener("input", saveSoon);
  text.addEventListener("blur", function () { save(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { save(); }
  });
  if (text.value !== saved) { saveSoon(); } // typed before this script ran
  box.querySelectorAll("form").forEach(function (each) {
    each.addEventListener("submit", function (event) {
      window.clearTimeout(timer);
      timer = null;
      if (saving) {
        event.preventDefault();
        held = { form: each, button: event.submitter || null };
      }
    });
  });
})();
