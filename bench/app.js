// The small HTTP app of the sockd benchmarks: examples/node/server.js, plus a switch for
// where it listens so the very same code runs under every contender.
//
//   BENCH_LISTEN=fd (default)      fd 3, as sockd-spawn passes it; 'online' over Node IPC
//   BENCH_LISTEN=unix:PATH         binds PATH itself (mode 0666), no supervisor
//   BENCH_LISTEN=tcp:HOST:PORT     loopback TCP; under pm2 cluster mode the master shares it
//   BENCH_READY_DELAY_MS=N         waits N ms (a sleep: a connection pool, a cache warm-up)
//                                  before it listens and says it is ready
//
// Readiness: under sockd `process.send('online')` (Ready=node-ipc); under pm2
// `process.send('ready')` (wait_ready: true). Graceful stop on sockd's 'shutdown' message
// and on SIGINT/SIGTERM (pm2, plain runs): stop accepting, finish what is in flight,
// answer further requests on open keep-alive connections with `Connection: close`,
// leave idle connections for nginx to close, exit when none is left. Started held
// (SOCKD_SUSPENDED=1): accept requests, answer them at 'resume'.
'use strict';
const http = require('http');
const fs = require('fs');

const listen = process.env.BENCH_LISTEN || 'fd';
const delay = parseInt(process.env.BENCH_READY_DELAY_MS || '0', 10);
let draining = false;
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
    const body = `ok pid=${process.pid}\n`;
    const headers = { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) };
    if (draining)
      headers.Connection = 'close';
    res.writeHead(200, headers);
    res.end(body);
  });
}

server.keepAliveTimeout = 120 * 1000;
server.headersTimeout = 125 * 1000;

function ready() {
  if (!process.send)
    return;
  process.send(process.env.SOCKD_APP ? 'online' : 'ready');
}

function start() {
  if (listen === 'fd') {
    server.listen({ fd: 3 }, ready);
  } else if (listen.startsWith('unix:')) {
    const path = listen.slice(5);
    try { fs.unlinkSync(path); } catch (e) { /* not there */ }
    server.listen(path, () => { fs.chmodSync(path, 0o666); ready(); });
  } else if (listen.startsWith('tcp:')) {
    const [host, port] = listen.slice(4).split(':');
    server.listen(parseInt(port, 10), host, ready);
  } else {
    console.error(`app.js: bad BENCH_LISTEN '${listen}'`);
    process.exit(2);
  }
}

function drain() {
  if (draining)
    return;
  draining = true;
  // Node >= 19's server.close() also closes idle keep-alive connections, which races
  // nginx reusing them: leave those for nginx to close.
  server.closeIdleConnections = () => {};
  server.close(() => process.exit(0));
  if (process.channel)
    process.channel.unref();
}

process.on('message', (msg) => {
  if (msg === 'resume' && held) {
    const waiting = held;
    held = null;
    waiting.forEach((go) => go());
  } else if (msg === 'shutdown') {
    drain();
  }
});
process.on('SIGINT', drain);
process.on('SIGTERM', drain);

if (delay > 0)
  setTimeout(start, delay);
else
  start();
