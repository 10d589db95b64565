// The drawing pad: draw on a canvas, send it as a PNG after each stroke, show the reply.
//
// Latency is measured by the page itself: a performance measure named
// "stroke-to-result" runs from the end of a stroke (pointer up) to the frame in
// which its result is on screen.
"use strict";

const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const preview = document.getElementById("preview").getContext("2d");
const weights = document.getElementById("weights").getContext("2d");
const brush = document.getElementById("brush");
const digitOut = document.getElementById("digit");
const quickDigit = document.getElementById("quick-digit");
const outputsList = document.getElementById("outputs");
const strip = document.getElementById("hidden");
const statusLine = document.getElementById("status");

let drawing = false;
let last = null; // the previous point of the stroke being drawn
let dirty = false; // the drawing changed since the last request was sent
const LIVE_INTERVAL_MS = 250;
let lastSentAt = -Infinity;
let pending = null; // the request on its way: { controller }
let strokeEndedAt = null; // performance.now() at the latest stroke's end
let hiddenSize = 0;
let generation = 0; // bumped by each clear, so late replies for a cleared drawing are dropped
const weightCache = new Map();

// ------------------------------------------------------------------ drawing

function clearPad() {
  // White paper, not transparent: the PNG is then dark ink on light paper.
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  dirty = false;
  strokeEndedAt = null;
  generation += 1;
  showNothing();
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) / box.width) * pad.width,
    y: ((event.clientY - box.top) / box.height) * pad.height,
  };
}

function drawTo(p) {
  ink.strokeStyle = "#000";
  ink.fillStyle = "#000";
  ink.lineWidth = Number(brush.value);
  ink.lineCap = "round";
  ink.lineJoin = "round";
  if (last === null) {
    ink.beginPath();
    ink.arc(p.x, p.y, ink.lineWidth / 2, 0, 2 * Math.PI);
    ink.fill();
  } else {
    ink.beginPath();
    ink.moveTo(last.x, last.y);
    ink.lineTo(p.x, p.y);
    ink.stroke();
  }
  last = p;
  dirty = true;
}

pad.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  last = null;
  drawTo(point(event));
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  // Coalesced events keep fast pen and finger strokes smooth.
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) drawTo(point(e));
  // A live update while drawing, at most every LIVE_INTERVAL_MS, so that the
  // reading at the stroke's end does not queue behind many live ones.
  if (performance.now() - lastSentAt >= LIVE_INTERVAL_MS) requestReading();
});

function endStroke() {
  if (!drawing) return;
  drawing = false;
  last = null;
  strokeEndedAt = performance.now();
  performance.mark("stroke-end");
  dirty = true; // a reading of the finished stroke, even if a live one is on its way
  requestReading();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", clearPad);
brush.addEventListener("input", () => {
  document.getElementById("brush-value").textContent = brush.value;
});
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement && event.key !== "Escape") return;
  if (event.key === "Escape" || event.key === "Delete" || event.key === "Backspace") {
    event.preventDefault();
    clearPad();
  } else if (event.key === "[" || event.key === "]") {
    brush.value = Number(brush.value) + (event.key === "]" ? 2 : -2);
    brush.dispatchEvent(new Event("input"));
  }
});

// ------------------------------------------------------------------ asking the network

async function requestReading() {
  if (!dirty) return;
  if (pending) {
    if (drawing) return; // live updates go one at a time; the stroke's end sends again
    pending.controller.abort(); // a finished stroke supersedes a live update on its way
  }
  const request = { controller: new AbortController() };
  pending = request;
  dirty = false;
  lastSentAt = performance.now();
  const strokeEnd = drawing ? null : strokeEndedAt; // the finished stroke this request shows
  const sentFor = generation;
  try {
    const png = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    const reply = await fetch("/api/predict", {
      method: "POST",
      headers: { "Content-Type": "image/png" },
      body: png,
      signal: request.controller.signal,
    });
    const body = await reply.json().catch(() => ({}));
    if (pending !== request || sentFor !== generation) return; // superseded, or cleared
    if (!reply.ok) {
      showError(body.detail || `the server answered ${reply.status}`);
    } else {
      showReading(body);
      if (strokeEnd !== null && strokeEnd === strokeEndedAt) {
        requestAnimationFrame(() => {
          performance.measure("stroke-to-result", { start: strokeEnd, end: performance.now() });
        });
      }
    }
  } catch (error) {
    if (error.name !== "AbortError" && pending === request) {
      showError(`could not reach the server (${error.message})`);
    }
  } finally {
    if (pending === request) {
      pending = null;
      if (dirty && !drawing) requestReading();
    }
  }
}

// ------------------------------------------------------------------ showing the reading

function showReading(r) {
  statusLine.textContent = r.warnings.join(" ");
  digitOut.textContent = String(r.digit);
  quickDigit.textContent = String(r.digit);
  drawGrey(preview, r.input);
  showOutputs(r.outputs, r.digit);
  showHidden(r.hidden);
}

function showNothing() {
  digitOut.textContent = "–";
  quickDigit.textContent = "–";
  statusLine.textContent = "";
  preview.clearRect(0, 0, 28, 28);
  showOutputs(new Array(outputsList.children.length).fill(0), -1);
  showHidden(new Array(hiddenSize).fill(0));
}

