// Upload page: drag and drop several archives, send them with XMLHttpRequest so the upload
// shows progress, then follow the server's redirect to the import job's page. Without
// JavaScript the form posts normally.
(function () {
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var zone = document.getElementById("dropzone");
  var chosen = document.getElementById("chosen");
  var progress = document.getElementById("progress");
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var errorBox = document.getElementById("upload-error");
  var button = document.getElementById("upload-button");
  var limit = parseInt(form.dataset.limit, 10);

  function size(bytes) {
    var units = ["bytes", "KB", "MB", "GB"], i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }
  function showError(message) { errorBox.textContent = message; errorBox.hidden = !message; }
  function list() {
    chosen.innerHTML = "";
    var total = 0;
    Array.prototype.forEach.call(input.files, function (file) {
      var li = document.createElement("li");
      li.textContent = file.name + " (" + size(file.size) + ")";
      chosen.appendChild(li);
      total += file.size;
    });
    showError(total > limit ? "These files are " + size(total) + "; the limit is " + size(limit) + "." : "");
    return total;
  }

  input.addEventListener("change", list);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      list();
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!input.files.length) { showError("Choose at least one archive or .sng file."); return; }
    if (list() > limit) return;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.pathname);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round(e.loaded / e.total * 100);
      bar.value = percent;
      text.textContent = percent < 100 ? "Uploading… " + percent + "% of " + size(e.total)
                                       : "Uploaded; starting the import…";
    });
    xhr.addEventListener("load", function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      if (xhr.status === 200 && xhr.responseURL && xhr.responseURL.indexOf("/jobs/") !== -1) {
        window.location.assign(xhr.responseURL);
      } else if (type.indexOf("text/html") === 0 && [200, 409, 503].indexOf(xhr.status) !== -1) {
        // The form came back with errors (or the import was refused): show the server's page.
        document.open(); document.write(xhr.responseText); document.close();
      } else {
        button.disabled = false; progress.hidden = true;
        showError("The upload failed (" + xhr.status + "): " + (xhr.responseText || xhr.statusText).slice(0, 300));
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false; progress.hidden = true;
      showError("The upload failed: the connection was lost.");
    });
    button.disabled = true; progress.hidden = false; bar.value = 0; showError("");
    xhr.send(new FormData(form));
  });
})();
