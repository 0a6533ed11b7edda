// js_on_load of the class bar (a gr.HTML made by core/teacher.py): Gradio runs this body with `element`,
// `trigger`, `props` and `server` in scope. The page asks the server what changed (`server.class_wait`, an
// async long-poll outside Gradio's queue: a waiting page costs the server nothing) and shows it: the class code,
// this page's nickname, the pause cover, the question; on the teacher's page the projector panel. A following
// student page opens what the teacher sent through the custom event of that tab (FOLLOW_EVENTS, put in front
// of this text by core/teacher.py): one Gradio event per push, none while nothing changes.
// Only numbers and choices go to the server: a seat token, the chosen answer, the follow switch.
const lang = (document.documentElement.lang || navigator.language || 'ko').toLowerCase().startsWith('en') ? 'en' : 'ko';
const words = props.words[lang];
const part = role => element.querySelector(`[data-role="${role}"]`);
element.querySelectorAll('[data-word]').forEach(node => { node.textContent = words[node.dataset.word]; });
const follow = element.querySelector('#class-follow');
const state = { seat: null, known: null, applied: 0, generation: 0, view: null };
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const show = (node, on, how = 'flex') => { node.style.display = on ? how : 'none'; };

function applyPush(view) {
  const push = view.push;
  if (!view.running || !push || view.teacher || !follow.checked || push.n === state.applied) return;
  const name = FOLLOW_EVENTS[push.tab];
  if (!name) return;
  state.applied = push.n;
  element.dataset.applied = String(push.n);
  trigger(name);
}

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
  show(part('bar'), view.running && !view.teacher);
  show(part('projector'), view.running && view.teacher, 'block');
  show(element.querySelector('#class-paused'), view.running && view.paused);
  part('code').textContent = view.code || '';
  part('big-code').textContent = view.code || '';
  part('address').textContent = window.location.origin + window.location.pathname;
  element.querySelector('#class-nickname').textContent = view.nickname || '';
  element.querySelector('#class-count').textContent = String(view.count || 0);
  part('following').textContent = String(view.following || 0);
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
