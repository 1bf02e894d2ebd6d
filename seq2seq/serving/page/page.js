// seq2seq-serve's page: pick a run, type texts or drop an image, see the answers.
// Everything it knows of a run comes from GET /runs (its verb, what it reads, its options
// with their defaults and bounds, whether it attends); each verb's answers are drawn by
// one function of DRAW below.
"use strict";

const $ = (id) => document.getElementById(id);
let RUNS = {};

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

function showStatus(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function loadRuns() {
  RUNS = await (await fetch("runs")).json();
  for (const [name, run] of Object.entries(RUNS)) {
    $("run").append(el("option", { value: name, textContent: `${name} (${run.task})` }));
  }
  const wanted = new URLSearchParams(location.search).get("run");
  if (wanted in RUNS) $("run").value = wanted;
  chooseRun();
}

function run() { return RUNS[$("run").value]; }

function chooseRun() {
  const r = run();
  $("about").textContent = `${r.task}: ${r.verb}` + (r.attention ? ", with attention" : "");
  $("text-input").hidden = r.reads !== "text";
  $("image-input").hidden = r.reads !== "image";
  $("options").replaceChildren(...Object.entries(r.options || {})
    .filter(([, spec]) => typeof spec.default !== "boolean" || r.attention)
    .map(([key, spec]) => optionInput(key, spec)));
  $("results").replaceChildren();
  showStatus("");
}

function optionInput(key, spec) {
  if (typeof spec.default === "boolean") {
    return el("label", {}, el("input", { type: "checkbox", id: `opt-${key}`,
      checked: spec.default || key === "attention" }), ` ${key.replace("_", " ")}`);
  }
  const input = el("input", { type: "number", id: `opt-${key}`, value: spec.default, min: 0,
    step: Number.isInteger(spec.default) && key !== "length_penalty" ? 1 : 0.1 });
  if (typeof spec.max === "number") input.max = spec.max;
  return el("label", {}, `${key.replace("_", " ")} `, input);
}

function options() {
  const out = {};
  for (const input of $("options").querySelectorAll("input")) {
    const key = input.id.slice(4);
    out[key] = input.type === "checkbox" ? input.checked : Number(input.value);
  }
  return out;
}

async function submit(event) {
  event.preventDefault();
  const r = run(), name = $("run").value;
  let response, inputs;
  showStatus("running…");
  if (r.reads === "text") {
    inputs = $("texts").value.replace(/\s+$/, "").split("\n");
    response = await fetch(`runs/${name}/${r.verb}`, { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ texts: inputs, ...options() }) });
  } else {
    const file = $("image").files[0];
    if (!file) return showStatus("choose an image first", true);
    const query = new URLSearchParams(Object.entries(options()).map(([k, v]) => [k, String(v)]));
    inputs = [$("preview")];
    response = await fetch(`runs/${name}/${r.verb}?${query}`, { method: "POST",
      headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
  }
  const answer = await response.json();
  if (!response.ok) return showStatus(`${response.status}: ${answer.error}`, true);
  $("results").replaceChildren(...answer.results.map((result, i) =>
    el("div", { className: "item" }, ...DRAW[r.verb](inputs[i], result))));
  showStatus(`${answer.results.length} answered`);
}

function nbestList(answers) {
  return el("ol", { className: "nbest" }, ...answers.map((a) => el("li", { className: "answer" },
    el("span", { className: "text", textContent: a.text }),
    el("span", { className: "score", textContent: a.score.toFixed(4) }))));
}

const DRAW = {
  translate(source, answers) {
    const parts = [el("div", { className: "source", textContent: source }), nbestList(answers)];
    if (answers.length && answers[0].attention) parts.push(heatMap(answers[0].attention));
    return parts;
  },
  classify(text, result) {
    const rows = Object.entries(result.probabilities).sort((a, b) => b[1] - a[1]);
    return [el("div", { className: "source", textContent: text }),
      el("div", { className: "label" }, "label: ", el("b", { textContent: result.label })),
      el("table", { className: "probs" }, ...rows.map(([label, p]) => el("tr", {},
        el("td", { textContent: label }),
        el("td", {}, el("span", { className: "bar", style: `width:${(p * 12).toFixed(2)}em` }),
          el("span", { className: "prob", textContent: p.toFixed(4) })))))];
  },
  tag(text, result) {
    return [el("div", { className: "tags" }, ...result.tokens.map((token, i) =>
      el("span", { className: "tagged" }, el("span", { className: "token", textContent: token }),
        el("b", { className: "tag", textContent: result.tags[i] }))))];
  },
  caption(image, answers) {
    const parts = [nbestList(answers)];
    if (answers.length && answers[0].attention) parts.push(panels(image, answers[0].attention));
    return parts;
  },
};

function heatMap(att) {
  // rows: target words; columns: source words; darker = more attention
  const head = el("tr", {}, el("th"), ...att.source.map((w) => el("th", { textContent: w })));
  const rows = att.weights.map((row, j) => el("tr", {}, el("th", { textContent: att.target[j] }),
    ...row.map((w) => el("td", { title: w.toFixed(3), style: `background:${shade(w)}` }))));
  return el("table", { className: "heat" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function shade(w) {
  const v = Math.round(255 * (1 - Math.min(1, Math.max(0, w))));
  return `rgb(${v},${v},${Math.min(255, v + 40)})`;
}

function panels(image, att) {
  // Show, Attend and Tell's figure: the image, brightest where each word looked
  const [h, w] = att.grid;
  const figures = att.words.map((word, k) => {
    const canvas = el("canvas", { width: 96, height: 96 });
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, 0, 0, 96, 96);
    const cells = el("canvas", { width: w, height: h });
    const pixels = cells.getContext("2d").createImageData(w, h);
    const top = Math.max(...att.weights[k]) || 1;
    att.weights[k].forEach((value, i) => { pixels.data[4 * i + 3] = 200 * (1 - value / top); });
    cells.getContext("2d").putImageData(pixels, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(cells, 0, 0, 96, 96);
    return el("figure", {}, canvas, el("figcaption", { textContent: word }));
  });
  return el("div", { className: "panels" }, ...figures);
}

function showImage(file) {
  if (!file) return;
  $("preview").src = URL.createObjectURL(file);
}

$("run").addEventListener("change", chooseRun);
$("form").addEventListener("submit", submit);
$("image").addEventListener("change", () => showImage($("image").files[0]));
for (const kind of ["dragenter", "dragover"]) {
  $("drop").addEventListener(kind, (e) => { e.preventDefault(); $("drop").classList.add("over"); });
}
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => {
  e.preventDefault();
  $("drop").classList.remove("over");
  $("image").files = e.dataTransfer.files;
  showImage($("image").files[0]);
});
loadRuns().catch((error) => showStatus(`could not read the runs: ${error}`, true));
