/**
 * The page's only script, inline under the page's CSP nonce. It refreshes the page's figures from
 * its JSON endpoint and runs the action buttons. Every value goes into the page through
 * textContent or setAttribute, never as HTML, so nothing the database holds can become markup or code.
 * An action sends the page's CSRF token in a header (and, for `distcache dashboard --allow-actions`,
 * the operator's token from this tab's sessionStorage as a bearer token).
 */
export const CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var body = document.body;
  var base = body.getAttribute('data-base') || '';
  var csrf = document.querySelector('meta[name="distcache-csrf"]').getAttribute('content');
  var every = Number(body.getAttribute('data-refresh')) || 0;
  function text(el, value) { if (el) el.textContent = value == null ? '' : String(value); }
  function cell(tr, value, cls) {
    var td = document.createElement('td');
    if (cls) td.className = cls;
    text(td, value); tr.appendChild(td); return td;
  }
  function secs(v) { return v == null ? '' : (v < 10 ? v.toFixed(1) : Math.round(v)) + ' s'; }
  function overview(data) {
    var health = document.getElementById('health');
    text(health, data.health.line);
    if (health) health.className = 'health ' + (data.health.healthy ? 'ok' : 'bad');
    var tbody = document.getElementById('servers');
    if (!tbody) return;
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    data.servers.forEach(function (s) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-identity', s.identity);
      cell(tr, s.identity); cell(tr, s.role || (s.registered ? '' : 'unregistered')); cell(tr, s.version);
      cell(tr, s.lastHeartbeat ? s.lastHeartbeat.replace('T', ' ').slice(0, 19) + ' (' + secs(s.heartbeatAgeSeconds) + ' ago)' : '');
      cell(tr, secs(s.lagSeconds), 'num'); cell(tr, s.pendingInstructions, 'num'); cell(tr, s.lastError, 'err');
      cell(tr, s.wakeUp || 'not published'); cell(tr, s.regions.join(', '));
      var td = cell(tr, '');
      var b = document.createElement('button');
      b.setAttribute('data-action', 'resync'); b.setAttribute('data-server', s.identity); text(b, 'resync');
      td.appendChild(b);
      tbody.appendChild(tr);
    });
    text(document.getElementById('failure-count'), data.failures.count);
    var actions = document.getElementById('actions');
    if (!actions) return;
    while (actions.firstChild) actions.removeChild(actions.firstChild);
    data.actions.forEach(function (a) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-action-id', String(a.id));
      cell(tr, a.at ? a.at.replace('T', ' ').slice(0, 19) : ''); cell(tr, a.action); cell(tr, a.server || ''); cell(tr, a.originated);
      actions.appendChild(tr);
    });
  }
  function chart(activity) {
    var svg = document.getElementById('activity');
    if (!svg || !activity) return;
    var top = Number(svg.getAttribute('data-top')), plot = Number(svg.getAttribute('data-plot'));
    var max = Math.max.apply(null, [1].concat(activity.buckets.map(function (b) { return b.instructions; })));
    activity.buckets.forEach(function (b, i) {
      var bar = svg.querySelector('rect[data-i="' + i + '"]');
      if (!bar) return;
      var hgt = Math.round(b.instructions / max * plot);
      bar.setAttribute('y', String(top + plot - hgt)); bar.setAttribute('height', String(hgt));
      text(bar.querySelector('title'), b.start.slice(11, 16) + ' UTC: ' + b.instructions + ' instructions in ' + b.rows + ' rows');
    });
    text(document.getElementById('activity-max'), 'max ' + max + '/min');
  }
  function refresh() {
    fetch(body.getAttribute('data-api'), { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (body.getAttribute('data-page') === 'overview') overview(data);
        if (data.activity) chart(data.activity);
      })
      .catch(function () {});
  }
  if (every > 0) setInterval(refresh, every);
  var paths = { resync: function (b) { return '/api/servers/' + encodeURIComponent(b.getAttribute('data-server')) + '/resync'; },
    'resync-all': function () { return '/api/resync-all'; }, prune: function () { return '/api/prune'; } };
  document.addEventListener('click', function (event) {
    var b = event.target && event.target.closest ? event.target.closest('button[data-action]') : null;
    if (!b || !paths[b.getAttribute('data-action')]) return;
    var headers = { 'x-distcache-csrf': csrf, accept: 'application/json' };
    var token = window.sessionStorage.getItem('distcache-token');
    if (token) headers.authorization = 'Bearer ' + token;
    fetch(base + paths[b.getAttribute('data-action')](b), { method: 'POST', headers: headers, credentials: 'same-origin' })
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (res) {
        text(document.getElementById('action-result'), res[0] + ': ' + (res[1].message || JSON.stringify(res[1])));
        refresh();
      })
      .catch(function (err) { text(document.getElementById('action-result'), String(err)); });
  });
  var tokenForm = document.getElementById('token-form');
  if (tokenForm) tokenForm.addEventListener('submit', function (event) {
    event.preventDefault();
    window.sessionStorage.setItem('distcache-token', document.getElementById('token').value);
    text(document.getElementById('action-result'), 'token kept for this tab');
  });
})();`;
