/**
 * A TLS certificate and key read from a KV store (MirageOS's Tls_mirage.X509.certificate):
 * the static-website-tls example keeps them in a `tls/` directory embedded or read from disk.
 */
import { createSecureContext } from "node:tls";
import { KvError, type KvRo } from "@mirage-ts/runtime";

export interface TlsFromKvOptions {
  /** The certificate (chain) in PEM; default "server.pem". */
  certificate?: string;
  /** The private key in PEM; default "server.key". */
  key?: string;
}

export interface TlsCredentials {
  cert: Uint8Array;
  key: Uint8Array;
}

export async function tlsFromKv(kv: KvRo, opts: TlsFromKvOptions = {}): Promise<TlsCredentials> {
  const certName = opts.certificate ?? "server.pem";
  const keyName = opts.key ?? "server.key";
  const read = async (name: string, what: string): Promise<Uint8Array> => {
    try {
      return await kv.get(name);
    } catch (e) {
      if (e instanceof KvError && (e.code === "not-found" || e.code === "value-expected")) {
        throw new Error(`TLS: the ${what} "${name}" is not in the KV store (it must hold a PEM file named ${name})`, { cause: e });
      }
      throw new Error(`TLS: cannot read the ${what} "${name}" from the KV store: ${(e as Error).message}`, { cause: e });
    }
  };
  const [cert, key] = await Promise.all([read(certName, "certificate"), read(keyName, "private key")]);
  try {
    // Fails now, with the files named, rather than at the first handshake.
    createSecureContext({ cert: Buffer.from(cert), key: Buffer.from(key) });
  } catch (e) {
    throw new Error(`TLS: the certificate "${certName}" and key "${keyName}" from the KV store are not usable: ${(e as Error).message}`, { cause: e });
  }
  return { cert, key };
}
