// The gateway bench's Node baseline: a bare node:http + ioredis (enableAutoPipelining) server doing
// what any HTTP front of Redis must do per request, and nothing more: read the body, check the
// bearer token (SHA-256 + timingSafeEqual against the stored hash), parse the command (JSON body on
// POST /, or /cmd/arg/... percent-decoded), run it, JSON-encode {"result": ...}. Plain JavaScript,
// run by `node` directly (no TypeScript loader). Settings come from BENCH_BARE_SERVER (JSON).
import { hash, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { Redis } from "ioredis";

const settings = JSON.parse(process.env.BENCH_BARE_SERVER ?? "{}");
const expected = Buffer.from(settings.tokenSha256, "base64");
const redis = new Redis({
  host: settings.host,
  port: settings.port,
  username: settings.username,
  password: settings.password,
  enableAutoPipelining: true,
  enableReadyCheck: false,
  lazyConnect: true,
});
await redis.connect();

function reply(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req, res, body) {
  const match = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  const presented = match ? Buffer.from(hash("sha256", match[1], "base64"), "base64") : undefined;
  if (!presented || !timingSafeEqual(presented, expected)) return reply(res, 401, { error: "Unauthorized" });
  try {
    const [name, ...args] =
      req.url === "/"
        ? JSON.parse(body.toString("utf8"))
        : req.url.slice(1).split("/").map(decodeURIComponent);
    reply(res, 200, { result: await redis.call(name, ...args) });
  } catch (error) {
    reply(res, 400, { error: error.message });
  }
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => handle(req, res, Buffer.concat(chunks)));
});
server.listen(0, "127.0.0.1", () => console.log(`listening on ${server.address().port}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    redis.disconnect();
  });
}
