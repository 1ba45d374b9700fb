// The gateway bench's floors: what a Node server costs per request before it does any work of its
// own. Neither checks a token nor talks to Redis; each answers every request with the constant JSON
// the measured servers must give ({"result":<value>} for GET, {"result":"OK"} for POST), so the
// bench's answer check passes. Settings from BENCH_FLOOR_SERVER (JSON: { mode, value }).
// - mode "http": node:http, one writeHead + end per request (the least any node:http server does);
// - mode "net": node:net, no HTTP parsing at all: it counts the ends of header blocks ("\r\n\r\n")
//   and writes one canned response per request. Not a server anyone could ship; it bounds what
//   Node's event loop, sockets and the kernel cost per request without an HTTP parser.
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";

const { mode, value } = JSON.parse(process.env.BENCH_FLOOR_SERVER ?? "{}");
const getBody = Buffer.from(JSON.stringify({ result: value }));
const setBody = Buffer.from(JSON.stringify({ result: "OK" }));
const headers = (body) => ["content-type", "application/json", "content-length", String(body.length)];

let server;
if (mode === "http") {
  server = createHttpServer((req, res) => {
    const body = req.method === "GET" ? getBody : setBody;
    req.on("data", () => undefined);
    req.on("end", () => {
      res.writeHead(200, headers(body));
      res.end(body);
    });
  });
} else if (mode === "net") {
  const answer = (body) =>
    Buffer.concat([
      Buffer.from(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]);
  const getAnswer = answer(getBody);
  const setAnswer = answer(setBody);
  server = createNetServer((socket) => {
    socket.setNoDelay(true);
    let carry = "";
    socket.on("data", (chunk) => {
      const text = carry + chunk.toString("latin1");
      let from = 0;
      for (let end = text.indexOf("\r\n\r\n"); end !== -1; end = text.indexOf("\r\n\r\n", from)) {
        socket.write(text.startsWith("GET", from) ? getAnswer : setAnswer);
        from = end + 4;
      }
      carry = text.slice(Math.max(from, text.length - 3));
    });
    socket.on("error", () => undefined);
  });
} else {
  throw new Error(`BENCH_FLOOR_SERVER.mode must be "http" or "net", not ${JSON.stringify(mode)}`);
}
server.listen(0, "127.0.0.1", () => console.log(`listening on ${server.address().port}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
