/**
 * The agent panel's script (its markup and style are markup.ts's): one self-contained page
 * (inline script and style, no external asset). Every string it shows is set through
 * textContent, so nothing a call carries can become markup. It holds the token in memory only,
 * and only until the agent signs out or the token ends: then it drops the token, closes its
 * socket and clears every call and event line it showed; the agent's Sign out and the idle one
 * also end the token on the service (POST /v1/session/signout). It signs itself out as well when
 * the agent leaves it idle (PCI DSS 8.2.8), after the time the service puts in the page's IDLE_META.
 */

/** the page's `<meta name>` whose content is AGENT_IDLE_TIMEOUT_SECONDS (index.ts writes it, the script reads it) */
export const IDLE_META = 'tonewall-idle-timeout-seconds';

export const PANEL_SCRIPT = `
(function () {
  'use strict';
  var token = null, ws = null, calls = {}, selected = null, capture = null, payment = null;
  var $ = function (id) { return document.getElementById(id); };
  function text(el, s) { el.textContent = s == null ? '' : String(s); return el; }
  function el(tag, s, cls) { var e = document.createElement(tag); if (s != null) text(e, s); if (cls) e.className = cls; return e; }
  // what a capture's or a field's reason, and an answer's code, mean to an agent: the code itself stays in the events list
  var REASONS = { luhn: 'not a valid card number', 'card-type': 'card type not accepted', brand: 'card type not accepted', length: 'wrong number of digits',
    'not-digits': 'not all digits', month: 'not a valid month', past: 'the date has passed', future: 'the date is in the future', calendar: 'not a real date',
    checksum: 'not a valid number', prefix: 'not a valid number', 'no-input': 'the caller keyed nothing', timeout: 'took too long', 'call-ended': 'the call ended',
    'bridge-lost': 'the connection to the call was lost: start it again', internal: 'the service failed: try again', shutdown: 'the service restarted: try again',
    'call-not-found': 'the call is gone', 'recording-pause-failed': 'the recording could not be paused: try again' };
  var ANSWERS = { 'recording-pause-failed': REASONS['recording-pause-failed'], TW_ERR_CAPTURE_RUNNING: 'a capture is already running on this call',
    TW_ERR_CALL_NOT_BRIDGED: 'the call is not connected to you', TW_ERR_CALL_NOT_FOUND: 'this call is no longer yours (it ended or another agent took it)',
    TW_ERR_CONFLICT: 'this call was taken already', TW_ERR_AGENT_NO_ENDPOINT: 'your token names no phone to ring: it cannot take calls',
    TW_ERR_TIMEOUT: 'the service did not answer in time: check the call before trying again', TW_ERR_AGENT_SOCKET_BUSY: 'too many requests at once: wait, then try again' };
  // the panel's own token says when it ends: a refusal after that is an expiry, which a new token
  // mends, not a wrong token (the service answers both with one 401)
  function expired() {
    try { var b = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'); var exp = JSON.parse(atob(b)).exp; return typeof exp === 'number' && exp * 1000 <= Date.now(); } catch (x) { return false; }
  }
  function refusedText() { return expired() ? 'token refused: it has expired, paste a new one' : 'token refused: not a valid token'; }
  // a call is shown by the start of its SID, the same wherever it appears; the whole SID is its title, to quote to support
  function shortSid(sid) { return sid.slice(0, 10) + '…'; }
  function sidText(e, sid) { text(e, sid ? shortSid(sid) : ''); if (sid) e.title = sid; else e.removeAttribute('title'); return e; }
  function reasonText(r) { return r == null ? '' : REASONS[r] || String(r); }
  function answerText(e) { return (e && (ANSWERS[e.code] || ANSWERS[e.error] || e.message || e.error)) || 'refused'; }
  function status(s, bad) { var e = text($('status'), s); e.className = bad ? 'err' : 'ok'; }
  function log(s) { var li = el('li', new Date().toLocaleTimeString() + ' ' + s); var l = $('log'); l.insertBefore(li, l.firstChild); while (l.children.length > 200) l.removeChild(l.lastChild); }
  // an answer that comes after its session ended (signed out, or in again with another token) is
  // dropped: it would show a call again on a panel that was cleared. A refused token (401: it ended,
  // or never held) ends the session.
  var never = function () { return new Promise(function () {}); };
  function request(method, path, body) {
    var sent = token;
    return fetch(path, { method: method, headers: Object.assign({ authorization: 'Bearer ' + sent }, body ? { 'content-type': 'application/json' } : {}), body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) {
        if (token !== sent) return never();
        if (r.status === 401) { signOut(refusedText()); return never(); }
        if ($('status').textContent === UNREACHABLE) status('', false);
        return { status: r.status, body: j };
      }); });
  }
  // a request that got no answer (the network, the service down) is said in the status line, and
  // what asked for it goes no further: the panel stays as it was, every button as it was, to try
  // again. Only the sign-in reads the failure itself (request), to say it could not check the token.
  var UNREACHABLE = 'the service could not be reached; try again';
  function api(method, path, body) {
    var sent = token;
    return request(method, path, body).then(null, function () { if (token === sent) status(UNREACHABLE, true); return never(); });
  }
  // a re-read's answer overtaken by a later one's is dropped; a processor.result heard after it was
  // asked is newer than what it holds (the service keeps a result on the call before telling it)
  var seq = 0, applied = 0, heard = [];
  function refresh() {
    var n = ++seq;
    return api('GET', '/v1/calls').then(function (r) {
      if (n < applied) return;
      applied = n; calls = {};
      (r.body.calls || []).forEach(function (c) { calls[c.callSid] = c; });
      heard = heard.filter(function (h) { return h.n > n; });
      heard.forEach(function (h) { keepResult(h.r); });
      adopt(); render();
    });
  }
  // each processor's latest result on its call, as processor.result or the call's view says it
  function keepResult(r) {
    var c = calls[r.callSid];
    if (c) c.processorResults = (c.processorResults || []).filter(function (p) { return p.processor !== r.processor; }).concat([r]);
  }
  // a processor's answer in words, for the agent to tell the caller; no result is not a decline: the
  // processor may have charged the card without the service hearing its answer
  function resultText(p) {
    var s = p.result || {}, word = s.approved === true ? 'approved' : s.approved === false ? 'declined' : s.status, more = [];
    if (word) {
      if (s.status && s.status !== word) more.push(s.status);
      if (s.code) more.push(s.code);
      word += (more.length ? ' (' + more.join(', ') + ')' : '') + (s.reference ? ', ref ' + s.reference : '');
    } else if (p.ok) word = 'answered with no outcome';
    else word = p.attempts ? 'no result: gave up after ' + p.attempts + (p.attempts === 1 ? ' try' : ' tries') : 'not sent';
    return p.processor + ': ' + word + (!p.ok && p.status ? ', HTTP ' + p.status : '');
  }
  function resultClass(p) { var s = p.result || {}; return s.approved === true ? 'ok' : s.approved === false || s.status === 'declined' || !p.ok ? 'err' : ''; }
  function showResults(e, c) { (c && c.processorResults || []).forEach(function (p) { e.appendChild(el('div', resultText(p), resultClass(p))); }); return e; }
  // a capture started elsewhere on the selected call (the REST API, a supervisor's panel) before this
  // panel saw its capture.started: the call's view names it, so it holds both starts (the service
  // would refuse them, 409) and its masked progress is shown as its events come. A capture this
  // panel knows already, or one it is starting, is left alone: its events are newer than the view.
  function adopt() {
    var ref = selected && calls[selected] && calls[selected].capture;
    if (!ref || ref.status !== 'capturing') return;
    if (capture && capture.callSid === selected && (capture.id === ref.id || capture.status === 'starting')) return;
    capture = { id: ref.id, callSid: selected, name: ref.name, kind: ref.kind, status: 'capturing', entered: 0, masked: '' };
    readCapture();
  }
  // what a running capture has heard so far; an answer overtaken by its events (it ended, or another began) is dropped
  function readCapture() {
    var id = capture.id, sid = capture.callSid;
    api('GET', '/v1/calls/' + sid + '/captures/' + id).then(function (r) {
      if (r.status !== 200 || !capture || capture.id !== id || capture.status !== 'capturing') return;
      capture.status = r.body.status; capture.entered = r.body.entered; capture.masked = r.body.masked;
      capture.brand = r.body.brand; capture.valid = r.body.valid; render();
    });
  }
  function fieldsText(c) {
    return Object.keys(c.fields || {}).map(function (n) { var f = c.fields[n]; return n + ': ' + f.masked + (f.brand ? ' ' + f.brand : '') + (f.valid ? '' : ' (invalid)'); }).join(', ');
  }
  // the calls table is rebuilt on every event and on the 5 s re-read: a row button that had the
  // keyboard focus gets it back (the same row's button of that kind, or its other one), else a
  // keyboard user is thrown back to the top of the page every few seconds
  function focusKey(body) {
    var f = document.activeElement;
    if (!f || f.tagName !== 'BUTTON' || !body.contains(f)) return null;
    var tr = f.parentNode.parentNode;
    return { row: tr.getAttribute('data-call'), cls: f.className };
  }
  function refocus(body, key) {
    if (!key) return;
    for (var i = 0; i < body.children.length; i++) {
      var tr = body.children[i];
      if (tr.getAttribute('data-call') !== key.row) continue;
      var b = tr.querySelector('button.' + key.cls) || tr.querySelector('button');
      if (b) b.focus();
    }
  }
  function render() {
    $('signout').disabled = !token; $('refresh').disabled = !token;
    var body = $('calls'), key = focusKey(body); while (body.firstChild) body.removeChild(body.firstChild);
    Object.keys(calls).forEach(function (sid) {
      var c = calls[sid], tr = document.createElement('tr');
      // a call that is over stays only while it is the one selected, so its result can still be read
      if (c.state === 'ended' && sid !== selected) return;
      tr.setAttribute('data-call', sid);
      if (sid === selected) { tr.className = 'selected'; tr.setAttribute('aria-current', 'true'); }
      tr.appendChild(sidText(el('td', null, 'sid'), sid));
      tr.appendChild(el('td', c.from, 'masked'));
      tr.appendChild(el('td', c.state, 'state'));
      tr.appendChild(el('td', fieldsText(c), 'masked'));
      tr.appendChild(showResults(el('td', null, 'results'), c));
      var td = el('td');
      var who = 'call from ' + c.from + ' (' + c.state + ')';
      if (c.state === 'offered') { var a = el('button', 'Accept', 'accept'); a.setAttribute('aria-label', 'Accept ' + who); a.onclick = function () { accept(sid); }; td.appendChild(a); }
      var s = el('button', 'Select', 'select'); s.setAttribute('aria-label', 'Select ' + who); s.onclick = function () { select(sid); }; td.appendChild(s);
      tr.appendChild(td); body.appendChild(tr);
    });
    refocus(body, key);
    if (selected) sidText($('selected'), selected);
    else text($('selected'), 'no call selected').removeAttribute('title');
    // the capture shown is the selected call's own; one running (or being started) holds both start buttons: the service refuses a second (409)
    var cap = capture && capture.callSid === selected ? capture : null;
    var busy = !!cap && (cap.status === 'capturing' || cap.status === 'starting');
    $('capture-start').disabled = !selected || !calls[selected] || calls[selected].state !== 'bridged' || busy;
    $('capture-cancel').disabled = !cap || cap.status !== 'capturing';
    renderPayment(busy);
    // the live region is rebuilt only when its words change, so a screen reader reads a result once
    var out = $('results'), said = selected && calls[selected] ? (calls[selected].processorResults || []).map(resultText).join(' / ') : '';
    if (out.getAttribute('data-said') !== said) { while (out.firstChild) out.removeChild(out.firstChild); showResults(out, selected && calls[selected]); out.setAttribute('data-said', said); }
    text($('capture-field'), cap && cap.name ? cap.name + ' (' + cap.kind + ')' : '');
    var why = cap ? cap.why || (cap.reason && cap.reason !== cap.status ? reasonText(cap.reason) : '') : '';
    text($('capture-status'), cap ? cap.status + (why ? ': ' + why : '') : '');
    $('capture-status').className = cap && (cap.status === 'failed' || cap.status === 'not started') ? 'err' : '';
    // a capture that never ran (being started, or refused) has keyed nothing: no count or value to show, not 0
    var ran = !!cap && cap.status !== 'starting' && cap.status !== 'not started';
    text($('capture-entered'), ran ? cap.entered : '');
    text($('capture-masked'), ran ? cap.masked : '');
    text($('capture-brand'), cap ? cap.brand || '' : '');
    text($('capture-valid'), !cap || cap.valid === undefined ? '' : cap.valid ? 'valid' : 'invalid');
  }
  function renderPayment(busy) {
    var open = payment && payment.callSid === selected && payment.status === 'open';
    $('payment-start').disabled = !selected || !calls[selected] || calls[selected].state !== 'bridged' || !!open || busy;
    $('payment-complete').disabled = !open || payment.required.length > 0 || !!payment.capturing;
    $('payment-cancel').disabled = !open;
    var body = $('payment-fields'); while (body.firstChild) body.removeChild(body.firstChild);
    var shown = payment && payment.callSid === selected ? payment : null;
    text($('payment-status'), shown ? shown.status + (shown.required.length ? ' (to gather: ' + shown.required.join(', ') + ')' : '') : '');
    if (!shown) return;
    shown.fields.forEach(function (f) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-field', f.name);
      tr.appendChild(el('td', f.name)); tr.appendChild(el('td', f.kind));
      tr.appendChild(el('td', f.status, 'field-status'));
      tr.appendChild(el('td', (f.masked || '') + (f.brand ? ' ' + f.brand : '') + (f.reason ? ' (' + reasonText(f.reason) + ')' : ''), 'masked'));
      var td = el('td');
      if (open) { var b = el('button', f.status === 'pending' ? 'Ask' : 'Ask again', 'ask'); b.disabled = !!shown.capturing; b.onclick = function () { updatePayment({ capture: f.name }); }; td.appendChild(b); }
      tr.appendChild(td); body.appendChild(tr);
    });
  }
  function showPayment(r) {
    if (r.status >= 400) { status(answerText(r.body), true); return; }
    payment = r.body; render();
  }
  function updatePayment(body) { if (payment) api('POST', '/v1/calls/' + payment.callSid + '/payments/' + payment.paymentId, body).then(showPayment); }
  function rereadPayment() { if (payment && payment.status === 'open') api('GET', '/v1/calls/' + payment.callSid + '/payments/' + payment.paymentId).then(showPayment); }
  // a click while the socket is down would go nowhere: say so rather than look as if it were sent
  function send(m) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(m)); return true; } status('not connected: wait for the panel to reconnect, then try again', true); return false; }
  // an accepted offer is not offered again while the agent's phone rings (a second click would be refused)
  function accept(sid) {
    selected = sid;
    if (send({ type: 'handoff.accept', callSid: sid })) { log('accept ' + sid); if (calls[sid] && calls[sid].state === 'offered') calls[sid].state = 'accepting'; }
    render();
  }
  function select(sid) { selected = sid; if (payment && payment.callSid !== sid) payment = null; adopt(); render(); }
  function onEvent(e) {
    if (!e || typeof e.type !== 'string') return;
    var sid = typeof e.callSid === 'string' ? e.callSid : '';
    var line = e.type + ' ' + sid;
    if (e.type === 'error') {
      line += ': ' + e.message + (e.code ? ' (' + e.code + ')' : ''); status(answerText(e), true);
      // a start refused replaces the result of the capture before it, which would otherwise read as this one's
      // a refused accept: the call as it stands now (offered still, or gone)
      if (e.request === 'handoff.accept') refresh();
      if (e.request === 'capture.start' && capture && capture.callSid === sid && capture.status === 'starting') { capture.status = 'not started'; capture.why = answerText(e); }
    }
    if (e.type === 'capture.progress') line += ' ' + e.entered + ' ' + e.masked;
    if (e.type === 'capture.completed' || e.type === 'capture.failed') line += ' ' + (e.masked || '') + ' ' + (e.reason || '');
    if (e.type === 'processor.result' && typeof e.processor === 'string') {
      var r = { callSid: sid, processor: e.processor, ok: e.ok === true, status: e.status, attempts: e.attempts, result: e.result };
      heard.push({ n: ++seq, r: r }); keepResult(r); line += ': ' + resultText(r);
    }
    log(line);
    if (e.type === 'payment.updated' && sid === selected && e.payment) payment = e.payment;
    if ((e.type === 'capture.completed' || e.type === 'capture.failed') && payment && payment.callSid === sid) rereadPayment();
    if (e.type.indexOf('capture.') === 0 && sid === selected) {
      if (e.type === 'capture.started') { capture = { id: e.captureId, callSid: sid, name: e.name, kind: e.kind, status: 'capturing', entered: 0, masked: '' }; status('', false); }
      if (!capture || capture.id !== e.captureId) capture = { id: e.captureId, callSid: sid, name: e.name, kind: e.kind, status: 'capturing', entered: 0, masked: '' };
      if (typeof e.name === 'string') { capture.name = e.name; capture.kind = e.kind; }
      if (e.type === 'capture.progress') { capture.entered = e.entered; capture.masked = e.masked; }
      if (e.type === 'capture.completed') { capture.status = 'completed'; capture.masked = e.masked; capture.brand = e.brand; capture.valid = e.valid; capture.entered = e.entered; }
      if (e.type === 'capture.failed') { capture.status = e.reason === 'cancelled' ? 'cancelled' : 'failed'; capture.reason = e.reason; capture.masked = e.masked; capture.valid = e.valid; }
    }
    // an offer another agent took is no longer this panel's to show or take
    if (e.type === 'handoff.taken') { delete calls[sid]; if (selected === sid) selected = null; render(); return; }
    if (e.type === 'handoff.offered' || e.type === 'call.bridged' || e.type === 'call.ended' || e.type === 'capture.completed' || e.type === 'capture.failed') refresh();
    else render();
  }
  // events sent while the socket was down are lost: read the calls, the payment and the capture afresh
  function resync() {
    rereadPayment();
    return refresh().then(function () {
      if (!capture || (capture.status !== 'capturing' && capture.status !== 'starting')) return;
      // a start whose answer was lost with the socket: the call's record names what runs now, if anything
      if (capture.status === 'starting') {
        var ref = calls[capture.callSid] && calls[capture.callSid].capture;
        capture = ref && ref.status === 'capturing' ? { id: ref.id, callSid: capture.callSid, name: ref.name, kind: ref.kind, status: 'capturing', entered: 0, masked: '' } : null;
        render();
        if (!capture) return;
      }
      readCapture();
    });
  }
  // a socket the service closed (this panel fell behind, an instance restarted) is opened again,
  // 1 s after the drop, doubling to 30 s; a refused or expired token (4401) is not retried, nor a
  // socket refused because this agent holds too many open already (4429): a retry is refused again while they stay open
  var retries = 0, poll = null, reconnect = null;
  // PCI DSS 8.2.8: a session with no keyboard or pointer input for the service's idle time signs
  // out as Sign out does; what the service sends is no input. The agent is told a minute before (a
  // quarter of the time when it is shorter), so a key or a touch keeps the session. A timer held
  // back (a hidden tab, a machine asleep) is caught up by the next input or return to the tab,
  // which signs out rather than keep a session idle too long.
  var idleMeta = document.querySelector('meta[name="${IDLE_META}"]'), idleSeconds = Number(idleMeta && idleMeta.getAttribute('content'));
  if (!(idleSeconds >= 1 && idleSeconds <= 900)) idleSeconds = 900;
  var IDLE_MS = idleSeconds * 1000, IDLE_WARN_MS = Math.min(60000, IDLE_MS / 4), lastInput = 0, idleTimer = null, idleWarned = false;
  function idleWords() { return idleSeconds % 60 === 0 ? idleSeconds / 60 + (idleSeconds === 60 ? ' minute' : ' minutes') : idleSeconds + (idleSeconds === 1 ? ' second' : ' seconds'); }
  // the panel's own idle sign-out, or the service's (a socket closed 4401 'idle': the token went unused there)
  function idleText() { return 'signed out: no activity for ' + idleWords() + ', sign in again'; }
  function watchIdle() {
    clearTimeout(idleTimer); idleTimer = null;
    if (!token) return;
    var idle = Date.now() - lastInput;
    if (idle >= IDLE_MS) { endSession(idleText()); return; }
    if (idle < IDLE_MS - IDLE_WARN_MS) { idleTimer = setTimeout(watchIdle, IDLE_MS - IDLE_WARN_MS - idle); return; }
    if (!idleWarned) { idleWarned = true; status('no activity: signing out in ' + Math.ceil((IDLE_MS - idle) / 1000) + ' s unless you press a key or move the pointer', true); }
    idleTimer = setTimeout(watchIdle, IDLE_MS - idle);
  }
  // the service keeps the idle limit too, for every copy of the token: an input is told to it as
  // {"type":"activity"} on the socket, at most once a minute (a quarter of the idle time when
  // shorter), so an agent who reads without clicking is not ended there first; an event is no input
  var ACTIVITY_MS = Math.min(60000, IDLE_MS / 4), lastActivity = 0;
  function activity() {
    if (!ws || ws.readyState !== 1 || Date.now() - lastActivity < ACTIVITY_MS) return;
    lastActivity = Date.now(); ws.send(JSON.stringify({ type: 'activity' }));
  }
  // the timer reads lastInput when it fires: an input only notes its time (a moving pointer sends many)
  function input() {
    if (!token) return;
    if (Date.now() - lastInput >= IDLE_MS) { watchIdle(); return; }
    lastInput = Date.now();
    if (idleWarned) { idleWarned = false; status('signed in', false); }
    activity();
  }
  ['keydown', 'pointerdown', 'pointermove', 'wheel'].forEach(function (t) { document.addEventListener(t, input, { capture: true, passive: true }); });
  document.addEventListener('visibilitychange', function () { if (token) watchIdle(); });
  // the session's end, by the agent or by the token's: the token is dropped, the socket closed and
  // every call, capture, payment and event line cleared, so the next person at the desk sees none
  function signOut(why, good) {
    token = null;
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    clearTimeout(reconnect); clearInterval(poll); clearTimeout(idleTimer); reconnect = null; poll = null; idleTimer = null; retries = 0; idleWarned = false; lastActivity = 0;
    calls = {}; heard = []; selected = null; capture = null; payment = null;
    var l = $('log'); while (l.firstChild) l.removeChild(l.firstChild);
    $('connection').textContent = 'offline';
    status(why, !good); render();
  }
  // the agent's own sign-out, and the idle one, end the token on the service too, so no copy of it
  // is good after (POST /v1/session/signout); the panel signs out whether or not that is answered.
  // A sign-out lost (no answer, or the service could not file it: 5xx, 429) is sent again after
  // 1 s, doubling to 16 s, until the service ends the token (204) or says it had ended (401): left
  // at one try, the token stayed good until its exp. The token is kept for that in this call alone,
  // never shown or stored; the agent is told if the service was never reached.
  var SIGNOUT_RETRY_MS = [1000, 2000, 4000, 8000, 16000];
  function revoke(t, tries) {
    fetch('/v1/session/signout', { method: 'POST', headers: { authorization: 'Bearer ' + t }, keepalive: true })
      .then(function (r) { return r.status < 500 && r.status !== 429; }, function () { return false; })
      .then(function (done) {
        if (done) return;
        if (tries < SIGNOUT_RETRY_MS.length) { setTimeout(function () { revoke(t, tries + 1); }, SIGNOUT_RETRY_MS[tries]); return; }
        if (!token) status('signed out here, but the service could not be told: the token stays good until it expires', true);
      });
  }
  function endSession(why, good) {
    if (token) revoke(token, 0);
    signOut(why, good);
  }
  function connect() {
    // signing in again (a new token) replaces the socket, not adds one: each would show every event twice
    if (ws) { ws.onclose = null; ws.close(); }
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/agent/ws');
    ws.onopen = function () { ws.send(JSON.stringify({ type: 'auth', token: token })); $('connection').textContent = 'live'; if (retries > 0) { status('reconnected', false); resync(); } retries = 0; };
    ws.onmessage = function (m) { var e; try { e = JSON.parse(m.data); } catch (x) { return; } onEvent(e); };
    ws.onclose = function (c) {
      $('connection').textContent = 'offline';
      if (c.code === 4401) { signOut(c.reason === 'idle' ? idleText() : expired() ? 'signed out: your token expired, paste a new one' : 'signed out: token refused'); return; }
      if (c.code === 4429) { status('not connected: too many panels open for this agent; close one and reload', true); return; }
      status('disconnected: reconnecting', true);
      reconnect = setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries++)));
    };
  }
  // a sign-in the service could not judge (5xx, no answer) or held back (429) is no refused token:
  // the agent is told what happened, to try again; a 401 signs out as refused (api) and so does a 403
  function signInFailed(code) {
    signOut(code === 429 ? 'too many tries; wait a minute' : code === 0 || code >= 500 ? 'the service could not check the token; try again' : refusedText());
  }
  $('signin').onclick = function () {
    var t = $('token').value.trim(); $('token').value = '';
    if (!t) return;
    // a new token replaces the session: the one before is ended on the service too, whether or not
    // the new one is good (left alone, a failed sign-in dropped it here while it stayed good there).
    // Its socket goes first: the service closes it 4401 at that sign-out, which would sign out the new session
    if (token && token !== t) {
      if (ws) { ws.onclose = null; ws.close(); ws = null; }
      clearTimeout(reconnect); reconnect = null;
      revoke(token, 0);
    }
    token = t; lastInput = Date.now(); idleWarned = false; watchIdle();
    request('GET', '/v1/calls').then(function (r) {
      if (r.status !== 200) { signInFailed(r.status); return; }
      status('signed in', false); connect(); refresh(); render();
      // what changes with no event to this panel is re-read now and then; an offer taken or ended
      // goes at once (handoff.taken, call.ended), and so does an accepted call connected, a bridge's
      // or a dial's (call.bridged: a dial's once Twilio says its agent answered)
      if (!poll) poll = setInterval(function () { if (ws && ws.readyState === 1) refresh(); }, 5000);
    }, function () { if (token === t) signInFailed(0); });
  };
  $('token').onkeydown = function (k) { if (k.key === 'Enter') $('signin').click(); };
  $('capture-start').onclick = function () {
    if (!selected) return;
    var m = { type: 'capture.start', callSid: selected, name: $('capture-name').value.trim(), kind: $('capture-kind').value, blanket: $('capture-blanket').checked };
    if (!send(m)) return;
    capture = { id: null, callSid: selected, name: m.name, kind: m.kind, status: 'starting', entered: 0, masked: '' };
    render();
  };
  $('capture-cancel').onclick = function () { if (capture && selected) send({ type: 'capture.cancel', callSid: selected, captureId: capture.id }); };
  $('payment-start').onclick = function () {
    if (selected) api('POST', '/v1/calls/' + selected + '/payments', { postalCode: $('payment-postal').checked, blanket: $('capture-blanket').checked }).then(showPayment);
  };
  $('payment-complete').onclick = function () { updatePayment({ status: 'complete' }); };
  $('payment-cancel').onclick = function () { updatePayment({ status: 'cancel' }); };
  $('refresh').onclick = refresh;
  $('signout').onclick = function () { endSession('signed out', true); };
  render();
})();
`;
