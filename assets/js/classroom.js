// js_on_load of the class bar (a gr.HTML made by core/teacher.py): Gradio runs this body with `element`,
// `trigger`, `props` and `server` in scope. The page asks the server what changed (`server.class_wait`, an
// async long-poll outside Gradio's queue: a waiting page costs the server nothing) and shows it: the class code,
// this page's nickname, the pause cover, the question; on the teacher's page the projector panel. A following
// student page opens what the teacher sent through the custom event of that tab (FOLLOW_EVENTS, put in front
// of this text by core/teacher.py): one Gradio event per push, none while nothing changes.
// Only numbers and choices go to the server: a seat token, the chosen answer, the follow switch, and the numbers a
// lesson reports (a 'dlclass-report' window event: {tab, numbers}; sent at most every 2 s per lesson, and only while
// a class runs and this page has a seat). On the teacher's page: the QR code of the address, the lessons' results,
// the students with an answer or a result (one of them can be put on the projector), and the lessons' own
// figures redrawn when new results arrive (their button "class-gather-<tab>").
const lang = (document.documentElement.lang || navigator.language || 'ko').toLowerCase().startsWith('en') ? 'en' : 'ko';
const words = props.words[lang];
const part = role => element.querySelector(`[data-role="${role}"]`);
element.querySelectorAll('[data-word]').forEach(node => { node.textContent = words[node.dataset.word]; });
const follow = element.querySelector('#class-follow');
const state = { seat: null, known: null, applied: 0, generation: 0, view: null, qrFor: null, gathered: {} };
const REPORT_EVERY_MS = 2000;  // a lesson's numbers go to the class at most this often
const KEEP_FRESH_MS = 5000;  // unchanged numbers are sent again this often (the server forgets them after 10 s)
const TEACHER_EVERY_MS = 500;  // the teacher's page asks at most this often (30 cameras report every 2 s)
const reports = new Map();  // tab: { numbers, key, sentKey, sentAt, timer }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const show = (node, on, how = 'flex') => { node.style.display = on ? how : 'none'; };

function applyPush(view) {
  const push = view.push;
  if (!view.running || !push || view.teacher || !follow.checked || push.n === state.applied) return;
  const name = FOLLOW_EVENTS[push.tab];
  if (!name) return;
  state.applied = push.n;
  element.dataset.applied = String(push.n);
  trigger(name, { seat: state.seat });  // the server gives this seat its own value of a spread setting
}

// ---------------------------------------------------------------- a lesson's numbers to the class

function queueReport(tab, numbers) {
  const view = state.view;
  if (!view || !view.running || view.teacher || !state.seat || typeof tab !== 'string') return;
  const report = reports.get(tab) || { sentKey: null, sentAt: 0, timer: null };
  reports.set(tab, report);
  report.numbers = numbers;
  report.key = JSON.stringify(numbers);
  if (report.timer) return;
  report.timer = setTimeout(() => sendReport(tab, report), Math.max(0, report.sentAt + REPORT_EVERY_MS - Date.now()));
}

async function sendReport(tab, report) {
  report.timer = null;
  if (report.key === report.sentKey && Date.now() - report.sentAt < KEEP_FRESH_MS) return;
  if (!state.view || !state.view.running || !state.seat) return;
  report.sentKey = report.key;
  report.sentAt = Date.now();
  try { await server.class_report({ seat: state.seat, tab, numbers: report.numbers }); } catch (error) { /* next one */ }
}

window.addEventListener('dlclass-report', event => {
  const detail = event.detail || {};
  queueReport(detail.tab, detail.numbers);
});

// ---------------------------------------------------------------- the teacher's projector

async function showQr(view) {
  const address = window.location.origin + window.location.pathname;
  if (!view.teacher || !view.running || state.qrFor === address) return;
  state.qrFor = address;
  try {
    const answer = await server.class_qr({ teacher: window.dlclassTeacher || null, address, lang });
    part('qr').innerHTML = answer && answer.ok ? answer.svg : '';  // an SVG made on the server from the address
  } catch (error) { state.qrFor = null; }
}

function bars(rows, box) {
  const most = Math.max(1, ...rows.map(row => Number(row[1]) || 0));
  rows.forEach(([label, number, shown]) => {
    const row = document.createElement('div');
    row.className = 'class-hist-row';
    row.innerHTML = '<span class="label"></span><span class="bar"></span><b class="n"></b>';
    row.querySelector('.label').textContent = label;
    row.querySelector('.bar').style.width = `${(Number(number) || 0) / most * 60}%`;
    row.querySelector('.n').textContent = shown ?? String(number);
    box.appendChild(row);
  });
}

function results(view) {
  const box = part('results');
  box.replaceChildren();
  Object.entries(view.results || {}).forEach(([tab, result]) => {
    const panel = document.createElement('div');
    panel.id = `class-results-${tab}`;
    panel.dataset.pages = String(result.pages);
    const title = document.createElement('div');
    title.className = 'class-big';
    title.textContent = result.title;
    panel.appendChild(title);
    bars(result.rows || [], panel);
    box.appendChild(panel);
    if (state.gathered[tab] !== result.n) {  // new results: the lesson's own figures are drawn again
      const button = document.getElementById(`class-gather-${tab}`);
      if (button) { state.gathered[tab] = result.n; button.click(); }
    }
  });
}

async function spotlight(seat) {
  const anonymous = element.querySelector('#class-anonymous').checked;
  await server.class_spotlight({ teacher: window.dlclassTeacher || null, seat, anonymous, lang });
}

