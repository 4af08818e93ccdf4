// Live touches by polling (no inline script: the Content-Security-Policy forbids it).
// Polling keeps every app server stateless: any server answers any poll, through any proxy.
(function () {
  "use strict";
  var PERIOD_MS = 15000;
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = tokenMeta ? tokenMeta.content : "";

  function every(fn) {
    fn();
    window.setInterval(function () { if (!document.hidden) { fn(); } }, PERIOD_MS);
  }

  // Inbox: a banner when new fan messages arrive after the page was loaded.
  var arrivals = document.getElementById("new-arrivals");
  if (arrivals) {
    every(function () {
      var url = arrivals.dataset.updatesUrl + "?since=" + encodeURIComponent(arrivals.dataset.since);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.new) { return; }
          arrivals.querySelector("[data-count]").textContent =
            data.new === 1 ? "1 new message" : data.new + " new messages";
          arrivals.hidden = false;
        })
        .catch(function () { /* offline for a moment: try again next time */ });
    });
  }

  // Message page: who else has it open, and whether someone is drafting a reply.
  var presence = document.getElementById("presence");
  if (presence) {
    every(function () {
      fetch(presence.dataset.presenceUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          var lines = [];
          if (data.activity) { lines.push(data.activity); }
          if (data.viewers.length) { lines.push("Also viewing: " + data.viewers.join(", ")); }
          presence.textContent = lines.join(" · ");
          presence.hidden = lines.length === 0;
        })
        .catch(function () { /* try again next time */ });
    });
  }
})();
