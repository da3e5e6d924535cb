'use strict';
// An app written for nodesockd 2.x, as its README writes one:
//
//   server.listen(nodesockd.socketPath ?? 8000, () => nodesockd.reportOnline());
//   nodesockd.on('shutdown', () => server.close());
//   app.use(nodesockd.suspendMiddleware);   // held until 'nodesockd resume'
//
// The nodesockd package is not on the npm registry this project installs from, so the
// few lines of it that such an app runs are spelled out below, byte for byte what the
// library puts on Node's IPC channel: {type, data} envelopes (src/worker/worker.ts and
// src/ipc/peer.ts of github.com/cdn77/node-socket-daemon). Nothing here knows sockd.
const http = require('http');

// ---- what `require('nodesockd').nodesockd` does for the app ----
const nodesockd = {
  id: process.env.NODESOCKD_WORKER_ID,
  socketPath: process.env.NODESOCKD_SOCKET_PATH,
  suspended: process.env.NODESOCKD_SUSPENDED === 'true',
  handlers: {},
  on(event, handler) { this.handlers[event] = handler; },
  reportOnline() {
    process.send && process.send({ type: 'online', data: { id: this.id, pid: process.pid, suspended: this.suspended } });
  },
};
let resume;
nodesockd.resumed = nodesockd.suspended && process.send ? new Promise((r) => { resume = r; }) : Promise.resolve();
process.on('message', (payload) => {
  if (!payload || typeof payload !== 'object' || typeof payload.type !== 'string')
    return; // not an IPC message of nodesockd's: ignored, as the library does
  if (payload.type === 'resume' && resume) {
    resume();
    resume = undefined;
  } else if (payload.type === 'shutdown') {
    process.channel && process.channel.unref();
    nodesockd.handlers.shutdown && nodesockd.handlers.shutdown();
  }
});

// ---- the app ----
const server = http.createServer(async (req, res) => {
  await nodesockd.resumed;
  let length = 0;
  req.on('data', (chunk) => { length += chunk.length; });
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`app=nodesockd pid=${process.pid} ip=${req.socket.remoteAddress} id=${nodesockd.id} ` +
            `method=${req.method} body=${length}\n`);
  });
});

nodesockd.on('shutdown', () => server.close());
server.listen(nodesockd.socketPath ?? 8000, () => nodesockd.reportOnline());
