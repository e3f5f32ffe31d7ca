#!/usr/bin/env node
// The interop client cases that gRPC-Web carries (grpc/grpc
// doc/interop-test-descriptions.md; no client streaming or bidi from a
// browser-style client), on @connectrpc/connect-node's gRPC-Web transport
// over HTTP/1.1 or HTTP/2: a second, independent gRPC-Web client for Weir's
// server.
//
//   node web_client.js --server_host H --server_port P --test_case NAME[,NAME...]|all
//       [--use_tls=true|false] [--server_host_override NAME] [--ca_file PATH]
//       [--descriptor_set PATH] [--http_version 1.1|2]
//
// --http_version 2: h2c with prior knowledge in cleartext; on TLS, ALPN
// offers h2 and http/1.1 as browsers do, and the server must choose h2 (the
// transport fails otherwise). Default 1.1 (TLS offers http/1.1 only).
//
// No protoc and no generated code: grpc.testing's services and messages come
// from grpc_testing.binpb beside this file, the FileDescriptorSet weir-build
// writes for interop/proto (weir-interop's tests/descriptor_set.rs keeps it
// current), through @bufbuild/protobuf's createFileRegistry.
//
// The cases whose standard form uses FullDuplexCall run their unary and
// server-streaming parts (custom_metadata, status_code_and_message,
// special_status_message), or their server-streaming form
// (timeout_on_sleeping_server); the bidi-only cases (ping_pong, empty_stream,
// cancel_after_first_response) and the client-streaming ones are not run.
// Extra case, not in "all": server_streaming_4mib.
//
// Prints "PASS <case>" or "FAIL <case>: <reason>" per run, then
// "N passed, M failed"; exits 1 if any failed. Every case runs under a
// CASE_LIMIT_MS deadline.
'use strict';

const fs = require('fs');
const path = require('path');
const { createClient, ConnectError, Code, encodeBinaryHeader, decodeBinaryHeader } = require('@connectrpc/connect');
const { createGrpcWebTransport } = require('@connectrpc/connect-node');
const { createFileRegistry, fromBinary, toBinary } = require('@bufbuild/protobuf');
const { FileDescriptorSetSchema } = require('@bufbuild/protobuf/wkt');
const common = require('./common');
const { CERT_DIR, parseFlags, isTrue, caseNames, runAll, CaseError, ensure, runCaseWithin } = common;

const CASE_LIMIT_MS = 30000;
const DESCRIPTOR_SET = path.join(__dirname, 'grpc_testing.binpb');

const ALL = [
  'empty_unary',
  'large_unary',
  'server_streaming',
  'custom_metadata',
  'status_code_and_message',
  'special_status_message',
  'unimplemented_method',
  'unimplemented_service',
  'timeout_on_sleeping_server',
];

const CODE_NAMES = Object.fromEntries(
  Object.entries(Code).filter(([, v]) => typeof v === 'number').map(([name, v]) => [v, name]),
);

function describe(err) {
  if (err instanceof ConnectError) return `${CODE_NAMES[err.code] ?? err.code}: ${JSON.stringify(err.rawMessage)}`;
  return String(err && err.stack ? err.stack : err);
}

/** Runs `fn`; resolves with the ConnectError it threw, or null if it returned. */
function callError(fn) {
  return common.callError(fn, (e) => ConnectError.from(e));
}

function expectCode(err, code, what = 'call') {
  ensure(err && err.code === code, `${what}: expected ${CODE_NAMES[code]}, got ${err ? describe(err) : 'OK'}`);
}

function zeros(n) {
  return { type: 0, body: new Uint8Array(n) }; // COMPRESSABLE
}

function isZeros(body, size) {
  return body.length === size && body.every((b) => b === 0);
}

function checkPayload(msg, size, what = 'payload') {
  const body = msg && msg.payload ? msg.payload.body : new Uint8Array(0);
  ensure(isZeros(body, size), `${what}: ${body.length} bytes, want ${size} zero bytes`);
}

