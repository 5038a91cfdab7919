// The topology page: one HTML file with its script, no build step and nothing fetched from
// elsewhere. It draws one band per node (nsmgr and forwarder in the middle, clients on the left,
// endpoints on the right), each connection as a line through its hops coloured by the state the
// server computed (green up, amber degraded, red broken), and on click shows describe and
// diagnose for that connection. Every element carries data-* attributes a test can read.
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nsmctl ui</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }
#map { flex: 2; overflow: auto; border-right: 1px solid #ccc; }
#side { flex: 1; overflow: auto; padding: 8px; }
pre { font: 11px ui-monospace, monospace; white-space: pre-wrap; }
.box rect { fill: #f4f6fa; stroke: #7a8699; rx: 6; }
.box.bad rect { fill: #fde2e2; stroke: #c0392b; }
.box text { font-size: 11px; text-anchor: middle; }
.band { fill: none; stroke: #dde; stroke-dasharray: 4 3; }
.conn { fill: none; stroke-width: 4; cursor: pointer; opacity: .85; }
.conn.up { stroke: #27ae60; } .conn.degraded { stroke: #e6a100; } .conn.broken { stroke: #c0392b; }
.conn.selected { stroke-width: 7; opacity: 1; }
.conn[data-gone="true"] { stroke-dasharray: 10 6; }
.conn-dot { cursor: pointer; stroke: #fff; stroke-width: 2; }
.conn-dot.up { fill: #27ae60; } .conn-dot.degraded { fill: #e6a100; } .conn-dot.broken { fill: #c0392b; }
#legend span { display: inline-block; width: 12px; height: 4px; margin: 0 4px 2px 10px; }
</style></head>
<body><div id="map"><svg id="svg" width="900" height="400"></svg></div>
<div id="side"><div id="status">connecting…</div>
<div id="legend"><span style="background:#27ae60"></span>up<span style="background:#e6a100"></span>degraded<span style="background:#c0392b"></span>broken</div>
<h3 id="title">Click a connection</h3><pre id="diagnose"></pre><pre id="describe"></pre></div>
<script>
const NS = 'http://www.w3.org/2000/svg';
const COL = { client: 90, nsmgr: 300, forwarder: 500, endpoint: 720 };
const ROW = 46, BAND_PAD = 30;
let selected = null;
function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent.appendChild(e);
  return e;
}
function box(svg, x, y, label, kind, ok) {
  const g = el('g', { class: 'box' + (ok ? '' : ' bad'), 'data-daemon': label, 'data-kind': kind, 'data-ok': String(ok) }, svg);
  el('rect', { x: x - 70, y: y - 14, width: 140, height: 28 }, g);
  el('text', { x, y: y + 4 }, g).textContent = label;
}
function draw(t) {
  const svg = document.getElementById('svg');
  svg.innerHTML = '';
  // Lines under the boxes, dots over everything.
  const lines = el('g', {}, svg);
  const pos = new Map();
  let y = BAND_PAD;
  t.nodes.forEach((n) => {
    const top = y;
    const per = { client: [], nsmgr: [n.name], forwarder: [], endpoint: [] };
    t.daemons.filter((d) => d.node === n.url).forEach((d) => per[d.kind === 'forwarder' ? 'forwarder' : 'endpoint'].push(d.name));
    t.clients.filter((c) => c.node === n.url).forEach((c) => per.client.push(c.name));
    const rows = Math.max(1, ...Object.values(per).map((l) => l.length));
    for (const [kind, names] of Object.entries(per)) {
      names.forEach((name, i) => {
        const yy = top + 20 + i * ROW;
        pos.set(name, { x: COL[kind], y: yy });
        const d = t.daemons.find((x) => x.name === name);
        const ok = kind === 'nsmgr' ? n.ok : kind === 'client' ? true : d ? d.ok : true;
        box(svg, COL[kind], yy, name, kind, ok);
      });
    }
    const h = rows * ROW + 10;
    el('rect', { class: 'band', x: 5, y: top - 8, width: 880, height: h }, svg);
    el('text', { x: 12, y: top + h - 14, 'font-size': 10, fill: '#889' }, svg).textContent = n.url;
    y += h + BAND_PAD;
  });
  svg.setAttribute('height', String(y));
  const dots = el('g', {}, svg);
  t.connections.forEach((c, i) => {
    const off = (i % 5) * 4 - 8;
    // A 2 px step at every hop keeps a path within one row from being a flat line (no height: not
    // clickable) and tells overlapping paths apart.
    const pts = c.hops.map((h) => pos.get(h.name)).filter(Boolean).map((p, j) => p.x + ',' + (p.y + off + (j % 2) * 2));
    const line = el('polyline', {
      class: 'conn ' + c.colour + (c.id === selected ? ' selected' : ''),
      points: pts.join(' '),
      'data-connection': c.id,
      'data-state': c.colour,
      'data-gone': String(c.gone),
      'data-hops': c.hops.map((h) => h.name + '=' + h.state).join(','),
    }, lines);
    el('title', {}, line).textContent = c.id + ' (' + c.networkService + ' -> ' + c.endpoint + '): ' + c.colour + (c.gone ? ', gone' : '');
    line.addEventListener('click', () => show(c.id));
    // A dot in the middle of the first link: an easy target, whatever the shape of the line.
    if (pts.length > 1) {
      const [a, b] = pts.slice(0, 2).map((p) => p.split(',').map(Number));
      const dot = el('circle', {
        class: 'conn-dot ' + c.colour,
        cx: (a[0] + b[0]) / 2, cy: (a[1] + b[1]) / 2, r: 7,
        'data-connection-dot': c.id,
      }, dots);
      dot.addEventListener('click', () => show(c.id));
    }
  });
  document.getElementById('status').textContent =
    t.connections.length + ' connections, ' + t.nodes.length + ' nodes, updated ' + t.at +
    (t.registryError ? ' — registry: ' + t.registryError : '');
}
async function show(id) {
  selected = id;
  document.querySelectorAll('.conn').forEach((e) => e.classList.toggle('selected', e.dataset.connection === id));
  document.getElementById('title').textContent = id;
  document.getElementById('diagnose').textContent = 'diagnosing…';
  document.getElementById('describe').textContent = '';
  const q = '?id=' + encodeURIComponent(id);
  const [dg, ds] = await Promise.all([fetch('api/diagnose' + q), fetch('api/describe' + q)].map((p) => p.then((r) => r.text())));
  document.getElementById('diagnose').textContent = dg;
  document.getElementById('describe').textContent = ds;
}
const events = new EventSource('api/events');
// Redraw only when something changed (not for a new timestamp): a line under the pointer stays put.
let last = '';
events.onmessage = (e) => {
  const t = JSON.parse(e.data);
  const key = JSON.stringify({ ...t, at: '' });
  if (key !== last) { last = key; draw(t); }
  else document.getElementById('status').textContent = document.getElementById('status').textContent.replace(/updated \\S+/, 'updated ' + t.at);
};
events.onerror = () => { document.getElementById('status').textContent = 'disconnected; retrying…'; };
</script></body></html>
`;
