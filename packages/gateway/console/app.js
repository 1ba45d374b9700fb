// The console page: a redis-cli-like prompt over the gateway's Upstash REST API (same origin).
// The token lives in sessionStorage (this tab only) and travels in the Authorization header,
// never in a URL. MULTI queues commands locally and EXEC sends them to /multi-exec; a pasted block
// of several lines runs as one /pipeline.
import { splitArgs } from "./command-line.js";
import { decodeBase64Reply, formatReply } from "./reply-format.js";

const TOKEN_KEY = "cacheplane.console.token";
const HISTORY_KEY = "cacheplane.console.history";
const HISTORY_LIMIT = 200;

const output = document.getElementById("output");
const input = document.getElementById("input");
const promptLabel = document.getElementById("prompt");
const tokenInput = document.getElementById("token");
const tokenState = document.getElementById("token-state");
const form = document.getElementById("line");

const host = location.host;
let transaction = null; // array of queued commands while in MULTI
let history = [];
let historyIndex = 0;
let draft = "";
let busy = false;

try {
  history = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? "[]").filter((h) => typeof h === "string");
} catch {
  history = [];
}
historyIndex = history.length;
tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? "";

/** The keyspace a namespaced token's names are relative to (from the gateway's answers), if any. */
let namespace;

function showTokenState() {
  if (!tokenInput.value) tokenState.textContent = "no token";
  else if (namespace) tokenState.textContent = `namespaced token: names are inside ${namespace}:`;
  else tokenState.textContent = "token set for this tab";
}
showTokenState();

function promptText() {
  return transaction ? `${host}(TX)> ` : `${host}> `;
}

function renderPrompt() {
  promptLabel.textContent = promptText().trimEnd();
}
renderPrompt();

function printLine(text, kind = "reply") {
  const div = document.createElement("div");
  div.className = `line ${kind}`;
  div.textContent = text;
  output.appendChild(div);
  div.scrollIntoView({ block: "end" });
}

function printEcho(prompt, line) {
  const div = document.createElement("div");
  div.className = "line echo";
  const span = document.createElement("span");
  span.className = "prompt";
  span.textContent = prompt;
  div.append(span, document.createTextNode(line));
  output.appendChild(div);
}

function printReply(reply, command) {
  for (const line of formatReply(reply, command)) printLine(line.text, line.error ? "error" : "reply");
}

function remember(line) {
  if (line.trim() === "") return;
  if (history[history.length - 1] !== line) history.push(line);
  if (history.length > HISTORY_LIMIT) history = history.slice(-HISTORY_LIMIT);
  historyIndex = history.length;
  sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history));
}

async function request(path, body) {
  const headers = { "content-type": "application/json", "upstash-encoding": "base64" };
  if (tokenInput.value) headers.authorization = `Bearer ${tokenInput.value}`;
  let response;
  try {
    response = await fetch(new URL(`../${path}`, location.href), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    return { error: "could not reach the gateway" };
  }
  namespace = response.headers.get("cacheplane-namespace") ?? undefined;
  showTokenState();
  let parsed;
  try {
    parsed = await response.json();
  } catch {
    return { error: `gateway answered ${response.status}` };
  }
  return parsed;
}

function decodeItem(item) {
  if (item && typeof item === "object" && !Array.isArray(item) && typeof item.error === "string") {
    return { error: item.error };
  }
  return decodeBase64Reply(item?.result);
}

async function runSingle(args) {
  const body = await request("", args);
  if (typeof body?.error === "string") return printLine(`(error) ${body.error}`, "error");
  printReply(decodeBase64Reply(body?.result), args[0].toLowerCase());
}

async function runExec(commands) {
  if (commands.length === 0) return printLine("(empty array)");
  const body = await request("multi-exec", commands);
  if (!Array.isArray(body)) return printLine(`(error) ${body?.error ?? "unexpected answer"}`, "error");
  printReply(body.map(decodeItem), "exec");
}

async function runPipeline(lines) {
  const commands = [];
  for (const line of lines) {
    const parsed = splitArgs(line);
    if (!parsed.ok) return printLine(`(error) ${parsed.error}`, "error");
    if (parsed.args.length > 0) commands.push(parsed.args);
  }
  if (commands.length === 0) return;
  const body = await request("pipeline", commands);
  if (!Array.isArray(body)) return printLine(`(error) ${body?.error ?? "unexpected answer"}`, "error");
  body.forEach((item, i) => {
    printReply(decodeItem(item), commands[i][0].toLowerCase());
  });
}

async function run(line) {
  const parsed = splitArgs(line);
  if (!parsed.ok) return printLine(`(error) ${parsed.error}`, "error");
  const args = parsed.args;
  if (args.length === 0) return;
  const name = args[0].toLowerCase();
  if (name === "clear" && args.length === 1) {
    output.replaceChildren();
    return;
  }
  if (name === "help" && args.length === 1) {
    printLine(
      'Type Redis commands, e.g. SET <keyspace>:greeting "hello world"; quote arguments like redis-cli.',
      "note",
    );
    printLine(
      "MULTI ... EXEC runs a transaction; a pasted block of lines runs as one pipeline; clear empties the screen.",
      "note",
    );
    return;
  }
  if (name === "multi") {
    if (transaction) return printLine("(error) ERR MULTI calls can not be nested", "error");
    transaction = [];
    return printLine("OK");
  }
  if (name === "discard") {
    if (!transaction) return printLine("(error) ERR DISCARD without MULTI", "error");
    transaction = null;
    return printLine("OK");
  }
  if (name === "exec") {
    if (!transaction) return printLine("(error) ERR EXEC without MULTI", "error");
    const queued = transaction;
    transaction = null;
    return runExec(queued);
  }
  if (transaction) {
    transaction.push(args);
    return printLine("QUEUED");
  }
  return runSingle(args);
}

async function submit(lines) {
  if (busy) return;
  busy = true;
  try {
    const prompt = promptText();
    for (const line of lines) {
      printEcho(prompt, line);
      remember(line);
    }
    if (lines.length > 1 && !transaction) await runPipeline(lines);
    else for (const line of lines) await run(line);
  } finally {
    busy = false;
    renderPrompt();
    input.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const line = input.value;
  input.value = "";
  draft = "";
  void submit([line]);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "ArrowUp") {
    event.preventDefault();
    if (historyIndex === history.length) draft = input.value;
    if (historyIndex > 0) historyIndex--;
    input.value = history[historyIndex] ?? draft;
  } else if (event.key === "ArrowDown") {
    event.preventDefault();
    if (historyIndex < history.length) historyIndex++;
    input.value = historyIndex === history.length ? draft : (history[historyIndex] ?? "");
  } else if (event.key === "l" && event.ctrlKey) {
    event.preventDefault();
    output.replaceChildren();
  }
});

input.addEventListener("paste", (event) => {
  const text = event.clipboardData?.getData("text") ?? "";
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) return;
  event.preventDefault();
  input.value = "";
  void submit(lines);
});

tokenInput.addEventListener("input", () => {
  if (tokenInput.value) sessionStorage.setItem(TOKEN_KEY, tokenInput.value);
  else sessionStorage.removeItem(TOKEN_KEY);
  namespace = undefined;
  showTokenState();
});

document.getElementById("terminal").addEventListener("click", () => {
  if (!window.getSelection()?.toString()) input.focus();
});

input.focus();
