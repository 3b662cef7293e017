// The shop's web service: says who it is and how long it has been up, and
// shows the internal api's answer (reached by its bare name, http://api:5000).
const http = require("http");
const ms = require("ms");

const port = process.env.PORT || 3000;
const api = process.env.API_URL || "http://api:5000";
const started = Date.now();
const who = `${process.env.APP || "shop"}/${process.env.SERVICE || "web"} ` +
  `(release ${process.env.RELEASE || "-"}, node ${process.version})`;

function get(url, done) {
  const req = http.get(url, { timeout: 3000 }, (res) => {
    let body = "";
    res.on("data", (c) => (body += c));
    res.on("end", () => done(null, res.statusCode, body));
  });
  req.on("timeout", () => req.destroy(new Error("timed out")));
  req.on("error", (e) => done(e));
}

const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.end("ok\n");
    return;
  }
  if (req.url === "/products") {
    get(`${api}/products`, (err, status, body) => {
      res.writeHead(err ? 502 : status, { "Content-Type": "application/json" });
      res.end(err ? JSON.stringify({ error: err.message }) + "\n" : body);
    });
    return;
  }
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end(`welcome to the shop: ${who}, up ${ms(Date.now() - started)}\n`);
});

server.listen(port, () => console.log(`web listening on port ${port} as ${who}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
