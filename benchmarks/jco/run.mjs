// benchmarks/jco/run.mjs -- the jco/Node column of benchmarks/peers.py.
//
//   node run.mjs [--rounds N] [--batches 1,10,100,1000] [--check N] NAME=DIR/NAME.js ...
//
// Every NAME=PATH names the entry module of a component transpiled by
// `jco transpile <wasm> --name NAME --instantiation sync --no-typescript -o DIR`.
// Known names: echo, noop (conversion: process-batch at each batch size and one process-event
// with the typed event of benchmarks/test_conversion.typed_event), log, metric, config (one
// process-event with a minimal event, whose guest makes exactly one guest->host import call).
//
// Timing: process.hrtime.bigint() around `inner` consecutive calls (so a round lasts at least
// ~100 events' worth of work), per-event or per-call time = elapsed / inner (/ batch), median
// over `rounds` rounds, after warm-up calls so V8 has optimised the bindings.  Prints one JSON
// object on stdout (microseconds), including the documented JSON form (reference_host/jsonform)
// of the inputs and of the outputs of echo's process-batch and process-event, so Python can
// check them against its own.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const HERE = dirname(new URL(import.meta.url).pathname);

// ----------------------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = { rounds: 40, batches: [1, 10, 100, 1000], check: 100, components: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--rounds") opts.rounds = Number(argv[++i]);
    else if (a === "--batches") opts.batches = argv[++i].split(",").map(Number);
    else if (a === "--check") opts.check = Number(argv[++i]);
    else if (a.includes("=")) {
      const [name, path] = a.split(/=(.*)/s);
      opts.components[name] = resolve(path);
    } else throw new Error(`unexpected argument ${a}`);
  }
  if (!(opts.rounds >= 1)) throw new Error("--rounds must be >= 1");
  return opts;
}

// ----------------------------------------------------------------------------- events

// The same values as benchmarks/test_conversion.typed_event(i), in jco's JS shape: records are
// objects with camelCase fields, variants {tag, val} (no val for a case without payload), enums
// strings, option<T> the value or undefined, u64 BigInt, tuples arrays.
function typedEvent(i) {
  const operations = [];
  for (let k = 0; k < 3; k++) {
    operations.push({
      operationType: { tag: "payment" },
      sourceAccount: undefined,
      body: `{"destination":"GDEST${k}","amount":"${i}.5","asset":{"type":"native"}}`,
      result: { resultCode: "op_success", resultMeta: undefined },
    });
  }
  const tx = {
    hash: "a".repeat(64),
    sourceAccount: "G" + "A".repeat(55),
    sequenceNumber: BigInt(1000 + i),
    fee: 100n,
    timeBounds: { minTime: 0n, maxTime: 2n ** 32n },
    memo: { memoType: "text", memoValue: "m" },
    operations,
    signatures: ["sig-" + "b".repeat(60)],
    resultCode: "tx_success",
    resultMeta: undefined,
  };
  return {
    id: `ev-${i}`,
    timestamp: BigInt(1_700_000_000 + i),
    sourceComponent: "stellar-source",
    eventType: "transaction",
    data: { tag: "stellar-transaction", val: tx },
    metadata: [
      ["ledger", String(i)],
      ["network", "testnet"],
    ],
  };
}

// The event the import-call guests get (they ignore it): as small as an event can be.
function minimalEvent() {
  return {
    id: "e",
    timestamp: 0n,
    sourceComponent: "s",
    eventType: "custom",
    data: { tag: "generic", val: "" },
    metadata: [],
  };
}

// ----------------------------------------------------------------------------- JSON form

// reference_host/jsonform.py rules: record -> object keyed by WIT field names; enum and payload-
// less variant case -> its name; variant case with payload -> {case: payload}; option -> null or
// the value; integers -> JSON integers.
function u64(v) {
  if (typeof v !== "bigint") throw new TypeError(`expected a BigInt, got ${typeof v}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${v} is not exactly representable`);
  return n;
}
const opt = (v, f = (x) => x) => (v === undefined || v === null ? null : f(v));

function caseName(v) {
  if (typeof v !== "object" || v === null || typeof v.tag !== "string") {
    throw new TypeError(`expected a variant {tag, val}, got ${JSON.stringify(v)}`);
  }
  return v.tag;
}

function operationToJson(op) {
  return {
    "operation-type": caseName(op.operationType),
    "source-account": opt(op.sourceAccount),
    body: op.body,
    result: opt(op.result, (r) => ({ "result-code": r.resultCode, "result-meta": opt(r.resultMeta) })),
  };
}

function assetToJson(a) {
  return { "asset-type": a.assetType, "asset-code": opt(a.assetCode), "asset-issuer": opt(a.assetIssuer) };
}

