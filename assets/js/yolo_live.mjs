// The live YOLO view of the webcam tab, running inside the student's browser: the camera picture is
// detected here and never sent anywhere.
//
// Start: check WebAssembly SIMD -> ask the server where onnxruntime-web and the detector's ONNX file are
// (it exports the file on first use) -> load the library (WebGPU when the browser gives an adapter, else
// WASM SIMD in a worker) and the model -> open the camera -> loop: mirrored frame -> letterbox -> network
// -> candidates, NMS, ByteTrack (yolo_steps.mjs, the server's tracker) -> boxes drawn on a canvas over the
// mirrored video.
// When the library or the model cannot be loaded, or SIMD is missing, the page says so and hands over to
// the server path (the tab's Gradio webcam stream).
//
// The tab's controls reach the running detector through window.dlclassYoloSettings (written by the
// controls' browser-side listeners in lessons/yolo_detect/tab.py), read again for every frame.
// Tests read window.__dlclassYoloDebug: the last frame's pixels and what was found in it.
// In a class, the counts per class (numbers only, never a picture) go to the class bar (assets/js/classroom.js)
// as a 'dlclass-report' window event; the bar decides whether and when to send them (at most every 2 s).

// The steps module with this module's own version query, so one app update never mixes two versions.
const { letterbox, detect, ByteTracker } = await import(
  new URL(`./yolo_steps.mjs${new URL(import.meta.url).search}`, import.meta.url).href);

// The smallest module using a SIMD instruction (the wasm-feature-detect probe): valid only with SIMD.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10,
  1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
const STATS_EVERY_MS = 300;

// Kept for the life of the page, across Stop and Start and across a view that Gradio draws again: the
// library (one import), the server's answer per model (where its files are) and one InferenceSession per
// model file. A second Start downloads nothing and compiles nothing: the school Wi-Fi carries the runtime
// (about 3.7 MB gzipped) and the compact model (about 3 MB) once per student, not once per Start.
const kept = { runtime: null, files: new Map(), sessions: new Map() };
export const keptForTests = kept;

export function hasWasmSimd() {
  try { return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE); } catch { return false; }
}

// The page's language, as Gradio set it on <html lang> (it follows the browser and the settings menu).
function pageLang() {
  return (document.documentElement.lang || navigator.language || 'ko').toLowerCase().startsWith('en') ? 'en' : 'ko';
}

// A bright colour per class or track number: the same golden-ratio hues as the server's color_for.
function colorFor(index) {
  const h = (index * 0.618033988749895) % 1, s = 0.85, v = 1;
  const i = Math.floor(h * 6), f = h * 6 - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6];
  return `rgb(${Math.round(r * 255)}, ${Math.round(g * 255)}, ${Math.round(b * 255)})`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? params[key] : whole));
}

const nextFrame = () => new Promise(resolve => requestAnimationFrame(() => resolve()));
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

class LiveView {
  constructor({ element, props, trigger, server, fileUrl }) {
    this.element = element;
    this.props = props;
    this.trigger = trigger;
    this.server = server;
    this.fileUrl = fileUrl;
    this.role = name => element.querySelector(`[data-role="${name}"]`);
    this.video = this.role('video');
    this.overlay = this.role('overlay');
    this.frameCanvas = document.createElement('canvas');
    this.running = false;
    this.runtime = null;  // {ort, backend}
    this.session = null;
    this.loadedModel = null;
    this.switching = null;
    this.tracker = null;  // a ByteTracker while tracking is on; a new one for each start, model and switch-on
    this.timings = null;
    this.fps = null;
    this.lastFrameAt = null;
    this.lastStatsAt = 0;
    this.latest = null;
    this.lang = pageLang();
    this.statusKey = null;
    this.statusParams = {};
    this.role('start').addEventListener('click', () => this.start());
    this.role('stop').addEventListener('click', () => this.stop());
    this.role('snapshot').addEventListener('click', () => this.snapshot());
    this.sayWords();
    this.role('start').disabled = false;  // disabled in the template until this code listens
  }

  word(key, params = {}) {
    const words = this.props.words[this.lang] || this.props.words.ko;
    return fill(words[key] ?? key, params);
  }

  sayWords() {
    this.lang = pageLang();
    this.element.querySelectorAll('[data-word]').forEach(node => { node.textContent = this.word(node.dataset.word); });
    if (this.statusKey) this.role('status').textContent = this.word(this.statusKey, this.statusParams);
  }

  status(key, params = {}) {
    this.statusKey = key;
    this.statusParams = params;
    this.role('status').textContent = key ? this.word(key, params) : '';
  }

