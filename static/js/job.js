// Live progress: ask the status endpoint once a second until the job ends. When it ends
// while this page is open and made a new song, go to the song's page.
(function () {
  var box = document.getElementById("job");
  var url = box.dataset.statusUrl;
  var initial = JSON.parse(document.getElementById("job-initial").textContent);
  var bar = document.getElementById("job-bar");
  var text = document.getElementById("job-text");
  var stateBadge = document.getElementById("job-state");
  var errorBox = document.getElementById("job-error");
  var songBox = document.getElementById("job-song");
  var songLink = document.getElementById("job-song-link");
  var songNote = document.getElementById("job-song-note");
  var cancel = document.getElementById("job-cancel");
  if (initial.finished) return;

  function show(job) {
    bar.value = job.percent;
    bar.textContent = job.percent + "%";
    text.textContent = job.percent + "%" + (job.message ? " · " + job.message : "");
    stateBadge.textContent = job.state_label.toLowerCase();
    stateBadge.className = "badge" + (job.state === "done" ? " ok" : job.state === "failed" ? " bad" : "");
    errorBox.textContent = job.error;
    errorBox.hidden = !job.error;
    document.getElementById("job-started").textContent = job.started_label;
    document.getElementById("job-finished").textContent = job.finished_label;
    if (job.song_url) {
      songLink.href = job.song_url;
      songLink.textContent = job.song_name;
      songNote.textContent = job.result.status === "duplicate"
        ? "This chart is already in the library: " : "The song is in the library: ";
      songBox.hidden = false;
    }
    if (cancel && job.finished) cancel.hidden = true;
    var retry = document.getElementById("job-retry");
    if (retry && job.state === "failed") retry.hidden = false;
    if (job.finished && job.results_html) document.getElementById("job-results").innerHTML = job.results_html;
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (!job.finished) { setTimeout(poll, 1000); return; }
        // A note on the audio (song.ogg held the stems) stays on screen, with the song's link.
        var imported = job.kind === "generate" && job.song_url && job.result.status === "imported";
        if (job.state === "done" && imported && !job.result.audio_note) {
          window.location.assign(job.song_url);
        }
      })
      .catch(function () {
        text.textContent = "Lost contact with the server; retrying…";
        setTimeout(poll, 3000);
      });
  }
  setTimeout(poll, 1000);
})();
