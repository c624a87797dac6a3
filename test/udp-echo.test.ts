/**
 * The udp-echo example end to end on the socket stack: configure, build, boot the artifact and
 * talk to it with a UDP client on 127.0.0.1 (test/direct-ipv4.test.ts runs it on the direct stack).
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { configureAndBuild, exampleDir, freePort, run } from "./helpers/unikernel.ts";

/** Sends `data` to 127.0.0.1:`port` until a reply arrives (the unikernel may still be binding), at most `attempts` times. */
async function exchange(socket: Socket, port: number, data: Buffer, attempts = 20): Promise<Buffer> {
  for (let i = 0; i < attempts; i++) {
    const reply = await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => {
        socket.off("message", onMessage);
        resolve(undefined);
      }, 250);
      const onMessage = (msg: Buffer) => {
        clearTimeout(timer);
        socket.off("message", onMessage);
        resolve(msg);
      };
      socket.on("message", onMessage);
      socket.send(data, port, "127.0.0.1");
    });
    if (reply !== undefined) return reply;
  }
  throw new Error(`no echo from 127.0.0.1:${port} after ${attempts} attempts`);
}

describe("udp-echo (UDP echo on the socket stack)", () => {
  const dir = exampleDir("udp-echo");
  before(() => configureAndBuild(dir));

  it("sends every datagram back to its sender from --port, 8 KB ones too", async () => {
    const port = await freePort();
    const u = run(dir, "udp-echo", [`--port=${port}`, "--ipv4=127.0.0.1/8", "--ipv4-only=true"]);
    const socket = createSocket("udp4");
    socket.on("error", () => {}); // ICMP port unreachable before the unikernel binds: retried below
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    try {
      await u.waitFor(/echoing UDP on port/);
      const small = Buffer.from("hello, unikernel");
      const echoed = await exchange(socket, port, small);
      assert.ok(echoed.equals(small), `echoed ${JSON.stringify(echoed.toString())}`);
      const large = randomBytes(8192);
      assert.ok((await exchange(socket, port, large)).equals(large), "the 8 KB datagram came back byte for byte");
      const from = await new Promise<number>((resolve) => {
        socket.once("message", (_msg, rinfo) => resolve(rinfo.port));
        socket.send(Buffer.from("where from?"), port, "127.0.0.1");
      });
      assert.equal(from, port, "the echo comes from --port");
    } finally {
      socket.close();
      const { code } = await u.stop("SIGTERM");
      assert.equal(code, 0, `SIGTERM must stop it cleanly:\n${u.output}`);
    }
  });

  it("lists --port with its default in --help", async () => {
    const u = run(dir, "udp-echo", ["--help"]);
    assert.equal((await u.exited).code, 0, u.output);
    assert.match(u.stdout, /--port=INT/);
    assert.match(u.stdout, /7777/);
    assert.match(u.stdout, /The UDP port on which to echo datagrams\./);
  });
});