  settings() {
    const d = this.props.defaults, s = Object.assign({}, d, window.dlclassYoloSettings || {});
    const names = this.props.names.en;
    let allowed = null;
    if (Array.isArray(s.classes) && s.classes.length !== names.length) {
      allowed = new Uint8Array(names.length);
      s.classes.forEach(name => { const i = names.indexOf(name); if (i >= 0) allowed[i] = 1; });
    }
    const number = (v, lo, hi, fallback) => (Number.isFinite(Number(v)) ? Math.min(hi, Math.max(lo, Number(v))) : fallback);
    return {
      model: this.props.models.includes(s.model) ? s.model : d.model,
      conf: number(s.conf, 0.01, 0.99, d.conf),
      iou: number(s.iou, 0.05, 0.95, d.iou),
      imgsz: Math.round(number(s.imgsz, 128, 1280, d.imgsz) / 32) * 32,
      allowed,
      track: s.track !== false,
    };
  }

  // ---------------------------------------------------------------- loading

  async files(model) {
    if (kept.files.has(model)) return kept.files.get(model);
    const answer = await this.server.browser_files({ model, lang: this.lang });
    if (!answer || !answer.ok) {
      const message = answer && answer.message ? String(answer.message) : 'no answer';
      const error = new Error(message);
      error.reason = (answer && answer.reason) || 'library';
      throw error;
    }
    kept.files.set(model, answer);  // only a good answer is kept: a failure is asked again next Start
    return answer;
  }

  // The library, imported once per page (a failed import is tried again on the next Start).
  async runtimeOnce(ortDir) {
    if (!kept.runtime) kept.runtime = this.loadRuntime(ortDir).catch(error => { kept.runtime = null; throw error; });
    return kept.runtime;
  }

  // The session of a model file, created once per page; a failed load is forgotten (tried again later).
  async sessionOnce(modelFile) {
    if (!kept.sessions.has(modelFile)) {
      kept.sessions.set(modelFile, this.loadSession(modelFile).catch(error => {
        kept.sessions.delete(modelFile);
        throw error;
      }));
    }
    return kept.sessions.get(modelFile);
  }

  async loadRuntime(ortDir) {
    let backend = 'wasm';
    if (navigator.gpu) {
      try { if (await navigator.gpu.requestAdapter()) backend = 'webgpu'; } catch { backend = 'wasm'; }
    }
    const base = this.fileUrl(ortDir).replace(/\/?$/, '/');
    const bundle = backend === 'webgpu' ? this.props.ort_bundles.webgpu : this.props.ort_bundles.wasm;
    const ort = await import(base + bundle);
    ort.env.wasm.wasmPaths = new URL(base, location.href).href;
    // Threads need a cross-origin isolated page (SharedArrayBuffer); without it ONNX Runtime runs one.
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    if (backend === 'wasm') ort.env.wasm.proxy = true;  // inference in a worker: the page stays responsive
    return { ort, backend, base };
  }

