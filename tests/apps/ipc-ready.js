'use strict';
// A Node app of the kind written for pm2: it binds its own port, warms up for a
// while, answering 503 until it is ready, then announces readiness with an IPC
// message of its own (an object, not pm2's 'ready' string), and stops on pm2's
// 'shutdown' message. Plain Node, no npm package. Nothing in it knows about sockd.
const http = require('http');

let ready = false;
let port; // read once it listens: server.address() is null once it is closed
const server = http.createServer((req, res) => {
  let length = 0;
  req.on('data', (chunk) => { length += chunk.length; });
  req.on('end', () => {
    if (!ready) {
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '1' });
      res.end('warming up\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`app=ipc-ready pid=${process.pid} ip=${req.socket.remoteAddress} ` +
            `port=${port} method=${req.method} body=${length}\n`);
  });
});

server.listen(4000, () => {
  port = server.address().port;
  // The cache warm-up, say: the server already accepts connections.
  setTimeout(() => {
    ready = true;
    if (process.send) process.send({ ready: true });
  }, 1500);
});

process.on('message', (message) => {
  if (message === 'shutdown') server.close(() => process.exit(0));
});
