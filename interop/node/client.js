#!/usr/bin/env node
// The standard interop client cases (grpc/grpc doc/interop-test-descriptions.md)
// on @grpc/grpc-js, the Node.js peer of Weir's interop tests.
//
//   node client.js --server_host H --server_port P --test_case NAME[,NAME...]|all
//       [--use_tls=true|false] [--server_host_override NAME] [--ca_file PATH]
//
// A name may repeat (it runs each time); "all" expands in place. Prints
// "PASS <case>" or "FAIL <case>: <reason>" per run, then "N passed, M failed";
// exits 1 if any failed. Every case runs under a CASE_LIMIT_MS deadline, on one
// channel; the client_compressed_* cases also use a second channel with gzip
// as its default compression, since grpc-js chooses compression per channel.
// Extra case, not in "all": server_streaming_4mib.
'use strict';

const fs = require('fs');
const path = require('path');
const common = require('./common');
const { grpc, CERT_DIR, parseFlags, isTrue, loadTesting, compressedFlag, zeros } = common;
const { caseNames, runAll, CaseError, ensure, runCaseWithin, callError } = common;

const CASE_LIMIT_MS = 30000;
const NO_COMPRESS = 2; // grpc-js WriteFlags.NoCompress, passed as write()'s encoding
const GZIP = 2; // grpc-js CompressionAlgorithms.gzip

const ALL = [
  'empty_unary',
  'large_unary',
  'client_streaming',
  'server_streaming',
  'ping_pong',
  'empty_stream',
  'timeout_on_sleeping_server',
  'cancel_after_begin',
  'cancel_after_first_response',
  'status_code_and_message',
  'special_status_message',
  'unimplemented_method',
  'unimplemented_service',
  'custom_metadata',
  'client_compressed_unary',
  'server_compressed_unary',
  'client_compressed_streaming',
  'server_compressed_streaming',
];

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

function describe(err) {
  return err && typeof err.code === 'number' ? `${CODE_NAMES[err.code] ?? err.code}: ${err.details}` : String(err);
}

/** Throws unless `err` is a call error with `code`. */
function expectCode(err, code, what = 'call') {
  ensure(err && err.code === code, `${what}: expected ${CODE_NAMES[code]}, got ${err ? describe(err) : 'OK'}`);
}

function expectOk(err, what = 'call') {
  ensure(!err, `${what}: unexpected status ${describe(err)}`);
}

function checkPayload(msg, size, what = 'payload') {
  const body = msg && msg.payload ? msg.payload.body : Buffer.alloc(0);
  ensure(body.length === size && body.equals(Buffer.alloc(size)), `${what}: ${body.length} bytes, want ${size} zero bytes`);
}

function params(sizes) {
  return sizes.map((size) => ({ size }));
}

/**
 * Starts a call that ends in a callback (unary or client streaming);
 * `result` resolves with { err, resp, initial, status } once both the callback
 * and the status have come.
 */
function callbackCall(start) {
  let call;
  const result = new Promise((resolve) => {
    const r = {};
    let pending = 2;
    const done = () => --pending === 0 && resolve(r);
    call = start((err, resp) => {
      r.err = err;
      r.resp = resp;
      done();
    });
    call.on('metadata', (md) => (r.initial = md));
    call.on('status', (status) => {
      r.status = status;
      done();
    });
  });
  return { call, result };
}

/** Reads a call's responses one by one: next() is a message, null at the end, or throws the call's error. */
class Incoming {
  constructor(call) {
    this.queue = [];
    this.ended = false;
    this.error = null;
    this.wake = null;
    this.initial = new Promise((resolve) => {
      call.on('metadata', resolve);
      call.on('status', () => resolve(null));
    });
    this.status = new Promise((resolve) => call.on('status', resolve));
    call.on('data', (m) => this.poke(() => this.queue.push(m)));
    call.on('end', () => this.poke(() => (this.ended = true)));
    call.on('error', (e) => this.poke(() => (this.error = e)));
  }

  poke(update) {
    update();
    const wake = this.wake;
    this.wake = null;
    if (wake) wake();
  }

  async next() {
    while (!this.queue.length && !this.ended && !this.error) {
      await new Promise((resolve) => (this.wake = resolve));
    }
    if (this.queue.length) return this.queue.shift();
    if (this.error) throw this.error;
    return null;
  }

  async all() {
    const out = [];
    for (let m = await this.next(); m !== null; m = await this.next()) out.push(m);
    return out;
  }
}

function echoMetadata() {
  const md = new grpc.Metadata();
  md.add('x-grpc-test-echo-initial', 'test_initial_metadata_value');
  md.add('x-grpc-test-echo-trailing-bin', Buffer.from([0xab, 0xab, 0xab]));
  return md;
}

function largeRequest(extra = {}) {
  return { response_size: 314159, payload: zeros(271828), ...extra };
}