function dataToJson(d) {
  const v = d.val;
  switch (caseName(d)) {
    case "stellar-transaction":
      return {
        "stellar-transaction": {
          hash: v.hash,
          "source-account": v.sourceAccount,
          "sequence-number": u64(v.sequenceNumber),
          fee: u64(v.fee),
          "time-bounds": opt(v.timeBounds, (t) => ({ "min-time": u64(t.minTime), "max-time": u64(t.maxTime) })),
          memo: opt(v.memo, (m) => ({ "memo-type": m.memoType, "memo-value": m.memoValue })),
          operations: v.operations.map(operationToJson),
          signatures: [...v.signatures],
          "result-code": opt(v.resultCode),
          "result-meta": opt(v.resultMeta),
        },
      };
    case "stellar-ledger":
      return {
        "stellar-ledger": {
          sequence: u64(v.sequence),
          hash: v.hash,
          "previous-hash": v.previousHash,
          "transaction-count": v.transactionCount,
          "operation-count": v.operationCount,
          "closed-at": u64(v.closedAt),
          "total-coins": v.totalCoins,
          "fee-pool": v.feePool,
          "base-fee": v.baseFee,
          "base-reserve": v.baseReserve,
          "max-tx-set-size": v.maxTxSetSize,
        },
      };
    case "stellar-operation":
      return { "stellar-operation": operationToJson(v) };
    case "token-transfer":
      return {
        "token-transfer": {
          from: v.from,
          to: v.to,
          asset: assetToJson(v.asset),
          amount: v.amount,
          "transaction-hash": v.transactionHash,
          "operation-index": v.operationIndex,
          path: opt(v.path, (p) => p.map(assetToJson)),
        },
      };
    case "generic":
      return { generic: v };
    default:
      throw new TypeError(`unknown event-data case ${d.tag}`);
  }
}

function eventToJson(e) {
  return {
    id: e.id,
    timestamp: u64(e.timestamp),
    "source-component": e.sourceComponent,
    "event-type": e.eventType,
    data: dataToJson(e.data),
    metadata: e.metadata.map(([k, v]) => [k, v]),
  };
}

// ----------------------------------------------------------------------------- components

// Trivial host imports (the equivalent of the trivial Python callbacks of the stock column).
const calls = { log: 0, metric: 0, config: 0 };
const flowctl = {
  "obsrvr:flowctl/logging": {
    log(_level, _message) {
      calls.log++;
    },
  },
  "obsrvr:flowctl/metrics": {
    recordCounter(_name, _value, _tags) {
      calls.metric++;
    },
  },
  "obsrvr:flowctl/config": {
    getString(_key) {
      calls.config++;
      return "fast";
    },
  },
};
const IMPORTS = {};
for (const [k, v] of Object.entries(flowctl)) {
  IMPORTS[k] = v;
  IMPORTS[`${k}@1.0.0`] = v;
}

async function load(path) {
  const mod = await import(pathToFileURL(path).href);
  const dir = dirname(path);
  const getCoreModule = (name) => new WebAssembly.Module(readFileSync(join(dir, name)));
  const instance = mod.instantiate(getCoreModule, IMPORTS);
  const processor = instance.processor ?? instance["obsrvr:flowctl/processor@1.0.0"];
  if (!processor) throw new Error(`${path} exports no processor interface`);
  return processor;
}

// ----------------------------------------------------------------------------- timing

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Median over `rounds` of the time of one call of fn (microseconds), `inner` calls per round.
function measure(fn, rounds, inner) {
  const warm = Math.max(200, inner * 3);
  for (let i = 0; i < warm; i++) fn();
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0) / 1e3 / inner);
  }
  return median(samples);
}

const innerFor = (events) => Math.max(1, Math.ceil(100 / events));

// ----------------------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const require = createRequire(import.meta.url);
  let jcoVersion = null;
  try {
    jcoVersion = require(join(HERE, "node_modules/@bytecodealliance/jco/package.json")).version;
  } catch {
    jcoVersion = null;
  }
  const out = {
    node: process.version,
    v8: process.versions.v8,
    jco: jcoVersion,
    rounds: opts.rounds,
    conversion: {},
    single_call: {},
    import_call: {},
    import_calls_per_event: {},
    import_baseline_us: null,
    echo: null,
  };
  const procs = {};
  for (const [name, path] of Object.entries(opts.components)) procs[name] = await load(path);

  const maxBatch = Math.max(...opts.batches, opts.check);
  const events = Array.from({ length: maxBatch }, (_, i) => typedEvent(i));
  const batches = Object.fromEntries(opts.batches.map((b) => [b, events.slice(0, b)]));

  if (procs.echo) {
    const inputs = events.slice(0, opts.check);
    const batchOut = procs.echo.processBatch(inputs);
    const eventOut = procs.echo.processEvent(events[0]);
    out.echo = {
      inputs: inputs.map(eventToJson),
      process_batch: batchOut.map(eventToJson),
      process_event: eventOut.map(eventToJson),
    };
  }
  for (const guest of ["echo", "noop"]) {
    const p = procs[guest];
    if (!p) continue;
    out.conversion[guest] = {};
    for (const b of opts.batches) {
      const evs = batches[b];
      const perCall = measure(() => p.processBatch(evs), opts.rounds, innerFor(b));
      out.conversion[guest][b] = perCall / b;
    }
    const ev0 = events[0];
    out.single_call[guest] = measure(() => p.processEvent(ev0), opts.rounds, innerFor(1));
  }
  const small = minimalEvent();
  if (procs.noop) {
    out.import_baseline_us = measure(() => procs.noop.processEvent(small), opts.rounds, innerFor(1));
  }
  for (const kind of ["log", "metric", "config"]) {
    const p = procs[kind];
    if (!p) continue;
    const before = calls[kind];
    p.processEvent(small);
    out.import_calls_per_event[kind] = calls[kind] - before;
    out.import_call[kind] = measure(() => p.processEvent(small), opts.rounds, innerFor(1));
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(`run.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
