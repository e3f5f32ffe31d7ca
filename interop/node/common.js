// Shared pieces of the grpc-js interop peer (client.js, server.js; the gRPC-Web
// client web_client.js takes parseFlags, isTrue and CERT_DIR from here too):
// flag parsing, loading interop/proto at run time with proto-loader, and
// observing the per-message "compressed" flag of received messages.
//
// grpc-js decompresses received messages itself and exposes no flag, so two
// small wrappers on internals of the pinned grpc-js version tag each
// decompressed Buffer with its frame's flag byte; the deserializers then copy
// the tag onto the decoded message, where compressedFlag() reads it. If those
// internals move (another grpc-js version), compressedFlag() returns
// undefined and the callers say so instead of guessing.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const INTEROP_DIR = path.resolve(__dirname, '..');
const PROTO_DIR = path.join(INTEROP_DIR, 'proto');
const CERT_DIR = path.join(INTEROP_DIR, 'certs');

/** `--name=value`, `--name value` and a bare `--name` (= "true"). */
function parseFlags(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      flags[arg.slice(2)] = argv[++i];
    } else {
      flags[arg.slice(2)] = 'true';
    }
  }
  return flags;
}

function isTrue(value) {
  return ['true', '1', 'yes'].includes(String(value ?? 'false').toLowerCase());
}

// --- the compressed flag -------------------------------------------------
const FRAME_FLAGS = new WeakMap(); // decompressed Buffer -> compressed flag
const COMPRESSED = Symbol('compressed');

function tag(buf, framed) {
  if (Buffer.isBuffer(buf) && Buffer.isBuffer(framed)) FRAME_FLAGS.set(buf, framed[0] === 1);
  return buf;
}

function hookCompressedFlag() {
  // Server side: BaseServerInterceptingCall#decompressMessage(framed, encoding).
  const { BaseServerInterceptingCall } = require('@grpc/grpc-js/build/src/server-interceptors');
  const serverProto = BaseServerInterceptingCall?.prototype;
  const decompress = serverProto?.decompressMessage;
  if (typeof decompress === 'function') {
    serverProto.decompressMessage = function (framed, encoding) {
      const out = decompress.call(this, framed, encoding);
      return out instanceof Promise ? out.then((buf) => tag(buf, framed)) : tag(out, framed);
    };
  }
  // Client side: CompressionFilter#receiveMessage(Promise<framed>).
  const { CompressionFilter } = require('@grpc/grpc-js/build/src/compression-filter');
  const clientProto = CompressionFilter?.prototype;
  const receive = clientProto?.receiveMessage;
  if (typeof receive === 'function') {
    clientProto.receiveMessage = async function (message) {
      const framed = await message;
      return tag(await receive.call(this, framed), framed);
    };
  }
}

function markFlag(msg, buf) {
  if (msg && typeof msg === 'object' && FRAME_FLAGS.has(buf)) {
    Object.defineProperty(msg, COMPRESSED, { value: FRAME_FLAGS.get(buf), configurable: true });
  }
  return msg;
}

/** true/false: the received message's compressed flag; undefined: unknown. */
function compressedFlag(msg) {
  return msg ? msg[COMPRESSED] : undefined;
}

/** Loads grpc.testing from interop/proto; returns the grpc.testing namespace. */
function loadTesting() {
  hookCompressedFlag();
  const definition = protoLoader.loadSync('test.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true, // field names as in the .proto (response_size, ...)
    enums: Number,
    defaults: true,
  });
  for (const def of Object.values(definition)) {
    if (def.format) continue; // a message or enum, not a service
    for (const method of Object.values(def)) {
      const { requestDeserialize, responseDeserialize } = method;
      method.requestDeserialize = (buf) => markFlag(requestDeserialize(buf), buf);
      method.responseDeserialize = (buf) => markFlag(responseDeserialize(buf), buf);
    }
  }
  return grpc.loadPackageDefinition(definition).grpc.testing;
}

function zeros(n) {
  return { type: 0, body: Buffer.alloc(Math.max(0, n)) }; // COMPRESSABLE
}

/** A case's failed check (anything else a case throws is an unexpected status). */
class CaseError extends Error {}

function ensure(cond, reason) {
  if (!cond) throw new CaseError(reason);
}

/**
 * Runs `fn`; resolves with the call error it threw (through `wrap`), or
 * null if it returned. A failed check (CaseError) passes through.
 */
async function callError(fn, wrap = (e) => e) {
  try {
    await fn();
    return null;
  } catch (e) {
    if (e instanceof CaseError) throw e;
    return wrap(e);
  }
}

/**
 * Runs case `name` of `cases` under `limitMs`: each gets `ctx` and
 * `opts()`, the call options for the time left (`opts(deadline)`); resolves
 * with null (pass) or the reason (`unexpected(e)` describes a non-check error).
 */
async function runCaseWithin(cases, name, ctx, limitMs, opts, unexpected) {
  const run = cases[name];
  if (!run) return `unknown test case ${name}`;
  const deadline = Date.now() + limitMs;
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve(`timed out after ${limitMs / 1000} s`), limitMs + 1000);
  });
  const outcome = run({ ...ctx, opts: () => opts(deadline) }).then(
    () => null,
    (e) => (e instanceof CaseError ? e.message : unexpected(e)),
  );
  try {
    return await Promise.race([outcome, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** The cases `--test_case` names (`all` expands to `all`), in order. */
function caseNames(flags, all) {
  return (flags.test_case ?? 'all').split(',').flatMap((n) => (n === 'all' ? all : [n.trim()]));
}

/** The server to call (`--server_host`, `--server_port`) and the cases to run. */
function target(flags, all) {
  const host = flags.server_host ?? 'localhost';
  const port = Number(flags.server_port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error('--server_port is required');
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { host, port, authority, names: caseNames(flags, all) };
}

/**
 * Runs each case (`runCase(name, ctx)` resolves to null on success, else
 * the reason), prints PASS/FAIL lines and a summary; resolves to the number
 * of failures.
 */
async function runAll(names, runCase, ctx) {
  let passed = 0;
  let failed = 0;
  for (const name of names) {
    const reason = await runCase(name, ctx);
    if (reason === null) {
      passed++;
      console.log(`PASS ${name}`);
    } else {
      failed++;
      console.log(`FAIL ${name}: ${reason}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed;
}

module.exports = {
  grpc,
  CERT_DIR,
  parseFlags,
  isTrue,
  loadTesting,
  compressedFlag,
  zeros,
  caseNames,
  target,
  runAll,
  CaseError,
  ensure,
  runCaseWithin,
  callError,
};
