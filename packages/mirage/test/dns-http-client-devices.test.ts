/** The resolver and HTTP client devices: their keys, their packages, and sharing in the graph. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Key } from "@mirage-ts/runtime";
import { defaultNetwork, genericStackv4v6, httpClient, main, resolver, resolverKey, resolverPortKey } from "../src/index.ts";
import { reachableKeys, resolveGraph } from "../src/graph.ts";

const defaults = (k: Key): unknown => k.default;

describe("resolver and httpClient", () => {
  it("default to 127.0.0.1 port 53, boot keys in the network section", () => {
    assert.equal(String(resolverKey.default), "127.0.0.1");
    assert.equal(resolverPortKey.default, 53);
    for (const k of [resolverKey, resolverPortKey]) {
      assert.equal(k.section, "network");
      assert.notEqual(k.stage, "configure");
    }
  });

  it("share one stack and one resolver; the client is wired to both; the keys are reachable", () => {
    const stack = genericStackv4v6(defaultNetwork);
    const dns = resolver(stack);
    const registration = {
      name: "test",
      jobs: [main("./unikernel.ts", { http: httpClient(stack, dns), dns: resolver(genericStackv4v6(defaultNetwork)) })],
    };
    const graph = resolveGraph(registration, defaults);
    assert.deepEqual(graph.devices.map((d) => d.label), ["stackv4v6", "resolver", "http_client"]);
    const job = graph.jobs[0]!;
    const client = job.devices["http"]!;
    assert.equal(client.deps["resolver"], job.devices["dns"]);
    assert.equal(client.deps["stack"], job.devices["dns"]!.deps["stack"]);
    assert.equal(client.spec.module, "@mirage-ts/http");
    assert.equal(job.devices["dns"]!.spec.module, "@mirage-ts/dns");
    const names = reachableKeys(registration).map((k) => k.name);
    assert.ok(names.includes("resolver") && names.includes("resolver-port"), names.join(" "));
  });
});
