// A batch's progress kept up to date without <meta http-equiv="refresh"> (a timed reload that moves the reader and
// their focus, WCAG 2.2.1): every 3 s the page is fetched again and only its progress panel is swapped in place,
// until the batch is done (the fresh panel no longer carries data-batch-refresh).
(function () {
  "use strict";
  const panel = document.querySelector("[data-batch-refresh]");
  if (!panel) {
    return;
  }
  const tick = function () {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(response.status);
      })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".batch-progress");
        if (!fresh) {
          return;
        }
        panel.innerHTML = fresh.innerHTML;
        if (fresh.hasAttribute("data-batch-refresh")) {
          window.setTimeout(tick, 3000);
        } else {
          panel.removeAttribute("data-batch-refresh");
        }
      })
      .catch(function () {
        window.setTimeout(tick, 10000);
      });
  };
  window.setTimeout(tick, 3000);
})();