  async loadSession(modelFile) {
    const response = await fetch(this.fileUrl(modelFile));
    if (!response.ok) throw new Error(`HTTP ${response.status} for the model file`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const { ort } = this.runtime;
    try {
      return await ort.InferenceSession.create(bytes, { executionProviders: [this.runtime.backend] });
    } catch (error) {
      if (this.runtime.backend !== 'webgpu') throw error;
      // WebGPU refused this model or device: the same bundle also runs on the CPU.
      this.runtime.backend = 'wasm';
      return await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    }
  }

  async start() {
    if (this.running || this.starting) return;
    this.starting = true;
    this.role('start').disabled = true;
    try {
      if (!hasWasmSimd()) return this.fallBack('no_simd', '');
      const settings = this.settings();
      let answer;
      try {
        this.status('loading_library');
        answer = await this.files(settings.model);
        this.runtime = await this.runtimeOnce(answer.ort_dir);
      } catch (error) {
        return this.fallBack(error.reason || 'library', String(error.message || error));
      }
      try {
        this.status('loading_model', { model: settings.model });
        this.session = await this.sessionOnce(answer.model_file);
        this.loadedModel = answer.model;
      } catch (error) {
        return this.fallBack('model', String(error.message || error));
      }
      try {
        this.status('starting_camera');
        this.stream = await navigator.mediaDevices.getUserMedia({
          video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
      } catch (error) {
        this.status('camera_denied', { reason: error.name || String(error) });
        return;
      }
      this.video.srcObject = this.stream;
      await this.video.play();
      this.role('stage').hidden = false;
      this.role('stop').hidden = false;
      this.role('start').hidden = true;
      this.role('snapshot').disabled = false;
      this.role('backend').textContent = this.backendText();
      this.status(null);
      this.running = true;
      this.tracker = null;
      this.loop();
    } finally {
      this.starting = false;
      this.role('start').disabled = false;
    }
  }

  backendText() {
    return this.runtime.backend === 'webgpu'
      ? this.word('backend_webgpu') : this.word('backend_wasm', { threads: this.runtime.ort.env.wasm.numThreads });
  }

  stop() {
    if (this.running) reportCounts(null);  // the camera is off: this page no longer counts
    this.running = false;
    if (this.stream) this.stream.getTracks().forEach(track => track.stop());
    this.stream = null;
    this.video.srcObject = null;
    this.role('stage').hidden = true;
    this.role('stop').hidden = true;
    this.role('start').hidden = false;
    this.role('snapshot').disabled = true;
  }

  // The browser cannot run the detector: say why, and let the server path take over. The tab's handler
  // switches the view; the student already asked for the camera, so the server stream starts by itself.
  fallBack(reason, detail) {
    this.stop();
    this.status(`fallback_${reason}`, { detail });
    this.trigger('fallback', { reason, detail: String(detail).slice(0, 300) });
    startServerWebcam(this.props.server_webcam_id);
  }

  async switchModel(model) {
    try {
      const answer = await this.files(model);
      const session = await this.sessionOnce(answer.model_file);
      this.session = session;
      this.loadedModel = answer.model;
      this.tracker = null;  // numbers start again with the new detector
      this.role('backend').textContent = this.backendText();
    } catch (error) {
      this.fallBack('model', String(error.message || error));
    } finally {
      this.switching = null;
    }
  }

  // ---------------------------------------------------------------- the loop

  async loop() {
    while (this.running) {
      if (!this.element.isConnected) { this.stop(); break; }
      if (this.element.offsetParent === null) { await sleep(250); continue; }  // tab hidden: no work
      try {
        await this.frame();
      } catch (error) {
        console.error('[yolo live]', error);
        this.status('frame_failed', { detail: String(error.message || error) });
        await sleep(500);
      }
      await nextFrame();
    }
  }

  async frame() {
    const settings = this.settings();
    if (settings.model !== this.loadedModel && !this.switching) {
      this.switching = this.switchModel(settings.model);  // the current model keeps running meanwhile
    }
    const w = this.video.videoWidth, h = this.video.videoHeight;
    if (!w || !h || !this.session) return;
    const t0 = performance.now();
    // The mirrored picture the student sees is the picture that is detected.
    if (this.frameCanvas.width !== w || this.frameCanvas.height !== h) {
      this.frameCanvas.width = w;
      this.frameCanvas.height = h;
      this.frameContext = this.frameCanvas.getContext('2d', { willReadFrequently: true });
    }
    const ctx = this.frameContext;
    ctx.setTransform(-1, 0, 0, 1, w, 0);
    ctx.drawImage(this.video, 0, 0, w, h);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const rgba = ctx.getImageData(0, 0, w, h).data;
    const { input, shape } = letterbox(rgba, w, h, settings.imgsz);
    const t1 = performance.now();
    const { ort } = this.runtime;
    const session = this.session;
    const outputs = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, shape.inH, shape.inW]) });
    const output = outputs[session.outputNames[0]];
    const t2 = performance.now();
    const found = detect(output.data, output.dims, settings, h, w, shape.inH, shape.inW);
    const t3 = performance.now();
    if (!settings.track) this.tracker = null;
    else if (!this.tracker) this.tracker = new ByteTracker(this.props.tracker);
    const ids = this.tracker ? this.tracker.update(found.boxes, found.scores, found.classes) : null;
    const t4 = performance.now();
    const labels = this.draw(found, ids, w, h);
    const t5 = performance.now();
    this.measure({ pre: t1 - t0, infer: t2 - t1, nms: t3 - t2, track: t4 - t3, draw: t5 - t4 });
    if (this.statusKey === 'frame_failed') this.status(null);  // the problem has passed
    this.latest = { rgba, w, h, found, ids, settings, shape };
    window.__dlclassYoloDebug = {
      width: w, height: h, rgba, imgsz: settings.imgsz, conf: settings.conf, iou: settings.iou,
      input_hw: [shape.inH, shape.inW], candidates: found.candidates, model: this.loadedModel,
      backend: this.runtime.backend, frames: (window.__dlclassYoloDebug?.frames || 0) + 1,
      detections: found.boxes.map((box, k) => ({
        box, score: found.scores[k], cls: found.classes[k], id: ids ? ids[k] : null, label: labels[k] })),
    };
    if (t5 - this.lastStatsAt > STATS_EVERY_MS) {
      this.lastStatsAt = t5;
      this.showStats(found, w, h, shape);
      reportCounts(found.classes);
    }
  }

  // The boxes and their tags (class name in the page's language, confidence, track number) on the canvas;
  // returns the tags drawn.
  draw(found, ids, w, h) {
    const canvas = this.overlay;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    const line = Math.max(2, Math.round(Math.max(w, h) / 320));
    const size = Math.max(12, Math.round(Math.max(w, h) / 40));
    ctx.font = `bold ${size}px "Noto Sans KR", "Noto Sans CJK KR", "Malgun Gothic", sans-serif`;
    ctx.textBaseline = 'top';
    const names = this.props.short_names[this.lang] || this.props.short_names.en;
    return found.boxes.map((box, k) => {
      const [x1, y1, x2, y2] = box;
      const color = colorFor(ids && ids[k] ? ids[k] : found.classes[k]);
      ctx.strokeStyle = color;
      ctx.lineWidth = line;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const label = `${names[found.classes[k]]} ${found.scores[k].toFixed(2)}${ids && ids[k] ? ` #${ids[k]}` : ''}`;
      const tw = ctx.measureText(label).width + 8, th = size + 6;
      const top = y1 - th >= 0 ? y1 - th : y1;
      ctx.fillStyle = color;
      ctx.fillRect(x1, top, tw, th);
      ctx.fillStyle = '#000';
      ctx.fillText(label, x1 + 4, top + 3);
      return label;
    });
  }

  measure(stages) {
    const now = performance.now();
    if (this.lastFrameAt !== null) {
      const rate = 1000 / Math.max(now - this.lastFrameAt, 1);
      this.fps = this.fps === null ? rate : 0.8 * this.fps + 0.2 * rate;
    }
    this.lastFrameAt = now;
    if (this.timings === null) this.timings = stages;
    else for (const key in stages) this.timings[key] = 0.8 * this.timings[key] + 0.2 * stages[key];
  }

  showStats(found, w, h, shape) {
    if (pageLang() !== this.lang) this.sayWords();
    this.role('backend').textContent = this.backendText();
    const t = this.timings;
    const names = this.props.names[this.lang] || this.props.names.en;
    const counts = new Map();
    found.classes.forEach(c => counts.set(c, (counts.get(c) || 0) + 1));
    const rows = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([c, n]) => `<tr><td>${escapeHtml(names[c])}</td><td>${n}</td></tr>`).join('');
    this.role('stats').innerHTML = `
      <div class="yl-figures">
        <div><b data-stat="fps">${this.fps === null ? '–' : this.fps.toFixed(1)}</b> ${escapeHtml(this.word('fps'))}</div>
        <div data-stat="stages">${escapeHtml(this.word('stages', {
          pre: t.pre.toFixed(1), infer: t.infer.toFixed(1), nms: t.nms.toFixed(1), track: t.track.toFixed(1),
          draw: t.draw.toFixed(1) }))}</div>
        <div data-stat="nms">${escapeHtml(this.word('nms_line', {
          before: found.candidates, after: found.boxes.length, conf: this.latest?.settings.conf.toFixed(2) ?? '',
          iou: this.latest?.settings.iou.toFixed(2) ?? '' }))}</div>
        <div data-stat="input">${escapeHtml(this.word('input_line', {
          frame: `${w}x${h}`, net: `${shape.inW}x${shape.inH}`, model: this.loadedModel }))}</div>
      </div>
      <table class="yl-counts" data-stat="counts"><caption>${escapeHtml(this.word('counts'))}</caption>
        ${rows || `<tr><td colspan="2">${escapeHtml(this.word('none_found'))}</td></tr>`}</table>`;
  }

  // The current frame, as the page sees it (mirrored, full size, lossless), to the server path once:
  // it fills the "inside YOLO" pictures (grid, before and after NMS) of this very frame.
  snapshot() {
    if (!this.latest) return;
    this.trigger('snapshot', { image: this.frameCanvas.toDataURL('image/png') });
    this.status('snapshot_sent');
  }
}

