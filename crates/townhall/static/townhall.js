// Keyboard shortcuts for the staff pages, and the inbox's live list. The pages work
// without this file: it only moves focus, opens what a mouse would, and refreshes the
// inbox's first page while it is open. Press ? for the list.
(function () {
  "use strict";
  // Single-key shortcuts can be switched off (WCAG 2.1.4) in the shortcuts list; the
  // choice is kept in this browser.
  var OFF = "townhall.shortcuts.off";
  function shortcutsOn() {
    try { return window.localStorage.getItem(OFF) !== "1"; } catch (e) { return true; }
  }
  function setShortcuts(on) {
    try { if (on) { window.localStorage.removeItem(OFF); } else { window.localStorage.setItem(OFF, "1"); } } catch (e) { /* private mode: session only */ }
  }
  function typing(target) {
    if (!target) { return false; }
    if (target.tagName === "INPUT" && /^(checkbox|radio|submit|button)$/.test(target.type)) { return false; }
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }
  var returnTo = null;
  function focus(id) {
    var element = document.getElementById(id);
    if (element) { element.focus(); element.scrollIntoView({ block: "center" }); return true; }
    return false;
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("a.case-link")); }
  function move(step) {
    var links = rows();
    if (!links.length) { return; }
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + step));
    links[next].focus();
  }
  function toggleHelp() {
    var help = document.getElementById("shortcuts");
    if (!help) { return; }
    if (help.classList.contains("open") || window.location.hash === "#shortcuts") { closeHelp(help); return; }
    returnTo = document.activeElement;
    help.classList.add("open");
    help.setAttribute("tabindex", "-1");
    help.focus();
  }
  // Closing gives focus back to where it was, and leaves the #shortcuts address.
  function closeHelp(help) {
    help.classList.remove("open");
    if (window.location.hash === "#shortcuts") { history.replaceState(null, "", window.location.pathname + window.location.search); }
    if (returnTo && returnTo.focus) { returnTo.focus(); }
    returnTo = null;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var help = document.getElementById("shortcuts");
      if (help && (help.classList.contains("open") || window.location.hash === "#shortcuts")) { closeHelp(help); return; }
      if (typing(event.target)) { event.target.blur(); }
      return;
    }
    // Ctrl/Cmd+Enter sends the form being typed in.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && typing(event.target) && event.target.form) {
      event.preventDefault();
      event.target.form.requestSubmit();
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (!shortcutsOn() && event.key !== "?") { return; }
    var handled = true;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "/": handled = focus("search"); break;
      case "r": handled = focus("reply"); break;
      case "n": handled = focus("note"); break;
      case "a": handled = focus("action"); break;
      case "f": handled = focus("refer-to"); break;
      case "u": window.location.href = "/inbox"; break;
      case "?": toggleHelp(); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "shortcuts-on") { setShortcuts(event.target.checked); }
  });
  var toggle = document.getElementById("shortcuts-on");
  if (toggle) { toggle.checked = shortcutsOn(); toggle.disabled = false; }

  // The inbox's live list: every few seconds, while the tab is visible, the page is
  // fetched again in the background. New cases are announced (a status message) and
  // offered behind a button; the list changes only when it is pressed, so nothing
  // moves under the reader (WCAG 2.2.2). Only this server's HTML is inserted.
  var results = document.getElementById("results");
  var seconds = results ? Number(results.getAttribute("data-live")) : 0;
  var offer = document.getElementById("show-new");
  if (results && offer && seconds > 0) {
    var status = document.getElementById("live-status");
    var ids = function (root) {
      return Array.prototype.map.call(root.querySelectorAll("tr[data-case]"), function (row) { return row.getAttribute("data-case"); });
    };
    var latest = null;
    var announced = 0;
    var busy = false;
    var refresh = function () {
      if (busy || document.hidden) { return; }
      busy = true;
      var abort = window.AbortController ? new AbortController() : null;
      var timer = window.setTimeout(function () { if (abort) { abort.abort(); } }, 10000);
      window.fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" }, signal: abort ? abort.signal : undefined })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          var fresh = html === null ? null : new DOMParser().parseFromString(html, "text/html").getElementById("results");
          if (!fresh) { return; }
          var shown = ids(results);
          var added = ids(fresh).filter(function (id) { return shown.indexOf(id) < 0; }).length;
          latest = fresh;
          if (added > 0 && added !== announced) {
            announced = added;
            var words = (added === 1 ? status.getAttribute("data-one") : status.getAttribute("data-many")).replace("{n}", String(added));
            status.textContent = words;
            offer.hidden = false;
          }
        })
        .catch(function () { /* the next round tries again */ })
        .then(function () { window.clearTimeout(timer); busy = false; });
    };
    offer.addEventListener("click", function () {
      if (!latest) { return; }
      var before = ids(results);
      results.replaceChildren.apply(results, Array.prototype.map.call(latest.childNodes, function (node) { return document.importNode(node, true); }));
      var first = null;
      Array.prototype.forEach.call(results.querySelectorAll("tr[data-case]"), function (row) {
        if (before.indexOf(row.getAttribute("data-case")) < 0) {
          row.classList.add("arrived");
          first = first || row.querySelector("a.case-link");
        }
      });
      latest = null;
      announced = 0;
      offer.hidden = true;
      status.textContent = "";
      (first || results).focus();
    });
    window.setInterval(refresh, seconds * 1000);
    document.addEventListener("visibilitychange", refresh);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.shortcuts-link");
    if (link) { event.preventDefault(); toggleHelp(); }
  });
})();
