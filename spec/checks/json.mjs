// The value model checked from JavaScript (SPEC R4.4, R11.4, R11.7), with
// nothing but Node and `JSON.parse`:
//   1. every vector file reads the same with `JSON.parse` as the spec says:
//      no number whose meaning depends on its spelling (each is a closest
//      shortest decimal of its binary64) and no member twice in an object;
//   2. every `read_json` step's expectation is recomputed by a reader and a
//      canonical writer written here from the spec alone.
// Usage: node spec/checks/json.mjs [dir]   (default: spec/vectors)
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const DEPTH_MAX = 128;

// --- numbers (R4.4) --------------------------------------------------------

// A decimal as [digits (no leading/trailing zeros), exponent of the last digit].
function decimalOf(text) {
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  let digits = m[1] + (m[2] ?? "");
  let exp = Number(m[3] ?? 0) - (m[2] ?? "").length;
  digits = digits.replace(/^0+/, "");
  while (digits.endsWith("0")) { digits = digits.slice(0, -1); exp += 1; }
  return digits === "" ? ["", 0] : [digits, exp];
}

// x = m * 2^e exactly, as BigInts, for a positive finite x.
function binary(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return exponent === 0 ? [fraction, -1074] : [fraction | (1n << 52n), exponent - 1075];
}

// Compares D * 10^p (D a BigInt) with the positive float x exactly: -1, 0, 1.
function cmpDecimalFloat(d, p, x) {
  const [m, e] = binary(x);
  let left = d, right = m;
  if (p >= 0) left *= 10n ** BigInt(p); else right *= 10n ** BigInt(-p);
  if (e >= 0) right *= 2n ** BigInt(e); else left *= 2n ** BigInt(-e);
  return left < right ? -1 : left > right ? 1 : 0;
}

// The shortest decimal of a positive finite x, as JavaScript finds it.
function shortest(x) {
  return decimalOf(x.toExponential());
}

// Whether a number token reads under R4.4: the binary64 it denotes, or null.
export function readNumber(token) {
  const x = Number(token);
  if (!Number.isFinite(x)) return null;
  const [digits, exp] = decimalOf(token);
  if (x === 0) return digits === "" ? 0 : null;
  const [sd, se] = shortest(Math.abs(x));
  if (digits === sd && exp === se) return x;
  // A tie: same length at the same scale, one unit apart, x exactly halfway.
  if (exp < se) return null;
  const t = BigInt(digits + "0".repeat(exp - se));
  const s = BigInt(sd);
  const lo = t < s ? t : s;
  const apart = t > s ? t - s : s - t;
  if (apart !== 1n) return null;
  return cmpDecimalFloat(lo * 10n + 5n, se - 1, Math.abs(x)) === 0 ? x : null;
}

// --- the reader (R11.7) ----------------------------------------------------

class Fault extends Error {
  constructor(code, at) { super(`${code} at byte ${at}`); this.code = code; }
}

let numbersRead = 0;

export function readJson(text) {
  let i = 0;
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const fail = (code) => { throw new Fault(code, i); };
  function string() {
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail("json");
      const c = text[i];
      if (c === '"') { i++; return out; }
      if (c.charCodeAt(0) < 0x20) fail("json");
      if (c !== "\\") { out += c; i++; continue; }
      const e = text[i + 1];
      const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (e in simple) { out += simple[e]; i += 2; continue; }
      if (e !== "u") fail("json");
      const unit = (at) => {
        const h = text.slice(at, at + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("json");
        return parseInt(h, 16);
      };
      const u = unit(i + 2);
      i += 6;
      if (u >= 0xd800 && u <= 0xdbff) {
        if (text.slice(i, i + 2) !== "\\u") fail("json");
        const low = unit(i + 2);
        if (low < 0xdc00 || low > 0xdfff) fail("json");
        i += 6;
        out += String.fromCharCode(u, low);
      } else if (u >= 0xdc00 && u <= 0xdfff) {
        fail("json");
      } else {
        out += String.fromCharCode(u);
      }
    }
  }
  function value(depth) {
    ws();
    const c = text[i];
    if (c === "[" || c === "{") {
      if (depth >= DEPTH_MAX) fail("too_deep");
      i++; ws();
      if (c === "[") {
        const items = [];
        if (text[i] === "]") { i++; return items; }
        for (;;) {
          items.push(value(depth + 1)); ws();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "]") { i++; return items; }
          fail("json");
        }
      }
      const members = new Map();
      if (text[i] === "}") { i++; return members; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("json");
        const name = string(); ws();
        if (text[i] !== ":") fail("json");
        i++;
        const v = value(depth + 1);
        if (members.has(name)) fail("duplicate_member");
        members.set(name, v); ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return members; }
        fail("json");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail("json");
    const x = readNumber(m[0]);
    if (x === null) fail("bad_number");
    i += m[0].length;
    numbersRead++;
    return Object.is(x, -0) ? 0 : x;
  }
  const v = value(0);
  ws();
  if (i < text.length) fail("json");
  return v;
}

// --- the canonical writer (R11.4) ------------------------------------------

const utf8 = (s) => Buffer.from(s, "utf8");
export function canonical(v) {
  if (v instanceof Map) {
    const names = [...v.keys()].sort((a, b) => Buffer.compare(utf8(a), utf8(b)));
    return "{" + names.map((k) => JSON.stringify(k) + ":" + canonical(v.get(k))).join(",") + "}";
  }
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  return JSON.stringify(v); // numbers as Number.prototype.toString, -0 as 0
}

// --- the vector files -------------------------------------------------------

function files(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith(".json") ? [path] : [];
  });
}

const dir = process.argv[2] ?? "spec/vectors";
let failures = 0, recomputed = 0;
const fail = (msg) => { failures++; console.log(`FAIL ${msg}`); };
for (const path of files(dir)) {
  const text = readFileSync(path, "utf8");
  // 1. The file under the value model: no member twice, every number a
  // closest shortest decimal, so JSON.parse reads what the spec means.
  try {
    readJson(text);
  } catch (e) {
    fail(`${path}: ${e.message}`);
    continue;
  }
  const vector = JSON.parse(text);
  // 2. Every read_json expectation, recomputed here.
  vector.steps.forEach((step, n) => {
    if (step.op !== "read_json") return;
    recomputed++;
    let got;
    try { got = { canonical: canonical(readJson(step.text)) }; } catch (e) { got = { error: e.code }; }
    const want = step.expect.error ? { error: step.expect.error.code } : { canonical: step.expect.canonical };
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      fail(`${path} step ${n}: expected ${JSON.stringify(want)}, computed ${JSON.stringify(got)}`);
    }
  });
}
console.log(`${files(dir).length} files, ${numbersRead} numbers read (files and read_json texts), ${recomputed} read_json steps recomputed, ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);