// The counts per class of the last frame, for the class ({camera: 1, counts: {class number: boxes}}); null: the
// camera stopped. Only these numbers: the frame itself never leaves the page.
function reportCounts(classes) {
  const counts = {};
  (classes || []).forEach(c => { counts[String(c)] = (counts[String(c)] || 0) + 1; });
  const numbers = { camera: classes ? 1 : 0, counts };
  window.dispatchEvent(new CustomEvent('dlclass-report', { detail: { tab: 'yolo_detect', numbers } }));
}

// Adapter to Gradio 6's webcam component (gr.Image with sources=["webcam"], streaming=True): when the page
// falls back, press its "grant webcam access" button and then its record button, as the student would.
// The fallback browser test (frames must arrive from the server) fails if Gradio changes this markup.
async function startServerWebcam(elemId) {
  let accessPressed = false;
  for (let tries = 0; tries < 150; tries++) {
    const root = document.getElementById(elemId);
    if (root && root.offsetParent !== null) {
      const record = root.querySelector('button.capture-button');
      if (record) { record.click(); return true; }
      const access = root.querySelector('[title="grant webcam access"] button');
      if (access && !accessPressed) { access.click(); accessPressed = true; }
    }
    await sleep(200);
  }
  return false;
}

export function start(context) {
  return new LiveView(context);
}
