/*
 * lib.js — the dashboard's building blocks, for app.js's pages: DOM helpers that put
 * text in as text nodes (never markup), number and time formatting, the API call, SVG
 * line charts and eval tables. Everything is returned in one object, R1; nothing here
 * knows about pages or routes.
 */
'use strict';

const R1 = (function () {
	const SVGNS = 'http://www.w3.org/2000/svg';

	/* ---------- DOM helpers: text goes in as text nodes, never as markup ---------- */

	function setAttrs(e, attrs) {
		for (const k in attrs || {}) {
			const v = attrs[k];
			if (v === null || v === undefined || v === false)
				continue;
			if (k.startsWith('on'))
				e.addEventListener(k.slice(2), v);
			else
				e.setAttribute(k, v === true ? '' : String(v));
		}
	}
	function append(e, kids) {
		for (const k of kids.flat(Infinity)) {
			if (k === null || k === undefined || k === false)
				continue;
			e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
		}
		return e;
	}
	// e's children replaced by kids (null and false skipped, strings as text)
	function fill(e, ...kids) {
		e.replaceChildren();
		return append(e, kids);
	}
	function el(tag, attrs, ...kids) {
		const e = document.createElement(tag);
		setAttrs(e, attrs);
		return append(e, kids);
	}
	function sv(tag, attrs, ...kids) {
		const e = document.createElementNS(SVGNS, tag);
		setAttrs(e, attrs);
		return append(e, kids);
	}

	/* ---------- formatting ---------- */

	function num(v) {
		if (v === null || v === undefined)
			return '—';
		if (typeof v !== 'number')
			return String(v);
		if (Number.isInteger(v))
			return String(v);
		const a = Math.abs(v);
		if (a !== 0 && (a < 1e-3 || a >= 1e6))
			return v.toExponential(3);
		return String(Number(v.toPrecision(4)));
	}
	function dur(ms) {
		if (ms === null || ms === undefined || ms < 0)
			return '—';
		const s = ms / 1000;
		if (s < 60)
			return s.toFixed(1) + ' s';
		if (s < 3600)
			return Math.floor(s / 60) + 'm ' + Math.floor(s % 60) + 's';
		return Math.floor(s / 3600) + 'h ' + Math.floor(s % 3600 / 60) + 'm';
	}
	function when(ms) {
		return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '—';
	}
	function elapsed(o) {
		if (!o.started_at)
			return null;
		return (o.finished_at || Date.now()) - o.started_at;
	}
	function stateTag(state) {
		return el('span', { class: 'state', 'data-state': state }, state);
	}
	function link(href, text, attrs) {
		return el('a', Object.assign({ href: href }, attrs || {}), text);
	}
	const pipeHref = (id) => '#/p/' + id;
	const stageHref = (id, name) => '#/p/' + id + '/s/' + encodeURIComponent(name);

	/* ---------- the API ---------- */

	async function api(op, params) {
		const q = new URLSearchParams();
		for (const k in params || {})
			if (params[k] !== undefined && params[k] !== null)
				q.set(k, params[k]);
		const qs = q.toString();
		const r = await fetch('/api/' + op + (qs ? '?' + qs : ''), { cache: 'no-store' });
		let d;
		try {
			d = await r.json();
		} catch (e) {
			throw new Error('/api/' + op + ': HTTP ' + r.status + ', not JSON');
		}
		if (!d.ok)
			throw new Error(op + ': ' + (d.error && d.error.message ? d.error.message : 'HTTP ' + r.status));
		return d;
	}


	/* ---------- charts: SVG polylines, one series per pipeline or metric ---------- */

	// the curves people look at first, in this order; the rest follow by name
	const ORDER = ['reward_mean', /^reward_.*_mean$/, 'accuracy', 'format', 'length_mean', 'length_max',
		'kl', 'entropy', 'clip_frac', 'grad_norm', 'lr', 'tokens_per_s', 'step_time', 'loss',
		/_std$/];
	function rank(name) {
		for (let i = 0; i < ORDER.length; i++)
			if (typeof ORDER[i] === 'string' ? ORDER[i] === name : ORDER[i].test(name))
				return i;
		return ORDER.length;
	}
	function byRank(a, b) {
		return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
	}

	// a y axis over [lo, hi] widened to round values: [lo', hi', ticks], steps of 1, 2 or 5
	// times a power of ten
	function axis(lo, hi) {
		const raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
		const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9));
		const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
		const out = [];
		for (let i = 0; a + i * step <= b + step * 1e-9 && i < 12; i++)
			out.push(Number((a + i * step).toPrecision(12)));
		return [a, b, out];
	}

	// a figure with one SVG chart; series: [{label, points: [[step, value], ...]}]
	function chart(title, series, attrs, size) {
		const W = size ? size[0] : 340, H = size ? size[1] : 170, L = 52, R = 12, T = 10, B = 26;
		const pts = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p[1])));
		let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
		let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
		const sx0 = x0, sx1 = x1;
		if (!pts.length) {
			x0 = 0; x1 = 1; y0 = 0; y1 = 1;
		}
		if (x0 === x1) {
			x0 -= 1; x1 += 1;
		}
		if (y0 === y1) {
			const d = Math.abs(y0) * 0.05 || 1;
			y0 -= d; y1 += d;
		}
		const [ya, yb, yticks] = axis(y0, y1);
		y0 = ya;
		y1 = yb;
		const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
		const Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
		const svg = sv('svg', { class: 'chart-svg', viewBox: `0 0 ${W} ${H}`, width: W, height: H,
			role: 'img', 'aria-label': title });
		for (const y of yticks) {
			svg.appendChild(sv('line', { class: 'grid', x1: L, x2: W - R, y1: Y(y), y2: Y(y) }));
			svg.appendChild(sv('text', { class: 'tick', x: L - 4, y: Y(y) + 4, 'text-anchor': 'end' }, num(y)));
		}
		svg.appendChild(sv('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
		if (pts.length) {
			svg.appendChild(sv('text', { class: 'tick', x: L, y: H - B + 16, 'text-anchor': 'start' }, 'step ' + sx0));
			svg.appendChild(sv('text', { class: 'tick', x: W - R, y: H - B + 16, 'text-anchor': 'end' }, String(sx1)));
		} else {
			svg.appendChild(sv('text', { class: 'tick', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no points'));
		}
		const dots = pts.length <= 300;
		series.forEach((s, k) => {
			const p = s.points.filter((q) => Number.isFinite(q[1]));
			const g = sv('g', { class: 'series s' + (k % 8), 'data-label': s.label,
				'data-steps': s.points.length });
			if (p.length > 1)
				g.appendChild(sv('polyline', { points: p.map((q) => X(q[0]).toFixed(1) + ',' + Y(q[1]).toFixed(1)).join(' ') }));
			if (dots || p.length === 1)
				for (const q of p)
					g.appendChild(sv('circle', { cx: X(q[0]).toFixed(1), cy: Y(q[1]).toFixed(1), r: 2.2 },
						sv('title', null, (s.label ? s.label + ' · ' : '') + 'step ' + q[0] + ': ' + num(q[1]))));
			svg.appendChild(g);
		});
		const first = series[0] ? series[0].points : [];
		const last = first.length ? first[first.length - 1] : null;
		const cap = el('figcaption', null, el('span', { class: 'chart-title' }, title));
		if (series.length === 1 && last)
			cap.appendChild(el('span', { class: 'chart-last' }, ' ' + num(last[1]) + ' @ ' + last[0]));
		if (series.length > 1)
			cap.appendChild(el('span', { class: 'legend' }, series.map((s, k) =>
				el('span', { class: 'key s' + (k % 8) }, s.label))));
		return el('figure', Object.assign({ class: 'chart', 'data-title': title, 'data-series': series.length,
			'data-steps': first.length, 'data-last-step': last ? last[0] : '' }, attrs || {}), cap, svg);
	}

	/* ---------- an eval table: one column per eval stage, one row per metric ---------- */

	function evalTable(rows, attrs) {
		const names = [...new Set(rows.flatMap((r) => Object.keys(r.metrics || {})))].sort();
		const t = el('table', Object.assign({ class: 'grid eval-table' }, attrs || {}),
			el('thead', null, el('tr', null, el('th', null, 'metric'),
				rows.map((r) => el('th', { 'data-stage': r.stage }, r.stage,
					r.from ? el('span', { class: 'from' }, ' from ' + r.from) : null)))),
			el('tbody', null, names.map((n) => el('tr', { 'data-metric': n }, el('th', null, n),
				rows.map((r) => el('td', { class: 'num', 'data-stage': r.stage, 'data-metric': n },
					num((r.metrics || {})[n])))))));
		if (!rows.length)
			return el('p', Object.assign({ class: 'empty' }, attrs || {}), 'no eval stage');
		return t;
	}

	return { append, fill, el, sv, num, dur, when, elapsed, stateTag, link, pipeHref, stageHref, api, byRank, chart, evalTable };
})();