function roster(view) {
  const box = part('roster');
  box.replaceChildren();
  (view.roster || []).forEach(student => {
    const row = document.createElement('div');
    row.className = 'class-roster-row';
    row.innerHTML = '<span></span><button type="button" class="class-choice"></button>';
    row.querySelector('span').textContent = student.nickname;
    const button = row.querySelector('button');
    button.id = `class-show-${student.id}`;
    button.textContent = words.show;
    button.addEventListener('click', () => spotlight(student.id));
    box.appendChild(row);
  });
  const shown = view.shown, panel = part('shown');
  show(panel, Boolean(shown), 'block');
  panel.replaceChildren();
  if (!shown) return;
  const name = document.createElement('div');
  name.className = 'class-big';
  name.textContent = shown.name;
  panel.appendChild(name);
  shown.rows.forEach(([label, value]) => {
    const line = document.createElement('div');
    line.className = 'class-hist-row';
    line.innerHTML = '<span class="label"></span><b></b>';
    line.querySelector('.label').textContent = label;
    line.querySelector('b').textContent = value;
    panel.appendChild(line);
  });
  const hide = document.createElement('button');
  hide.type = 'button';
  hide.id = 'class-hide';
  hide.className = 'class-choice';
  hide.textContent = words.hide;
  hide.addEventListener('click', () => spotlight(null));
  panel.appendChild(hide);
}

// Parts of a lesson meant for the teacher's page only (elem_classes "class-teacher-only") stay hidden elsewhere.
const teacherOnly = document.createElement('style');
teacherOnly.textContent = 'html:not(.dlclass-teacher) .class-teacher-only { display: none !important; }';
document.head.appendChild(teacherOnly);

function choiceButtons(question, box, answerable) {
  box.replaceChildren();
  question.choices.forEach((choice, index) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'class-choice';
    button.id = `class-choice-${index}`;
    button.textContent = choice;
    if (question.mine === index) button.classList.add('mine');
    if (question.answer === index) button.classList.add('right');
    button.disabled = !answerable || question.answer !== null;
    button.addEventListener('click', async () => {
      const ok = await server.class_answer({ seat: state.seat, n: question.n, choice: index });
      if (ok) { box.querySelectorAll('.mine').forEach(b => b.classList.remove('mine')); button.classList.add('mine'); }
    });
    box.appendChild(button);
  });
}

function histogram(view, box) {
  box.replaceChildren();
  const counts = view.histogram || [];
  const most = Math.max(1, ...counts);
  view.question.choices.forEach((choice, index) => {
    const row = document.createElement('div');
    row.className = 'class-hist-row' + (view.question.answer === index ? ' right' : '');
    row.innerHTML = '<span class="label"></span><span class="bar"></span><b class="n"></b>';
    row.querySelector('.label').textContent = choice;
    row.querySelector('.bar').style.width = `${(counts[index] || 0) / most * 60}%`;
    const n = row.querySelector('.n');
    n.id = `class-hist-${index}`;
    n.textContent = String(counts[index] || 0);
    box.appendChild(row);
  });
}

function render(view) {
  element.dataset.running = String(view.running);
  window.dlclassSeat = view.running && !view.teacher ? view.seat : null;
  document.documentElement.classList.toggle('dlclass-teacher', Boolean(view.teacher && view.running));
  show(part('bar'), view.running && !view.teacher);
  show(part('projector'), view.running && view.teacher, 'block');
  show(element.querySelector('#class-paused'), view.running && view.paused);
  part('code').textContent = view.code || '';
  part('big-code').textContent = view.code || '';
  part('address').textContent = window.location.origin + window.location.pathname;
  element.querySelector('#class-nickname').textContent = view.nickname || '';
  element.querySelector('#class-count').textContent = String(view.count || 0);
  part('following').textContent = String(view.following || 0);
  if (view.teacher && view.running) { showQr(view); results(view); roster(view); }
  const question = view.question;
  show(part('question'), Boolean(question) && view.running && !view.teacher);
  show(part('poll'), Boolean(question) && view.teacher, 'block');
  if (!question) return;
  part(view.teacher ? 'poll-text' : 'question-text').textContent = question.text;
  if (view.teacher) histogram(view, part('histogram'));
  else choiceButtons(question, part('choices'), Boolean(state.seat));
}

async function loop(generation) {
  while (generation === state.generation && element.isConnected) {
    const asked = Date.now();
    try {
      const view = await server.class_wait({ seat: state.seat, known: state.known, lang, follow: follow.checked,
                                             teacher: window.dlclassTeacher || null });
      if (generation !== state.generation) return;
      state.seat = view.seat;
      // a class began and this page has no seat yet: ask again at once (that request takes a seat)
      state.known = view.running && !view.seat && !view.teacher ? null : view.v;
      state.view = view;
      render(view);
      applyPush(view);
      if (view.teacher) await sleep(Math.max(0, TEACHER_EVERY_MS - (Date.now() - asked)));
    } catch (error) {
      await sleep(3000);  // the server restarted or the network dropped: ask again shortly
    }
  }
}

function restart() {
  state.generation += 1;
  state.known = null;
  loop(state.generation);
}

window.addEventListener('dlclass-teacher', restart);
follow.addEventListener('change', () => {
  if (follow.checked) state.applied = 0;  // rejoining: open what the teacher sent last
  restart();
});
restart();
