import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { SOCKET_IO_MAX_PACKET_BYTES } from '../src/realtime/user-events.js';
import { ADAPTERS, json, postJson, type RunningApi, startApi } from './support/api.js';
import { encodeFrame, OPCODE, RawWebSocket } from './support/raw-websocket.js';
import { scrape, sampleValue } from './support/scrape.js';
import { waitFor } from './support/services.js';

const WS_PATH = '/socket.io/?EIO=4&transport=websocket';
const FLOOD_CLIENTS = 240;
const FLOOD_ABRUPT = 60;
const FLOOD_HALF_HANDSHAKES = 60;
const FLOOD_NEVER_JOIN = 30;
const BATCH = 30;

function connectClient(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 10_000 });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** An engine.io WebSocket session, joined to the default namespace unless told otherwise. */
async function session(url: string, join = true): Promise<RawWebSocket> {
  const ws = await RawWebSocket.open(url, WS_PATH);
  await ws.waitForText((t) => t.startsWith('0{'));
  if (join) {
    ws.text('40');
    await ws.waitForText((t) => t.startsWith('40{'));
  }
  return ws;
}

/** Resolves with the close code when the connection ends within the time, else 'open'. */
function closedWithin(ws: RawWebSocket, ms: number): Promise<number | undefined | 'open'> {
  return Promise.race([ws.closed, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), ms))]);
}

