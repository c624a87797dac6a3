import { register, main, blockOfFile, defaultConsole } from "@mirage-ts/mirage";

// disk.img must exist, its size a multiple of 512 bytes: `truncate -s 1M disk.img`.
register("block", [main("./unikernel.ts", { disk: blockOfFile("disk.img"), console: defaultConsole })]);
