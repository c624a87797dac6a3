import { createLogSource, type StackV4V6, type TcpFlow } from "@mirage-ts/runtime";

const log = createLogSource("network", "TCP echo server");

async function echo(flow: TcpFlow): Promise<void> {
  const peer = `${flow.remote.address}:${flow.remote.port}`;
  log.info(`new tcp connection from ${peer}`);
  let bytes = 0;
  try {
    for (;;) {
      const data = await flow.read();
      if (data === null) break;
      bytes += data.length;
      await flow.write(data);
    }
  } finally {
    await flow.close();
  }
  log.info(`${peer} closed after ${bytes} bytes`);
}

/** Echoes back whatever each TCP client sends on --port, until the client closes. */
export async function start({ stack }: { stack: StackV4V6 }, keys: { port: number }): Promise<void> {
  stack.tcp.listen(keys.port, (flow) => echo(flow).catch((e: Error) => log.warn(`echo: ${e.message}`)));
  log.info(`echoing on TCP port ${keys.port}`);
  await stack.listen();
}
