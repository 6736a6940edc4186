#!/usr/bin/env node
// The bpf2ts command: all logic lives in the compiled generator (dist/generator/cli.js).
import { main } from "../dist/generator/cli.js";

process.exitCode = await main(process.argv.slice(2));
