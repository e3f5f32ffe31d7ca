// Shared pieces of the grpc-js interop peer (client.js, server.js):
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

module.exports = { grpc, CERT_DIR, parseFlags, isTrue, loadTesting, compressedFlag, zeros };
