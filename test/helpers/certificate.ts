/**
 * A throwaway self-signed certificate for TLS tests: EC P-256, valid for a day, written as
 * server.pem and server.key into `dir` (the names tlsFromKv reads by default).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface ThrowawayCertificate {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
}

/** `subjectAltNames` in openssl's form, e.g. ["DNS:localhost", "IP:127.0.0.1"]; the first names the subject. */
export function makeCertificate(dir: string, subjectAltNames: readonly string[]): ThrowawayCertificate {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, "server.pem");
  const keyPath = join(dir, "server.key");
  const commonName = subjectAltNames[0]!.replace(/^(DNS|IP):/, "");
  execFileSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", `/CN=${commonName}`, "-addext", `subjectAltName=${subjectAltNames.join(",")}`,
      "-keyout", keyPath, "-out", certPath,
    ],
    { stdio: "ignore" },
  );
  return { certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
