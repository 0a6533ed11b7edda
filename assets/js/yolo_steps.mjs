// The steps of YOLO around the network, as the page runs them on each webcam frame, in the order they run:
// letterbox (resize and pad like ultralytics), read the network's output (1, 4 + classes, anchors),
// keep the candidates above the confidence, non-maximum suppression per class, boxes back to frame
// pixels, and ultralytics' ByteTrack for box numbers.
//
// Every rule here is ultralytics' own (ultralytics/data/augment.py LetterBox, utils/nms.py
// non_max_suppression, utils/ops.py scale_boxes, trackers/byte_tracker.py BYTETracker) and the lesson's
// (lessons/yolo_detect/compute.py nms_with_owners), so the page finds the boxes and numbers the server finds for
// the same frames. No DOM, no library: tests import this module in the browser and compare it with the Python
// side.

// Python's round(): halves go to the even neighbour (ultralytics' padding arithmetic uses it).
export function roundHalfEven(x) {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// LetterBox(imgsz, auto=True, stride): scale the frame to fit imgsz x imgsz, then pad each side only up
// to the next multiple of the stride (the smallest rectangle), the padding split in two.
export function letterboxShape(frameH, frameW, imgsz, stride = 32) {
  const r = Math.min(imgsz / frameH, imgsz / frameW);
  const newW = Math.max(roundHalfEven(frameW * r), 1);
  const newH = Math.max(roundHalfEven(frameH * r), 1);
  const dw = ((imgsz - newW) % stride) / 2;
  const dh = ((imgsz - newH) % stride) / 2;
  const top = roundHalfEven(dh - 0.1), bottom = roundHalfEven(dh + 0.1);
  const left = roundHalfEven(dw - 0.1), right = roundHalfEven(dw + 0.1);
  return { newW, newH, top, left, inH: newH + top + bottom, inW: newW + left + right };
}

// OpenCV's INTER_LINEAR taps for one axis: source index and 11-bit fixed-point weights per output pixel
// (cv::resize's coordinate rule: centre of the output pixel mapped back, clamped at the borders).
function linearTaps(srcSize, dstSize) {
  const scale = srcSize / dstSize;
  const index = new Int32Array(dstSize);
  const weight0 = new Int32Array(dstSize);
  const weight1 = new Int32Array(dstSize);
  for (let d = 0; d < dstSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f -= s;
    if (s < 0) { f = 0; s = 0; }
    if (s >= srcSize - 1) { f = 0; s = srcSize - 1; }
    index[d] = s;
    weight0[d] = roundHalfEven(Math.fround(1 - f) * 2048);  // cv::saturate_cast<short>: nearest, halves to even
    weight1[d] = roundHalfEven(f * 2048);
  }
  return { index, weight0, weight1 };
}

// The network input from an RGBA frame: letterboxed, RGB, 0..1, channels first (1, 3, inH, inW).
// Resizing rounds to whole 8-bit values like cv2.resize on a uint8 picture (ultralytics divides by 255 after).
export function letterbox(rgba, frameW, frameH, imgsz, stride = 32) {
  const shape = letterboxShape(frameH, frameW, imgsz, stride);
  const { newW, newH, top, left, inH, inW } = shape;
  const plane = inH * inW;
  const input = new Float32Array(3 * plane).fill(114 / 255);
  const same = newW === frameW && newH === frameH;
  const xs = same ? null : linearTaps(frameW, newW);
  const ys = same ? null : linearTaps(frameH, newH);
  const rowA = new Int32Array(newW * 3), rowB = new Int32Array(newW * 3);
  const horizontal = (y, row) => {  // one source row resized in x, fixed point (x 2048)
    const base = y * frameW * 4;
    for (let x = 0; x < newW; x++) {
      const s = xs.index[x], w0 = xs.weight0[x], w1 = xs.weight1[x];
      const s1 = Math.min(s + 1, frameW - 1);
      for (let c = 0; c < 3; c++) {
        row[x * 3 + c] = rgba[base + s * 4 + c] * w0 + rgba[base + s1 * 4 + c] * w1;
      }
    }
  };
  for (let y = 0; y < newH; y++) {
    const out = (y + top) * inW + left;
    if (same) {
      const base = y * frameW * 4;
      for (let x = 0; x < newW; x++) {
        for (let c = 0; c < 3; c++) input[c * plane + out + x] = rgba[base + x * 4 + c] / 255;
      }
      continue;
    }
    const s = ys.index[y], b0 = ys.weight0[y], b1 = ys.weight1[y];
    horizontal(s, rowA);
    horizontal(Math.min(s + 1, frameH - 1), rowB);
    for (let x = 0; x < newW; x++) {
      for (let c = 0; c < 3; c++) {
        // Back to 0..255 the way OpenCV's vectorised vertical pass rounds (VResizeLinearVec_32s8u: 16-bit
        // products of the row sums shifted by 4, high halves added, then shifted by 2 with rounding).
        const v = ((((rowA[x * 3 + c] >> 4) * b0) >> 16) + (((rowB[x * 3 + c] >> 4) * b1) >> 16) + 2) >> 2;
        input[c * plane + out + x] = Math.min(255, Math.max(0, v)) / 255;
      }
    }
  }
  return { input, shape };
}

// Candidates from the network's output (4 + nc rows: box centre x, y, width, height in input pixels, then
// one score per class; one column per anchor). A candidate's class is its best class; it stays when that
// score is above `conf` and its class is allowed (allowed: null = every class).
export function candidates(output, anchors, nc, conf, allowed) {
  const boxes = [], scores = [], classes = [];
  for (let a = 0; a < anchors; a++) {
    let best = -Infinity, cls = 0;
    for (let c = 0; c < nc; c++) {
      const s = output[(4 + c) * anchors + a];
      if (s > best) { best = s; cls = c; }
    }
    if (!(best > conf) || (allowed && !allowed[cls])) continue;
    const cx = output[a], cy = output[anchors + a], w = output[2 * anchors + a], h = output[3 * anchors + a];
    boxes.push([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]);
    scores.push(best);
    classes.push(cls);
  }
  return { boxes, scores, classes };
}

export function iou(a, b) {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

// Greedy NMS, as in the lesson: take the best box, delete the boxes of its class that overlap it by more
// than `iouThreshold`, repeat with what is left. Returns the kept indices, best first (at most maxDet;
// like ultralytics, only the maxNms strongest candidates enter).
export function nms(boxes, scores, classes, iouThreshold, maxDet = 300, maxNms = 30000) {
  const order = scores.map((s, i) => i).sort((i, j) => scores[j] - scores[i] || i - j).slice(0, maxNms);
  const removed = new Uint8Array(boxes.length);
  const keep = [];
  for (let k = 0; k < order.length && keep.length < maxDet; k++) {
    const best = order[k];
    if (removed[best]) continue;
    keep.push(best);
    for (let m = k + 1; m < order.length; m++) {
      const other = order[m];
      if (!removed[other] && classes[other] === classes[best] && iou(boxes[best], boxes[other]) > iouThreshold) {
        removed[other] = 1;
      }
    }
  }
  return keep;
}

// Boxes in network-input pixels -> frame pixels: undo the padding and the scale, clip to the frame
// (ultralytics' scale_boxes).
export function toFrame(box, frameH, frameW, inH, inW) {
  const gain = Math.min(inH / frameH, inW / frameW);
  const padX = roundHalfEven((inW - frameW * gain) / 2 - 0.1);
  const padY = roundHalfEven((inH - frameH * gain) / 2 - 0.1);
  const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
  return [clip((box[0] - padX) / gain, frameW), clip((box[1] - padY) / gain, frameH),
          clip((box[2] - padX) / gain, frameW), clip((box[3] - padY) / gain, frameH)];
}

// ---------------------------------------------------------------- tracking: ByteTrack
// Box numbers from frame to frame with ultralytics' ByteTrack, step for step as the server runs it
// (lessons/yolo_detect/compute.py new_tracker: ultralytics/trackers/byte_tracker.py BYTETracker with its
// bytetrack.yaml settings, utils/kalman_filter.py KalmanFilterXYAH, utils/matching.py, utils/stracks.py):
// - each track keeps a Kalman filter of its box (centre x, y, aspect ratio, height, and their velocities), which
//   predicts where the box will be in the next frame;
// - strong boxes (score >= track_high_thresh) are paired with the predicted boxes first (cost: 1 - IoU x score,
//   the cheapest one-to-one assignment under match_thresh), then weak boxes with the tracks still unpaired
//   (cost 1 - IoU under 0.5); a track without a box is "lost" and kept for track_buffer frames;
// - a strong box paired with nothing starts a new track, which is numbered at once but shown only from its
//   second frame (except in the first frame).
// Numbers in float32 where ultralytics works in float32 (its boxes and IoUs), so both sides agree on ties.
// The tests run this class and ultralytics' BYTETracker on the same boxes and compare the numbers.

const f32 = Math.fround;
const NEW = 0, TRACKED = 1, LOST = 2, REMOVED = 3;
const STD_POSITION = 1 / 20, STD_VELOCITY = 1 / 160;

function diagonal(values) {
  return values.map((v, i) => values.map((_, j) => (i === j ? v * v : 0)));
}

// Kalman filter over (x, y, a, h, vx, vy, va, vh): constant velocity, the box (x, y, a, h) observed directly.
export const kalman = {
  initiate(xyah) {
    const h = xyah[3];
    const std = [2 * STD_POSITION * h, 2 * STD_POSITION * h, 1e-2, 2 * STD_POSITION * h,
      10 * STD_VELOCITY * h, 10 * STD_VELOCITY * h, 1e-5, 10 * STD_VELOCITY * h];
    return { mean: [...xyah, 0, 0, 0, 0], covariance: diagonal(std) };
  },
  predict(mean, covariance) {
    const h = mean[3];
    const noise = diagonal([STD_POSITION * h, STD_POSITION * h, 1e-2, STD_POSITION * h,
      STD_VELOCITY * h, STD_VELOCITY * h, 1e-5, STD_VELOCITY * h]);
    const moved = mean.map((v, i) => (i < 4 ? v + mean[i + 4] : v));  // F mean, F = [[I, I], [0, I]]
    const fc = covariance.map((row, i) => row.map((v, j) => (i < 4 ? v + covariance[i + 4][j] : v)));  // F P
    const fcf = fc.map(row => row.map((v, j) => (j < 4 ? v + row[j + 4] : v)));  // F P F^T
    return { mean: moved, covariance: fcf.map((row, i) => row.map((v, j) => v + noise[i][j])) };
  },
  update(mean, covariance, xyah) {
    const h = mean[3];
    const r = [STD_POSITION * h, STD_POSITION * h, 1e-1, STD_POSITION * h];
    const s = [0, 1, 2, 3].map(i => [0, 1, 2, 3].map(j => covariance[i][j] + (i === j ? r[i] * r[i] : 0)));
    // Kalman gain K = P[:, :4] S^-1 (S symmetric): solve S X = P[:, :4]^T, K = X^T.
    const x = solve(s, [0, 1, 2, 3].map(i => covariance.map(row => row[i])));
    const gain = covariance.map((_, k) => [0, 1, 2, 3].map(i => x[i][k]));
    const innovation = [0, 1, 2, 3].map(i => xyah[i] - mean[i]);
    const newMean = mean.map((v, k) => v + gain[k].reduce((sum, g, i) => sum + g * innovation[i], 0));
    const ks = gain.map(row => [0, 1, 2, 3].map(j => row.reduce((sum, g, i) => sum + g * s[i][j], 0)));
    const newCovariance = covariance.map((row, a) => row.map((v, b) =>
      v - ks[a].reduce((sum, g, j) => sum + g * gain[b][j], 0)));
    return { mean: newMean, covariance: newCovariance };
  },
};

// Gaussian elimination with partial pivoting: A X = B for a square A and a matrix B (rows).
function solve(a, b) {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...b[i]]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) pivot = r;
    [m[c], m[pivot]] = [m[pivot], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k < m[r].length; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = b.map(row => row.map(() => 0));
  for (let r = n - 1; r >= 0; r--) {
    for (let k = 0; k < b[0].length; k++) {
      let v = m[r][n + k];
      for (let c = r + 1; c < n; c++) v -= m[r][c] * x[c][k];
      x[r][k] = v / m[r][r];
    }
  }
  return x;
}

// The cheapest one-to-one assignment of rows to columns where leaving a row or a column unpaired costs
// limit / 2 (lap.lapjv(cost, extend_cost=True, cost_limit=limit), as ultralytics calls it): the Hungarian
// algorithm on the square matrix extended by those costs. `columns`: the number of columns (a matrix without rows
// still has them). Returns {matches: [[row, col]...], rows, cols} with the unpaired rows and columns, each in
// increasing order.
export function linearAssignment(cost, limit, columns = cost.length ? cost[0].length : 0) {
  const n = cost.length, m = columns;
  const range = k => Array.from({ length: k }, (_, i) => i);
  if (n === 0 || m === 0) return { matches: [], rows: range(n), cols: range(m) };
  const size = n + m;
  const at = (i, j) => (i < n && j < m ? cost[i][j] : i >= n && j >= m ? 0 : limit / 2);
  const u = new Float64Array(size + 1), v = new Float64Array(size + 1);
  const owner = new Int32Array(size + 1), way = new Int32Array(size + 1);  // owner[col] = row (1-based)
  for (let i = 1; i <= size; i++) {
    owner[0] = i;
    let j0 = 0;
    const least = new Float64Array(size + 1).fill(Infinity);
    const used = new Uint8Array(size + 1);
    do {
      used[j0] = 1;
      const i0 = owner[j0];
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= size; j++) {
        if (used[j]) continue;
        const reduced = at(i0 - 1, j - 1) - u[i0] - v[j];
        if (reduced < least[j]) { least[j] = reduced; way[j] = j0; }
        if (least[j] < delta) { delta = least[j]; j1 = j; }
      }
      for (let j = 0; j <= size; j++) {
        if (used[j]) { u[owner[j]] += delta; v[j] -= delta; } else least[j] -= delta;
      }
      j0 = j1;
    } while (owner[j0] !== 0);
    do { const j1 = way[j0]; owner[j0] = owner[j1]; j0 = j1; } while (j0);
  }
  const colOf = new Int32Array(n).fill(-1), rowOf = new Int32Array(m).fill(-1);
  for (let j = 1; j <= m; j++) {
    if (owner[j] >= 1 && owner[j] <= n) { colOf[owner[j] - 1] = j - 1; rowOf[j - 1] = owner[j] - 1; }
  }
  const matches = [];
  colOf.forEach((j, i) => { if (j >= 0) matches.push([i, j]); });
  return { matches, rows: range(n).filter(i => colOf[i] < 0), cols: range(m).filter(j => rowOf[j] < 0) };
}

