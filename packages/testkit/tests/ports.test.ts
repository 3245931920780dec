import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { freePort } from '../src/index.js';

describe('freePort', () => {
  it('never hands out the same port twice, though the kernel repeats free ports', async () => {
    // 2,000 listen(0) calls repeat hundreds of ports on Linux; a test asking for six ports in a
    // row once gave Alertmanager and the node exporter the same one.
    const ports = [];
    for (let i = 0; i < 2000; i++) ports.push(await freePort());
    assert.equal(new Set(ports).size, ports.length);
  });

  it('hands out a port one can listen on at 127.0.0.1', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
