// The baseline for `npm run bench`: a bare node:http server answering every
// request with the same small, fixed HTML page. Listens on 127.0.0.1:$PORT.
import http from 'node:http';

const PAGE = Buffer.from(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Baseline</title></head>
<body>
<header><p>GLOW benchmark baseline</p></header>
<main id="main-content"><h1>Baseline</h1><p>A fixed page from a bare node:http server, to compare the companion with.</p></main>
<footer><p>Nothing here is dynamic.</p></footer>
</body>
</html>
`);

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('baseline-server: PORT must be a port number\n');
  process.exit(2);
}

const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': PAGE.length });
  response.end(PAGE);
});
server.keepAliveTimeout = 5_000;
server.listen(port, '127.0.0.1');

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
