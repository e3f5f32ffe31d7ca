#!/usr/bin/env node
// grpc.testing.TestService on @grpc/grpc-js, the Node.js peer of Weir's
// interop tests (semantics: grpc/grpc doc/interop-test-descriptions.md, "Server").
//
//   node server.js --port N [--use_tls=true|false]
//
// Binds 127.0.0.1 (--port 0 picks a free port) and prints
// "interop server listening on 127.0.0.1:PORT" once it serves. TLS uses
// interop/certs/server1.pem and server1.key. SIGTERM/SIGINT: tryShutdown,
// forceShutdown after SHUTDOWN_GRACE_MS.
//
// UnimplementedCall is deliberately not implemented (grpc-js answers
// UNIMPLEMENTED). Compressed *responses* (response_compressed,
// ResponseParameters.compressed) are not possible: grpc-js's server never
// compresses, so those responses go out uncompressed. expect_compressed is
// checked per message (see common.js).
'use strict';

const fs = require('fs');
const path = require('path');
const { grpc, CERT_DIR, parseFlags, isTrue, loadTesting, compressedFlag, zeros } = require('./common');

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const SHUTDOWN_GRACE_MS = 3000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Echo Metadata: sends the initial key back now; returns the trailers to send. */
function echoMetadata(call) {
  const initial = new grpc.Metadata();
  const trailing = new grpc.Metadata();
  for (const v of call.metadata.get(ECHO_INITIAL)) initial.add(ECHO_INITIAL, v);
  for (const v of call.metadata.get(ECHO_TRAILING)) trailing.add(ECHO_TRAILING, v);
  call.sendMetadata(initial);
  return trailing;
}

/** Echo Status: the error to end the call with, or null. */
function echoStatus(status, trailing) {
  if (!status || status.code === 0) return null;
  return { code: status.code, details: status.message, metadata: trailing };
}

/** CompressedRequest: the error for a message whose flag is not the expected one. */
function checkCompressed(msg, trailing) {
  const expect = msg.expect_compressed;
  const flag = compressedFlag(msg);
  if (!expect || flag === undefined || expect.value === flag) return null;
  const details = expect.value ? 'expected a compressed message' : 'expected an uncompressed message';
  return { code: grpc.status.INVALID_ARGUMENT, details, metadata: trailing };
}

/** Writes the responses `params` ask for (after each interval_us), honouring backpressure. */
async function writeResponses(call, params) {
  for (const p of params) {
    if (p.interval_us > 0) await sleep(p.interval_us / 1000);
    if (call.cancelled || call.destroyed) return;
    if (!call.write({ payload: zeros(p.size) })) {
      await new Promise((resolve) => {
        const done = () => {
          call.off('drain', done);
          call.off('close', done);
          resolve();
        };
        call.on('drain', done);
        call.on('close', done);
      });
    }
  }
}

/** Ends a streaming call with `err`, or with OK and `trailing`. */
function finish(call, err, trailing) {
  if (call.cancelled || call.destroyed) return;
  if (err) call.emit('error', err);
  else call.end(trailing);
}

function unaryCall(call, callback) {
  const req = call.request;
  const trailing = echoMetadata(call);
  const err = checkCompressed(req, trailing) || echoStatus(req.response_status, trailing);
  if (err) callback(err);
  else callback(null, { payload: zeros(req.response_size) }, trailing);
}

/** FullDuplexCall answers each request as it arrives; HalfDuplexCall (half) after the last. */
function duplex(half) {
  return (call) => {
    const trailing = echoMetadata(call);
    const received = [];
    let chain = Promise.resolve();
    let ended = false;
    const handle = async (req) => {
      if (ended) return;
      const err = echoStatus(req.response_status, trailing);
      if (err) {
        ended = true;
        finish(call, err);
      } else {
        await writeResponses(call, req.response_parameters);
      }
    };
    call.on('data', (req) => {
      if (half) received.push(req);
      else chain = chain.then(() => handle(req));
    });
    call.on('end', () => {
      chain = chain
        .then(async () => {
          for (const req of received) await handle(req);
        })
        .then(() => {
          if (!ended) finish(call, null, trailing);
        });
    });
    call.on('error', () => {}); // a cancelled call; nothing more to do
  };
}

const handlers = {
  EmptyCall(call, callback) {
    const trailing = echoMetadata(call);
    callback(null, {}, trailing);
  },
  UnaryCall: unaryCall,
  CacheableUnaryCall: unaryCall,
  async StreamingOutputCall(call) {
    const req = call.request;
    const trailing = echoMetadata(call);
    await writeResponses(call, req.response_parameters);
    finish(call, echoStatus(req.response_status, trailing), trailing);
  },
  StreamingInputCall(call, callback) {
    const trailing = echoMetadata(call);
    let total = 0;
    let failed = false;
    call.on('data', (req) => {
      if (failed) return;
      const err = checkCompressed(req, trailing);
      if (err) {
        failed = true;
        callback(err);
      } else {
        total += req.payload ? req.payload.body.length : 0;
      }
    });
    call.on('end', () => {
      if (!failed) callback(null, { aggregated_payload_size: total }, trailing);
    });
    call.on('error', () => {});
  },
  FullDuplexCall: duplex(false),
  HalfDuplexCall: duplex(true),
  // UnimplementedCall: deliberately absent.
};

function main() {
  const flags = parseFlags(process.argv.slice(2));
  const port = Number(flags.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${flags.port}`);
  const creds = isTrue(flags.use_tls)
    ? grpc.ServerCredentials.createSsl(
        null,
        [
          {
            private_key: fs.readFileSync(path.join(CERT_DIR, 'server1.key')),
            cert_chain: fs.readFileSync(path.join(CERT_DIR, 'server1.pem')),
          },
        ],
        false,
      )
    : grpc.ServerCredentials.createInsecure();

  const testing = loadTesting();
  const server = new grpc.Server();
  server.addService(testing.TestService.service, handlers);
  server.bindAsync(`127.0.0.1:${port}`, creds, (err, bound) => {
    if (err) {
      console.error(`cannot bind 127.0.0.1:${port}: ${err.message}`);
      process.exit(1);
    }
    console.log(`interop server listening on 127.0.0.1:${bound}`);
  });

  let stopping = false;
  const stop = (signal) => {
    if (stopping) {
      server.forceShutdown(); // a second signal: no more grace
      process.exit(0);
    }
    stopping = true;
    console.error(`${signal}: shutting down`);
    const force = setTimeout(() => {
      console.error(`calls still open after ${SHUTDOWN_GRACE_MS} ms: forceShutdown`);
      server.forceShutdown();
      process.exit(0);
    }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(force);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
