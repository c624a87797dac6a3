/**
 * The `mirage` command line: configure, build, describe, query, clean, help.
 * Exit codes: 0 ok, 1 failure, 2 usage error. Errors are one line on stderr (detail under -v).
 */
import { Argument, Command, CommanderError, Option } from "commander";
import { buildCommand } from "./build.ts";
import { cleanCommand } from "./clean.ts";
import { configure, savedPlan } from "./configure.ts";
import { shownPath, type CommandContext } from "./context.ts";
import { describeDot, describePlain } from "./describe.ts";
import { isMirageError } from "./errors.ts";
import { QUERIES, query, type Query } from "./query.ts";
import { defaultTarget, targets } from "./targets.ts";

export interface CliIo {
  cwd?: string;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Colours in tsc's diagnostics. Default: whether stderr is a terminal. */
  color?: boolean;
}

interface CommonOptions {
  file?: string;
  target?: string;
  verbose?: boolean;
}

const CONFIGURE_HELP = `
Configure keys (--name=value or --name value):
  every key config.ts defines (its devices' and main()'s keys: see mirage describe), and
  --net=socket|direct     the network stack (configure time)
  --dhcp=true|false       DHCP on the direct stack
  --kv-ro=crunch|direct   embed read-only stores at build time, or read them from disk at run time
  --hardening=true|false  the launcher's hardening flags (default true)
  --max-old-space-size=MIB, --max-semi-space-size=MIB, --stack-size=KIB
                          Node runtime parameters: their default at boot
A key given here becomes the unikernel's default at boot.

Examples:
  mirage configure -t unix
  mirage configure -t unix --port=9090 --kv-ro=direct
`;

/** Runs `mirage ARGV` and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => void process.stderr.write(text));
  const cwd = io.cwd ?? process.cwd();
  const color = io.color ?? process.stderr.isTTY === true;
  const line = (write: (t: string) => void) => (text: string) => write(text.endsWith("\n") ? text : `${text}\n`);
  const contextOf = (opts: CommonOptions): CommandContext => ({
    cwd,
    verbose: opts.verbose === true,
    out: line(stdout),
    err: line(stderr),
    color,
  });

  const program = new Command("mirage")
    .description("Configure, build and inspect mirage-ts unikernels")
    .exitOverride()
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .showSuggestionAfterError(true)
    .helpCommand("help [command]", "show help for a command");
  program.addHelpText(
    "after",
    `\nA unikernel is a directory with config.ts (its devices and keys) and unikernel.ts (its start function):\n  mirage configure -t unix && mirage build && ./dist/NAME --help`,
  );

  const withCommon = (cmd: Command): Command =>
    cmd
      .option("-f, --file <config.ts>", "the configuration file", "config.ts")
      .option("-v, --verbose", "print details: timings, tsc and esbuild output, the full error");

  withCommon(
    program
      .command("configure")
      .description("evaluate config.ts, resolve the device graph and write main.ts, keys.ts, package.json, tsconfig.json")
      .addOption(new Option("-t, --target <target>", "where the unikernel runs").default(defaultTarget))
      .argument("[keys...]", "configure keys, e.g. --port=9090 --net=socket")
      .allowUnknownOption(true)
      .addHelpText("after", `${CONFIGURE_HELP}\nTargets: ${[...targets.values()].map((t) => `${t.name} (${t.description})`).join("; ")}\n`),
  ).action(async (keys: string[], opts: CommonOptions & { target: string }) => {
    await configure(contextOf(opts), { file: opts.file, target: opts.target, argv: keys });
  });

  /** build, describe and query use the configured target; -t only checks it. */
  const targetCheck = (cmd: Command): Command => cmd.option("-t, --target <target>", "fail unless configured for this target");

  withCommon(
    targetCheck(program.command("build")).description("type-check with tsc, bundle with esbuild into dist/NAME.mjs, write the launcher dist/NAME and dist/manifest.json"),
  ).action(async (opts: CommonOptions) => {
    await buildCommand(contextOf(opts), { file: opts.file, target: opts.target });
  });

  withCommon(
    targetCheck(program.command("describe"))
      .description("print the name, target, keys (defaults marked), packages and devices; --dot for Graphviz")
      .option("--dot", "print the device graph in Graphviz's dot language (mirage describe --dot | dot -Tsvg > graph.svg)"),
  ).action(async (opts: CommonOptions & { dot?: boolean }) => {
    const ctx = contextOf(opts);
    const { plan } = await savedPlan(ctx, opts.file, opts.target);
    stdout(opts.dot ? describeDot(plan) : describePlain(plan, shownPath(ctx, plan.file)));
  });

  withCommon(
    targetCheck(program.command("query"))
      .description("print one thing configure decided")
      .addArgument(new Argument("<what>", "what to print").choices(QUERIES)),
  ).action(async (what: Query, opts: CommonOptions) => {
    const ctx = contextOf(opts);
    const { plan } = await savedPlan(ctx, opts.file, opts.target);
    stdout(query(plan, what));
  });

  withCommon(program.command("clean").description("remove what configure and build wrote (a file whose generated header you removed is left)")).action(
    (opts: CommonOptions) => {
      cleanCommand(contextOf(opts), { file: opts.file });
    },
  );

  const verbose = argv.includes("-v") || argv.includes("--verbose");
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its message (or the help) already. Its help exit code follows
      // process.exitCode, which a host process (a test runner) may have set: decide here.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      if (e.code === "commander.help") return argv.length === 0 ? 2 : 0;
      return 2;
    }
    if (isMirageError(e)) {
      stderr(`mirage: ${e.message}\n`);
      const detail = e.options.detail;
      if (detail !== undefined) stderr(verbose || e.options.showDetail ? `${detail.trimEnd()}\n` : "(run with -v for details)\n");
      return e.exitCode;
    }
    stderr(`mirage: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (verbose && e instanceof Error && e.stack !== undefined) stderr(`${e.stack}\n`);
    else stderr("(run with -v for the stack trace)\n");
    return 1;
  }
}
