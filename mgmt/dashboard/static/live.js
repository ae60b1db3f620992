// Live updates: the server pushes a "change" Server-Sent Event when something this page shows
// changed in the apiserver; the page then fetches itself and swaps in its #live part.
// No framework: the server renders every byte of HTML.
(function () {
  "use strict";
  var region = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!region || !region.dataset.events || !window.EventSource) {
    return;
  }
  var busy = false;
  var again = false;

  function say(text) {
    if (state) {
      state.textContent = text;
    }
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, {credentials: "same-origin", headers: {"X-Live": "1"}})
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error(answer.status + " " + answer.statusText);
        }
        return answer.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (fresh) {
          region.innerHTML = fresh.innerHTML;
          region.dataset.updated = String(Date.now());
          say("live · updated " + new Date().toLocaleTimeString());
        }
      })
      .catch(function (error) {
        say("live · update failed: " + error.message);
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var source = new EventSource(region.dataset.events);
  source.addEventListener("open", function () {
    region.dataset.live = "connected";
    say("live");
  });
  source.addEventListener("change", refresh);
  source.addEventListener("error", function () {
    region.dataset.live = "reconnecting";
    say("live · reconnecting…");
  });
}());
