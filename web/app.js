/*
 * app.js — r1flow's dashboard: a single-page app over the daemon's read-only HTTP API.
 *
 * Every page is drawn from JSON: GET /api/OP?field=value answers exactly what control op
 * OP answers (docs/protocol.md, "Control ops"), and GET /api/events?pipeline=ID streams
 * that pipeline's events as server-sent events. Routes live in the URL's fragment:
 *
 *   #/                       pipelines: state, stages, seed, elapsed, links
 *   #/p/ID                   a pipeline: its stages as a graph (from and needs edges) and
 *                            a table, live: refetched on each event and every 2 s while
 *                            it runs (events mark transitions, a step is no event)
 *   #/p/ID/s/NAME            a stage: its metric curves (SVG), its eval table (report)
 *                            and a samples browser by step, paged
 *   #/workers                live workers
 *   #/compare?ids=1,2&metric=STAGE/NAME   curves of two or more pipelines overlaid,
 *                            their eval tables side by side
 *
 * Contracts: text from the daemon reaches the DOM only as text nodes or attribute
 * values (el() and sv() of lib.js; never innerHTML), so a completion holding "<script>"
 * shows as those characters. Nothing inline (the page is served under CSP default-src
 * 'self'), nothing from the network but the daemon. Elements the browser test reads
 * carry ids and data attributes: a chart's data-steps is its number of points.
 */
'use strict';

