/**
 * The direct stack's DHCP client against dnsmasq: the built udp-echo unikernel, configured with
 * `--net=direct --dhcp=true`, boots inside a network namespace whose kernel side (10.0.0.1/24)
 * runs dnsmasq as its DHCP server (pool 10.0.0.50-60). dnsmasq's shortest lease is 2 minutes, so
 * its T1/T2 options (58/59) make the client renew within seconds.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildExampleCopy, createTapHost, namespaceTestsUnavailable, unikernelMac, type BuiltExample } from "./helpers/netns.ts";
import { RunningUnikernel } from "./helpers/unikernel.ts";

const skip = namespaceTestsUnavailable("ping", "socat", "dnsmasq");
if (skip !== undefined) console.log(`# direct-dhcp: skipped: ${skip}`);

const RENEW_AFTER_S = 4;
const REBIND_AFTER_S = 8;

describe("the direct stack's DHCP client against dnsmasq", { skip }, () => {
  let udpEcho: BuiltExample;
  before(() => {
    udpEcho = buildExampleCopy("udp-echo", "udp-echo", ["--net=direct", "--dhcp=true"]);
  });
  after(() => udpEcho?.remove());

  it("gets a lease and logs it, answers ping and UDP on the leased address, and renews it at T1", async () => {
    const work = mkdtempSync(join(tmpdir(), "mirage-dhcp-"));
    const host = createTapHost({ kernelAddress: "10.0.0.1/24" });
    let dnsmasq: RunningUnikernel | undefined;
    let u: RunningUnikernel | undefined;
    try {
      dnsmasq = new RunningUnikernel(
        host.spawn("dnsmasq", [
          "--no-daemon",
          "--conf-file=/dev/null",
          `--interface=${host.tap}`,
          "--bind-interfaces",
          "--port=0", // no DNS: DHCP only
          "--dhcp-range=10.0.0.50,10.0.0.60,255.255.255.0,2m",
          `--dhcp-option=option:T1,${RENEW_AFTER_S}`,
          `--dhcp-option=option:T2,${REBIND_AFTER_S}`,
          "--no-ping", // offer at once, without dnsmasq's 3 s ARP probe of the address
          `--dhcp-leasefile=${join(work, "leases")}`,
          `--pid-file=${join(work, "dnsmasq.pid")}`,
          "--user=root",
          "--log-facility=-",
          "--log-dhcp",
        ]),
      );
      await dnsmasq.waitFor(/DHCP, sockets bound exclusively to interface/);

      u = udpEcho.boot(host, []);
      const mac = await unikernelMac(u);
      assert.match(u.output, /IPv4 by DHCP/);
      const [, address] = await u.waitFor(/\[dhcp\] DHCP lease (10\.0\.0\.\d+)\/24 from 10\.0\.0\.1, router 10\.0\.0\.1, dns none, lease 120 s/, 30_000);
      const last = Number(address!.split(".")[3]);
      assert.ok(last >= 50 && last <= 60, `${address} is from dnsmasq's pool`);
      await u.waitFor(/echoing UDP on port 7777/);
      assert.ok(u.output.indexOf("DHCP lease") < u.output.indexOf("echoing UDP"), "boot waits for the lease before start");
      assert.match(dnsmasq.output, new RegExp(`DHCPACK\\(${host.tap}\\) ${address!.replaceAll(".", "\\.")} ${mac}`));
      assert.match(readFileSync(join(work, "leases"), "utf8"), new RegExp(`${mac} ${address!.replaceAll(".", "\\.")} `), "dnsmasq recorded the lease");

      assert.match(host.exec("ping", ["-c", "3", "-i", "0.2", "-W", "2", address!]), /3 received, 0% packet loss/);
      const echo = host.run("socat", ["-t", "1", "-T", "3", "-", `UDP:${address}:7777`], { input: "over DHCP\n", timeoutMs: 10_000 });
      assert.equal(echo.stdout, "over DHCP\n", echo.stderr);

      // Renewal: at T1 the client unicasts a REQUEST to the server, which ACKs the same address.
      await u.waitFor(new RegExp(`\\[dhcp\\] DHCP lease ${address!.replaceAll(".", "\\.")}/24 renewed by 10\\.0\\.0\\.1`), (RENEW_AFTER_S + 10) * 1000);
      const acks = dnsmasq.output.match(new RegExp(`DHCPACK\\(${host.tap}\\) ${address!.replaceAll(".", "\\.")} ${mac}`, "g")) ?? [];
      const requests = dnsmasq.output.match(new RegExp(`DHCPREQUEST\\(${host.tap}\\) ${address!.replaceAll(".", "\\.")} ${mac}`, "g")) ?? [];
      assert.ok(requests.length >= 2 && acks.length >= 2, `a second DHCPREQUEST/DHCPACK in dnsmasq's log:\n${dnsmasq.output}`);
      assert.doesNotMatch(dnsmasq.output, /DHCPNAK/);
      assert.doesNotMatch(u.output, /lease (lost|expired)/i);
      assert.match(host.exec("ping", ["-c", "2", "-i", "0.2", "-W", "2", address!]), /2 received, 0% packet loss/, "the lease is kept after renewal");

      const { code } = await u.stop("SIGTERM");
      assert.equal(code, 0, u.output);
    } finally {
      if (u !== undefined && u.child.exitCode === null && u.child.signalCode === null) await u.stop("SIGKILL");
      if (dnsmasq !== undefined && dnsmasq.child.exitCode === null && dnsmasq.child.signalCode === null) await dnsmasq.stop("SIGTERM");
      host.destroy();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
