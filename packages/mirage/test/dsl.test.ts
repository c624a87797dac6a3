/** The DSL and graph resolution: sharing, dependency order, choices by configure value, errors. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Key } from "@mirage-ts/runtime";
import {
  Arg,
  crunch,
  defaultConsole,
  defaultNetwork,
  defaultRandom,
  defaultTime,
  genericKvRo,
  genericStackv4v6,
  httpServer,
  ifImpl,
  impl,
  key,
  main,
  matchImpl,
  register,
  type Device,
} from "../src/index.ts";
import { reachableKeys, resolveGraph } from "../src/graph.ts";
import { beginRegistration, endRegistration, type Registration } from "../src/registry.ts";

const registration = (devices: Record<string, Device>, keys: Key[] = []): Registration => ({
  name: "test",
  jobs: [main("./unikernel.ts", devices, { keys })],
});
const defaults = (k: Key): unknown => k.default;
const values =
  (given: Record<string, unknown>) =>
  (k: Key): unknown =>
    k.name in given ? given[k.name] : k.default;

const leaf = (name: string, extra: Partial<Parameters<typeof impl>[0]> = {}) =>
  impl({ type: "Thing", name, impl: "test", module: "./things.ts", connect: "connectThing", ...extra });

describe("impl", () => {
  it("rejects a connect that is not an identifier and a dependency that is not a device", () => {
    assert.throws(() => leaf("a", { connect: "not valid" }), /"connect" must name an exported function/);
    assert.throws(() => leaf("a", { deps: { x: 42 as unknown as Device } }), /deps\.x must be a device, got number 42/);
    assert.throws(() => leaf("a", { keys: { x: "port" as unknown as Key } }), /keys\.x must be a key/);
    assert.throws(() => leaf("a", { deps: { x: defaultTime }, args: { x: 1 } }), /option field "x" is given twice/);
  });

  it("checks writePathKeys (the device's own boot keys) and addons (NAME.node, an exported locate function)", () => {
    const file = key("file", Arg.string({ default: "", doc: "", stage: "boot" }));
    const mode = key("mode", Arg.string({ default: "", doc: "", stage: "configure" }));
    assert.throws(() => leaf("a", { writePathKeys: [file] }), /"writePathKeys" must list keys the device also has in "keys"/);
    assert.throws(() => leaf("a", { keys: { mode }, writePathKeys: [mode] }), /--mode is a configure key/);
    assert.doesNotThrow(() => leaf("a", { keys: { file }, writePathKeys: [file] }));
    assert.throws(() => leaf("a", { addons: [{ file: "x.so", module: "m", locate: "where" }] }), /"addons" must be a list/);
    assert.throws(() => leaf("a", { addons: [{ file: "x.node", module: "m", locate: "not valid" }] }), /"addons" must be a list/);
    const d = leaf("a", { addons: [{ file: "x.node", module: "m", locate: "where" }] });
    assert.ok(Object.isFrozen(d.spec.addons) && Object.isFrozen(d.spec.addons![0]));
  });

  it("returns frozen descriptions", () => {
    const d = leaf("a", { args: { n: 1 } });
    assert.ok(Object.isFrozen(d) && Object.isFrozen(d.spec) && Object.isFrozen(d.spec.args));
  });
});

describe("resolveGraph", () => {
  it("shares identical descriptions: one device, connected once", () => {
    const stackA = genericStackv4v6(defaultNetwork);
    const stackB = genericStackv4v6(defaultNetwork);
    const graph = resolveGraph(registration({ a: httpServer(stackA), b: httpServer(stackB), stack: stackA }), defaults);
    assert.deepEqual(
      graph.devices.map((d) => d.label),
      ["stackv4v6", "http"],
    );
    const job = graph.jobs[0]!;
    assert.equal(job.devices["a"], job.devices["b"]);
    assert.equal(job.devices["a"]!.deps["stack"], job.devices["stack"]);
  });

  it("keeps different descriptions apart and numbers their labels", () => {
    const graph = resolveGraph(registration({ a: crunch("./x/store"), b: crunch("./y/store"), c: crunch("./x/store") }), defaults);
    assert.deepEqual(
      graph.devices.map((d) => d.label),
      ["store-1", "store-2"],
    );
    assert.equal(graph.jobs[0]!.devices["a"], graph.jobs[0]!.devices["c"]);
  });

  it("puts every device after its dependencies", () => {
    const base = leaf("base");
    const mid1 = leaf("mid1", { deps: { base } });
    const mid2 = leaf("mid2", { deps: { base, console: defaultConsole } });
    const top = leaf("top", { deps: { m1: mid1, m2: mid2 } });
    const graph = resolveGraph(registration({ top, base }), defaults);
    const position = new Map(graph.devices.map((d, i) => [d, i]));
    for (const d of graph.devices) {
      assert.equal(d.index, position.get(d));
      for (const dep of Object.values(d.deps)) assert.ok(position.get(dep)! < position.get(d)!, `${dep.label} before ${d.label}`);
    }
    assert.equal(graph.devices.length, 5);
    assert.deepEqual(
      graph.devices.map((d) => d.variable),
      graph.devices.map((d, i) => `${d.label}_${i}`),
    );
  });

  it("chooses with ifImpl and matchImpl by the configure-time value", () => {
    const flag = key("fancy", Arg.bool({ default: false, doc: "", stage: "configure" }));
    const mode = key("mode", Arg.enum(["a", "b", "c"], { default: "a", doc: "", stage: "configure" }));
    const chosen = ifImpl(flag, leaf("fancy"), leaf("plain"));
    const matched = matchImpl(mode, { a: leaf("is-a"), b: leaf("is-b") }, leaf("other"));
    const reg = registration({ chosen, matched });
    const labels = (given: Record<string, unknown>) => resolveGraph(reg, values(given)).devices.map((d) => d.label);
    assert.deepEqual(labels({}), ["plain", "is-a"]);
    assert.deepEqual(labels({ fancy: true, mode: "b" }), ["fancy", "is-b"]);
    assert.deepEqual(labels({ mode: "c" }), ["plain", "other"]);
    const graph = resolveGraph(reg, values({ mode: "b" }));
    assert.deepEqual(
      graph.choices.map((c) => `${c.key.name}=${c.value}`),
      ["fancy=false", "mode=b"],
    );
  });

  it("reports a value with no case and no fallback", () => {
    const mode = key("mode", Arg.enum(["a", "b"], { default: "a", doc: "", stage: "configure" }));
    const reg = registration({ thing: matchImpl(mode, { a: leaf("is-a") }) });
    assert.throws(() => resolveGraph(reg, values({ mode: "b" })), /no Thing for --mode=b \(needed by \.\/unikernel\.ts: thing\): the choice has cases a and no fallback/);
  });

  it("chooses the KV store by --kv-ro, and the socket or direct stack by --net and --dhcp", () => {
    const reg = registration({ stack: genericStackv4v6(defaultNetwork), kv: genericKvRo("./htdocs") });
    const impls = (given: Record<string, unknown>) => resolveGraph(reg, values(given)).devices.map((d) => d.spec.impl);
    assert.deepEqual(impls({}), ["socket", "crunch"]);
    assert.deepEqual(impls({ "kv-ro": "direct" }), ["socket", "direct"]);
    assert.deepEqual(impls({ net: "direct" }), ["tap", "unix", "unix", "link-faults", "file", "unix", "pcap", "unix", "direct", "crunch"]);
    assert.deepEqual(impls({ net: "direct", dhcp: true }).slice(-2), ["direct-dhcp", "crunch"]);
  });

  it("shares the direct stack's clock, time and random with the rest of the unikernel", () => {
    const reg = registration({ stack: genericStackv4v6(defaultNetwork), time: defaultTime, random: defaultRandom });
    const graph = resolveGraph(reg, values({ net: "direct" }));
    assert.deepEqual(
      graph.devices.map((d) => d.label),
      ["net", "time", "random", "link_faults", "pcap_file", "pclock", "pcap", "mclock", "stackv4v6"],
    );
    const stack = graph.devices.find((d) => d.label === "stackv4v6")!;
    assert.equal(stack.deps["time"], graph.jobs[0]!.devices["time"]);
    assert.equal(stack.deps["random"], graph.jobs[0]!.devices["random"]);
    assert.equal(stack.deps["netif"]!.deps["netif"]!.spec.impl, "link-faults");
    assert.equal(stack.deps["netif"]!.deps["netif"]!.deps["netif"]!.spec.impl, "tap");
  });

  it("collects the configure keys of every branch, and only the chosen branch's keys", () => {
    const reg = registration({ stack: genericStackv4v6(defaultNetwork), kv: genericKvRo("./htdocs") });
    const reachable = new Set(reachableKeys(reg).map((k) => k.name));
    for (const name of ["net", "dhcp", "kv-ro", "ipv4", "interface", "accept-router-advertisements"]) assert.ok(reachable.has(name), name);
    const used = new Set(resolveGraph(reg, defaults).keys.map((k) => k.name));
    assert.ok(used.has("ipv4") && used.has("net") && used.has("kv-ro"));
    assert.ok(!used.has("interface") && !used.has("dhcp"), "the direct stack's keys are not used by the socket stack");
  });
});

describe("choices", () => {
  it("need a configure-time key and cases of one interface", () => {
    const bootKey = key("b", Arg.bool({ default: false, doc: "", stage: "boot" }));
    assert.throws(() => ifImpl(bootKey, leaf("x"), leaf("y")), /--b is a boot key; ifImpl chooses at configure time/);
    const mode = key("mode", Arg.enum(["a", "b"], { default: "a", doc: "", stage: "configure" }));
    assert.throws(() => matchImpl(mode, { a: leaf("x"), z: leaf("y") }), /case "z" is not a value of --mode \(a, b\)/);
    assert.throws(() => matchImpl(mode, { a: leaf("x"), b: defaultTime }), /a is Thing and b is Time/);
    const n = key("n", Arg.int({ default: 1, doc: "", stage: "configure" }));
    assert.throws(() => ifImpl(n as unknown as Key<boolean>, leaf("x"), leaf("y")), /must be a bool key/);
  });
});

describe("register and main", () => {
  it("stores the registration on globalThis, under a Symbol.for key", () => {
    beginRegistration("/somewhere/config.ts");
    register("my-unikernel", [main("./unikernel.ts", { console: defaultConsole })]);
    const store = (globalThis as unknown as Record<symbol, { registrations: Registration[] }>)[Symbol.for("@mirage-ts/mirage/registry")];
    assert.equal(store?.registrations[0]?.name, "my-unikernel");
    const found = endRegistration();
    assert.equal(found.length, 1);
    assert.equal(found[0]!.jobs[0]!.file, "./unikernel.ts");
  });

  it("refuses a second register, an invalid name and jobs that are not main(...)", () => {
    beginRegistration("/somewhere/config.ts");
    try {
      register("one", [main("./unikernel.ts", {})]);
      assert.throws(() => register("two", [main("./unikernel.ts", {})]), /register\(\) is called twice \(first "one", then "two"\)/);
      assert.throws(() => register("Bad_Name", [main("./unikernel.ts", {})]), /"Bad_Name" is not a valid unikernel name/);
      assert.throws(() => register("x", [{} as never]), /jobs\[0\] is not a job/);
    } finally {
      endRegistration();
    }
  });

  it("says which device is missing", () => {
    assert.throws(() => main("./unikernel.ts", { stack: undefined as unknown as Device }), /devices\.stack is not a device \(undefined: is it declared before use\?\)/);
    assert.throws(() => main("unikernel", {}), /the first argument is the unikernel's file/);
  });

  it("resolves paths relative to the config.ts being evaluated", () => {
    beginRegistration("/srv/site/config.ts");
    try {
      assert.deepEqual(crunch("./htdocs").spec.buildPaths, ["/srv/site/htdocs"]);
    } finally {
      endRegistration();
    }
  });
});