class Track {
  constructor(tlwh, score, cls, idx) {
    this.detected = tlwh;  // the detection's box (left, top, width, height), float32
    this.score = score;
    this.cls = cls;
    this.idx = idx;  // index of the box in its frame
    this.mean = null;
    this.covariance = null;
    this.state = NEW;
    this.isActivated = false;
    this.trackId = 0;
    this.frameId = 0;
    this.startFrame = 0;
    this.trackletLen = 0;
  }

  // (centre x, centre y, width / height, height) of the detection's box, in float32 like ultralytics.
  xyah() {
    const [x, y, w, h] = this.detected;
    return [f32(x + f32(w / 2)), f32(y + f32(h / 2)), f32(w / h), h];
  }

  tlwh() {
    if (!this.mean) return [...this.detected];
    const [cx, cy, a, h] = this.mean;
    const w = a * h;
    return [cx - w / 2, cy - h / 2, w, h];
  }

  xyxy() {
    const [x, y, w, h] = this.tlwh();
    return this.mean ? [x, y, x + w, y + h] : [x, y, f32(x + w), f32(y + h)];
  }

  activate(frameId, trackId) {
    this.trackId = trackId;
    ({ mean: this.mean, covariance: this.covariance } = kalman.initiate(this.xyah()));
    this.trackletLen = 0;
    this.state = TRACKED;
    this.isActivated = frameId === 1;
    this.frameId = frameId;
    this.startFrame = frameId;
  }

