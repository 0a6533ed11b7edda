// The steps of YOLO around the network, as the page runs them on each webcam frame, in the order they run:
// letterbox (resize and pad like ultralytics), read the network's output (1, 4 + classes, anchors),
// keep the candidates above the confidence, non-maximum suppression per class, boxes back to frame
// pixels, and a small IoU tracker for box numbers.
//
// Every rule here is ultralytics' own (ultralytics/data/augment.py LetterBox, utils/nms.py
// non_max_suppression, utils/ops.py scale_boxes) and the lesson's (tabs/yolo_detect.py nms_with_owners,
// IouTracker), so the page finds the boxes the server finds for the same frame. No DOM, no library:
// tests import this module in the browser and compare it with the Python side.

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

// Frame-to-frame box numbers (tabs/yolo_detect.py IouTracker): a new box takes the number of the previous
// box of the same class it overlaps most (IoU above matchIou, best pairs first); unmatched boxes get new
// numbers; a number is forgotten after maxMissed frames without its box.
export class IouTracker {
  constructor(matchIou = 0.3, maxMissed = 15) {
    this.matchIou = matchIou;
    this.maxMissed = maxMissed;
    this.nextId = 1;
    this.tracks = new Map();  // id -> {box, cls, missed}
  }

  update(boxes, classes) {
    const ids = new Array(boxes.length).fill(0);
    const trackIds = [...this.tracks.keys()];
    const pairs = [];
    trackIds.forEach((tid, t) => {
      const track = this.tracks.get(tid);
      boxes.forEach((box, d) => {
        const overlap = track.cls === classes[d] ? iou(track.box, box) : 0;
        if (overlap > this.matchIou) pairs.push([overlap, t, d]);
      });
    });
    pairs.sort((p, q) => q[0] - p[0] || p[1] - q[1] || p[2] - q[2]);
    const matched = new Set(), used = new Set();
    for (const [, t, d] of pairs) {
      if (matched.has(trackIds[t]) || used.has(d)) continue;
      ids[d] = trackIds[t];
      matched.add(trackIds[t]);
      used.add(d);
    }
    for (let d = 0; d < boxes.length; d++) if (ids[d] === 0) ids[d] = this.nextId++;
    for (const tid of trackIds) {
      if (matched.has(tid)) continue;
      const track = this.tracks.get(tid);
      if (track.missed + 1 > this.maxMissed) this.tracks.delete(tid);
      else track.missed += 1;
    }
    ids.forEach((tid, d) => this.tracks.set(tid, { box: boxes[d], cls: classes[d], missed: 0 }));
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
