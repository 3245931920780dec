// @ts-check
// Stand-in notification receiver: logs every alert of each Alertmanager webhook notification as
// one JSON line on stdout, so notifications are visible (`docker compose logs alert-sink`) and
// AlertmanagerNotificationsFailing stays quiet until ALERT_WEBHOOK_URL names a real receiver.
// No dependencies: it runs on a plain Node.js image.
//
//   ALERT_SINK_HOST  interface to listen on (default 0.0.0.0)
//   ALERT_SINK_PORT  port (default 9095; 0 picks a free one, printed on stderr)
import { createServer } from 'node:http';

const host = process.env.ALERT_SINK_HOST ?? '0.0.0.0';
const port = Number(process.env.ALERT_SINK_PORT ?? 9095);
// Alertmanager batches alerts per group; a megabyte is far above any real notification.
const MAX_BODY_BYTES = 1024 * 1024;

/** @param {any} notification */
function logAlerts(notification) {
  for (const alert of Array.isArray(notification?.alerts) ? notification.alerts : []) {
    console.log(
      JSON.stringify({
        time: new Date().toISOString(),
        receiver: notification.receiver,
        status: alert.status,
        alertname: alert.labels?.alertname,
        severity: alert.labels?.severity,
        summary: alert.annotations?.summary,
        labels: alert.labels,
        startsAt: alert.startsAt,
      }),
    );
  }
}

const server = createServer((request, response) => {
  // Any GET is the health check.
  if (request.method === 'GET') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (request.method !== 'POST') {
    response.writeHead(405, { allow: 'GET, POST' }).end();
    return;
  }
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  request.on('data', (/** @type {Buffer} */ chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      response.writeHead(413).end();
      request.destroy();
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => {
    try {
      logAlerts(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      response.writeHead(400).end();
      return;
    }
    response.writeHead(200).end();
  });
});

server.listen(port, host, () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  console.error(`alert sink listening on http://${host}:${actualPort}/`);
});

for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
