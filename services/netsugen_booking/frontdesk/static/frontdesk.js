/* NETSUGEN front-desk console.
 *
 * Plain JavaScript, no build step. Staff sign in with email and password (and a TOTP code when
 * enabled) through /frontdesk/session, which puts the refresh token in an HttpOnly cookie this
 * script never sees; the short-lived access token lives in memory only (never in any storage) and
 * is renewed silently before it expires, and again once on a 401. The page signs out after
 * `config.idle_minutes` without a key press or a tap, and with the sign-out button.
 * Times are shown in JST and measured on the server's clock: the page keeps the offset between
 * the server's `as_of` (GET /v1/occupancy) and this device's clock, so a tablet whose clock drifts
 * still shows correct stays and charges.
 */
(function () {
  "use strict";

  var SESSION_PATH = "/frontdesk/session";
  var LANG_KEY = "netsugen.frontdesk.lang";
  var PROBLEM_PREFIX = "urn:gunma-sdgs:problem:";
  var MEMBER_NUMBER = /^M\d{6}$/i;
  var IDLE_REFOCUS_MS = 8000;
  var JST_OFFSET_MS = 9 * 3600 * 1000;
  var REQUEST_TIMEOUT_MS = 15000;

  function $(id) { return document.getElementById(id); }

  var catalog = JSON.parse($("frontdesk-i18n").textContent);
  var config = JSON.parse($("frontdesk-config").textContent);

  var state = {
    lang: config.language,
    token: null,
    offsetMs: 0,
    occupancy: null,
    todayDate: null,
    day: null,
    plans: null,
    resources: null,
    bookings: null,
    events: null,
    todayErrors: {},
    visitsToday: [],
    charges: {},
    memberNames: {},
    lastError: null,
    lastQuery: null,
    freshVisitId: null,
    lastInteraction: Date.now(),
    lastActivity: Date.now(),
    accessTimer: null,
    idleTimer: null,
    renewing: null,
    refreshTimer: null,
    tickTimer: null,
    refreshing: null
  };

  // ---- words ------------------------------------------------------------------------------
  function t(key, vars) {
    var entry = catalog.messages[key];
    var s = entry ? (entry[state.lang] || entry.ja) : key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, k) { return Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m; });
    }
    return s;
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.getAttribute("data-i18n")); });
    document.querySelectorAll("[data-i18n-attr]").forEach(function (el) {
      el.getAttribute("data-i18n-attr").split(";").forEach(function (pair) {
        var i = pair.indexOf(":");
        if (i > 0) { el.setAttribute(pair.slice(0, i), t(pair.slice(i + 1))); }
      });
    });
    $("lang-toggle").setAttribute("lang", state.lang === "ja" ? "en" : "ja");
    if (state.lastError) { renderError(state.lastError); }
    renderOccupancy();
    renderToday();
  }

  // ---- formatting (JST) --------------------------------------------------------------------
  function locale() { return state.lang === "ja" ? "ja-JP" : "en-GB"; }
  function parseIso(iso) { return Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1")); }
  function fmtTime(ms) {
    return new Intl.DateTimeFormat(locale(), { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(ms));
  }
  function fmtClock(ms) {
    return new Intl.DateTimeFormat(locale(), { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(ms));
  }
  function fmtDay(isoDate) {
    return new Intl.DateTimeFormat(locale(), { timeZone: "Asia/Tokyo", year: "numeric", month: "short", day: "numeric", weekday: "short" })
      .format(new Date(isoDate + "T12:00:00+09:00"));
  }
  function yen(amount) { return t("yen", { amount: Number(amount).toLocaleString("ja-JP") }); }
  function duration(ms) {
    var mins = Math.max(0, Math.floor(ms / 60000));
    var h = Math.floor(mins / 60);
    var m = mins % 60;
    return h > 0 ? t("duration", { h: h, m: m }) : t("duration.min", { m: m });
  }
  function serverNow() { return Date.now() + state.offsetMs; }
  function jstDateOf(ms) { return new Date(ms + JST_OFFSET_MS).toISOString().slice(0, 10); }
  function planName(code) {
    if (!code) { return t("plan.none"); }
    var key = "plan." + code;
    if (catalog.messages[key]) { return t(key); }
    var plan = state.plans && state.plans[code];
    return plan ? (state.lang === "ja" ? plan.name_ja : plan.name_en) : code;
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; }
        else if (k === "className") { node.className = attrs[k]; }
        else if (attrs[k] !== null && attrs[k] !== undefined) { node.setAttribute(k, attrs[k]); }
      });
    }
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }

  // ---- API ---------------------------------------------------------------------------------
  function ApiError(status, problem) {
    this.status = status;
    this.problem = problem || {};
    var type = typeof this.problem.type === "string" ? this.problem.type : "";
    this.slug = type.indexOf(PROBLEM_PREFIX) === 0 ? type.slice(PROBLEM_PREFIX.length) : "";
    this.message = this.problem.title || ("HTTP " + status);
  }
  ApiError.prototype = Object.create(Error.prototype);

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function api(method, path, opts) {
    opts = opts || {};
    var headers = { "Accept": "application/json", "Accept-Language": state.lang };
    var sentWith = state.token;
    if (state.token && opts.auth !== false) { headers.Authorization = "Bearer " + state.token; }
    if (opts.body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (opts.idempotencyKey) { headers["Idempotency-Key"] = opts.idempotencyKey; }
    var url = path;
    if (opts.query) {
      var params = new URLSearchParams();
      Object.keys(opts.query).forEach(function (k) { if (opts.query[k] !== null && opts.query[k] !== undefined) { params.set(k, opts.query[k]); } });
      url += "?" + params.toString();
    }
    // A request that hangs (Wi-Fi drop) must not block the next refresh forever.
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    return fetch(url, {
      method: method, headers: headers, cache: "no-store", credentials: "omit",
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: controller ? controller.signal : undefined
    }).then(function (resp) {
      window.clearTimeout(timer);
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!resp.ok) {
          var err = new ApiError(resp.status, data && typeof data === "object" ? data : { title: resp.statusText });
          err.lang = headers["Accept-Language"];  // the language the problem's detail is written in
          err.afterSignOut = Boolean(sentWith) && !state.token && !opts.signingIn;
          if (resp.status === 401 && state.token && !opts.signingIn && !opts.retried) {
            // The access token expired or was revoked: renew it once, then repeat the request.
            return renewAccess().then(function (ok) {
              if (!ok) { throw err; }
              return api(method, path, Object.assign({}, opts, { retried: true }));
            });
          }
          throw err;
        }
        return data;
      });
    }, function () {
      window.clearTimeout(timer);
      var err = new ApiError(0, {});
      err.afterSignOut = Boolean(sentWith) && !state.token && !opts.signingIn;
      throw err;
    });
  }

  function allPages(path, query, maxPages) {
    var items = [];
    function page(cursor, n) {
      var q = Object.assign({}, query, cursor ? { cursor: cursor } : {});
      return api("GET", path, { query: q }).then(function (res) {
        items = items.concat(res.items || []);
        if (res.next_cursor && n + 1 < maxPages) { return page(res.next_cursor, n + 1); }
        return items;
      });
    }
    return page(null, 0);
  }

  // ---- messages ----------------------------------------------------------------------------
  function describeError(err) {
    if (err && err.localKey) { return { main: t(err.localKey), detail: "" }; }
    if (!(err instanceof ApiError)) { return { main: t("error.generic"), detail: err && err.message ? String(err.message) : "" }; }
    if (err.status === 0) { return { main: t("error.network"), detail: "" }; }
    var mapped = catalog.errors[err.slug];
    var p = err.problem;
    var main = mapped ? (mapped[state.lang] || mapped.ja) : (p.title || t("error.generic"));
    // The API's detail is in the language asked for at the time; after a switch only our words change.
    var detail = typeof p.detail === "string" && (!err.lang || err.lang === state.lang) ? p.detail : "";
    if (detail === main) { detail = ""; }
    return { main: main, detail: detail };
  }

  function renderError(err) {
    var d = describeError(err);
    var box = $("error-msg");
    box.textContent = "";
    box.appendChild(el("strong", { text: t("error.prefix") + ": " + d.main }));
    if (d.detail) { box.appendChild(el("span", { className: "msg-detail", text: d.detail })); }
    if (err instanceof ApiError && err.slug) { box.setAttribute("data-problem", err.slug); } else { box.removeAttribute("data-problem"); }
    $("error-box").hidden = false;
  }

  function showError(err) {
    // A request that was under way when the session ended answers nobody at the desk now.
    if (err && err.afterSignOut) { return; }
    state.lastError = err;
    $("status-msg").textContent = "";
    renderError(err);
  }

  function clearError() {
    state.lastError = null;
    $("error-msg").textContent = "";
    $("error-msg").removeAttribute("data-problem");
    $("error-box").hidden = true;
  }

  function showStatus(text) {
    clearError();
    $("status-msg").textContent = text;
  }

  // ---- focus: the scan field is ready whenever the desk is idle ----------------------------
  function consoleVisible() { return !$("console").hidden; }
  function dialogOpen() { return $("checkout-dialog").open; }
  function isTextField(node) {
    if (!node) { return false; }
    var tag = node.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || node.isContentEditable) { return true; }
    if (tag !== "INPUT") { return false; }
    return ["text", "search", "password", "number", "email", "tel", "url"].indexOf(node.type) >= 0;
  }
  function focusScan() {
    if (consoleVisible() && !dialogOpen()) { $("scan-input").focus(); }
  }
  function idleRefocus() {
    if (!consoleVisible() || dialogOpen()) { return; }
    if (Date.now() - state.lastInteraction < IDLE_REFOCUS_MS) { return; }
    var active = document.activeElement;
    if (active === $("scan-input")) { return; }
    if (isTextField(active) && active.value) { return; }
    focusScan();
  }

  // A card scanner "types" the token and Enter. If focus is on a button (or the dialog is open),
  // send those keystrokes to the scan field instead of losing them.
  function onGlobalKeydown(ev) {
    state.lastInteraction = Date.now();
    if (!consoleVisible() || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) { return; }
    if (ev.key.length !== 1 || ev.key === " ") { return; }
    if (isTextField(ev.target)) { return; }
    if (dialogOpen()) { $("checkout-dialog").close(); }
    ev.preventDefault();
    var input = $("scan-input");
    input.focus();
    input.value += ev.key;
  }

  // ---- sign-in and the session ----------------------------------------------------------------
  // The session endpoints are the only requests that send the cookie (credentials: same-origin).
  function sessionCall(path, body) {
    var headers = { "Accept": "application/json", "Accept-Language": state.lang };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(SESSION_PATH + path, {
      method: "POST", headers: headers, cache: "no-store", credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!resp.ok) {
          var err = new ApiError(resp.status, data && typeof data === "object" ? data : { title: resp.statusText });
          err.lang = headers["Accept-Language"];
          throw err;
        }
        return data;
      });
    }, function () { throw new ApiError(0, {}); });
  }

  function acceptAccess(data) {
    state.token = data.access_token;
    window.clearTimeout(state.accessTimer);
    // Renew a minute before expiry (at least 5 s from now).
    var delay = Math.max(5, (data.expires_in || 60) - 60) * 1000;
    state.accessTimer = window.setTimeout(function () { renewAccess(); }, delay);
  }

  // One renewal at a time: the refresh cookie works once, a second concurrent use would end the session.
  function renewAccess() {
    if (state.renewing) { return state.renewing; }
    state.renewing = sessionCall("/refresh").then(function (data) {
      acceptAccess(data);
      return true;
    }, function (err) {
      // Offline: keep the session and try again at the next request; otherwise it has ended.
      if (err.status !== 0 && state.token) { signOut("expired", true); }
      return false;
    }).then(function (ok) { state.renewing = null; return ok; });
    return state.renewing;
  }

  function signIn(email, password, totp) {
    clearError();
    var button = $("signin-form").querySelector("button");
    button.disabled = true;
    $("status-msg").textContent = t("signin.checking");
    var body = { email: email, password: password };
    if (totp) { body.totp = totp; }
    return sessionCall("", body).then(function (data) {
      acceptAccess(data);
      return api("GET", "/v1/occupancy", { signingIn: true });
    }).then(function (occ) {
      $("password-input").value = "";
      $("totp-input").value = "";
      state.lastActivity = Date.now();
      enterConsole(occ);
      showStatus(t("signin.done"));
    }, function (err) {
      $("status-msg").textContent = "";
      $("password-input").value = "";
      if (state.token) { endSession(); }
      if (err.status === 403 && err.slug !== "totp-enrolment-required") {
        showError({ localKey: "signin.not_staff" });
      } else {
        showError(err);
      }
      if (err.slug === "totp-required") { $("totp-input").focus(); }
      else { $("email-input").focus(); }
    }).then(function () { button.disabled = false; });
  }

  // A reload keeps the session: the refresh cookie gives a new access token without a password.
  function resume() {
    return sessionCall("/refresh").then(function (data) {
      acceptAccess(data);
      return api("GET", "/v1/occupancy", { signingIn: true });
    }).then(function (occ) {
      state.lastActivity = Date.now();
      enterConsole(occ);
    }, function () {
      if (state.token) { endSession(); }
      $("email-input").focus();
    });
  }

  function endSession() {
    state.token = null;
    window.clearTimeout(state.accessTimer);
    return sessionCall("/logout").then(null, function () { /* offline: the session expires by itself */ });
  }

  function enterConsole(occ) {
    $("signin").hidden = true;
    $("console").hidden = false;
    $("sign-out").hidden = false;
    acceptOccupancy(occ, Date.now(), Date.now());
    renderOccupancy();
    refreshAll();
    state.refreshTimer = window.setInterval(refreshAll, Math.max(5, config.refresh_seconds) * 1000);
    state.tickTimer = window.setInterval(tick, 1000);
    focusScan();
  }

  // reason: null (the button), "idle" (inactivity) or "expired" (the session ended elsewhere).
  function signOut(reason, ended) {
    if (ended) { state.token = null; window.clearTimeout(state.accessTimer); } else { endSession(); }
    window.clearInterval(state.refreshTimer);
    window.clearInterval(state.tickTimer);
    if (dialogOpen()) { $("checkout-dialog").close(); }
    state.occupancy = null;
    state.visitsToday = [];
    state.charges = {};
    state.memberNames = {};
    state.todayDate = null;
    $("inside-body").textContent = "";
    $("search-results").textContent = "";
    $("search-input").value = "";
    $("scan-input").value = "";
    $("console").hidden = true;
    $("sign-out").hidden = true;
    $("signin").hidden = false;
    if (reason === "idle") { showStatus(t("signout.idle")); }
    else if (reason) { showError({ localKey: "error.session_expired" }); }
    else { showStatus(t("signout.done")); }
    $("email-input").focus();
  }

  // ---- occupancy, today's visits and charges -------------------------------------------------
  function acceptOccupancy(occ, sentAt, receivedAt) {
    var asOf = parseIso(occ.as_of);
    if (!isNaN(asOf)) { state.offsetMs = asOf - (sentAt + receivedAt) / 2; }
    state.occupancy = occ;
    var today = jstDateOf(isNaN(asOf) ? serverNow() : asOf);
    if (today !== state.todayDate) {
      state.todayDate = today;
      state.charges = {};
    }
  }

  function personKey(memberId, userId) { return memberId + "/" + (userId || ""); }

  // `force`: the caller just changed something, so a refresh already under way is not enough.
  function refreshAll(force) {
    if (!state.token) { return Promise.resolve(); }
    if (state.refreshing) {
      return force === true ? state.refreshing.then(function () { return refreshAll(true); }) : state.refreshing;
    }
    var sentAt = Date.now();
    state.refreshing = api("GET", "/v1/occupancy").then(function (occ) {
      acceptOccupancy(occ, sentAt, Date.now());
      renderOccupancy();
      return Promise.all([refreshVisitsAndCharges(), loadToday()]);
    }).catch(function (err) {
      if (err instanceof ApiError && err.status !== 401) { showError(err); }
    }).then(function () { state.refreshing = null; });
    return state.refreshing;
  }

  function refreshVisitsAndCharges() {
    var day = state.todayDate;
    return allPages("/v1/visits", { from: day, to: day, limit: 200 }, 10).then(function (visits) {
      state.visitsToday = visits;
      renderOccupancy();
      return refreshCharges();
    });
  }

  function visitsOf(memberId, userId) {
    return state.visitsToday.filter(function (v) { return v.member_id === memberId && (v.member_user_id || null) === (userId || null); });
  }

  function quoteFor(plan, visits, nowMs) {
    var body = {
      plan: plan,
      visits: visits.map(function (v) {
        var start = parseIso(v.check_in_at);
        var end = v.check_out_at ? parseIso(v.check_out_at) : Math.max(start, nowMs);
        return { check_in: new Date(start).toISOString(), check_out: new Date(end).toISOString() };
      })
    };
    return api("POST", "/v1/billing/quote", { body: body, auth: false });
  }

  function dayOf(quote, isoDate) {
    var days = (quote && quote.days) || [];
    for (var i = 0; i < days.length; i++) { if (days[i].date === isoDate) { return days[i]; } }
    return null;
  }

  function refreshCharges() {
    var occ = state.occupancy;
    if (!occ) { return Promise.resolve(); }
    var now = serverNow();
    var jobs = occ.visitors.map(function (person) {
      var key = personKey(person.member_id, person.member_user_id);
      var mine = visitsOf(person.member_id, person.member_user_id);
      var open = mine.filter(function (v) { return v.id === person.visit_id; })[0];
      var plan = open ? open.plan_code : null;
      if (!open) {
        mine = mine.concat([{ id: person.visit_id, check_in_at: person.check_in_at, check_out_at: null }]);
      }
      if (plan && plan !== "dropin") {
        state.charges[key] = { covered: true, plan: plan };
        return Promise.resolve();
      }
      return quoteFor("dropin", mine, now).then(function (quote) {
        var d = dayOf(quote, state.todayDate);
        state.charges[key] = d ? { day: d, plan: plan || "dropin" } : { day: { charge: 0, cap_applied: false } };
      }, function () {
        state.charges[key] = { failed: true };
      });
    });
    return Promise.all(jobs).then(renderOccupancy);
  }

  function chargeText(person) {
    var c = state.charges[personKey(person.member_id, person.member_user_id)];
    if (!c) { return { text: t("charge.loading") }; }
    if (c.failed) { return { text: t("charge.unavailable") }; }
    if (c.covered) { return { text: t("charge.plan") }; }
    return { text: yen(c.day.charge), cap: !!c.day.cap_applied };
  }

  function renderOccupancy() {
    var occ = state.occupancy;
    if (!occ) { return; }
    var ratio = occ.capacity > 0 ? occ.count / occ.capacity : 0;
    $("occupancy-text").textContent = t("inside.count", { count: occ.count, capacity: occ.capacity });
    var bar = $("occupancy-bar");
    bar.setAttribute("aria-valuemax", String(occ.capacity));
    bar.setAttribute("aria-valuenow", String(occ.count));
    bar.setAttribute("aria-valuetext", t("inside.count", { count: occ.count, capacity: occ.capacity }));
    $("occupancy-fill").style.width = Math.min(100, Math.round(ratio * 100)) + "%";
    var full = occ.count >= occ.capacity;
    var near = !full && ratio >= config.near_capacity_ratio;
    bar.classList.toggle("full", full);
    bar.classList.toggle("near", near);
    var warn = $("capacity-warning");
    warn.hidden = !(full || near);
    warn.textContent = full ? t("capacity.full") : (near ? t("capacity.near", { count: occ.count, capacity: occ.capacity }) : "");
    $("occupancy-asof").textContent = t("inside.updated", { time: fmtClock(parseIso(occ.as_of)) });
    var badge = $("open-now");
    badge.textContent = occ.open_now ? t("today.open_now") : t("today.closed_now");
    badge.className = "badge " + (occ.open_now ? "open" : "closed");

    var focusedVisit = document.activeElement && document.activeElement.getAttribute("data-visit-id");
    var body = $("inside-body");
    body.textContent = "";
    var people = occ.visitors.slice().sort(function (a, b) { return parseIso(b.check_in_at) - parseIso(a.check_in_at); });
    people.forEach(function (p) {
      var since = parseIso(p.check_in_at);
      var charge = chargeText(p);
      var chargeCell = el("td", { className: "num charge", "data-label": t("col.charge") }, [charge.text]);
      if (charge.cap) { chargeCell.appendChild(el("span", { className: "tag charge-cap", text: t("charge.cap") })); }
      var button = el("button", {
        type: "button", className: "btn btn-small", "data-visit-id": p.visit_id,
        "aria-label": t("checkout.label", { name: p.name }), text: t("checkout")
      });
      button.addEventListener("click", function () { checkOut(p, button); });
      var row = el("tr", { "data-visit-id": p.visit_id, "data-member-number": p.member_number }, [
        el("td", { className: "name", "data-label": t("col.name") }, [el("div", null, [el("span", { text: p.name }), el("small", { text: p.member_number })])]),
        el("td", { className: "num", "data-label": t("col.checkin") }, [fmtTime(since)]),
        el("td", { className: "num stay", "data-label": t("col.stay"), "data-since": String(since) }, [duration(serverNow() - since)]),
        chargeCell,
        el("td", { className: "action" }, [button])
      ]);
      if (p.visit_id === state.freshVisitId) { row.className = "fresh"; }
      body.appendChild(row);
      if (focusedVisit && focusedVisit === p.visit_id) { button.focus(); }
    });
    $("inside-empty").hidden = people.length > 0;
    $("inside-table").hidden = people.length === 0;
  }

  function tick() {
    var now = serverNow();
    document.querySelectorAll("#inside-body td.stay").forEach(function (cell) {
      var text = duration(now - Number(cell.getAttribute("data-since")));
      if (cell.textContent !== text) { cell.textContent = text; }
    });
    idleRefocus();
  }

  // ---- check-in ------------------------------------------------------------------------------
  function checkIn(payload, label) {
    clearError();
    return api("POST", "/v1/visits", { body: payload, idempotencyKey: newKey() }).then(function (visit) {
      state.freshVisitId = visit.id;
      window.setTimeout(function () {
        if (state.freshVisitId === visit.id) { state.freshVisitId = null; renderOccupancy(); }
      }, 20000);
      return refreshAll(true).then(function () {
        var who = (state.occupancy && state.occupancy.visitors.filter(function (v) { return v.visit_id === visit.id; })[0]) || null;
        showStatus(t("checkin.done", { name: who ? who.name : (label || ""), time: fmtTime(parseIso(visit.check_in_at)) }));
        return visit;
      });
    }, function (err) {
      showError(err);
      if (err.slug === "space-closed" || err.slug === "space-full" || err.slug === "visit-already-open") { refreshAll(true); }
      if (err.slug === "member-user-required" && payload.member_number) {
        $("search-input").value = payload.member_number;
        runSearch(payload.member_number, true);
      }
      return null;
    });
  }

  function onScan(ev) {
    ev.preventDefault();
    var input = $("scan-input");
    var raw = input.value.trim();
    input.value = "";
    state.lastInteraction = Date.now();
    if (!raw) { showError({ localKey: "error.empty_scan" }); focusScan(); return; }
    var payload = MEMBER_NUMBER.test(raw) ? { member_number: raw.toUpperCase() } : { card_token: raw };
    checkIn(payload).then(focusScan);
  }

  // ---- search ----------------------------------------------------------------------------------
  function insideVisitOf(memberId, userId) {
    var occ = state.occupancy;
    if (!occ) { return null; }
    return occ.visitors.filter(function (v) { return v.member_id === memberId && (v.member_user_id || null) === (userId || null); })[0] || null;
  }

  function personActions(member, user) {
    var name = user ? user.name + "(" + member.name + ")" : member.name;
    var inside = insideVisitOf(member.id, user ? user.id : null);
    if (inside) {
      var out = el("button", { type: "button", className: "btn btn-small", "aria-label": t("checkout.label", { name: name }), text: t("checkout") });
      out.addEventListener("click", function () { checkOut(inside, out); });
      return [el("span", { className: "tag", text: t("member.inside") }), out];
    }
    var btn = el("button", { type: "button", className: "btn btn-primary btn-small", "aria-label": t("member.checkin.label", { name: name }), text: t("member.checkin") });
    btn.addEventListener("click", function () {
      btn.disabled = true;
      var payload = user ? { member_id: member.id, member_user_id: user.id } : { member_id: member.id };
      checkIn(payload, name).then(function (visit) {
        btn.disabled = false;
        if (visit) { $("search-input").value = ""; $("search-results").textContent = ""; }
        focusScan();
      });
    });
    return [btn];
  }

  function runSearch(q, focusFirst) {
    state.lastQuery = q;
    var query = MEMBER_NUMBER.test(q) ? { member_number: q.toUpperCase(), limit: 20 } : { q: q, limit: 20 };
    var box = $("search-results");
    return api("GET", "/v1/members", { query: query }).then(function (res) {
      var members = res.items || [];
      return Promise.all(members.map(function (m) {
        if (m.kind !== "corporate") { return Promise.resolve(null); }
        return api("GET", "/v1/members/" + m.id + "/users").then(function (r) { return r.items || []; }, function () { return []; });
      })).then(function (usersByMember) {
        box.textContent = "";
        if (members.length === 0) { box.appendChild(el("p", { className: "empty", text: t("search.none") })); return; }
        box.appendChild(el("p", { className: "help", text: t("search.results", { count: members.length }) }));
        var list = el("ul");
        members.forEach(function (m, i) {
          var tags = [];
          if (m.status !== "active") { tags.push(el("span", { className: "tag tag-bad", text: t("status." + m.status) })); }
          var meta = m.member_number + " · " + t("kind." + m.kind) + " · " + planName(m.current_plan);
          var who = el("div", { className: "who" }, [el("span", { text: m.name + " " }), tags[0] || null, el("small", { text: meta })]);
          var item = el("li", { "data-member-number": m.member_number });
          item.appendChild(who);
          if (m.kind === "corporate") {
            var users = (usersByMember[i] || []).filter(function (u) { return u.active; });
            var sub = el("div", { className: "users" });
            sub.appendChild(el("p", { className: "help", text: users.length ? t("search.users", { name: m.name }) : t("search.no_users") }));
            var ul = el("ul");
            users.forEach(function (u) {
              var li = el("li", { "data-user-id": u.id }, [el("div", { className: "who" }, [el("span", { text: u.name })])]);
              personActions(m, u).forEach(function (a) { li.appendChild(a); });
              ul.appendChild(li);
            });
            sub.appendChild(ul);
            who.appendChild(sub);
          } else {
            personActions(m, null).forEach(function (a) { item.appendChild(a); });
          }
          list.appendChild(item);
        });
        box.appendChild(list);
        if (res.next_cursor) { box.appendChild(el("p", { className: "help", text: t("search.more") })); }
        if (focusFirst) {
          var first = box.querySelector("button");
          if (first) { first.focus(); }
        }
      });
    }).catch(function (err) { showError(err); });
  }

  function onSearch(ev) {
    ev.preventDefault();
    var q = $("search-input").value.trim();
    if (!q) { $("search-results").textContent = ""; return; }
    clearError();
    if (config.card_prefix && q.indexOf(config.card_prefix) === 0) {
      // A card scanned while the search field had focus: check in, as the scan field would.
      $("search-input").value = "";
      checkIn({ card_token: q }).then(focusScan);
      return;
    }
    runSearch(q, true);
  }

  // ---- check-out -------------------------------------------------------------------------------
  function checkOut(person, button) {
    button.disabled = true;
    clearError();
    var visit;
    return api("POST", "/v1/visits/" + person.visit_id + "/check-out").then(function (v) {
      visit = v;
      var day = jstDateOf(parseIso(v.check_in_at));
      var query = { member_id: v.member_id, from: day, to: day, limit: 200 };
      if (v.member_user_id) { query.member_user_id = v.member_user_id; }
      return allPages("/v1/visits", query, 5).then(function (visits) {
        var mine = visits.filter(function (x) { return (x.member_user_id || null) === (v.member_user_id || null) && x.check_out_at; });
        return quoteFor(v.plan_code || "dropin", mine, serverNow()).then(function (quote) {
          return { day: dayOf(quote, day), quote: quote };
        }, function (err) { return { error: err }; });
      });
    }).then(function (result) {
      showCheckoutDialog(person, visit, result);
      showStatus(t("checkout.done", { name: person.name }));
      refreshAll(true);
    }, function (err) {
      showError(err);
      refreshAll(true);
      focusScan();
    }).then(function () { button.disabled = false; });
  }

  function row(label, value, cls) {
    return el("tr", { className: cls || null }, [el("th", { scope: "row", text: label }), el("td", { text: value })]);
  }

  function showCheckoutDialog(person, visit, result) {
    var box = $("checkout-summary");
    box.textContent = "";
    var start = parseIso(visit.check_in_at);
    var end = parseIso(visit.check_out_at);
    var table = el("table", { className: "charge-table" });
    var tbody = el("tbody");
    tbody.appendChild(row(t("checkout.member"), person.name + " (" + person.member_number + ")"));
    tbody.appendChild(row(t("checkout.times"), fmtTime(start) + "–" + fmtTime(end) + " (" + t("checkout.minutes_value", { minutes: visit.minutes || 0 }) + ")"));
    var d = result && result.day;
    var price = state.plans && state.plans.dropin && state.plans.dropin.current_price;
    if (result && result.error) {
      box.appendChild(table);
      table.appendChild(tbody);
      box.appendChild(el("p", { className: "reason closed", text: t("checkout.quote_failed") + " " + describeError(result.error).main }));
    } else if (!d || d.covered_by_plan) {
      tbody.appendChild(row(t("checkout.charge"), yen(0), "charge-total"));
      table.appendChild(tbody);
      box.appendChild(table);
      box.appendChild(el("p", { className: "help", text: t("checkout.covered") }));
    } else {
      var perBlock = d.blocks > 0 ? Math.round(d.uncapped / d.blocks) : (price ? price.block_price_yen : 0);
      tbody.appendChild(row(t("checkout.today_minutes"), t("checkout.minutes_value", { minutes: d.billable_minutes })));
      tbody.appendChild(row(t("checkout.blocks"), t("checkout.blocks_value", { blocks: d.blocks, price: yen(perBlock) })));
      tbody.appendChild(row(t("checkout.uncapped"), yen(d.uncapped)));
      tbody.appendChild(row(t("checkout.cap"), d.cap_applied ? t("checkout.cap_yes", { cap: yen(price ? price.daily_cap_yen : d.charge) }) : t("checkout.cap_no")));
      tbody.appendChild(row(t("checkout.charge"), yen(d.charge), "charge-total"));
      table.appendChild(tbody);
      box.appendChild(table);
      box.appendChild(el("p", { className: "help", text: price
        ? t("checkout.explain", { block: price.block_minutes, price: yen(price.block_price_yen), cap: yen(price.daily_cap_yen) })
        : t("checkout.explain.generic") }));
    }
    var dialog = $("checkout-dialog");
    dialog.setAttribute("data-charge", d && !d.covered_by_plan ? String(d.charge) : "0");
    if (!dialog.open) { dialog.showModal(); }
    $("checkout-close").focus();
  }

  // ---- today ---------------------------------------------------------------------------------------
  function loadToday() {
    var day = state.todayDate;
    var errors = {};
    function guard(name, p) { return p.catch(function (err) { errors[name] = err; return null; }); }
    var jobs = [
      guard("calendar", api("GET", "/v1/calendar", { query: { from: day, to: day }, auth: false })),
      guard("bookings", allPages("/v1/bookings", { from: day, to: day, status: "confirmed", limit: 200 }, 5)),
      guard("events", allPages("/v1/programs", { from: day, to: day, limit: 200 }, 5)),
      state.resources ? Promise.resolve(null) : guard("resources", api("GET", "/v1/resources", { auth: false })),
      state.plans ? Promise.resolve(null) : guard("plans", api("GET", "/v1/plans", { auth: false }))
    ];
    return Promise.all(jobs).then(function (r) {
      if (day !== state.todayDate) { return; }
      state.day = r[0] && r[0].days ? r[0].days[0] : null;
      state.bookings = r[1];
      state.events = r[2];
      if (r[3]) {
        state.resources = {};
        (r[3].items || []).forEach(function (x) { state.resources[x.id] = x; });
      }
      if (r[4]) {
        state.plans = {};
        (r[4].items || []).forEach(function (x) { state.plans[x.code] = x; });
      }
      state.todayErrors = errors;
      return loadBookingNames().then(renderToday);
    });
  }

  function loadBookingNames() {
    var ids = {};
    (state.bookings || []).forEach(function (b) { if (b.member_id && !state.memberNames[b.member_id]) { ids[b.member_id] = true; } });
    return Promise.all(Object.keys(ids).slice(0, 50).map(function (id) {
      return api("GET", "/v1/members/" + id).then(function (m) { state.memberNames[id] = m.name + " (" + m.member_number + ")"; }, function () { /* shown without a name */ });
    }));
  }

  function localized(obj, base) { return state.lang === "ja" ? obj[base + "_ja"] : (obj[base + "_en"] || obj[base + "_ja"]); }

  function renderToday() {
    if (!state.todayDate) { return; }
    $("today-date").textContent = fmtDay(state.todayDate);
    var day = state.day;
    var hours = $("today-hours");
    var reason = $("today-reason");
    if (day) {
      hours.textContent = day.open ? t("today.open", { opens: day.opens_at, closes: day.closes_at }) : t("today.closed");
      reason.hidden = !day.reason;
      reason.textContent = day.reason || "";
      reason.className = "reason" + (day.open ? "" : " closed");
    } else {
      hours.textContent = state.todayErrors.calendar ? t("today.unavailable") : "";
      reason.hidden = true;
    }
    var events = (state.events || []).slice();
    var eventById = {};
    events.forEach(function (e) { eventById[e.id] = e; });

    var bl = $("today-bookings");
    bl.textContent = "";
    var bookings = (state.bookings || []).slice().sort(function (a, b) { return parseIso(a.start) - parseIso(b.start); });
    if (state.todayErrors.bookings) { bl.appendChild(el("li", { className: "empty", text: t("today.unavailable") })); }
    else if (!bookings.length) { bl.appendChild(el("li", { className: "empty", text: t("today.no_bookings") })); }
    bookings.forEach(function (b) {
      var res = state.resources && state.resources[b.resource_id];
      var what = b.program_id && eventById[b.program_id] ? localized(eventById[b.program_id], "title") : (state.memberNames[b.member_id] || "");
      bl.appendChild(el("li", null, [
        el("span", { className: "time", text: fmtTime(parseIso(b.start)) + "–" + fmtTime(parseIso(b.end)) }),
        el("span", { text: (res ? localized(res, "name") : "") + (what ? " · " + what : "") })
      ]));
    });

    var ev = $("today-events");
    ev.textContent = "";
    if (state.todayErrors.events) { ev.appendChild(el("li", { className: "empty", text: t("today.unavailable") })); }
    else if (!events.length) { ev.appendChild(el("li", { className: "empty", text: t("today.no_events") })); }
    events.forEach(function (e) {
      var res = e.resource_id && state.resources && state.resources[e.resource_id];
      ev.appendChild(el("li", null, [
        el("span", { className: "time", text: fmtTime(parseIso(e.start)) + "–" + fmtTime(parseIso(e.end)) }),
        el("span", { text: localized(e, "title") + (res ? " · " + localized(res, "name") : "") + " · " + t("today.seats_left", { seats: e.seats_left }) })
      ]));
    });
  }

  // ---- wiring ------------------------------------------------------------------------------------
  function init() {
    try {
      var savedLang = localStorage.getItem(LANG_KEY);
      if (savedLang === "ja" || savedLang === "en") { state.lang = savedLang; }
    } catch (e) { /* storage unavailable */ }
    applyLanguage();

    $("signin-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var email = $("email-input").value.trim();
      var password = $("password-input").value;
      if (!email || !password) { showError({ localKey: "signin.empty" }); $((email ? "password" : "email") + "-input").focus(); return; }
      signIn(email, password, $("totp-input").value.trim());
    });
    $("sign-out").addEventListener("click", function () { signOut(null); });
    $("lang-toggle").addEventListener("click", function () {
      state.lang = state.lang === "ja" ? "en" : "ja";
      try { localStorage.setItem(LANG_KEY, state.lang); } catch (e) { /* ignore */ }
      applyLanguage();
      if (state.lastQuery && $("search-results").childNodes.length) { runSearch(state.lastQuery, false); }
      // The calendar's reason and the plan names come in the request's language: fetch them again.
      if (state.token && state.todayDate) { state.plans = null; loadToday(); }
    });
    $("error-dismiss").addEventListener("click", function () { clearError(); focusScan(); });
    $("scan-form").addEventListener("submit", onScan);
    $("search-form").addEventListener("submit", onSearch);
    $("refresh").addEventListener("click", function (ev) {
      // A tap on Refresh gives the scan field its focus back; a keyboard user stays on the button.
      refreshAll(true).then(function () { if (ev.detail > 0) { focusScan(); } });
    });
    $("checkout-dialog").addEventListener("close", function () { state.lastInteraction = 0; focusScan(); });
    document.addEventListener("keydown", onGlobalKeydown, true);
    document.addEventListener("pointerdown", function () { state.lastInteraction = Date.now(); }, true);

    // Inactivity: any key press or tap counts; checked every few seconds.
    var touch = function () { state.lastActivity = Date.now(); };
    document.addEventListener("keydown", touch, true);
    document.addEventListener("pointerdown", touch, true);
    state.idleTimer = window.setInterval(function () {
      if (state.token && Date.now() - state.lastActivity > Math.max(1, config.idle_minutes) * 60000) { signOut("idle"); }
    }, 5000);

    resume();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
