import { createLogSource, type Datagram, type StackV4V6 } from "@mirage-ts/runtime";

const log = createLogSource("udp-echo", "UDP echo server");

/** Sends every datagram that arrives on --port back to where it came from, from --port. */
export async function start({ stack }: { stack: StackV4V6 }, keys: { port: number }): Promise<void> {
  const echo = async (datagram: Datagram): Promise<void> => {
    log.debug(() => `${datagram.data.length} bytes from ${datagram.src}:${datagram.srcPort}`);
    try {
      await stack.udp.send({ dst: datagram.src, dstPort: datagram.srcPort, srcPort: keys.port, data: datagram.data });
    } catch (e) {
      log.warn(`echo to ${datagram.src}:${datagram.srcPort}: ${(e as Error).message}`);
    }
  };
  stack.udp.listen(keys.port, echo);
  log.info(`echoing UDP on port ${keys.port}`);
  await stack.listen();
}
