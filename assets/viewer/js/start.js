// The page's wiring, 2 of 2: start, which decides how to read the log.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // ---------------------------------------------------------------- start

  async function start() {
    if (location.hash) applyHash(true);
    setFollowing(!selection);
    followBtn.textContent = following ? 'Following' : 'Follow';
    applyTsMode();
    applyWrap();
    logEl.focus();
    scheduleRender();
    if (!logPath) {
      setState('failed', 'No log here: the viewer is at /view/<token>');
      return;
    }
    // What the log is (state, size, sections) decides how to read it.
    let doc = null;
    try {
      const res = await fetch(logPath + '/outline', { cache: 'no-store' });
      if (res.ok) doc = await res.json();
      else if (refused(res.status === 404 ? 0 : res.status)) return;
      else if (res.status === 404) indexOff = true;
    } catch {
      // The log's own stream tries again.
    }
    if (indexOff) {
      tsMode = 'off';
      tsSelect.disabled = true;
      applyTsMode();
    }
    if (doc) {
      outlineDone = doc.state === 'complete' || doc.state === 'incomplete';
      applyOutline(doc);
    }
    if (doc && doc.bytes > HOLD) startWindowed(doc);
    else startWhole();
  }

  start();
