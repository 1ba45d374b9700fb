// The operator page in headless Chromium (playwright-core), against a real redis-server and a real
// gateway sampling with an observer user: refused without a token (401) and with a service token (403),
// open with the admin token, the right services and numbers after traffic, and charts that draw.
// Saves test-artifacts/operator.png (look at it: it is what an operator sees).
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_INSTALL_HINT, findChromium, launchChromium } from "./helpers/chromium.js";
import { type Fixture, post, startFixture } from "./helpers/fixture.js";
import { type OperatorGateway, startOperatorGateway } from "./helpers/operator.js";

const executablePath = findChromium();
const ARTIFACT = new URL("../test-artifacts/operator.png", import.meta.url);

let fx: Fixture | undefined;
let op: OperatorGateway | undefined;
let browser: Browser | undefined;
let page: Page;

before(async () => {
  if (!executablePath) return;
  fx = await startFixture({
    services: [
      { name: "orders", access: "read-write" },
      { name: "catalog", access: "read-write" },
      { name: "sessions", access: "read-write" },
      { name: "reports", access: "read-only" },
    ],
  });
  op = await startOperatorGateway(fx, { intervalMs: 1000 });
  browser = await launchChromium(executablePath);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});
after(async () => {
  await browser?.close();
  await op?.close();
  await fx?.close();
  await stopAll();
});

async function openWith(token: string): Promise<void> {
  await page.fill("#token", token);
  await page.click("#token-form button");
}

/** The text of a service's table cell. */
function serviceCell(service: string, field: string): Promise<string | null> {
  return page.textContent(`#services tr[data-service="${service}"] td[data-field="${field}"]`);
}

/** Non-blank pixels of every chart canvas: a drawn line or area leaves some. */
function drawnPixels(): Promise<number[]> {
  return page.$$eval(".chart canvas", (canvases) =>
    canvases.map((canvas) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let colored = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
        // Series colours, not the grey axes and grid.
        if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) colored++;
      }
      return colored;
    }),
  );
}