  follow(detection, frameId, found) {  // update (found: a tracked track) or re_activate (a lost one)
    ({ mean: this.mean, covariance: this.covariance } = kalman.update(this.mean, this.covariance, detection.xyah()));
    this.trackletLen = found ? this.trackletLen + 1 : 0;
    this.state = TRACKED;
    this.isActivated = true;
    this.frameId = frameId;
    this.score = detection.score;
    this.cls = detection.cls;
    this.idx = detection.idx;
  }
}

// 1 - IoU of every box of `a` with every box of `b` (tracks), in float32 like ultralytics' bbox_ioa.
function iouDistance(a, b) {
  const boxesA = a.map(t => t.xyxy().map(f32)), boxesB = b.map(t => t.xyxy().map(f32));
  return boxesA.map(p => boxesB.map(q => {
    const iw = Math.max(0, f32(Math.min(p[2], q[2]) - Math.max(p[0], q[0])));
    const ih = Math.max(0, f32(Math.min(p[3], q[3]) - Math.max(p[1], q[1])));
    const inter = f32(iw * ih);
    const union = f32(f32(f32(f32(q[2] - q[0]) * f32(q[3] - q[1])) + f32(f32(p[2] - p[0]) * f32(p[3] - p[1]))) - inter);
    return f32(1 - f32(inter / f32(union + f32(1e-7))));
  }));
}