/** The cases; each gets { stub, unimpl, gzipStub(), opts() } and throws CaseError on failure. */
const CASES = {
  async empty_unary({ stub, opts }) {
    const r = await callbackCall((cb) => stub.EmptyCall({}, opts(), cb)).result;
    expectOk(r.err);
    ensure(r.resp && Object.keys(r.resp).length === 0, `non-empty response ${JSON.stringify(r.resp)}`);
  },

  async large_unary({ stub, opts }) {
    const r = await callbackCall((cb) => stub.UnaryCall(largeRequest(), opts(), cb)).result;
    expectOk(r.err);
    checkPayload(r.resp, 314159);
  },

  async client_streaming({ stub, opts }) {
    const { call, result } = callbackCall((cb) => stub.StreamingInputCall(opts(), cb));
    for (const n of [27182, 8, 1828, 45904]) call.write({ payload: zeros(n) });
    call.end();
    const r = await result;
    expectOk(r.err);
    ensure(r.resp.aggregated_payload_size === 74922, `aggregated_payload_size ${r.resp.aggregated_payload_size}`);
  },

  async server_streaming({ stub, opts }) {
    await serverStreaming(stub, opts, [31415, 9, 2653, 58979]);
  },

  async server_streaming_4mib({ stub, opts }) {
    await serverStreaming(stub, opts, [1048576, 1048576, 1048576, 1048576]);
  },

  async ping_pong({ stub, opts }) {
    const call = stub.FullDuplexCall(opts());
    const incoming = new Incoming(call);
    const pairs = [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]];
    for (const [i, [resp, req]] of pairs.entries()) {
      call.write({ response_parameters: params([resp]), payload: zeros(req) });
      const m = await incoming.next();
      ensure(m !== null, `stream ended after ${i} responses`);
      checkPayload(m, resp, `response ${i}`);
    }
    call.end();
    ensure((await incoming.next()) === null, 'a response after the last');
    const status = await incoming.status;
    ensure(status.code === grpc.status.OK, `status ${describe(status)}`);
  },

  async empty_stream({ stub, opts }) {
    const call = stub.FullDuplexCall(opts());
    const incoming = new Incoming(call);
    call.end();
    const got = await incoming.all();
    ensure(got.length === 0, `${got.length} responses, want none`);
  },

  async timeout_on_sleeping_server({ stub }) {
    const call = stub.FullDuplexCall({ deadline: Date.now() + 1 });
    const incoming = new Incoming(call);
    call.write({ payload: zeros(27182) });
    const err = await callError(() => incoming.all());
    expectCode(err, grpc.status.DEADLINE_EXCEEDED);
  },

  async cancel_after_begin({ stub, opts }) {
    const { call, result } = callbackCall((cb) => stub.StreamingInputCall(opts(), cb));
    call.cancel();
    expectCode((await result).err, grpc.status.CANCELLED);
  },

  async cancel_after_first_response({ stub, opts }) {
    const call = stub.FullDuplexCall(opts());
    const incoming = new Incoming(call);
    call.write({ response_parameters: params([31415]), payload: zeros(27182) });
    const first = await incoming.next();
    ensure(first !== null, 'no response');
    checkPayload(first, 31415, 'first response');
    call.cancel();
    expectCode(await callError(() => incoming.all()), grpc.status.CANCELLED);
  },

  async status_code_and_message(ctx) {
    await statusEcho(ctx, 'test status message');
  },

  async special_status_message(ctx) {
    await statusEcho(ctx, '\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \uD83D\uDE08\t\n');
  },

  async unimplemented_method({ stub, opts }) {
    const r = await callbackCall((cb) => stub.UnimplementedCall({}, opts(), cb)).result;
    expectCode(r.err, grpc.status.UNIMPLEMENTED);
  },

  async unimplemented_service({ unimpl, opts }) {
    const r = await callbackCall((cb) => unimpl.UnimplementedCall({}, opts(), cb)).result;
    expectCode(r.err, grpc.status.UNIMPLEMENTED);
  },

  async custom_metadata({ stub, opts }) {
    const check = (what, initial, trailing) => {
      const got = initial ? initial.get('x-grpc-test-echo-initial') : [];
      ensure(got.length === 1 && got[0] === 'test_initial_metadata_value', `${what}: initial metadata ${JSON.stringify(got)}`);
      const bin = trailing ? trailing.get('x-grpc-test-echo-trailing-bin') : [];
      ensure(bin.length === 1 && Buffer.from([0xab, 0xab, 0xab]).equals(bin[0]), `${what}: trailing metadata ${JSON.stringify(bin)}`);
    };
    const r = await callbackCall((cb) => stub.UnaryCall(largeRequest(), echoMetadata(), opts(), cb)).result;
    expectOk(r.err, 'unary');
    checkPayload(r.resp, 314159, 'unary');
    check('unary', r.initial, r.status.metadata);

    const call = stub.FullDuplexCall(echoMetadata(), opts());
    const incoming = new Incoming(call);
    call.write({ response_parameters: params([314159]), payload: zeros(271828) });
    call.end();
    const got = await incoming.all();
    ensure(got.length === 1, `duplex: ${got.length} responses, want 1`);
    checkPayload(got[0], 314159, 'duplex');
    check('duplex', await incoming.initial, (await incoming.status).metadata);
  },

  async client_compressed_unary({ stub, gzipStub, opts }) {
    const req = (expect) => largeRequest({ expect_compressed: { value: expect } });
    const probe = await callbackCall((cb) => stub.UnaryCall(req(true), opts(), cb)).result;
    expectCode(probe.err, grpc.status.INVALID_ARGUMENT, 'probe (uncompressed, expect_compressed)');
    const compressed = await callbackCall((cb) => gzipStub().UnaryCall(req(true), opts(), cb)).result;
    expectOk(compressed.err, 'compressed');
    checkPayload(compressed.resp, 314159, 'compressed');
    const plain = await callbackCall((cb) => stub.UnaryCall(req(false), opts(), cb)).result;
    expectOk(plain.err, 'uncompressed');
    checkPayload(plain.resp, 314159, 'uncompressed');
  },

  async server_compressed_unary({ stub, opts }) {
    for (const compress of [true, false]) {
      const req = largeRequest({ response_compressed: { value: compress } });
      const r = await callbackCall((cb) => stub.UnaryCall(req, opts(), cb)).result;
      expectOk(r.err, `response_compressed=${compress}`);
      checkPayload(r.resp, 314159, `response_compressed=${compress}`);
      const flag = compressedFlag(r.resp);
      ensure(flag === compress, `response_compressed=${compress}: compressed flag ${flag}`);
    }
  },

  async client_compressed_streaming({ stub, gzipStub, opts }) {
    const msg = (expect, n) => ({ payload: zeros(n), expect_compressed: { value: expect } });
    const probe = callbackCall((cb) => stub.StreamingInputCall(opts(), cb));
    probe.call.write(msg(true, 27182));
    probe.call.end();
    expectCode((await probe.result).err, grpc.status.INVALID_ARGUMENT, 'probe (uncompressed, expect_compressed)');

    const { call, result } = callbackCall((cb) => gzipStub().StreamingInputCall(opts(), cb));
    call.write(msg(true, 27182));
    call.write(msg(false, 45904), NO_COMPRESS);
    call.end();
    const r = await result;
    expectOk(r.err);
    ensure(r.resp.aggregated_payload_size === 73086, `aggregated_payload_size ${r.resp.aggregated_payload_size}`);
  },

  async server_compressed_streaming({ stub, opts }) {
    const req = {
      response_parameters: [
        { size: 31415, compressed: { value: true } },
        { size: 92653, compressed: { value: false } },
      ],
    };
    const got = await new Incoming(stub.StreamingOutputCall(req, opts())).all();
    const seen = got.map((m) => [m.payload ? m.payload.body.length : 0, compressedFlag(m)]);
    ensure(JSON.stringify(seen) === '[[31415,true],[92653,false]]', `responses (size, compressed flag): ${JSON.stringify(seen)}`);
  },
};

