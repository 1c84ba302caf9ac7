// What a person sees of every button and link: the contrast of its text against what is
// actually behind it, computed from the browser's own styles (axe calls such cases
// "incomplete" and checks nothing). WCAG 2.x AA asks 4.5:1 for text.
import assert from "node:assert/strict";

export const MINIMUM = 4.5;

/** Buttons and links on the page whose text has less than `MINIMUM` contrast, as sentences. */
export async function contrastProblems(page) {
  return page.evaluate((minimum) => {
    const parse = (css) => {
      const m = css.match(/^rgba?\(([^)]+)\)$/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const over = (top, below) => ({
      r: top.r * top.a + below.r * (1 - top.a),
      g: top.g * top.a + below.g * (1 - top.a),
      b: top.b * top.a + below.b * (1 - top.a),
      a: 1,
    });
    const luminance = ({ r, g, b }) => {
      const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratio = (x, y) => {
      const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
      return (hi + 0.05) / (lo + 0.05);
    };
    // The colour behind an element: its own background and its ancestors', composited up to
    // the first opaque one (the page's canvas last). null when an image is in the way.
    const behind = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (style.backgroundImage !== "none") return null;
        const bg = parse(style.backgroundColor);
        if (bg && bg.a > 0) {
          layers.push(bg);
          if (bg.a >= 1) break;
        }
      }
      const dark = matchMedia("(prefers-color-scheme: dark)").matches;
      let colour = dark ? { r: 18, g: 18, b: 18, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
      for (const layer of layers.reverse()) colour = over(layer, colour);
      return colour;
    };
    const shown = (el) => {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return (
        box.width > 1 &&
        box.height > 1 &&
        box.right > 0 &&
        box.bottom > 0 &&
        style.visibility !== "hidden" &&
        parseFloat(style.opacity) > 0 &&
        el.innerText.trim() !== ""
      );
    };
    const name = (el) => {
      const cls = [...el.classList].map((c) => `.${c}`).join("");
      return `<${el.tagName.toLowerCase()}${cls}> "${el.innerText.trim().slice(0, 40)}"`;
    };
    const problems = [];
    const controls = document.querySelectorAll("a[href], button, input[type=submit], input[type=button], summary");
    for (const el of controls) {
      if (el.disabled || el.closest("svg") || !shown(el)) continue;
      const background = behind(el);
      if (!background) continue;
      const text = over(parse(getComputedStyle(el).color) || { r: 0, g: 0, b: 0, a: 1 }, background);
      const seen = ratio(text, background);
      if (seen < minimum) {
        const rgb = (c) => `rgb(${[c.r, c.g, c.b].map(Math.round).join(", ")})`;
        problems.push(`${name(el)}: ${seen.toFixed(2)}:1, ${rgb(text)} on ${rgb(background)}`);
      }
    }
    return problems;
  }, MINIMUM);
}

/** Fails if any button or link on the page reads under `MINIMUM`. */
export async function checkContrast(page, what) {
  const problems = await contrastProblems(page);
  assert.deepEqual(problems, [], `text under ${MINIMUM}:1 contrast on ${what}:\n    ${problems.join("\n    ")}`);
}

/**
 * The check can fail: on a page of known colours it finds the white-on-white link button
 * /admin once had, and passes the same button in the link colour.
 */
export async function selfTest(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setContent(`<body style="background:#fff">
      <div style="background:#fff"><button style="background:none;color:#fff">Remove alice</button></div>
      <div style="background:rgba(0,0,0,0)"><button style="background:none;color:#1d4e89">Add bob</button></div>
      <header style="background:#1d4e89"><a href="#" style="color:rgba(255,255,255,.5)">Log out</a></header>`);
  const problems = await contrastProblems(page);
  await context.close();
  assert.equal(problems.length, 2, `the contrast check should flag two controls: ${JSON.stringify(problems)}`);
  assert.match(problems[0], /"Remove alice": 1\.00:1/);
  assert.match(problems[1], /"Log out"/);
}
