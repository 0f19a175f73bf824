// NETSUGEN member portal: the only script. The emailed sign-in link carries its one-time token in
// the URL fragment (never sent to a server or written to a log); this posts it to the portal's
// sign-in form once, and removes it from the address bar and history.
(function () {
  "use strict";
  var form = document.getElementById("link-form");
  if (!form) { return; }
  var match = /(?:^#|&)token=([A-Za-z0-9_\-]+)/.exec(window.location.hash || "");
  if (!match) { return; }
  history.replaceState(null, "", window.location.pathname + window.location.search);
  document.getElementById("link-token").value = match[1];
  document.getElementById("link-signin").hidden = false;
  form.submit();
})();