function params(sizes) {
  return sizes.map((size) => ({ size }));
}

function largeRequest() {
  return { responseSize: 314159, payload: zeros(271828) };
}

async function collect(stream) {
  const out = [];
  for await (const m of stream) out.push(m);
  return out;
}

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const TRAILING_VALUE = new Uint8Array([0xab, 0xab, 0xab]);

/** The call options of custom_metadata: the two echo keys, and what comes back. */
function echoOptions(opts) {
  const seen = { initial: null, trailing: null };
  const headers = new Headers();
  headers.append(ECHO_INITIAL, 'test_initial_metadata_value');
  headers.append(ECHO_TRAILING, encodeBinaryHeader(TRAILING_VALUE));
  const options = {
    ...opts(),
    headers,
    onHeader: (h) => (seen.initial = h),
    onTrailer: (t) => (seen.trailing = t),
  };
  return { options, seen };
}

function checkEcho(what, seen) {
  const initial = seen.initial ? seen.initial.get(ECHO_INITIAL) : null;
  ensure(initial === 'test_initial_metadata_value', `${what}: initial metadata ${ECHO_INITIAL}: ${JSON.stringify(initial)}`);
  const raw = seen.trailing ? seen.trailing.get(ECHO_TRAILING) : null;
  let bin = null;
  try {
    bin = raw === null ? null : decodeBinaryHeader(raw);
  } catch (e) {
    throw new CaseError(`${what}: trailing metadata ${ECHO_TRAILING}: ${JSON.stringify(raw)} is not base64`);
  }
  ensure(
    bin !== null && bin.length === 3 && bin.every((b, i) => b === TRAILING_VALUE[i]),
    `${what}: trailing metadata ${ECHO_TRAILING}: ${JSON.stringify(raw)}, want base64 of ab ab ab`,
  );
}

/** The cases; each gets { stub, unimpl, schemas, opts() } and throws CaseError on failure. */
const CASES = {
  async empty_unary({ stub, schemas, opts }) {
    const resp = await stub.emptyCall({}, opts());
    const bytes = toBinary(schemas.Empty, resp);
    ensure(bytes.length === 0, `non-empty response (${bytes.length} bytes)`);
  },

  async large_unary({ stub, opts }) {
    checkPayload(await stub.unaryCall(largeRequest(), opts()), 314159);
  },

  async server_streaming({ stub, opts }) {
    await serverStreaming(stub, opts, [31415, 9, 2653, 58979]);
  },

  async server_streaming_4mib({ stub, opts }) {
    await serverStreaming(stub, opts, [1048576, 1048576, 1048576, 1048576]);
  },

  async custom_metadata({ stub, opts }) {
    const unary = echoOptions(opts);
    checkPayload(await stub.unaryCall(largeRequest(), unary.options), 314159, 'unary');
    checkEcho('unary', unary.seen);

    // FullDuplexCall's part as a server-streaming call: one request, one response.
    const streaming = echoOptions(opts);
    const req = { responseParameters: params([314159]), payload: zeros(271828) };
    const got = await collect(stub.streamingOutputCall(req, streaming.options));
    ensure(got.length === 1, `server streaming: ${got.length} responses, want 1`);
    checkPayload(got[0], 314159, 'server streaming');
    checkEcho('server streaming', streaming.seen);
  },

  async status_code_and_message(ctx) {
    await statusEcho(ctx, 'test status message');
  },

  async special_status_message(ctx) {
    await statusEcho(ctx, '\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \uD83D\uDE08\t\n');
  },

  async unimplemented_method({ stub, opts }) {
    expectCode(await callError(() => stub.unimplementedCall({}, opts())), Code.Unimplemented);
  },

  async unimplemented_service({ unimpl, opts }) {
    expectCode(await callError(() => unimpl.unimplementedCall({}, opts())), Code.Unimplemented);
  },

  // The standard form is a FullDuplexCall the server never answers; here a
  // StreamingOutputCall whose one response comes 5 s later, under a 1 ms
  // deadline (sent as grpc-timeout), must end with DEADLINE_EXCEEDED.
  async timeout_on_sleeping_server({ stub }) {
    const req = { responseParameters: [{ size: 31415, intervalUs: 5000000 }], payload: zeros(27182) };
    const err = await callError(() => collect(stub.streamingOutputCall(req, { timeoutMs: 1 })));
    expectCode(err, Code.DeadlineExceeded);
  },
};

