// The browser test (issue #14): Debian's Chromium, headless, driven by
// puppeteer-core, loads page.html from a local HTTP server on 127.0.0.1.
// The server serves the package and the vectors, and runs a fieldmerge
// Server (Node) behind POST /push. Phase 1 runs every vector in the page
// and syncs two devices over IndexedDB; phase 2 reloads and checks that
// nothing written was lost. Exits 1 on any failure.
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";
import { FieldmergeError, Server } from "../../dist/node.js";
import { vectorFiles } from "../runner.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const vectors = fileURLToPath(new URL("../../../../spec/vectors", import.meta.url));
const files = vectorFiles(vectors).map((p) => p.slice(vectors.length + 1));
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

// The server's clock: fixed, so the device a day ahead is refused.
const server = Server.create({ skew_ms_max: 60000, page_size_max: 1000 });
const serverNow = "2026-04-26T10:00:00.000Z";

const http = createServer((req, res) => {
  const send = (status, type, body) => {
    res.writeHead(status, { "content-type": type });
    res.end(body);
  };
  if (req.method === "POST" && req.url === "/push") {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      try {
        send(200, "application/json", JSON.stringify(server.push(body, serverNow)));
      } catch (e) {
        if (!(e instanceof FieldmergeError)) throw e;
        const refusal = ["clock_ahead", "stale_clock", "seq_reused", "seq_gap", "seq_order", "missing_seq", "foreign_change"].includes(e.code);
        send(refusal ? 409 : 400, "application/json", JSON.stringify(e.body));
      }
    });
    return;
  }
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/vectors/list") return send(200, "application/json", JSON.stringify(files));
  const path = url.pathname.startsWith("/vectors/")
    ? join(vectors, normalize(decodeURIComponent(url.pathname.slice("/vectors/".length))))
    : join(root, normalize(url.pathname === "/" ? "/test/browser/page.html" : url.pathname));
  if (!path.startsWith(root) && !path.startsWith(vectors)) return send(403, "text/plain", "no");
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
    send(200, types[extname(path)] ?? "application/octet-stream", readFileSync(path));
  } catch {
    send(404, "text/plain", "not found");
  }
});
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${http.address().port}`;

const profile = mkdtempSync(join(tmpdir(), "fieldmerge-chromium-"));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  userDataDir: profile,
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.on("console", (m) => console.log(`page: ${m.text()}`));
  page.on("pageerror", (e) => console.log(`page error: ${e}`));
  for (const phase of ["1", "2"]) {
    await page.goto(`${base}/test/browser/page.html?phase=${phase}`);
    await page.waitForFunction("window.__result !== undefined", { timeout: 120000 });
    const result = await page.evaluate("window.__result");
    console.log(`phase ${phase}: ${JSON.stringify(result.details ?? result.error)}`);
    if (!result.ok) failed = true;
  }
} finally {
  await browser.close();
  http.close();
  server.free();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failed ? "browser test FAILED" : "browser test passed");
process.exit(failed ? 1 : 0);
