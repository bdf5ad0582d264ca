// A hand-written SVG line and area chart with a hover and keyboard tooltip.

import { h, s, clear } from './dom.js';

let chartCount = 0;

function niceTicks(max, count, integer) {
  if (!(max > 0)) return { top: integer ? count : 1, step: integer ? 1 : 1 / count };
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, Math.ceil(step));
  const top = Math.max(step, Math.ceil(max / step) * step);
  return { top, step };
}

/**
 * lineChart() returns {el, update(data)}; data is
 * {values: number[], compare: number[]|null, label(i), compareLabel(i), xLabel(i),
 *  format(v), axisFormat(v), integer, name, compareName, ariaLabel}.
 */
export function lineChart() {
  const id = ++chartCount;
  const root = h('div', { class: 'chart', tabindex: '0', role: 'group' });
  const svgHolder = h('div', { class: 'chart-svg' });
  const tip = h('div', { class: 'chart-tip', hidden: true });
  const live = h('div', { class: 'sr-only', 'aria-live': 'polite' });
  root.append(svgHolder, tip, live);

  let data = null;
  let active = -1;
  let geom = null;
  let lastWidth = 0;

  function draw() {
    clear(svgHolder);
    if (!data) return;
    const width = Math.max(280, Math.round(root.clientWidth || 640));
    lastWidth = width;
    const narrow = width < 520;
    const H = narrow ? 200 : 260;
    const padL = 46;
    const padR = narrow ? 10 : 16;
    const padT = 14;
    const padB = 30;
    const values = data.values;
    // Buckets still to come (the rest of today) are on the axis but have no line yet.
    const n = Math.max(values.length, data.count || 0);
    const cmp = data.compare ? data.compare.slice(0, n) : null;
    const max = Math.max(0, ...values, ...(cmp || []));
    const { top, step } = niceTicks(max, 4, data.integer);
    const plotW = width - padL - padR;
    const plotH = H - padT - padB;
    const x = (i) => (n <= 1 ? padL + plotW / 2 : padL + (i * plotW) / (n - 1));
    const y = (v) => padT + plotH * (1 - v / top);
    geom = { x, y, n, padL, padR, padT, plotW, plotH, width, H };

    const svg = s('svg', { class: 'chart-plot', viewBox: `0 0 ${width} ${H}`, width: String(width), height: String(H), 'aria-hidden': 'true' });
    const gradId = `mp-grad-${id}`;
    svg.append(s('defs', {},
      s('linearGradient', { id: gradId, x1: '0', y1: '0', x2: '0', y2: '1' },
        s('stop', { offset: '0%', class: 'chart-grad-top' }),
        s('stop', { offset: '100%', class: 'chart-grad-bottom' }))));

    // Horizontal grid lines and their labels.
    const grid = s('g', { class: 'chart-grid' });
    for (let v = 0; v <= top + step / 2; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      grid.append(s('line', { x1: String(padL), x2: String(width - padR), y1: String(yy), y2: String(yy) }));
      grid.append(s('text', { x: String(padL - 8), y: String(yy + 4), class: 'chart-axis', 'text-anchor': 'end' }, data.axisFormat(v)));
    }
    svg.append(grid);

    // X labels: as many as fit.
    const maxLabels = Math.max(2, Math.floor(plotW / (narrow ? 62 : 78)));
    const every = Math.max(1, Math.ceil(n / maxLabels));
    const xl = s('g', { class: 'chart-xlabels' });
    for (let i = 0; i < n; i += every) {
      const anchor = n > 1 && i === 0 ? 'start' : 'middle';
      xl.append(s('text', { x: String(x(i)), y: String(H - 9), class: 'chart-axis', 'text-anchor': anchor }, data.xLabel(i)));
    }
    svg.append(xl);

    const pathOf = (vals) => vals.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
    if (cmp && cmp.length) svg.append(s('path', { d: pathOf(cmp), class: 'chart-line-compare' }));
    const m = values.length;
    if (m > 0) {
      const line = pathOf(values);
      if (m > 1) svg.append(s('path', { d: `${line}L${x(m - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`, fill: `url(#${gradId})`, class: 'chart-area' }));
      svg.append(s('path', { d: line, class: 'chart-line' }));
      if (n <= 40) {
        const dots = s('g', { class: 'chart-dots' });
        values.forEach((v, i) => dots.append(s('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: '2.5' })));
        svg.append(dots);
      }
    }

    const guide = s('line', { class: 'chart-guide', y1: String(padT), y2: String(padT + plotH), x1: '0', x2: '0', visibility: 'hidden' });
    const dot = s('circle', { class: 'chart-focus', r: '5', cx: '0', cy: '0', visibility: 'hidden' });
    const cdot = s('circle', { class: 'chart-focus-compare', r: '4', cx: '0', cy: '0', visibility: 'hidden' });
    svg.append(guide, cdot, dot);
    geom.guide = guide;
    geom.dot = dot;
    geom.cdot = cdot;
    geom.cmp = cmp;

    const hit = s('rect', { class: 'chart-hit', x: String(padL - 10), y: '0', width: String(plotW + 20), height: String(H) });
    hit.addEventListener('pointermove', (e) => {
      const rect = svg.getBoundingClientRect();
      const px = ((e.clientX - rect.left) * width) / rect.width;
      const i = n <= 1 ? 0 : Math.round(((px - padL) * (n - 1)) / plotW);
      show(Math.max(0, Math.min(n - 1, i)));
    });
    hit.addEventListener('pointerleave', () => hide());
    svg.append(hit);
    svgHolder.append(svg);
    if (active >= 0 && active < n) show(active); else hide();
  }

  function show(i) {
    if (!geom || !data || i < 0 || i >= geom.n) return;
    active = i;
    const { x, y } = geom;
    const v = i < data.values.length ? data.values[i] : null;
    const cx = x(i);
    geom.guide.setAttribute('x1', String(cx));
    geom.guide.setAttribute('x2', String(cx));
    geom.guide.setAttribute('visibility', 'visible');
    geom.dot.setAttribute('cx', String(cx));
    geom.dot.setAttribute('cy', String(y(v ?? 0)));
    geom.dot.setAttribute('visibility', v === null ? 'hidden' : 'visible');
    const cv = geom.cmp && i < geom.cmp.length ? geom.cmp[i] : null;
    if (cv !== null) {
      geom.cdot.setAttribute('cx', String(cx));
      geom.cdot.setAttribute('cy', String(y(cv)));
      geom.cdot.setAttribute('visibility', 'visible');
    } else geom.cdot.setAttribute('visibility', 'hidden');

    clear(tip);
    tip.append(
      h('div', { class: 'chart-tip-title' }, data.label(i)),
      h('div', { class: 'chart-tip-row' }, h('span', { class: 'swatch' }), h('span', {}, data.name), h('strong', { dataset: { value: v ?? '' } }, v === null ? '—' : data.format(v))),
    );
    if (cv !== null) {
      tip.append(
        h('div', { class: 'chart-tip-title chart-tip-sub' }, data.compareLabel(i)),
        h('div', { class: 'chart-tip-row' }, h('span', { class: 'swatch swatch-compare' }), h('span', {}, data.compareName), h('strong', {}, data.format(cv))),
      );
    }
    tip.hidden = false;
    // Keep the box inside the chart: right of the point, or left of it near the right edge.
    const boxW = tip.offsetWidth || 160;
    const scale = (root.clientWidth || geom.width) / geom.width;
    let left = cx * scale + 12;
    if (left + boxW > root.clientWidth - 4) left = cx * scale - boxW - 12;
    tip.style.left = `${Math.max(4, left)}px`;
    const boxH = tip.offsetHeight || 60;
    const py = y(v ?? cv ?? 0) * scale;
    const maxTop = geom.H * scale - 30 * scale - boxH;
    tip.style.top = `${Math.max(0, Math.min(py - boxH / 2, maxTop))}px`;
    live.textContent = `${data.label(i)}: ${v === null ? 'no data yet' : data.format(v)} ${data.name}`;
  }

  function hide() {
    active = -1;
    tip.hidden = true;
    if (geom) {
      geom.guide.setAttribute('visibility', 'hidden');
      geom.dot.setAttribute('visibility', 'hidden');
      geom.cdot.setAttribute('visibility', 'hidden');
    }
  }

  root.addEventListener('keydown', (e) => {
    if (!geom || !geom.n) return;
    let i = active < 0 ? Math.max(0, data.values.length - 1) : active;
    if (e.key === 'ArrowLeft') i = Math.max(0, i - (active < 0 ? 0 : 1));
    else if (e.key === 'ArrowRight') i = Math.min(geom.n - 1, i + (active < 0 ? 0 : 1));
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = geom.n - 1;
    else if (e.key === 'Escape') { hide(); return; } else return;
    e.preventDefault();
    show(i);
  });
  root.addEventListener('blur', () => hide());

  const ro = new ResizeObserver(() => {
    const w = Math.round(root.clientWidth);
    if (data && w && Math.abs(w - lastWidth) > 2) draw();
  });
  ro.observe(root);

  return {
    el: root,
    update(next) {
      data = next;
      root.setAttribute('aria-label', `${next.ariaLabel}. Use the left and right arrow keys to read each point.`);
      active = -1;
      draw();
    },
  };
}

/** A horizontal bar (a span whose width is a share of the largest value). */
export function bar(value, max, cls = 'bar') {
  const el = h('span', { class: cls, 'aria-hidden': 'true' });
  const pct = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  el.style.width = `${pct.toFixed(2)}%`;
  return el;
}
