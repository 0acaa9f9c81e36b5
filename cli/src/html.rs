//! `memalloc replay --html FILE`: one self-contained page (inline SVG, CSS and script; no
//! network) with the fragmentation chart of every policy and a slider that shows the
//! memory map of each policy at any of the sampled calls.
//!
//! The maps are precomputed by the replay ([`crate::replay::MapSample`]: at most 100 per
//! policy, each at most about 600 runs of `size, code` up to its heap top) and embedded
//! as JSON; the script draws them on a common axis (the highest top of all). The page
//! reads `#step=K` from its address to start at the `K`-th map, and writes each map's run
//! count into the page (`<span id="extents-I">`), so that a headless browser can check it.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::map;
use crate::plot::escape;
use crate::replay::PolicyReport;

const STYLE: &str = "body{font-family:sans-serif;margin:16px;color:#222}\
h2{font-size:16px;margin:16px 0 4px}\
.controls{margin:12px 0;font-size:15px}\
input[type=range]{width:960px;display:block;margin-top:6px}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\
svg.map{display:block}";

const SCRIPT: &str = r##""use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
const W = 960, X0 = 10, Y0 = 18, H = 28;
const slider = document.getElementById("slider");
let end = 1;
for (const p of data.policies) for (const m of p.maps) end = Math.max(end, m.top);
const count = data.policies.length ? data.policies[0].maps.length : 0;
slider.max = String(Math.max(count - 1, 0));
slider.value = slider.max;
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = text;
  return e;
}
function label(x) {
  for (const [scale, unit] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (x >= scale) return (Math.round(x / scale * 10) / 10) + unit;
  }
  return String(Math.round(x));
}
function draw(k) {
  data.policies.forEach((p, i) => {
    const m = p.maps[k];
    const svg = document.getElementById("map-" + i);
    svg.replaceChildren();
    svg.appendChild(el("rect", {x: X0, y: Y0, width: W, height: H, fill: "#f7f7f7", stroke: "#ccc"}));
    let at = 0, best = 0, bestAt = 0;
    for (let j = 0; j + 1 < m.runs.length; j += 2) {
      const size = m.runs[j], code = m.runs[j + 1];
      svg.appendChild(el("rect", {x: X0 + at / end * W, y: Y0, width: Math.max(size / end * W, 0.4), height: H,
        fill: data.fills[code] || "#000"}));
      if (code === 0 && size > best) { best = size; bestAt = at; }
      at += size;
    }
    if (best > 0) {
      svg.appendChild(el("rect", {x: X0 + bestAt / end * W, y: Y0, width: Math.max(best / end * W, 1), height: H,
        fill: "none", stroke: "#d62728", "stroke-width": 2}));
    }
    for (let t = 0; t <= 8; t++) {
      const x = X0 + t / 8 * W;
      svg.appendChild(el("line", {x1: x, y1: Y0 - 4, x2: x, y2: Y0, stroke: "#888"}));
      svg.appendChild(el("text", {x: x, y: Y0 - 6, "text-anchor": "middle", "font-size": 10}, label(t / 8 * end)));
    }
    document.getElementById("extents-" + i).textContent = String(m.runs.length / 2);
    document.getElementById("frag-" + i).textContent = m.fragmentation.toFixed(3);
    document.getElementById("top-" + i).textContent = String(m.top);
    document.getElementById("largest-" + i).textContent = best > 0 ? bestAt + "+" + best : "none";
    document.getElementById("call").textContent = String(m.call);
  });
  document.body.dataset.step = String(k);
}
const wanted = /step=(\d+)/.exec(location.hash);
if (wanted) slider.value = String(Math.min(Number(wanted[1]), Number(slider.max)));
slider.addEventListener("input", () => draw(Number(slider.value)));
if (count > 0) draw(Number(slider.value));
document.body.dataset.ready = "1";
"##;

/// Writes the page to `path`: `title`, the chart (an SVG document's text) and the maps of
/// `policies`.
pub fn write(path: &Path, title: &str, chart: &str, policies: &[PolicyReport]) -> Result<(), Box<dyn StdError>> {
    let fills: Vec<String> = (0..3 + map::TAG_SHADES as u32).map(map::fill).collect();
    let data = json!({
        "fills": fills,
        "policies": policies.iter().map(|p| json!({"name": p.policy, "maps": p.maps})).collect::<Vec<_>>(),
    });
    // `</` cannot end the script element early when written `<\/` (the same JSON string).
    let data = serde_json::to_string(&data)?.replace("</", "<\\/");
    let chart = chart.find("<svg").map_or(chart, |at| &chart[at..]);
    let title = escape(title);
    let mut page = String::with_capacity(data.len() + chart.len() + 8192);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<div id=\"chart\">\n{chart}\n</div>\n\
         <div class=\"controls\"><label for=\"slider\">Memory map after call <b id=\"call\"></b> \
         (the sampled calls; drag, or open the page with #step=K)</label>\n\
         <input type=\"range\" id=\"slider\" min=\"0\" max=\"0\" step=\"1\" value=\"0\"></div>\n\
         <div class=\"legend\"><span style=\"background:{}\"></span>free<span style=\"background:{}\"></span>allocated\
         <span style=\"background:{}\"></span>padding<span style=\"background:none;border:2px solid #d62728\"></span>\
         largest free run<span style=\"background:#f7f7f7;border:1px solid #ccc\"></span>above the heap top</div>\n",
        map::fill(0),
        map::fill(1),
        map::fill(2)
    );
    for (i, p) in policies.iter().enumerate() {
        let _ = write!(
            page,
            "<h2>{}</h2>\n<div>fragmentation <span id=\"frag-{i}\"></span>, top <span id=\"top-{i}\"></span>, \
             largest free run <span id=\"largest-{i}\"></span>, <span id=\"extents-{i}\"></span> runs drawn \
             (extents narrower than 1/{} of the range merged)</div>\n\
             <svg class=\"map\" id=\"map-{i}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"980\" height=\"52\" \
             viewBox=\"0 0 980 52\" font-family=\"sans-serif\"></svg>\n",
            escape(&p.policy),
            crate::replay::MAP_RUNS
        );
    }
    let _ = write!(
        page,
        "<script type=\"application/json\" id=\"data\">{data}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
