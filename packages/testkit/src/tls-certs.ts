import { execFile } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { generate } from "selfsigned";

const execFileAsync = promisify(execFile);

/** PEM material for a TLS Redis server: clients trust `ca`; the server presents `cert`/`key`. */
export interface TlsCertificates {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsCertificateFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

const SERVER_HOSTNAME = "localhost";
const SERVER_IP = "127.0.0.1";
const HOUR = 60 * 60 * 1000;

/** Checks the server certificate is issued and signed by the CA and valid for localhost and 127.0.0.1. */
export function assertValidServerCertificate(material: TlsCertificates): void {
  const ca = new X509Certificate(material.ca);
  const cert = new X509Certificate(material.cert);
  const problems: string[] = [];
  if (!ca.ca) problems.push("CA certificate is not marked CA:TRUE");
  if (!cert.checkIssued(ca)) problems.push("server certificate is not issued by the CA");
  if (!cert.verify(ca.publicKey))
    problems.push("server certificate signature does not verify with the CA key");
  if (!cert.checkHost(SERVER_HOSTNAME))
    problems.push(`server certificate is not valid for ${SERVER_HOSTNAME}`);
  if (!cert.checkIP(SERVER_IP)) problems.push(`server certificate is not valid for ${SERVER_IP}`);
  if (!material.key.includes("PRIVATE KEY")) problems.push("server key is not a PEM private key");
  if (problems.length > 0) throw new Error(`generated TLS certificates are unusable: ${problems.join("; ")}`);
}

export async function generateWithSelfsigned(): Promise<TlsCertificates> {
  const notBeforeDate = new Date(Date.now() - HOUR);
  const notAfterDate = new Date(Date.now() + 30 * 24 * HOUR);
  const common = { keyType: "ec", curve: "P-256", algorithm: "sha256", notBeforeDate, notAfterDate } as const;
  const ca = await generate([{ name: "commonName", value: "cacheplane testkit CA" }], {
    ...common,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: "commonName", value: SERVER_HOSTNAME }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: SERVER_HOSTNAME },
          { type: 7, ip: SERVER_IP },
        ],
      },
    ],
  });
  return { ca: ca.cert, cert: server.cert, key: server.private };
}

export async function generateWithOpenssl(): Promise<TlsCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "cacheplane-certs-"));
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileAsync("openssl", args, { cwd: dir, timeout: 30_000 });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await openssl(
      ["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "30"]
        .concat(["-subj", "/CN=cacheplane testkit CA"])
        .concat(["-addext", "basicConstraints=critical,CA:TRUE"])
        .concat(["-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"]),
    );
    await openssl(
      ["req", "-new", ...ec, "-keyout", file("server.key"), "-out", file("server.csr")].concat([
        "-subj",
        `/CN=${SERVER_HOSTNAME}`,
      ]),
    );
    await writeFile(
      file("server.ext"),
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        `subjectAltName=DNS:${SERVER_HOSTNAME},IP:${SERVER_IP}`,
      ].join("\n"),
    );
    await openssl(
      ["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key")]
        .concat(["-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "30", "-sha256"])
        .concat(["-extfile", file("server.ext"), "-out", file("server.crt")]),
    );
    const [ca, cert, key] = await Promise.all(
      ["ca.crt", "server.crt", "server.key"].map((name) => readFile(file(name), "utf8")),
    );
    return { ca: ca!, cert: cert!, key: key! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Generates a fresh CA and a server certificate signed by it (SAN: DNS localhost, IP 127.0.0.1).
 * Uses the `selfsigned` package and falls back to the `openssl` CLI if that fails or yields bad certificates.
 */
export async function generateTlsCertificates(): Promise<TlsCertificates> {
  let firstError: unknown;
  try {
    const material = await generateWithSelfsigned();
    assertValidServerCertificate(material);
    return material;
  } catch (error) {
    firstError = error;
  }
  try {
    const material = await generateWithOpenssl();
    assertValidServerCertificate(material);
    return material;
  } catch (error) {
    throw new Error(
      `could not generate TLS certificates (selfsigned: ${String(firstError)}; openssl: ${String(error)})`,
    );
  }
}

/** Writes ca.crt, server.crt and server.key (mode 0600) into `dir`. */
export async function writeTlsCertificates(
  dir: string,
  material: TlsCertificates,
): Promise<TlsCertificateFiles> {
  const files: TlsCertificateFiles = {
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
  };
  await Promise.all([
    writeFile(files.caFile, material.ca, { mode: 0o600 }),
    writeFile(files.certFile, material.cert, { mode: 0o600 }),
    writeFile(files.keyFile, material.key, { mode: 0o600 }),
  ]);
  return files;
}
