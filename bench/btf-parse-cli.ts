// Tiny entry for the BTF benchmark: parse a BTF file and print its type count.
import { readFileSync } from "node:fs";
import { parseBtf } from "../generator/btf/index.js";

const file = process.argv[2] ?? "/sys/kernel/btf/vmlinux";
const btf = parseBtf(readFileSync(file), { file });
process.stdout.write(`${btf.types.length - 1}\n`);
