// The console page in headless Chromium (playwright-core): typed commands render like redis-cli,
// history with arrow keys, errors in red, MULTI/EXEC through /multi-exec, token kept in
// sessionStorage only. Saves test-artifacts/console.png.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { stopAll } from "@cacheplane/testkit";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_INSTALL_HINT, findChromium, launchChromium } from "./helpers/chromium.js";
import { type Fixture, startFixture } from "./helpers/fixture.js";

const executablePath = findChromium();
const ARTIFACT = new URL("../test-artifacts/console.png", import.meta.url);

let fx: Fixture | undefined;
let browser: Browser | undefined;
let page: Page;

before(async () => {
  if (!executablePath) return;
  fx = await startFixture({
    services: [
      { name: "a", access: "read-write" },
      { name: "b", access: "read-write" },
    ],
  });
  await fx.direct("b").set("b:secret", "not yours");
  browser = await launchChromium(executablePath);
  page = await browser.newPage({ viewport: { width: 980, height: 760 } });
});
after(async () => {
  await browser?.close();
  await fx?.close();
  await stopAll();
});

async function lineCount(): Promise<number> {
  return page.locator("#output .line").count();
}

/** Types `command`, presses Enter, and returns the reply lines printed after its echo. */
async function run(command: string, replyLines = 1): Promise<{ text: string; error: boolean }[]> {
  const before = await lineCount();
  await page.fill("#input", command);
  await page.press("#input", "Enter");
  await page.waitForFunction(
    (n) => document.querySelectorAll("#output .line").length >= n,
    before + 1 + replyLines,
  );
  const lines = page.locator("#output .line");
  const echo = await lines.nth(before).textContent();
  assert.ok(echo?.endsWith(command), `echo line: ${echo}`);
  const out: { text: string; error: boolean }[] = [];
  for (let i = before + 1; i < before + 1 + replyLines; i++) {
    const line = lines.nth(i);
    out.push({
      text: (await line.textContent()) ?? "",
      error: (await line.getAttribute("class"))?.includes("error") ?? false,
    });
  }
  return out;
}

const texts = (lines: { text: string }[]) => lines.map((l) => l.text);

describe("console in headless Chromium", () => {
  test("behaves like redis-cli", async (t) => {
    if (!executablePath) {
      if (process.env.CI) assert.fail(CHROMIUM_INSTALL_HINT);
      t.skip(CHROMIUM_INSTALL_HINT);
      return;
    }
    assert.ok(fx);
    const token = fx.tokens.a!.readWrite;
    await page.goto(`${fx.url}/console`);
    const host = new URL(fx.url).host;
    assert.equal(await page.textContent("#prompt"), `${host}>`);
    await page.fill("#token", token);

    assert.deepEqual(texts(await run('SET a:greeting "hello world"')), ["OK"]);
    assert.deepEqual(texts(await run("GET a:greeting")), ['"hello world"']);
    assert.deepEqual(texts(await run("INCR a:counter")), ["(integer) 1"]);
    assert.deepEqual(texts(await run("GET a:missing")), ["(nil)"]);
    assert.deepEqual(texts(await run("RPUSH a:list x 'y z' \"\\xe2\\x82\\xac\"")), ["(integer) 3"]);
    assert.deepEqual(texts(await run("LRANGE a:list 0 -1", 3)), [
      '1) "x"',
      '2) "y z"',
      '3) "\\xe2\\x82\\xac"',
    ]);
    assert.deepEqual(texts(await run("LRANGE a:nothing 0 -1")), ["(empty array)"]);
    assert.deepEqual(texts(await run("TYPE a:list")), ["list"]);
    assert.equal(await fx.direct("a").lindex("a:list", 2), "€");

    // Errors are red.
    const [denied] = await run("GET b:secret");
    assert.ok(denied?.error);
    assert.match(denied?.text ?? "", /^\(error\) NOPERM/);
    const color = await page
      .locator("#output .line.error")
      .last()
      .evaluate((el) => getComputedStyle(el).color);
    assert.equal(color, "rgb(255, 95, 86)");
    assert.match((await run("FLUSHALL"))[0]?.text ?? "", /^\(error\) NOPERM/);
    assert.match((await run('SET a:x "unterminated'))[0]?.text ?? "", /^\(error\) Invalid argument/);

    // MULTI queues locally, EXEC sends the batch to /multi-exec.
    assert.deepEqual(texts(await run("MULTI")), ["OK"]);
    assert.equal(await page.textContent("#prompt"), `${host}(TX)>`);
    assert.deepEqual(texts(await run("SET a:tx 1")), ["QUEUED"]);
    assert.deepEqual(texts(await run("INCR a:tx")), ["QUEUED"]);
    assert.equal(await fx.direct("a").get("a:tx"), null, "nothing runs before EXEC");
    assert.deepEqual(texts(await run("EXEC", 2)), ["1) OK", "2) (integer) 2"]);
    assert.equal(await page.textContent("#prompt"), `${host}>`);
    assert.equal(await fx.direct("a").get("a:tx"), "2");
    assert.match((await run("EXEC"))[0]?.text ?? "", /EXEC without MULTI/);

    // History with the arrow keys (a repeated line is kept once, as in redis-cli).
    await page.focus("#input");
    await page.fill("#input", "draft");
    await page.press("#input", "ArrowUp");
    assert.equal(await page.inputValue("#input"), "EXEC");
    await page.press("#input", "ArrowUp");
    assert.equal(await page.inputValue("#input"), "INCR a:tx");
    await page.press("#input", "ArrowUp");
    assert.equal(await page.inputValue("#input"), "SET a:tx 1");
    await page.press("#input", "ArrowDown");
    await page.press("#input", "ArrowDown");
    assert.equal(await page.inputValue("#input"), "EXEC");
    await page.press("#input", "ArrowDown");
    assert.equal(await page.inputValue("#input"), "draft");
    await page.fill("#input", "");

    // The token stays in sessionStorage, never in the URL; it survives a reload of the tab.
    assert.ok(!page.url().includes(token));
    assert.equal(await page.evaluate(() => sessionStorage.getItem("cacheplane.console.token")), token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);

    await mkdir(new URL(".", ARTIFACT), { recursive: true });
    await page.screenshot({ path: ARTIFACT.pathname, fullPage: true });

    await page.reload();
    assert.equal(await page.inputValue("#token"), token);
    assert.deepEqual(texts(await run("GET a:greeting")), ['"hello world"']);
    assert.equal(await page.textContent("#token-state"), "token set for this tab");
  });

  test("a namespaced token: names without the keyspace, and the page says so", async (t) => {
    if (!executablePath) {
      if (process.env.CI) assert.fail(CHROMIUM_INSTALL_HINT);
      t.skip(CHROMIUM_INSTALL_HINT);
      return;
    }
    assert.ok(fx);
    await page.goto(`${fx.url}/console`);
    await page.fill("#token", fx.tokens.a!.namespacedReadWrite);
    assert.deepEqual(texts(await run("GET greeting")), ['"hello world"']);
    assert.equal(await page.textContent("#token-state"), "namespaced token: names are inside a:");
    assert.deepEqual(texts(await run("SET b:secret mine")), ["OK"]);
    assert.equal(await fx.direct("b").get("b:secret"), "not yours");
    assert.equal(await fx.direct("a").get("a:b:secret"), "mine");
    await page.screenshot({ path: ARTIFACT.pathname.replace("console.png", "console-namespaced.png") });
    // Back to a plain token: the note goes away.
    await page.fill("#token", fx.tokens.a!.readWrite);
    assert.equal(await page.textContent("#token-state"), "token set for this tab");
  });
});
