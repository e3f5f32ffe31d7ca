// The web_demo page's script: three gRPC-Web calls to Weir's example
// Greeter from the browser, each rendered into its element, whose
// data-state goes from "pending" to "done" or "failed".
//
// No protoc and no generated code: the service and message descriptors
// come from the FileDescriptorSet weir-build writes for examples/proto
// (web_demo serves it as descriptors.binpb) through @bufbuild/protobuf's
// createFileRegistry. Bundled into dist/app.js by esbuild (npm run build).
import { createClient, ConnectError } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

/** gRPC status code names, by code (PROTOCOL-HTTP2 / status.proto). */
const CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** Every call's deadline (sent as grpc-timeout). */
const CALL_TIMEOUT_MS = 10000;

function describe(err) {
  if (err instanceof ConnectError) return `${CODES[err.code] ?? err.code}: ${err.rawMessage}`;
  return String(err && err.message ? err.message : err);
}

function settle(el, state, text) {
  if (text !== undefined) el.textContent = text;
  el.dataset.state = state;
}

/** helloworld.Greeter from the example protos' descriptor set. */
async function loadGreeter() {
  const response = await fetch('descriptors.binpb');
  if (!response.ok) throw new Error(`descriptors.binpb: HTTP ${response.status}`);
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(await response.arrayBuffer()));
  const greeter = createFileRegistry(set).getService('helloworld.Greeter');
  if (!greeter) throw new Error('descriptors.binpb has no helloworld.Greeter');
  return greeter;
}

/**
 * A Greeter that also declares SayGoodbye, which the server does not
 * serve: a descriptor made here, in its own registry (so its
 * helloworld.Greeter does not clash with the real one).
 */
function greeterWithGoodbye() {
  const file = create(FileDescriptorProtoSchema, {
    name: 'web_demo/goodbye.proto',
    package: 'helloworld',
    syntax: 'proto3',
    messageType: [
      { name: 'GoodbyeRequest', field: [{ name: 'name', number: 1, type: 9, label: 1, jsonName: 'name' }] },
      { name: 'GoodbyeReply', field: [{ name: 'message', number: 1, type: 9, label: 1, jsonName: 'message' }] },
    ],
    service: [
      {
        name: 'Greeter',
        method: [{ name: 'SayGoodbye', inputType: '.helloworld.GoodbyeRequest', outputType: '.helloworld.GoodbyeReply' }],
      },
    ],
  });
  return createFileRegistry(file, () => undefined).getService('helloworld.Greeter');
}

async function unary(client) {
  const el = document.getElementById('unary');
  try {
    const reply = await client.sayHello({ name: 'browser' }, { timeoutMs: CALL_TIMEOUT_MS });
    settle(el, 'done', reply.message);
  } catch (e) {
    settle(el, 'failed', `error: ${describe(e)}`);
  }
}

async function serverStreaming(client) {
  const el = document.getElementById('stream');
  try {
    for await (const reply of client.sayHelloStreamReply({ name: 'browser' }, { timeoutMs: CALL_TIMEOUT_MS })) {
      const item = document.createElement('li');
      item.textContent = reply.message;
      el.appendChild(item);
    }
    settle(el, 'done');
  } catch (e) {
    const item = document.createElement('li');
    item.textContent = `error: ${describe(e)}`;
    el.appendChild(item);
    settle(el, 'failed');
  }
}

async function statusError(client) {
  const el = document.getElementById('error');
  try {
    const reply = await client.sayGoodbye({ name: 'browser' }, { timeoutMs: CALL_TIMEOUT_MS });
    settle(el, 'failed', `unexpected OK: ${JSON.stringify(reply.message)}`);
  } catch (e) {
    settle(el, e instanceof ConnectError ? 'done' : 'failed', describe(e));
  }
}

async function main() {
  const baseUrl = document.querySelector('meta[name="grpc-base-url"]').content;
  document.getElementById('target').textContent = baseUrl;
  const transport = createGrpcWebTransport({ baseUrl, useBinaryFormat: true });
  let greeter;
  try {
    greeter = await loadGreeter();
  } catch (e) {
    for (const id of ['unary', 'stream', 'error']) settle(document.getElementById(id), 'failed', `error: ${describe(e)}`);
    return;
  }
  const client = createClient(greeter, transport);
  // One after another, so the page's state reads in order.
  await unary(client);
  await serverStreaming(client);
  await statusError(createClient(greeterWithGoodbye(), transport));
}

main();
