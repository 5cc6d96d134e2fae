// Progressive enhancement for the admin UI: every screen works without this script.
(function () {
  'use strict';
  // Confirmation before destructive buttons.
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-confirm]');
    if (b && !window.confirm(b.getAttribute('data-confirm'))) e.preventDefault();
  });
  // Unix times as local dates.
  document.querySelectorAll('time[data-unix]').forEach(function (t) {
    var s = Number(t.getAttribute('data-unix'));
    if (s > 0) { t.dateTime = new Date(s * 1000).toISOString(); t.textContent = new Date(s * 1000).toLocaleString(); }
  });
  // The dashboard's live figures.
  var charts = document.getElementById('charts');
  if (!charts) return;
  function points(values) {
    var max = Math.max(1, Math.max.apply(null, values));
    var step = 100 / (Math.max(values.length, 2) - 1);
    return values.map(function (v, i) {
      return (i * step).toFixed(1) + ',' + (30 - v / max * 28).toFixed(1);
    }).join(' ');
  }
  function refresh() {
    fetch('/admin/activity.json', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) return;
        charts.querySelectorAll('[data-series]').forEach(function (card) {
          var id = card.getAttribute('data-series');
          var values = s[id] || [];
          card.querySelector('polyline').setAttribute('points', points(values));
          card.querySelector('.last').textContent = values.length ? values[values.length - 1] : 0;
          card.querySelector('.total').textContent = values.reduce(function (a, b) { return a + b; }, 0);
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 5000);
})();
