// A sockd test app with Ready=node-ipc: plain `http`, no npm package. It listens on
// fd 3, says 'online' over Node's IPC channel, and drains on 'shutdown'.
'use strict';
const http = require('http');

const ident = `app=${process.env.SOCKD_APP} worker=${process.env.SOCKD_WORKER} ` +
              `generation=${process.env.SOCKD_GENERATION} pid=${process.pid}`;
let draining = false;
// Started held (Suspend=hold, SOCKD_SUSPENDED=1) while the old generation stops and a
// migration runs: requests are accepted and wait here until sockd sends 'resume'.
let held = process.env.SOCKD_SUSPENDED === '1' ? [] : null;

const server = http.createServer((req, res) => {
  if (held)
    held.push(() => answer(req, res));
  else
    answer(req, res);
});

function answer(req, res) {
  req.resume();
  req.on('end', () => {
    const body = `${ident} served=${(Date.now() / 1000).toFixed(6)}\n`;
    const headers = { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) };
    // While draining, nginx must not reuse this connection: it closes it instead.
    if (draining) headers.Connection = 'close';
    res.writeHead(200, headers);
    res.end(body);
  });
}

// Never close an idle keep-alive connection from this side while nginx may be reusing
// it: nginx's upstream keepalive_timeout (60s by default) must be the shorter one.
server.keepAliveTimeout = 120 * 1000;
server.headersTimeout = 125 * 1000;

server.listen({ fd: 3 }, () => {
  process.send('online');
  console.log(`server.js: ${ident} online`);
});

process.on('message', (msg) => {
  if (msg === 'resume' && held) {
    const waiting = held;
    held = null;
    waiting.forEach((go) => go());
    return;
  }
  if (msg !== 'shutdown' || draining)
    return;
  draining = true;
  console.log(`server.js: ${ident} draining`);
  // server.close() would also close idle keep-alive connections (Node >= 19), which
  // races nginx reusing them; leave those for nginx to close.
  server.closeIdleConnections = () => {};
  server.close(() => {
    console.log(`server.js: ${ident} drained, exiting`);
    process.exit(0);
  });
  // The IPC channel must not keep us alive once the connections are gone.
  process.channel && process.channel.unref();
});