/** Proves the connection is alive and every frame sent before was processed: frames are handled in order. */
async function answersPing(ws: RawWebSocket): Promise<boolean> {
  const tag = `ping-${Math.random()}`;
  ws.send(encodeFrame(OPCODE.ping, tag));
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if (ws.frames.some((f) => f.opcode === OPCODE.pong && f.payload.toString() === tag)) return true;
    if (ws.socket.destroyed) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

interface Garbage {
  readonly name: string;
  readonly frame: Buffer;
  /** The WebSocket close code the server must send; null: it just drops the connection. */
  readonly closes: number | null;
  readonly join?: boolean;
}

const text = (payload: string | Buffer) => encodeFrame(OPCODE.text, payload);

/** What the server must refuse by closing the connection. */
const GARBAGE: readonly Garbage[] = [
  // engine.io / Socket.IO packets that do not parse.
  { name: 'unknown engine.io packet type', frame: text('9'), closes: null },
  { name: 'empty packet', frame: text(''), closes: null },
  { name: 'Socket.IO packet of an unknown type', frame: text('4zzz'), closes: null },
  { name: 'event with broken JSON', frame: text('42["user.created",'), closes: null },
  { name: 'absurd attachment count', frame: text('45999999999999-["x",{"_placeholder":true,"num":0}]'), closes: null },
  { name: 'binary junk with no packet to attach to', frame: encodeFrame(OPCODE.binary, Buffer.from([0, 1, 2, 0xff, 0xfe])), closes: null },
  { name: 'garbage before joining', frame: text('zz'), closes: null, join: false },
  // WebSocket protocol violations, refused by ws with the code RFC 6455 prescribes.
  { name: 'reserved opcode 3', frame: encodeFrame(3, 'x'), closes: 1002 },
  { name: 'reserved opcode 0xB', frame: encodeFrame(0xb, 'x'), closes: 1002 },
  { name: 'unmasked client frame', frame: encodeFrame(OPCODE.text, '42["x"]', { mask: false }), closes: 1002 },
  { name: 'RSV1 without a negotiated extension', frame: encodeFrame(OPCODE.text, '42["x"]', { rsv: 4 }), closes: 1002 },
  { name: 'invalid UTF-8 in a text frame', frame: text(Buffer.from([0x34, 0x32, 0xff, 0xfe, 0xfd])), closes: 1007 },
  { name: 'fragmented ping', frame: encodeFrame(OPCODE.ping, 'x', { fin: false }), closes: 1002 },
  { name: 'control frame over 125 bytes', frame: encodeFrame(OPCODE.ping, 'x'.repeat(200)), closes: 1002 },
  { name: 'continuation with nothing to continue', frame: encodeFrame(OPCODE.continuation, 'x'), closes: 1002 },
  { name: 'close frame with an invalid code', frame: encodeFrame(OPCODE.close, Buffer.from([0x03, 0xe7])), closes: 1002 },
  // Size: refused as soon as the header announces it, before any buffering.
  { name: 'frame announcing 1 TiB', frame: encodeFrame(OPCODE.text, '', { length: 2 ** 40 }), closes: 1009 },
  {
    name: 'frame just over maxHttpBufferSize',
    frame: text(`42["hello","${'a'.repeat(SOCKET_IO_MAX_PACKET_BYTES)}"]`),
    closes: 1009,
  },
  { name: '2 MB frame', frame: text(`42["hello","${'a'.repeat(2_000_000)}"]`), closes: 1009 },
];

/** Odd but legal: the connection stays, and is still responsive after. */
const TOLERATED: readonly { name: string; frame: Buffer; events: number }[] = [
  { name: 'an event the server has no handler for', frame: text('42["hello",{"x":1}]'), events: 1 },
  { name: 'an event named __proto__', frame: text('42["__proto__",{"constructor":{}}]'), events: 1 },
  { name: 'joining a namespace that does not exist', frame: text('40/admin,'), events: 0 },
  { name: 'a binary event whose attachment never comes', frame: text('451-["x",{"_placeholder":true,"num":0}]'), events: 0 },
  { name: 'a no-op packet', frame: text('6'), events: 0 },
  { name: 'an unsolicited pong', frame: text('3'), events: 0 },
];

for (const adapter of ADAPTERS) {
  describe(`Socket.IO under garbage and floods (${adapter})`, { timeout: 55_000 }, () => {
    let api: RunningApi;
    let listener: Socket;
    const received: { id: string }[] = [];
    /** Clients of the default namespace that have ever joined, to check websocket_connections_opened_total. */
    let joined = 1;
    let events = 0;

    before(async () => {
      api = await startApi('real', adapter);
      listener = await connectClient(api.url);
      listener.on('user.created', (user: { id: string }) => received.push(user));
    });
    after(async () => {
      listener?.disconnect();
      await api?.close();
    });

    it('closes every connection that sends garbage, and keeps those that send odd but legal packets', async () => {
      const problems: string[] = [];
      for (const g of GARBAGE) {
        const ws = await session(api.url, g.join ?? true);
        if (g.join ?? true) joined++;
        ws.send(g.frame);
        const outcome = await closedWithin(ws, 5000);
        ws.destroy();
        if (outcome === 'open') problems.push(`${g.name}: still open after 5 s`);
        else if (g.closes !== null && outcome !== g.closes) problems.push(`${g.name}: close code ${outcome}, expected ${g.closes}`);
      }
      const kept = new Map<string, RawWebSocket>();
      for (const t of TOLERATED) {
        const ws = await session(api.url);
        joined++;
        events += t.events;
        ws.send(t.frame);
        if (!(await answersPing(ws))) problems.push(`${t.name}: connection lost`);
        kept.set(t.name, ws);
      }
      const admin = kept.get('joining a namespace that does not exist')?.texts();
      assert.ok(
        admin?.some((m) => m.startsWith('44/admin,')),
        'an unknown namespace gets a CONNECT_ERROR packet',
      );
      for (const ws of kept.values()) ws.destroy();
      assert.deepEqual(problems, []);
    });

    it('answers garbage on the HTTP long-polling transport with engine.io 4xx errors', async () => {
      const base = `${api.url}/socket.io/?EIO=4&transport=polling`;
      const sid = (JSON.parse((await (await fetch(base)).text()).slice(1)) as { sid: string }).sid;
      const statuses = [
        (await fetch(`${base}&sid=no-such-session`)).status,
        (await fetch(`${api.url}/socket.io/?EIO=3&transport=polling`)).status,
        (await fetch(`${api.url}/socket.io/?EIO=4&transport=carrier-pigeon`)).status,
        (await fetch(base, { method: 'PUT', body: 'x' })).status,
        (await fetch(`${base}&sid=${sid}`, { method: 'POST', body: `4${'a'.repeat(2 * SOCKET_IO_MAX_PACKET_BYTES)}` })).status,
      ];
      for (const status of statuses) assert.ok(status >= 400 && status < 500, `status ${status}`);
    });

    it(`survives a flood: ${FLOOD_CLIENTS} clients joining and leaving, abrupt drops, half handshakes`, async () => {
      for (let i = 0; i < FLOOD_CLIENTS; i += BATCH) {
        const clients = await Promise.all(Array.from({ length: Math.min(BATCH, FLOOD_CLIENTS - i) }, () => connectClient(api.url)));
        for (const client of clients) client.disconnect();
      }
      joined += FLOOD_CLIENTS;
      // Joined, then the TCP connection vanishes without a close handshake.
      for (let i = 0; i < FLOOD_ABRUPT; i += BATCH) {
        const sockets = await Promise.all(Array.from({ length: Math.min(BATCH, FLOOD_ABRUPT - i) }, () => session(api.url)));
        for (const ws of sockets) ws.destroy();
      }
      joined += FLOOD_ABRUPT;
      // Engine.io sessions that never join a namespace, and upgrades that stop half-way.
      const idle = await Promise.all(Array.from({ length: FLOOD_NEVER_JOIN }, () => session(api.url, false)));
      for (const ws of idle) ws.destroy();
      await Promise.all(
        Array.from(
          { length: FLOOD_HALF_HANDSHAKES },
          () =>
            new Promise<void>((resolve) => {
              const { hostname, port } = new URL(api.url);
              const socket = tcpConnect({ host: hostname, port: Number(port) }, () => {
                socket.write(`GET ${WS_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConn`);
                setTimeout(() => socket.destroy(), 20);
              });
              socket.on('error', () => undefined);
              socket.on('close', () => resolve());
            }),
        ),
      );
      assert.equal((await fetch(`${api.url}/health/live`)).status, 200);
    });

    it('brings websocket_connections back to the clients still connected, and counts every join', async () => {
      const samples = await waitFor(
        'websocket_connections to return to 1',
        async () => {
          const s = await scrape(api.url);
          return sampleValue(s, 'websocket_connections', { namespace: '/' }) === 1 ? s : undefined;
        },
        15_000,
      );
      assert.equal(sampleValue(samples, 'websocket_connections_opened_total', { namespace: '/' }), joined);
      assert.equal(sampleValue(samples, 'websocket_messages_received_total', { namespace: '/' }), events);
      assert.ok(listener.connected, 'the first client was never disconnected');
    });

    it('still delivers user.created to the client connected throughout, and to a new one', async () => {
      const fresh = await connectClient(api.url);
      const freshReceived: { id: string }[] = [];
      fresh.on('user.created', (user: { id: string }) => freshReceived.push(user));
      try {
        const res = await postJson(`${api.url}/users`, { email: `after-flood-${adapter}@example.com`, name: 'After' });
        assert.equal(res.status, 201);
        const { id } = await json(res);
        await waitFor('both clients to receive user.created', () =>
          received.some((u) => u.id === id) && freshReceived.some((u) => u.id === id) ? true : undefined,
        );
      } finally {
        fresh.disconnect();
      }
    });
  });
}