async function serverStreaming(stub, opts, sizes) {
  const got = await collect(stub.streamingOutputCall({ responseParameters: params(sizes) }, opts()));
  ensure(got.length === sizes.length, `${got.length} responses, want ${sizes.length}`);
  got.forEach((m, i) => checkPayload(m, sizes[i], `response ${i}`));
}

/** Echo Status: UNKNOWN with `message`, from a unary and a server-streaming call. */
async function statusEcho({ stub, opts }, message) {
  const responseStatus = { code: 2, message };
  const unary = await callError(() => stub.unaryCall({ responseStatus }, opts()));
  expectCode(unary, Code.Unknown, 'unary');
  ensure(unary.rawMessage === message, `unary: message ${JSON.stringify(unary.rawMessage)}`);

  const streaming = await callError(() => collect(stub.streamingOutputCall({ responseStatus }, opts())));
  expectCode(streaming, Code.Unknown, 'server streaming');
  ensure(streaming.rawMessage === message, `server streaming: message ${JSON.stringify(streaming.rawMessage)}`);
}

/** Runs one case under CASE_LIMIT_MS; resolves with null (pass) or a reason. */
function runCase(name, ctx) {
  return runCaseWithin(CASES, name, ctx, CASE_LIMIT_MS, (deadline) => ({ timeoutMs: Math.max(1, deadline - Date.now()) }), (e) => `unexpected status ${describe(ConnectError.from(e))}`);
}

/** grpc.testing from the FileDescriptorSet at `file`. */
function loadTesting(file) {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fs.readFileSync(file)));
  const get = (what, name) => {
    const found = what === 'service' ? registry.getService(name) : registry.getMessage(name);
    if (!found) throw new Error(`${file}: no ${what} ${name}`);
    return found;
  };
  return {
    TestService: get('service', 'grpc.testing.TestService'),
    UnimplementedService: get('service', 'grpc.testing.UnimplementedService'),
    Empty: get('message', 'grpc.testing.Empty'),
  };
}

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const { authority, names } = common.target(flags, ALL);

  const tls = isTrue(flags.use_tls);
  const httpVersion = flags.http_version ?? '1.1';
  if (httpVersion !== '1.1' && httpVersion !== '2') {
    throw new Error(`--http_version ${httpVersion}: 1.1 or 2`);
  }
  const nodeOptions = {};
  if (tls) {
    nodeOptions.ca = fs.readFileSync(flags.ca_file ?? path.join(CERT_DIR, 'ca.pem'));
    nodeOptions.ALPNProtocols = httpVersion === '2' ? ['h2', 'http/1.1'] : ['http/1.1'];
    if (flags.server_host_override) nodeOptions.servername = flags.server_host_override;
  }
  const transport = createGrpcWebTransport({
    baseUrl: `${tls ? 'https' : 'http'}://${authority}`,
    httpVersion,
    nodeOptions,
  });
  const testing = loadTesting(flags.descriptor_set ?? DESCRIPTOR_SET);
  const stub = createClient(testing.TestService, transport);
  const unimpl = createClient(testing.UnimplementedService, transport);
  const schemas = { Empty: testing.Empty };

  const failed = await runAll(names, runCase, { stub, unimpl, schemas });
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`gRPC-Web interop client: ${e.stack || e.message}`);
  process.exit(2);
});
