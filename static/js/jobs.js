/* jobs.js - keeps a job run's page current while it is queued or running:
 * polls the run's JSON (GET /api/v1/jobs/:id) every second and updates the
 * progress bar, status, message and error in place. Without it the page
 * still shows the state it was loaded with; reloading updates it. */
(function () {
  "use strict";
  var card = document.querySelector("[data-job-poll]");
  if (!card || !window.fetch) return;
  var url = card.getAttribute("data-job-poll");
  function field(name) { return card.querySelector('[data-job-field="' + name + '"]'); }
  function show(job) {
    var bar = field("progress");
    bar.value = job.progress;
    bar.textContent = job.progress + "%";
    var st = field("status");
    st.textContent = job.status;
    st.className = "state state-" + job.status;
    field("message").textContent = job.message || "";
    field("error").textContent = job.error || "";
    field("attempts").textContent = job.attempts;
    field("finished_at").textContent = job.finished_at || "—";
    return job.status === "queued" || job.status === "running";
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.job && show(body.job)) setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
