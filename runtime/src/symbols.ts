// Kept for `@bpf2ts/runtime/symbols`: the table lives in the contract.
export { symbols, type RuntimeSymbol, type RuntimeSymbolName } from "./contract/symbols.js";
