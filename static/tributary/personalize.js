/*
 * Tributary personalization for any page, no framework: one request per page view.
 *
 *   <script src="https://cdp.example.com/static/tributary/personalize.js"
 *           data-write-key="wk_…" data-user-id="…" data-user-hash="…"></script>
 *
 * data-user-id / data-user-hash: written by the site's server for a signed-in
 * visitor (userHash = HMAC-SHA256(userId, identity secret)); without them the
 * visitor's analytics.js anonymous id is used. Elements then follow the answer:
 *
 *   data-tributary-segment="Gold members"      shown only to members
 *   data-tributary-segment-not="Gold members"  shown only to non-members
 *   data-tributary-trait="first_name"          text set to the trait (if allowed)
 *
 * Segment elements start hidden (the `hidden` attribute) and are revealed once
 * the answer is in. `window.tributary.refresh()` asks again (after a tracking call);
 * `window.tributary.answer` is the last answer.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script.getAttribute("data-host") || new URL(script.src).origin;
  var state = { answer: null, etag: null };

  function anonymousId() {
    try {
      var stored = window.localStorage.getItem("ajs_anonymous_id");
      if (stored) return JSON.parse(stored);
    } catch (e) { /* private mode, or not JSON: fall through */ }
    var match = document.cookie.match(/(?:^|;\s*)ajs_anonymous_id=([^;]+)/);
    return match ? decodeURIComponent(match[1]).replace(/^"|"$/g, "") : null;
  }

  function apply(answer) {
    var segments = answer.segments || [];
    var traits = answer.traits || {};
    document.querySelectorAll("[data-tributary-segment]").forEach(function (el) {
      el.hidden = segments.indexOf(el.getAttribute("data-tributary-segment")) < 0;
    });
    document.querySelectorAll("[data-tributary-segment-not]").forEach(function (el) {
      el.hidden = segments.indexOf(el.getAttribute("data-tributary-segment-not")) >= 0;
    });
    document.querySelectorAll("[data-tributary-trait]").forEach(function (el) {
      var value = traits[el.getAttribute("data-tributary-trait")];
      if (value !== undefined && value !== null) el.textContent = String(value);
    });
  }

  function refresh() {
    var key = script.getAttribute("data-write-key");
    var userId = script.getAttribute("data-user-id");
    var params = new URLSearchParams();
    if (userId) {
      params.set("userId", userId);
      params.set("userHash", script.getAttribute("data-user-hash") || "");
    } else {
      var anonymous = anonymousId();
      if (!anonymous) return Promise.resolve(null);
      params.set("anonymousId", anonymous);
    }
    var headers = { Authorization: "Basic " + btoa(key + ":") };
    if (state.etag) headers["If-None-Match"] = state.etag;
    return fetch(base + "/v1/personalize?" + params, { headers: headers, cache: "no-cache" })
      .then(function (response) {
        if (response.status === 304) return state.answer;
        if (!response.ok) throw new Error("personalize: HTTP " + response.status);
        state.etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (answer) {
        if (answer) {
          state.answer = answer;
          apply(answer);
        }
        window.tributary.answer = answer;
        return answer;
      })
      .catch(function (error) {
        if (window.console) console.warn(error);
        return null;
      });
  }

  window.tributary = { answer: null, refresh: refresh, anonymousId: anonymousId };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