async function serverStreaming(stub, opts, sizes) {
  const got = await new Incoming(stub.StreamingOutputCall({ response_parameters: params(sizes) }, opts())).all();
  ensure(got.length === sizes.length, `${got.length} responses, want ${sizes.length}`);
  got.forEach((m, i) => checkPayload(m, sizes[i], `response ${i}`));
}

async function statusEcho({ stub, opts }, message) {
  const response_status = { code: 2, message };
  const r = await callbackCall((cb) => stub.UnaryCall({ response_status }, opts(), cb)).result;
  expectCode(r.err, grpc.status.UNKNOWN, 'unary');
  ensure(r.err.details === message, `unary: message ${JSON.stringify(r.err.details)}`);

  const call = stub.FullDuplexCall(opts());
  const incoming = new Incoming(call);
  call.write({ response_status });
  call.end();
  const err = await callError(() => incoming.all());
  expectCode(err, grpc.status.UNKNOWN, 'duplex');
  ensure(err.details === message, `duplex: message ${JSON.stringify(err.details)}`);
}

/** Runs one case under CASE_LIMIT_MS; resolves with null (pass) or a reason. */
function runCase(name, ctx) {
  return runCaseWithin(CASES, name, ctx, CASE_LIMIT_MS, (deadline) => ({ deadline }), (e) => `unexpected status ${describe(e)}`);
}

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const { authority: target, names } = common.target(flags, ALL);

  let creds = grpc.credentials.createInsecure();
  const options = {};
  if (isTrue(flags.use_tls)) {
    creds = grpc.credentials.createSsl(fs.readFileSync(flags.ca_file ?? path.join(CERT_DIR, 'ca.pem')));
    if (flags.server_host_override) {
      options['grpc.ssl_target_name_override'] = flags.server_host_override;
      options['grpc.default_authority'] = flags.server_host_override;
    }
  }
  const testing = loadTesting();
  const stub = new testing.TestService(target, creds, options);
  const unimpl = new testing.UnimplementedService(target, creds, { channelOverride: stub.getChannel() });
  let gzip = null;
  const gzipStub = () =>
    (gzip ??= new testing.TestService(target, creds, { ...options, 'grpc.default_compression_algorithm': GZIP }));

  const failed = await runAll(names, runCase, { stub, unimpl, gzipStub });
  stub.close();
  if (gzip) gzip.close();
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`interop client: ${e.message}`);
  process.exit(2);
});
