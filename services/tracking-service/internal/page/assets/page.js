// The tracking page's live part: it follows the order's event stream and
// updates the status, the progress bar and the timeline in place. Without
// it the page still shows the state it was rendered with.
"use strict";
(function () {
  var main = document.getElementById("order");
  var labels = {
    PENDING: "Order placed", CONFIRMED: "Confirmed", SHIPPED: "Shipped",
    OUT_FOR_DELIVERY: "Out for delivery", DELIVERED: "Delivered", CANCELLED: "Cancelled"
  };
  var way = ["PENDING", "CONFIRMED", "SHIPPED", "OUT_FOR_DELIVERY", "DELIVERED"];
  function label(s) { return labels[s] || s; }

  // Times are rendered in UTC on the server; show them in the reader's zone.
  function localize(el) {
    var d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) {
      el.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
      el.title = d.toISOString();
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), localize);
  if (!main || !window.EventSource) { return; }

  var code = main.getAttribute("data-code");
  var version = Number(main.getAttribute("data-version"));
  var statusEl = document.getElementById("status");
  var timeline = document.getElementById("timeline");
  var updated = document.getElementById("updated");
  var announce = document.getElementById("announce");
  var connection = document.getElementById("connection");
  var cancelled = document.getElementById("cancelled");
  var steps = document.getElementById("steps");

  function progress(status) {
    var at = way.indexOf(status);
    Array.prototype.forEach.call(steps.children, function (li, i) {
      var state = i < at ? "done" : i === at ? "current" : "todo";
      li.className = "step " + state;
      if (state === "current") { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
      li.querySelector(".state").textContent = state === "done" ? " (done)" : state === "current" ? " (current)" : "";
    });
    var isCancelled = status === "CANCELLED";
    cancelled.hidden = !isCancelled;
    steps.classList.toggle("is-cancelled", isCancelled);
  }

  function apply(o) {
    if (typeof o.version !== "number" || o.version <= version) { return; }
    version = o.version;
    main.setAttribute("data-version", String(version));
    var changed = statusEl.getAttribute("data-status") !== o.status;
    statusEl.setAttribute("data-status", o.status);
    statusEl.textContent = label(o.status);
    progress(o.status);
    var li = document.createElement("li");
    li.setAttribute("data-version", String(o.version));
    li.className = "is-new";
    var what = document.createElement("span");
    what.className = "what";
    what.textContent = label(o.status);
    var t = document.createElement("time");
    t.setAttribute("datetime", o.updatedAt);
    localize(t);
    li.appendChild(what);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(t);
    timeline.insertBefore(li, timeline.firstChild);
    updated.setAttribute("datetime", o.updatedAt);
    localize(updated);
    if (changed) { announce.textContent = "Status changed to " + label(o.status) + "."; }
  }

  // The stream replays what happened since the version the page was
  // rendered at (since=), then sends every change; after a reconnect the
  // browser sends Last-Event-ID (the last version seen) and the server
  // replays what was missed. Versions already shown are skipped.
  var source = new EventSource("../track/" + encodeURIComponent(code) + "/events?since=" + version);
  source.addEventListener("state", function (e) {
    try { apply(JSON.parse(e.data)); } catch (err) { /* a malformed event changes nothing */ }
  });
  source.addEventListener("open", function () {
    connection.hidden = true;
    connection.textContent = "";
  });
  source.addEventListener("error", function () {
    connection.hidden = false;
    connection.textContent = source.readyState === EventSource.CLOSED
      ? "Live updates stopped. Reload the page to see the latest status."
      : "Reconnecting… the page will catch up by itself.";
  });
})();