function showError(message) {
  showNothing();
  statusLine.textContent = message;
}

// 0 → white paper, 1 → black ink, like the pad itself.
function drawGrey(context, values) {
  const image = context.createImageData(28, 28);
  values.forEach((v, i) => {
    const level = Math.round(255 * (1 - v));
    image.data.set([level, level, level, 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
}

function buildOutputs(n) {
  outputsList.replaceChildren();
  for (let k = 0; k < n; k++) {
    const row = document.createElement("li");
    row.innerHTML =
      '<span class="label"></span><span class="track"><span class="fill"></span></span>' +
      '<span class="value"></span>';
    row.querySelector(".label").textContent = String(k);
    row.setAttribute("aria-label", `output neuron ${k}`);
    outputsList.append(row);
  }
}

function showOutputs(outputs, best) {
  outputs.forEach((a, k) => {
    const row = outputsList.children[k];
    row.classList.toggle("best", k === best);
    row.querySelector(".fill").style.width = `${(100 * a).toFixed(1)}%`;
    row.querySelector(".value").textContent = best < 0 ? "" : a.toFixed(2);
    row.title = `output neuron ${k}: activation ${a.toFixed(4)}`;
  });
}

function buildHidden(n) {
  strip.replaceChildren();
  for (let j = 0; j < n; j++) {
    const cell = document.createElement("button");
    cell.type = "button";
    cell.className = "cell";
    cell.setAttribute("role", "listitem");
    cell.dataset.neuron = String(j);
    const show = () => showWeights(j);
    cell.addEventListener("mouseenter", show);
    cell.addEventListener("focus", show);
    cell.addEventListener("click", show); // a tap on a phone
    strip.append(cell);
  }
}

function showHidden(hidden) {
  hidden.forEach((a, j) => {
    const cell = strip.children[j];
    const level = Math.round(255 * (1 - a));
    cell.style.background = `rgb(${level}, ${level}, ${level})`;
    cell.dataset.activation = a.toFixed(4);
    cell.title = `hidden neuron ${j}: activation ${a.toFixed(2)}`;
  });
}

async function showWeights(j) {
  for (const cell of strip.children) cell.classList.toggle("chosen", cell.dataset.neuron === String(j));
  if (!weightCache.has(j)) {
    const reply = await fetch(`/api/hidden/${j}`);
    if (!reply.ok) return;
    weightCache.set(j, await reply.json());
  }
  const w = weightCache.get(j);
  // −scale … 0 … +scale  →  blue … white … red, as `digits plot` draws them (RdBu_r)
  const image = weights.createImageData(28, 28);
  w.weights.forEach((v, i) => {
    const t = Math.min(1, Math.abs(v) / (w.scale || 1));
    const fade = Math.round(255 * (1 - t));
    const rgb = v >= 0 ? [255 - Math.round(54 * t), fade, fade]
                       : [fade, Math.round(86 + 169 * (1 - t)), 255 - Math.round(54 * t)];
    image.data.set([...rgb, 255], 4 * i);
  });
  weights.putImageData(image, 0, 0);
  const activation = strip.children[j].dataset.activation;
  document.getElementById("weights-caption").textContent =
    `Hidden neuron ${j}: its 784 incoming weights (largest |w| = ${w.scale.toFixed(2)}, ` +
    `bias ${w.bias.toFixed(2)})` + (activation ? `; activation now ${Number(activation).toFixed(2)}.` : ".");
}

// ------------------------------------------------------------------ start

async function start() {
  clearPad();
  try {
    const reply = await fetch("/api/model");
    const model = await reply.json();
    const sizes = model.sizes;
    buildOutputs(sizes[sizes.length - 1]);
    hiddenSize = model.hidden_layer === null ? 0 : sizes[1];
    buildHidden(hiddenSize);
    showNothing();
    document.getElementById("model-summary").textContent = summary(model);
    if (hiddenSize === 0) {
      document.getElementById("hidden-caption").textContent =
        "This network has no hidden layer: its inputs feed the output neurons directly.";
      document.querySelector(".weights").hidden = true;
    } else if (sizes.length > 3) {
      document.getElementById("hidden-caption").prepend(
        `Showing the first of ${sizes.length - 2} hidden layers (${sizes[1]} neurons), ` +
          "whose weights connect straight to the pixels. ",
      );
    }
  } catch (error) {
    showError(`could not load the model (${error.message})`);
  }
}

function summary(model) {
  const parts = [`A network of ${model.sizes.join("–")} sigmoid neurons`];
  if (model.label) {
    parts[0] = `${model.label[0].toUpperCase()}${model.label.slice(1)}: a network of ` +
      `${model.sizes.join("–")} sigmoid neurons`;
  }
  const meta = model.metadata;
  const history = meta.history || [];
  const best = history[meta.best_epoch ?? history.length - 1];
  if (best && best.test) {
    const percent = ((100 * best.test.correct) / best.test.total).toFixed(2);
    parts.push(`${percent} % right on the ${best.test.total.toLocaleString()} MNIST test digits`);
  }
  if (meta.training && meta.training.epochs) {
    parts.push(`trained for ${history.length} epochs at η = ${meta.training.eta}`);
  }
  return parts.join(", ") + ".";
}

start();
