// Errors as a shared service: the generator recognises its known errors by class (and the ELF/BTF
// readers'), and turns any error into what the CLI prints in one place; the runtime's errors share
// one base, BpfError, with code and errno.
import test from "ava";
import { AddonError, BpfError, ElfImage, EventReaderError, ElfSymbolsError } from "@bpf2ts/runtime";
import { BtfError } from "@bpf2ts/runtime/object-file";
import { ElfError } from "@bpf2ts/runtime/object-file";
import { Bpf2tsError, ModelError, UsageError, errorReport, isKnownError } from "../generator/errors.js";
import { LayoutError } from "../generator/layout/layout.js";
import { NameClashError } from "../generator/layout/names.js";

test("generator: known errors by class, the readers' included; a brand for a second copy of the package", (t) => {
  for (const e of [new ModelError("m"), new LayoutError(3, "x.y", "bad"), new NameClashError("members", "a", ["a", "a"]), new ElfError("e"), new BtfError("b")]) t.true(isKnownError(e), e.name);
  const copy = Object.assign(new Error("from another copy"), { bpf2ts: true });
  t.true(isKnownError(copy));
  t.false(isKnownError(new TypeError("x is undefined")));
  t.false(isKnownError(Object.assign(new Error("named like ours"), { name: "ModelError" })), "a name alone does not make an error known");
  t.false(isKnownError("a string"));
});

test("generator: errorReport is what the CLI prints, with the exit code", (t) => {
  t.deepEqual(errorReport(new ModelError("x.o: .maps: bad", { file: "x.o" }), { debug: false }), { text: "bpf2ts: x.o: .maps: bad\n", exitCode: 1 });
  t.deepEqual(errorReport(new BtfError("x.o: BTF type id 7: refers to itself"), { debug: false }), { text: "bpf2ts: x.o: BTF type id 7: refers to itself\n", exitCode: 1 });
  t.deepEqual(errorReport(new UsageError("generate: no stem"), { debug: false }), { text: "bpf2ts: generate: no stem\nRun with --help for usage.\n", exitCode: 2 });
  const bug = errorReport(new TypeError("x is undefined"), { debug: false });
  t.deepEqual(bug, { text: "bpf2ts: internal error: x is undefined\nSet BPF2TS_DEBUG=1 for the stack trace.\n", exitCode: 1 });
  const debug = errorReport(new TypeError("x is undefined"), { debug: true });
  t.regex(debug.text, /^bpf2ts: internal error: x is undefined\nTypeError: x is undefined\n\s+at /);
  const compile = Object.assign(new Bpf2tsError("clang failed"), { stderr: "a.c:1:1: error: oops\n" });
  t.is(errorReport(compile, { debug: false }).text, "a.c:1:1: error: oops\nbpf2ts: clang failed\n", "clang's own words first, intact");
});

test("generator: a layout error carries its place in fields", (t) => {
  const e = new LayoutError(12, "event.args", "bad");
  t.like(e, { typeId: 12, member: "event.args" });
  t.true(e instanceof Bpf2tsError);
});

test("runtime: one error base; the subclasses keep their names and carry code/errno", (t) => {
  const reader = new EventReaderError("events", "EBADF", "events: reader closed");
  t.true(reader instanceof BpfError);
  t.like(reader, { name: "EventReaderError", map: "events", code: "EBADF", errno: 9 });
  const addon = new AddonError("no addon");
  t.true(addon instanceof BpfError);
  t.is(addon.name, "AddonError");
  const elf = t.throws(() => new ElfImage("/proc/self/status"));
  t.true(elf instanceof ElfSymbolsError && elf instanceof BpfError);
  t.like(elf, { name: "ElfSymbolsError", file: "/proc/self/status", message: "/proc/self/status: not an ELF file (bad magic)" });
});