function joint(a, b) {
  const ids = new Set(a.map(t => t.trackId));
  return [...a, ...b.filter(t => !ids.has(t.trackId))];
}

function without(a, b) {
  const ids = new Set(b.map(t => t.trackId));
  return a.filter(t => !ids.has(t.trackId));
}

export class ByteTracker {
  constructor(settings) {
    this.settings = settings;  // bytetrack.yaml: track_high_thresh, track_low_thresh, new_track_thresh, ...
    this.tracked = [];
    this.lost = [];
    this.removed = [];
    this.frameId = 0;
    this.nextId = 1;
  }

  distances(tracks, detections) {
    const cost = iouDistance(tracks, detections);
    if (!this.settings.fuse_score) return cost;
    return cost.map(row => row.map((c, j) => f32(1 - f32(f32(1 - c) * detections[j].score))));
  }

  // One frame's kept boxes (frame pixels, xyxy), scores and classes -> the number of each box (0: none yet).
  update(boxes, scores, classes) {
    const s = this.settings;
    const frameId = ++this.frameId;
    const strong = [], weak = [];
    boxes.forEach((box, i) => {
      const [x1, y1, x2, y2] = box.map(f32);
      const w = f32(x2 - x1), h = f32(y2 - y1), score = f32(scores[i]);
      if (!(w > 0 && h > 0)) return;
      const cx = f32(f32(x1 + x2) / 2), cy = f32(f32(y1 + y2) / 2);
      const detection = new Track([f32(cx - w / 2), f32(cy - h / 2), w, h], score, classes[i], i);
      if (score >= f32(s.track_high_thresh)) strong.push(detection);  // float32 against float32, as numpy does
      else if (score > f32(s.track_low_thresh)) weak.push(detection);
    });
    const activated = [], refound = [], lostNow = [], removedNow = [];
    const follow = (track, detection) => {
      const found = track.state === TRACKED;
      track.follow(detection, frameId, found);
      (found ? activated : refound).push(track);
    };
    const unconfirmed = this.tracked.filter(t => !t.isActivated);
    const pool = joint(this.tracked.filter(t => t.isActivated), this.lost);
    for (const track of pool) {  // where each track should be now
      const mean = [...track.mean];
      if (track.state !== TRACKED) mean[7] = 0;
      ({ mean: track.mean, covariance: track.covariance } = kalman.predict(mean, track.covariance));
    }
    // 1. strong boxes with the predicted tracks
    const first = linearAssignment(this.distances(pool, strong), s.match_thresh, strong.length);
    first.matches.forEach(([t, d]) => follow(pool[t], strong[d]));
    // 2. weak boxes with the tracks still unpaired (IoU only); the rest are lost
    const remaining = first.rows.map(t => pool[t]).filter(t => t.state === TRACKED);
    let stillUnpaired = remaining.map((_, i) => i);
    if (remaining.length && weak.length) {
      const second = linearAssignment(iouDistance(remaining, weak), 0.5, weak.length);
      second.matches.forEach(([t, d]) => follow(remaining[t], weak[d]));
      stillUnpaired = second.rows;
    }
    for (const t of stillUnpaired) { remaining[t].state = LOST; lostNow.push(remaining[t]); }
    // 3. tracks born last frame with the strong boxes left; unconfirmed tracks without one are dropped
    const left = first.cols.map(d => strong[d]);
    let newborn = left.map((_, i) => i);
    if (unconfirmed.length) {
      const third = linearAssignment(this.distances(unconfirmed, left), 0.7, left.length);
      third.matches.forEach(([t, d]) => { unconfirmed[t].follow(left[d], frameId, true); activated.push(unconfirmed[t]); });
      for (const t of third.rows) { unconfirmed[t].state = REMOVED; removedNow.push(unconfirmed[t]); }
      newborn = third.cols;
    }
    // 4. new tracks from the strong boxes nobody claimed
    for (const d of newborn) {
      if (left[d].score < f32(s.new_track_thresh)) continue;
      left[d].activate(frameId, this.nextId++);
      activated.push(left[d]);
    }
    // 5. tracks lost for too long are removed
    for (const track of this.lost) {
      if (frameId - track.frameId > s.track_buffer) { track.state = REMOVED; removedNow.push(track); }
    }
    // 6. the pools for the next frame (ultralytics' merge_track_pools)
    this.tracked = joint(joint(this.tracked.filter(t => t.state === TRACKED), activated), refound);
    this.lost = without([...without(this.lost, this.tracked), ...lostNow], this.removed);
    const duplicates = iouDistance(this.tracked, this.lost);
    const dropTracked = new Set(), dropLost = new Set();
    duplicates.forEach((row, p) => row.forEach((d, q) => {
      if (!(d < 0.15)) return;  // the same object in both pools: keep the longer-lived one
      const ageP = this.tracked[p].frameId - this.tracked[p].startFrame;
      const ageQ = this.lost[q].frameId - this.lost[q].startFrame;
      if (ageP > ageQ) dropLost.add(q); else dropTracked.add(p);
    }));
    this.tracked = this.tracked.filter((_, p) => !dropTracked.has(p));
    this.lost = this.lost.filter((_, q) => !dropLost.has(q));
    this.removed = [...this.removed, ...removedNow].slice(-1000);
    const ids = new Array(boxes.length).fill(0);
    for (const track of this.tracked) if (track.isActivated) ids[track.idx] = track.trackId;
    return ids;
  }
}

// One frame's detection after the network: candidates -> NMS -> frame pixels. `output` is the network's
// (1, 4 + nc, anchors) data. Returns the kept boxes (frame pixels, best first) and the candidate count.
export function detect(output, dims, settings, frameH, frameW, inH, inW) {
  const nc = dims[1] - 4, anchors = dims[2];
  const found = candidates(output, anchors, nc, settings.conf, settings.allowed);
  const keep = nms(found.boxes, found.scores, found.classes, settings.iou);
  return {
    candidates: found.boxes.length,
    boxes: keep.map(i => toFrame(found.boxes[i], frameH, frameW, inH, inW)),
    scores: keep.map(i => found.scores[i]),
    classes: keep.map(i => found.classes[i]),
  };
}
