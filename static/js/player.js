// A song of several stems plays them together, as Clone Hero does: the first <audio> has the
// controls, and the hidden ones follow its play, pause, seeks, speed and volume.
(function () {
  var DRIFT_S = 0.05;  // a follower this far from the leader is put back in step
  document.querySelectorAll(".player").forEach(function (player) {
    var leader = player.querySelector("audio[controls]");
    var followers = player.querySelectorAll("audio[data-follows]");
    if (!leader || !followers.length) return;
    function each(fn) { followers.forEach(fn); }
    function align() {
      each(function (f) {
        if (Math.abs(f.currentTime - leader.currentTime) > DRIFT_S) f.currentTime = leader.currentTime;
      });
    }
    leader.addEventListener("play", function () { align(); each(function (f) { f.play(); }); });
    leader.addEventListener("pause", function () { each(function (f) { f.pause(); }); });
    leader.addEventListener("seeked", align);
    leader.addEventListener("timeupdate", align);
    leader.addEventListener("ratechange", function () {
      each(function (f) { f.playbackRate = leader.playbackRate; });
    });
    leader.addEventListener("volumechange", function () {
      each(function (f) { f.volume = leader.volume; f.muted = leader.muted; });
    });
  });
})();
