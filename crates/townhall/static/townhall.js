// Keyboard shortcuts for the staff pages. The pages work without this file: it only
// moves focus and opens what a mouse would. Press ? for the list.
(function () {
  "use strict";
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
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.shortcuts-link");
    if (link) { event.preventDefault(); toggleHelp(); }
  });
})();