(function () {
	const { append, fill, el, sv, num, dur, when, elapsed, stateTag, link, pipeHref, stageHref, api, byRank, chart, evalTable } = R1;
	const main = document.getElementById('main');
	const conn = document.getElementById('conn');
	const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

	/* ---------- pages: one at a time; leaving one stops its timers and streams ---------- */

	let page = { gen: 0, timers: [], sources: [] };
	function leave() {
		page.timers.forEach(clearInterval);
		page.sources.forEach((s) => s.close());
		page = { gen: page.gen + 1, timers: [], sources: [] };
	}
	// fn every ms while this page is shown; a failure shows in the header, the page stays
	function every(ms, fn) {
		const gen = page.gen;
		let busy = false;
		page.timers.push(setInterval(async () => {
			if (busy || gen !== page.gen)
				return;
			busy = true;
			try {
				await fn();
				setConn('ok', 'updated ' + new Date().toLocaleTimeString());
			} catch (e) {
				setConn('error', e.message);
			} finally {
				busy = false;
			}
		}, ms));
	}
	function setConn(state, text) {
		conn.dataset.state = state;
		conn.textContent = text;
	}
	function showError(e) {
		main.appendChild(el('p', { class: 'error', id: 'error' }, e.message || String(e)));
	}
	function section(id, title, ...kids) {
		return el('section', { id: id }, el('h2', null, title), kids);
	}

	async function route() {
		leave();
		const gen = page.gen;
		const h = location.hash.replace(/^#/, '') || '/';
		const qi = h.indexOf('?');
		const path = qi < 0 ? h : h.slice(0, qi);
		const q = new URLSearchParams(qi < 0 ? '' : h.slice(qi + 1));
		const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
		main.replaceChildren();
		for (const k of Object.keys(main.dataset))
			delete main.dataset[k];
		document.querySelectorAll('nav a').forEach((a) => a.classList.remove('here'));
		try {
			if (parts.length === 0) {
				await pipelinesPage(gen);
			} else if (parts[0] === 'workers') {
				await workersPage(gen);
			} else if (parts[0] === 'compare') {
				await comparePage(gen, q);
			} else if (parts[0] === 'p' && parts.length === 2 && /^\d+$/.test(parts[1])) {
				await pipelinePage(gen, Number(parts[1]));
			} else if (parts[0] === 'p' && parts.length === 4 && parts[2] === 's' && /^\d+$/.test(parts[1])) {
				await stagePage(gen, Number(parts[1]), parts[3], q);
			} else {
				main.dataset.page = 'notfound';
				main.appendChild(el('h1', null, 'No such page'));
				main.appendChild(el('p', null, link('#/', 'the pipelines')));
			}
			if (gen === page.gen)
				setConn('ok', 'updated ' + new Date().toLocaleTimeString());
		} catch (e) {
			if (gen === page.gen) {
				showError(e);
				setConn('error', e.message);
			}
		}
		if (gen === page.gen)
			main.dataset.ready = '1';
	}

	/* ---------- #/ pipelines ---------- */

	async function pipelinesPage(gen) {
		main.dataset.page = 'pipelines';
		document.getElementById('nav-pipelines').classList.add('here');
		const chosen = new Set();
		const seeds = new Map();
		const body = el('tbody');
		const go = el('button', { id: 'compare-selected', type: 'button', disabled: true,
			onclick: () => { location.hash = '#/compare?ids=' + [...chosen].join(','); } }, 'compare selected');
		main.append(el('h1', null, 'Pipelines'),
			el('table', { id: 'pipelines', class: 'grid' },
				el('thead', null, el('tr', null, ['', 'id', 'name', 'state', 'stages', 'seed', 'created',
					'elapsed', 'links'].map((t) => el('th', null, t)))), body),
			el('p', null, go, ' tick two or more to overlay their curves'));
		async function refresh() {
			const d = await api('pipelines');
			// a pipeline's seed never changes: asked once (the list has none)
			await Promise.all(d.pipelines.slice(0, 50).filter((p) => !seeds.has(p.id)).map(async (p) => {
				try {
					seeds.set(p.id, (await api('pipeline', { id: p.id })).pipeline.seed);
				} catch (e) {
					seeds.set(p.id, null);
				}
			}));
			if (gen !== page.gen)
				return;
			body.replaceChildren(...d.pipelines.map((p) => el('tr', { 'data-id': p.id, 'data-state': p.state },
				el('td', null, el('input', { type: 'checkbox', class: 'pick', 'aria-label': 'compare ' + p.id,
					checked: chosen.has(p.id), onchange: (ev) => {
						ev.target.checked ? chosen.add(p.id) : chosen.delete(p.id);
						go.disabled = chosen.size < 2;
					} })),
				el('td', { class: 'num' }, link(pipeHref(p.id), String(p.id))),
				el('td', null, link(pipeHref(p.id), p.name)),
				el('td', null, stateTag(p.state), p.error ? el('div', { class: 'error-text' }, p.error) : null),
				el('td', { class: 'num' }, p.stages_succeeded + '/' + p.stages),
				el('td', { class: 'num seed' }, num(seeds.get(p.id))),
				el('td', null, when(p.created_at)),
				el('td', { class: 'num elapsed' }, dur(elapsed(p))),
				el('td', { class: 'links' }, link(pipeHref(p.id), 'stages'), ' ',
					link('#/compare?ids=' + p.id, 'curves')))));
			if (!d.pipelines.length)
				body.appendChild(el('tr', null, el('td', { colspan: 9, class: 'empty' },
					'no pipeline yet: r1flow submit SPEC')));
		}
		await refresh();
		every(3000, refresh);
	}

	/* ---------- #/p/ID a pipeline: its stage graph, live ---------- */

	// columns by depth along deps (a stage sits right of every stage it needs)
	function layout(stages) {
		const depth = new Map();
		const byName = new Map(stages.map((s) => [s.name, s]));
		const visit = (s, seen) => {
			if (depth.has(s.name))
				return depth.get(s.name);
			if (seen.has(s.name))
				return 0;
			seen.add(s.name);
			let d = 0;
			for (const n of s.deps || [])
				if (byName.has(n))
					d = Math.max(d, visit(byName.get(n), seen) + 1);
			depth.set(s.name, d);
			return d;
		};
		stages.forEach((s) => visit(s, new Set()));
		const cols = [];
		for (const s of stages) {
			const d = depth.get(s.name);
			(cols[d] = cols[d] || []).push(s.name);
		}
		const pos = new Map();
		cols.forEach((c, x) => c.forEach((n, y) => pos.set(n, { x: x, y: y })));
		return { pos: pos, cols: cols.length, rows: Math.max(1, ...cols.map((c) => c.length)) };
	}

	function graph(id, d) {
		const NW = 190, NH = 62, GX = 44, GY = 18, P = 8;
		const stages = d.stages;
		const spec = new Map(((d.pipeline.spec || {}).stages || []).map((s) => [s.name, s]));
		const lay = layout(stages);
		const W = P * 2 + lay.cols * NW + (lay.cols - 1) * GX, H = P * 2 + lay.rows * NH + (lay.rows - 1) * GY;
		const at = (n) => {
			const p = lay.pos.get(n);
			return { x: P + p.x * (NW + GX), y: P + p.y * (NH + GY) };
		};
		const svg = sv('svg', { id: 'stage-graph', viewBox: `0 0 ${W} ${H}`, width: W, height: H,
			role: 'img', 'aria-label': 'stages of pipeline ' + id },
		sv('defs', null, sv('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7,
			markerHeight: 7, orient: 'auto' }, sv('path', { class: 'arrowhead', d: 'M0,0 L8,4 L0,8 z' }))));
		for (const s of stages) {
			const sp = spec.get(s.name) || {};
			for (const dep of s.deps || []) {
				if (!lay.pos.has(dep))
					continue;
				const a = at(dep), b = at(s.name);
				const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2, mx = (x1 + x2) / 2;
				const kind = sp.from === dep ? 'from' : 'needs';
				svg.appendChild(sv('path', { class: 'edge edge-' + kind, 'data-from': dep, 'data-to': s.name,
					'data-kind': kind, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`,
					'marker-end': 'url(#arrow)' }, sv('title', null, dep + ' → ' + s.name + ' (' + kind + ')')));
			}
		}
		for (const s of stages) {
			const p = at(s.name);
			const frac = Math.max(0, Math.min(1, s.progress || 0));
			const prog = s.total ? s.step + '/' + s.total + ' ' + (s.unit || '') : s.state;
			const g = sv('g', { class: 'node', 'data-stage': s.name, 'data-state': s.state, 'data-kind': s.kind,
				'data-step': s.step, 'data-total': s.total, 'data-progress': frac,
				transform: `translate(${p.x},${p.y})` },
			sv('rect', { class: 'node-box', width: NW, height: NH, rx: 6 }),
			sv('text', { class: 'node-name', x: 10, y: 19 }, s.name),
			sv('text', { class: 'node-sub', x: 10, y: 35 }, s.kind + ' · ' + s.state),
			sv('rect', { class: 'bar-bg', x: 10, y: 44, width: NW - 20, height: 6, rx: 3 }),
			sv('rect', { class: 'bar', x: 10, y: 44, width: ((NW - 20) * frac).toFixed(1), height: 6, rx: 3 }),
			sv('text', { class: 'node-prog', x: NW - 10, y: 19, 'text-anchor': 'end' }, prog),
			sv('title', null, s.name + ': ' + s.state + (s.error ? ': ' + s.error : '')));
			svg.appendChild(sv('a', { href: stageHref(id, s.name), class: 'node-link' }, g));
		}
		return svg;
	}

	function stageRows(id, stages) {
		return stages.map((s) => el('tr', { 'data-stage': s.name, 'data-state': s.state },
			el('td', null, link(stageHref(id, s.name), s.name)),
			el('td', null, s.kind),
			el('td', null, stateTag(s.state)),
			el('td', { class: 'progress' }, el('progress', { max: s.total || 1, value: s.step || 0 }),
				' ', el('span', { class: 'progress-text' }, s.total ? s.step + '/' + s.total + ' ' + (s.unit || '') : '')),
			el('td', { class: 'metric' }, s.metric ? s.metric.name + ' ' + num(s.metric.value) +
				(s.metric.step !== undefined ? ' @ ' + s.metric.step : '') : '—'),
			el('td', { class: 'num' }, s.rate ? num(s.rate) + '/s' : '—'),
			el('td', { class: 'num' }, s.eta_s !== null && s.eta_s !== undefined ? dur(s.eta_s * 1000) : '—'),
			el('td', { class: 'num' }, dur(elapsed(s))),
			el('td', { class: 'error-text' }, s.error || '')));
	}

	async function pipelinePage(gen, id) {
		main.dataset.page = 'pipeline';
		main.dataset.pipeline = id;
		const title = el('h1', null, 'Pipeline ' + id);
		const info = el('dl', { id: 'pipeline-info', class: 'info' });
		const graphBox = el('div', { id: 'graph', class: 'graph' });
		const body = el('tbody');
		const events = el('ol', { id: 'events', reversed: true });
		main.append(title, info, section('graph-section', 'Stages', graphBox,
			el('table', { id: 'stages', class: 'grid' }, el('thead', null, el('tr', null,
				['stage', 'kind', 'state', 'progress', 'metric', 'rate', 'eta', 'elapsed', 'error']
					.map((t) => el('th', null, t)))), body)),
		section('events-section', 'Events (live)', events),
		el('p', null, link('#/', '← pipelines'), ' · ', link('#/compare?ids=' + id, 'curves')));
		let updates = 0;
		let state = null;
		async function refresh() {
			const d = await api('pipeline', { id: id });
			if (gen !== page.gen)
				return;
			const p = d.pipeline;
			state = p.state;
			title.textContent = 'Pipeline ' + id + ' · ' + p.name;
			fill(info, 
				el('dt', null, 'state'), el('dd', { id: 'pipeline-state', 'data-state': p.state }, stateTag(p.state)),
				el('dt', null, 'seed'), el('dd', { id: 'pipeline-seed' }, num(p.seed)),
				el('dt', null, 'created'), el('dd', null, when(p.created_at)),
				el('dt', null, 'elapsed'), el('dd', { id: 'pipeline-elapsed' }, dur(elapsed(p))),
				el('dt', null, 'workers'), el('dd', null, link('#/workers', num(d.workers))),
				p.error ? [el('dt', null, 'error'), el('dd', { class: 'error-text' }, p.error)] : null);
			graphBox.replaceChildren(graph(id, d));
			body.replaceChildren(...stageRows(id, d.stages));
			main.dataset.updates = ++updates;
		}
		await refresh();
		// the stored events first (the logs op), then the stream's as they come
		const addEvent = (ev, source) => {
			events.prepend(el('li', { 'data-type': ev.type || '', 'data-source': source },
				when(ev.ts || Date.now()) + ' ', el('b', null, ev.type || 'event'), ev.stage ? ' ' + ev.stage : '',
				ev.error ? ': ' + ev.error : ''));
			while (events.children.length > 50)
				events.lastChild.remove();
		};
		const past = await api('logs', { id: id, limit: 1000 });
		if (gen !== page.gen)
			return;
		past.events.slice(-50).forEach((e) => addEvent(Object.assign({}, e.data || {}, e), 'log'));
		// events say when a stage starts or ends; steps in between come from the timer
		let pending = null;
		const es = new EventSource('/api/events?pipeline=' + id);
		page.sources.push(es);
		es.onopen = () => { main.dataset.stream = 'open'; };
		es.onerror = () => { main.dataset.stream = 'retrying'; };
		es.onmessage = (m) => {
			let ev;
			try {
				ev = JSON.parse(m.data);
			} catch (e) {
				return;
			}
			if (ev.pipeline !== undefined && ev.pipeline !== null && Number(ev.pipeline) !== id)
				return;
			addEvent(ev, 'stream');
			main.dataset.events = (Number(main.dataset.events) || 0) + 1;
			if (!pending)
				pending = setTimeout(async () => {
					pending = null;
					try {
						await refresh();
					} catch (e) {
						setConn('error', e.message);
					}
				}, 150);
		};
		every(2000, async () => {
			if (!TERMINAL.has(state))
				await refresh();
		});
	}

	/* ---------- #/p/ID/s/NAME a stage: curves, eval table, samples ---------- */

	async function stagePage(gen, id, name, q) {
		main.dataset.page = 'stage';
		main.dataset.pipeline = id;
		main.dataset.stage = name;
		const info = el('dl', { id: 'stage-info', class: 'info' });
		const charts = el('div', { id: 'charts', class: 'charts' });
		const evals = el('div', { id: 'evals' });
		main.append(el('h1', null, 'Stage ' + name),
			el('p', { class: 'crumbs' }, link('#/', 'pipelines'), ' / ', link(pipeHref(id), 'pipeline ' + id),
				' / ' + name),
			info, section('metrics', 'Metrics', charts), section('eval', 'Evaluation', evals));
		let stage = null;
		let steps = [];
		async function refresh() {
			const [d, m] = await Promise.all([api('pipeline', { id: id }), api('metrics', { id: id, stage: name })]);
			if (gen !== page.gen)
				return;
			stage = d.stages.find((s) => s.name === name);
			if (!stage)
				throw new Error('pipeline ' + id + ' has no stage \'' + name + '\'');
			fill(info, 
				el('dt', null, 'kind'), el('dd', null, stage.kind),
				el('dt', null, 'state'), el('dd', { id: 'stage-state', 'data-state': stage.state }, stateTag(stage.state)),
				el('dt', null, 'progress'), el('dd', { id: 'stage-progress', 'data-step': stage.step, 'data-total': stage.total },
					stage.total ? stage.step + '/' + stage.total + ' ' + (stage.unit || '') : '—'),
				el('dt', null, 'metric'), el('dd', null, stage.metric ? stage.metric.name + ' ' + num(stage.metric.value) : '—'),
				el('dt', null, 'elapsed'), el('dd', null, dur(elapsed(stage))),
				stage.error ? [el('dt', null, 'error'), el('dd', { class: 'error-text' }, stage.error)] : null);
			const ms = (m.stages.find((s) => s.name === name) || { metrics: {} }).metrics;
			const names = Object.keys(ms).sort(byRank);
			// one point each (an eval, a merge): a table says it better than charts of a dot
			if (names.length && names.every((n) => ms[n].length === 1))
				charts.replaceChildren(el('table', { id: 'metric-table', class: 'grid' },
					el('thead', null, el('tr', null, ['metric', 'value', 'step'].map((t) => el('th', null, t)))),
					el('tbody', null, names.map((n) => el('tr', { 'data-metric': n, 'data-steps': 1 },
						el('th', null, n), el('td', { class: 'num' }, num(ms[n][0][1])),
						el('td', { class: 'num' }, String(ms[n][0][0])))))));
			else
				charts.replaceChildren(...names.map((n) => chart(n, [{ label: '', points: ms[n] }],
					{ 'data-metric': n })));
			if (!names.length)
				charts.appendChild(el('p', { class: 'empty' }, 'no metrics recorded (yet)'));
			const all = new Set();
			names.forEach((n) => ms[n].forEach((p) => all.add(p[0])));
			steps = [...all].sort((a, b) => a - b);
			main.dataset.updates = (Number(main.dataset.updates) || 0) + 1;
		}
		async function refreshEvals() {
			const r = await api('report', { id: id });
			if (gen !== page.gen)
				return;
			const rows = r.rows.filter((x) => x.stage === name || x.from === name);
			evals.replaceChildren(evalTable(rows, { id: 'eval-table' }));
		}
		await Promise.all([refresh(), refreshEvals()]);
		if (stage.kind === 'grpo' || stage.kind === 'eval') {
			const sb = samplesBrowser(gen, id, stage, () => steps, q);
			main.appendChild(section('samples', 'Samples', sb.box));
			await sb.load(q.has('step') ? Number(q.get('step')) : null);
		}
		every(3000, async () => {
			if (!TERMINAL.has(stage.state)) {
				await refresh();
				await refreshEvals();
			}
		});
	}

	// the samples of one step, fetched whole (the samples op has no offset), shown a page at a time
	function samplesBrowser(gen, id, stage, getSteps, q) {
		const isEval = stage.kind === 'eval';
		const stepSel = el('select', { id: 'sample-step', 'aria-label': 'step' });
		const sizeSel = el('select', { id: 'samples-page-size', 'aria-label': 'samples per page' },
			[10, 20, 50, 100].map((n) => el('option', { value: n, selected: n === 20 }, n + ' per page')));
		const prev = el('button', { id: 'samples-prev', type: 'button' }, '← prev');
		const next = el('button', { id: 'samples-next', type: 'button' }, 'next →');
		const range = el('span', { id: 'samples-range' });
		const list = el('div', { id: 'samples-list' });
		const note = el('p', { id: 'samples-note', class: 'empty' });
		const box = el('div', { class: 'samples' }, el('div', { class: 'controls' },
			el('label', null, 'step ', stepSel), ' ', prev, ' ', range, ' ', next, ' ', sizeSel), note, list);
		let samples = [], offset = Number(q.get('offset')) || 0, step = null;

		function fillSteps() {
			const steps = isEval ? [0, 1] : getSteps();
			const keep = step;
			stepSel.replaceChildren(...steps.slice().reverse().map((s) => el('option', { value: s, selected: s === keep },
				isEval ? s + (s === 0 ? ' (greedy)' : ' (sampled)') : 'step ' + s)));
			if (keep !== null && !steps.includes(keep))
				stepSel.prepend(el('option', { value: keep, selected: true }, 'step ' + keep));
		}
		function show() {
			const size = Number(sizeSel.value);
			offset = Math.max(0, Math.min(offset, Math.max(0, samples.length - 1)));
			offset -= offset % size;
			const page_ = samples.slice(offset, offset + size);
			range.textContent = samples.length ? (offset + 1) + '–' + (offset + page_.length) + ' of ' + samples.length : '0 of 0';
			range.dataset.offset = offset;
			range.dataset.count = samples.length;
			prev.disabled = offset === 0;
			next.disabled = offset + size >= samples.length;
			list.replaceChildren(...page_.map(sampleView));
			if (!samples.length)
				list.appendChild(el('p', { class: 'empty' }, step === null || step < 0 ?
					'no samples yet' : 'no samples at step ' + step));
			list.dataset.step = step;
			list.dataset.offset = offset;
			list.dataset.shown = page_.length;
		}
		async function load(want) {
			let d, cut = false;
			try {
				d = await api('samples', { id: id, stage: stage.name, step: want, limit: 100000 });
			} catch (e) {
				// a step whose samples do not fit one reply (4 MiB): its first 1000
				d = await api('samples', { id: id, stage: stage.name, step: want, limit: 1000 });
				cut = true;
			}
			if (gen !== page.gen)
				return;
			note.textContent = cut ? 'the first ' + d.samples.length + ' samples of this step (all of them ' +
				'do not fit one reply)' : '';
			samples = d.samples;
			step = d.step >= 0 ? d.step : null; // -1: the stage has none yet
			fillSteps();
			show();
		}
		stepSel.addEventListener('change', () => {
			offset = 0;
			load(Number(stepSel.value)).catch(showError);
		});
		sizeSel.addEventListener('change', show);
		prev.addEventListener('click', () => { offset -= Number(sizeSel.value); show(); });
		next.addEventListener('click', () => { offset += Number(sizeSel.value); show(); });
		stepSel.addEventListener('focus', fillSteps);
		return { box: box, load: load };
	}

	function sampleView(s) {
		const rewards = s.rewards || {};
		const comps = Object.keys(rewards).filter((k) => k !== 'total').sort();
		const field = (cls, label, text) => text === undefined || text === null ? null :
			el('div', { class: 'field' }, el('div', { class: 'label' }, label), el('pre', { class: cls }, text));
		return el('article', { class: 'sample', 'data-idx': s.idx, 'data-step': s.step, 'data-record': s.record },
			el('header', null,
				el('b', null, '#' + s.idx), ' step ' + s.step + ' · record ' + s.record,
				s.dataset ? ' · dataset ' + s.dataset : '',
				' · ', el('span', { class: 'finish', 'data-finish': s.finish }, s.finish),
				' · ' + s.tokens + ' tokens',
				s.correct !== undefined ? [' · ', el('span', { class: 'correct', 'data-correct': s.correct },
					s.correct ? 'right' : 'wrong')] : null,
				s.advantage !== undefined ? [' · advantage ', el('span', { class: 'advantage' },
					(s.advantage > 0 ? '+' : '') + num(s.advantage))] : null),
			el('dl', { class: 'rewards' },
				el('dt', null, 'reward'), el('dd', { class: 'reward', 'data-name': 'total' }, num(rewards.total)),
				comps.map((k) => [el('dt', null, k), el('dd', { class: 'reward', 'data-name': k }, num(rewards[k]))])),
			field('prompt', 'prompt', s.prompt),
			field('answer', 'answer', s.answer),
			field('completion', 'completion', s.text));
	}

	/* ---------- #/workers ---------- */

	async function workersPage(gen) {
		main.dataset.page = 'workers';
		document.getElementById('nav-workers').classList.add('here');
		const summary = el('dl', { id: 'daemon-status', class: 'info' });
		const body = el('tbody');
		main.append(el('h1', null, 'Workers'), summary,
			el('table', { id: 'workers', class: 'grid' }, el('thead', null, el('tr', null,
				['name', 'host', 'pid', 'threads', 'slots', 'kinds', 'jobs', 'state', 'last heartbeat',
					'connected', 'strikes', 'quarantined'].map((t) => el('th', t === 'threads' ?
					{ title: 'compute threads, as the worker announced them (— when it did not)' } : null, t)))), body));
		async function refresh() {
			const [w, st] = await Promise.all([api('workers'), api('status')]);
			if (gen !== page.gen)
				return;
			fill(summary, 
				el('dt', null, 'live'), el('dd', { id: 'workers-live' }, String(st.workers)),
				el('dt', null, 'jobs'), el('dd', null, ['queued', 'leased', 'done', 'failed']
					.map((k) => k + ' ' + num(st.jobs[k])).join(' · ')),
				el('dt', null, 'daemon up'), el('dd', null, dur(st.uptime_ms)));
			body.replaceChildren(...w.workers.map((x) => el('tr', { 'data-worker': x.name, 'data-state': x.state },
				el('td', null, x.name), el('td', null, x.host), el('td', { class: 'num' }, String(x.pid)),
				el('td', { class: 'num threads' }, num(x.threads)),
				el('td', { class: 'num' }, num(x.slots)),
				el('td', null, (x.kinds || []).join(' ')),
				el('td', { class: 'jobs', 'data-jobs': (x.jobs || []).length },
					(x.jobs || []).length ? (x.jobs.length + ': ' + x.jobs.slice(0, 8).join(' ') +
						(x.jobs.length > 8 ? ' …' : '')) : '0'),
				el('td', null, stateTag(x.state)),
				el('td', { class: 'num heartbeat', 'data-ms': x.silent_ms }, dur(x.silent_ms) + ' ago'),
				el('td', { class: 'num' }, dur(x.connected_ms)),
				el('td', { class: 'num' }, num(x.strikes)),
				el('td', { class: 'quarantined', 'data-quarantined': x.state === 'quarantined' },
					x.state === 'quarantined' ? (x.quarantined || 'yes') : 'no'))));
			if (!w.workers.length)
				body.appendChild(el('tr', null, el('td', { colspan: 12, class: 'empty' }, 'no live worker')));
		}
		await refresh();
		every(2000, refresh);
	}

	/* ---------- #/compare?ids=1,2&metric=STAGE/NAME ---------- */

	async function comparePage(gen, q) {
		main.dataset.page = 'compare';
		document.getElementById('nav-compare').classList.add('here');
		const ids = (q.get('ids') || '').split(',').filter((x) => /^\d+$/.test(x)).map(Number);
		const idsIn = el('input', { id: 'compare-ids', type: 'text', value: ids.join(','), size: 20,
			placeholder: '1,2,3', 'aria-label': 'pipeline ids' });
		const form = el('form', { class: 'controls', onsubmit: (ev) => {
			ev.preventDefault();
			location.hash = '#/compare?ids=' + idsIn.value.replace(/[^0-9,]/g, '');
		} }, el('label', null, 'pipelines ', idsIn), ' ', el('button', { type: 'submit', id: 'compare-go' }, 'compare'));
		main.append(el('h1', null, 'Compare'), form);
		if (ids.length < 1) {
			main.appendChild(el('p', null, 'Give two or more pipeline ids, or tick them on ', link('#/', 'the pipelines page'), '.'));
			return;
		}
		const runs = await Promise.all(ids.map(async (id) => {
			const [p, m, r] = await Promise.all([api('pipeline', { id: id }), api('metrics', { id: id }), api('report', { id: id })]);
			const curves = new Map();
			for (const s of m.stages)
				for (const n in s.metrics)
					curves.set(s.name + '/' + n, s.metrics[n]);
			return { id: id, name: p.pipeline.name, state: p.pipeline.state, order: p.stages.map((s) => s.name),
				curves: curves, rows: r.rows };
		}));
		if (gen !== page.gen)
			return;
		const order = [];
		runs.forEach((r) => r.order.forEach((s) => { if (!order.includes(s)) order.push(s); }));
		const keys = [...new Set(runs.flatMap((r) => [...r.curves.keys()]))].sort((a, b) => {
			const [sa, ma] = a.split('/'), [sb, mb] = b.split('/');
			return order.indexOf(sa) - order.indexOf(sb) || byRank(ma, mb);
		});
		const shared = (k) => runs.filter((r) => r.curves.has(k)).length;
		let metric = q.get('metric');
		if (!keys.includes(metric)) {
			const best = Math.max(0, ...keys.map(shared));
			metric = keys.find((k) => shared(k) === best && /\/reward_mean$/.test(k)) ||
				keys.find((k) => shared(k) === best) || null;
		}
		const sel = el('select', { id: 'compare-metric', 'aria-label': 'metric' },
			keys.map((k) => el('option', { value: k, selected: k === metric }, k + ' (' + shared(k) + ' of ' + runs.length + ')')));
		const chartBox = el('div', { id: 'compare-chart-box' });
		const finals = el('tbody');
		main.append(el('p', { class: 'controls' }, el('label', null, 'metric ', sel)), chartBox,
			el('table', { id: 'compare-final', class: 'grid' }, el('thead', null, el('tr', null,
				['pipeline', 'name', 'state', 'steps', 'last value'].map((t) => el('th', null, t)))), finals),
			section('compare-evals-section', 'Eval tables', el('div', { id: 'compare-evals', class: 'side' },
				runs.map((r) => el('div', { class: 'eval-col', 'data-pipeline': r.id },
					el('h3', null, link(pipeHref(r.id), '#' + r.id + ' ' + r.name)),
					evalTable(r.rows, { 'data-pipeline': r.id }))))));
		function draw() {
			chartBox.replaceChildren(metric ? chart(metric, runs.map((r) => ({ label: '#' + r.id + ' ' + r.name,
				points: r.curves.get(metric) || [] })), { id: 'compare-chart', 'data-metric': metric, class: 'chart wide' }, [760, 320])
				: el('p', { class: 'empty' }, 'these pipelines have no metrics'));
			finals.replaceChildren(...runs.map((r) => {
				const pts = r.curves.get(metric) || [];
				const last = pts[pts.length - 1];
				return el('tr', { 'data-pipeline': r.id }, el('td', null, link(pipeHref(r.id), String(r.id))),
					el('td', null, r.name), el('td', null, stateTag(r.state)), el('td', { class: 'num' }, String(pts.length)),
					el('td', { class: 'num' }, last ? num(last[1]) + ' @ ' + last[0] : '—'));
			}));
		}
		sel.addEventListener('change', () => {
			metric = sel.value;
			history.replaceState(null, '', '#/compare?ids=' + ids.join(',') + '&metric=' + encodeURIComponent(metric));
			draw();
		});
		draw();
	}

	window.addEventListener('hashchange', route);
	route();
})();
