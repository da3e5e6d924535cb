'use strict';
// An ordinary Express 5 app, written as Express's own docs write one: it listens on
// its own port and shuts down gracefully on SIGTERM ("Health checks and graceful
// shutdown"). Nothing in it knows about sockd; the test runs it with Listen=.
const express = require('express');

const app = express();
let port; // read once it listens: server.address() is null once it is closed
app.use(express.text({ type: '*/*' }));
app.use((req, res) => {
  const body = typeof req.body === 'string' ? req.body : '';
  res.type('text/plain').send(
    `app=express pid=${process.pid} ip=${req.ip} port=${port} ` +
    `method=${req.method} body=${body.length}\n`);
});

const server = app.listen(3000, () => {
  port = server.address().port;
  console.log(`Express listening on port ${port}`);
});

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
});
