// Tiny entry for the vmlinux.h benchmark: parse a BTF file and write the C header to stdout.
import { readFileSync } from "node:fs";
import { parseBtf } from "../generator/btf/index.js";
import { formatCHeader } from "../generator/workflow/vmlinux-h.js";

const file = process.argv[2] ?? "/sys/kernel/btf/vmlinux";
process.stdout.write(formatCHeader(parseBtf(readFileSync(file), { file })));
