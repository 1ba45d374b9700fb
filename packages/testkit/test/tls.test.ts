import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { startRedis, stopAll } from "@cacheplane/testkit";
import { Redis } from "ioredis";
import {
  assertValidServerCertificate,
  generateWithOpenssl,
  generateWithSelfsigned,
} from "../src/tls-certs.js";
import { assertProcessGone } from "./process-helpers.js";

after(() => stopAll());

/** Sends an inline PING over plain TCP and collects whatever comes back within `ms`. */
function plainPing(port: number, ms = 1_000): Promise<string> {
  return new Promise((resolve) => {
    let received = "";
    const socket = connect({ host: "127.0.0.1", port });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, ms);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("error", done);
    socket.on("close", done);
  });
}

test("TLS server: clients trusting the CA get PONG, plain TCP does not", async (t) => {
  const server = await startRedis({ tls: true });
  t.after(() => server.stop());
  const pid = server.pid;
  assert.ok(server.tls);
  assert.match(server.tls.ca, /BEGIN CERTIFICATE/);
  assert.match(server.tls.cert, /BEGIN CERTIFICATE/);
  assert.match(server.tls.key, /PRIVATE KEY/);
  assert.equal(server.url, `rediss://admin:${server.admin.password}@127.0.0.1:${server.port}`);

  // Certificates and the aclfile are private to the owner.
  for (const name of readdirSync(server.dir).filter((n) => /\.(crt|key|acl)$/.test(n))) {
    assert.equal(statSync(join(server.dir, name)).mode & 0o777, 0o600, name);
  }

  assert.equal(await server.client().ping(), "PONG");

  const auth = { username: server.admin.username, password: server.admin.password };
  const withCa = new Redis({ host: "127.0.0.1", port: server.port, ...auth, tls: { ca: server.tls.ca } });
  assert.equal(await withCa.ping(), "PONG");
  await withCa.quit();

  const byName = new Redis({
    host: "localhost",
    port: server.port,
    family: 4,
    ...auth,
    tls: { ca: server.tls.ca, servername: "localhost" },
  });
  assert.equal(await byName.ping(), "PONG");
  await byName.quit();

  // Without the CA the certificate is not trusted.
  const untrusted = await new Promise<Error>((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: server.port, servername: "localhost" });
    socket.once("secureConnect", () => {
      socket.destroy();
      reject(new Error("TLS handshake succeeded without the CA"));
    });
    socket.once("error", resolve);
  });
  assert.match((untrusted as NodeJS.ErrnoException).code ?? "", /CERT|SIGNATURE|ISSUER/);

  const reply = await plainPing(server.port);
  assert.ok(!reply.includes("+PONG"), `plain TCP got ${JSON.stringify(reply)}`);

  await server.stop();
  assertProcessGone(pid);
});

test("TLS server restarts on the same port with the same certificates", async (t) => {
  const server = await startRedis({ tls: true, acl: false });
  t.after(() => server.stop());
  assert.equal(server.url, `rediss://127.0.0.1:${server.port}`);
  const ca = server.tls?.ca;
  await server.kill();
  await server.restart();
  assert.equal(server.tls?.ca, ca);
  assert.equal(await server.client().ping(), "PONG");
  const pid = server.pid;
  await server.stop();
  assertProcessGone(pid);
});

test("both certificate generators (selfsigned, openssl fallback) yield a CA-signed localhost/127.0.0.1 cert", async () => {
  for (const generate of [generateWithSelfsigned, generateWithOpenssl]) {
    const material = await generate();
    assertValidServerCertificate(material);
    const cert = new X509Certificate(material.cert);
    assert.ok(cert.checkIssued(new X509Certificate(material.ca)), generate.name);
  }
});