describe("operator page in headless Chromium", () => {
  test("refuses without the admin token, then shows services, numbers and charts", async (t) => {
    if (!executablePath) {
      if (process.env.CI) assert.fail(CHROMIUM_INSTALL_HINT);
      t.skip(CHROMIUM_INSTALL_HINT);
      return;
    }
    assert.ok(fx && op);
    const consoleErrors: string[] = [];
    page.on("console", (message) => {
      // The refused requests of the first steps are expected; script errors are not.
      if (message.type() === "error" && !/^Failed to load resource/.test(message.text()))
        consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(error.message));

    // No token: 401, nothing shown.
    await page.goto(`${op.url}/operator/`);
    await page.waitForSelector("body[data-access='401']");
    assert.match((await page.textContent("#notice")) ?? "", /^401 Unauthorized: .*admin token/);
    assert.equal(await page.isVisible("#view"), false);
    assert.equal(await page.locator("#services tbody tr").count(), 0);

    // A service token: 403, nothing shown.
    await openWith(fx.tokens.orders!.readWrite);
    await page.waitForSelector("body[data-access='403']");
    assert.match((await page.textContent("#notice")) ?? "", /^403 Forbidden: .*service token cannot open/);
    assert.equal(await page.isVisible("#view"), false);

    // Traffic through the gateway: keys with and without TTL, hits and misses, one denial.
    const orders = fx.tokens.orders!.readWrite;
    const catalog = fx.tokens.catalog!.readWrite;
    const sessions = fx.tokens.sessions!.readWrite;
    await post(
      op.url,
      "/pipeline",
      Array.from({ length: 40 }, (_, i) => ["SET", `orders:o${i}`, `order ${i}`, "EX", "3600"]),
      orders,
    );
    await post(
      op.url,
      "/pipeline",
      Array.from({ length: 25 }, (_, i) => ["SET", `catalog:p${i}`, "x".repeat(2000)]),
      catalog,
    );
    await post(
      op.url,
      "/pipeline",
      Array.from({ length: 10 }, (_, i) => ["SET", `sessions:s${i}`, "{}", "EX", "900"]),
      sessions,
    );
    for (let i = 0; i < 6; i++) await post(op.url, "/", ["GET", `orders:o${i}`], orders);
    for (let i = 0; i < 2; i++) await post(op.url, "/", ["GET", `orders:gone${i}`], orders);
    await post(op.url, "/", ["MGET", "catalog:p1", "catalog:p2", "catalog:p3", "catalog:nope"], catalog);
    assert.equal((await post(op.url, "/", ["GET", "catalog:p1"], sessions)).status, 403);

    // The admin token: the view, with the numbers of that traffic once a sample has seen it.
    await openWith(op.adminToken);
    await page.waitForSelector("body[data-access='200']");
    // (No named functions inside: the test's TypeScript loader would wrap them in a helper the page lacks.)
    await page.waitForFunction(
      (expected) =>
        expected.every(
          ([service, field, value]) =>
            document.querySelector(`#services tr[data-service="${service}"] td[data-field="${field}"]`)
              ?.textContent === value,
        ),
      [
        ["orders", "keys", "40"],
        ["catalog", "keys", "25"],
        ["sessions", "noperm", "1"],
      ],
      { timeout: 60_000 },
    );
    assert.equal(await page.isVisible("#notice"), false);
    const rows = await page.$$eval("#services tbody tr", (trs) =>
      trs.map((tr) => (tr as HTMLElement).dataset.service),
    );
    assert.deepEqual(rows, ["orders", "catalog", "sessions", "reports"]);
    assert.equal(await serviceCell("orders", "keysWithoutTtl"), "0");
    assert.equal(await serviceCell("catalog", "keysWithoutTtl"), "25");
    assert.equal(await serviceCell("orders", "hits"), "6");
    assert.equal(await serviceCell("orders", "misses"), "2");
    assert.equal(await serviceCell("orders", "hitRatio"), "75.0 %");
    assert.equal(await serviceCell("catalog", "hits"), "3");
    assert.equal(await serviceCell("catalog", "misses"), "1");
    assert.equal(await serviceCell("sessions", "noperm"), "1");
    assert.equal(await serviceCell("sessions", "forbidden"), "1");
    assert.equal(await serviceCell("reports", "keys"), "0");
    assert.match((await serviceCell("catalog", "memory")) ?? "", /KiB$/);
    assert.match((await page.textContent("[data-card='keys'] .value")) ?? "", /^75$/);
    assert.match((await page.textContent("#sampled")) ?? "", /^Last sample /);
    assert.equal(await page.locator("#nodes tbody tr").count(), 1);
    assert.match((await page.textContent("#notes")) ?? "", /relayed by this gateway process/);

    // Charts: six, each drawn (uPlot canvases with coloured series), with a legend per service.
    await page.waitForFunction(() => document.querySelectorAll(".chart canvas").length === 6, undefined, {
      timeout: 60_000,
    });
    const pixels = await drawnPixels();
    assert.equal(pixels.length, 6);
    assert.ok(
      pixels.every((n) => n > 100),
      `every chart draws its series (memory, keys, no TTL, NOPERM, hits, misses): ${pixels.join(", ")}`,
    );
    const legend = await page.$$eval("#chart-memory .u-legend .u-series .u-label", (labels) =>
      labels.map((l) => l.textContent),
    );
    assert.deepEqual(
      legend.filter((label) => label !== "Time"),
      ["orders", "catalog", "sessions", "reports"],
    );

    // Nothing secret on the page, and the token only in this tab's sessionStorage.
    const html = await page.content();
    for (const secret of [...fx.secretStrings(), op.observer.password]) assert.ok(!html.includes(secret));
    assert.ok(!page.url().includes(op.adminToken));
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem("cacheplane.operator.token")),
      op.adminToken,
    );
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.deepEqual(consoleErrors, []);

    await mkdir(new URL(".", ARTIFACT), { recursive: true });
    await page.screenshot({ path: ARTIFACT.pathname, fullPage: true });
  });
});
