// The shop's worker: no port. Every two seconds it asks the internal api for
// the next order, by the api's bare name, and logs what it got.
const http = require("http");

const api = process.env.API_URL || "http://api:5000";
const every = 2000;

function tick() {
  const req = http.get(`${api}/orders/next`, { timeout: 3000 }, (res) => {
    let body = "";
    res.on("data", (c) => (body += c));
    res.on("end", () => console.log(`worker: ${api} answered ${res.statusCode}: ${body.trim()}`));
  });
  req.on("timeout", () => req.destroy(new Error("timed out")));
  req.on("error", (e) => console.log(`worker: ${api} failed: ${e.message}`));
}

console.log(`worker started, calling ${api} every ${every / 1000} s`);
tick();
const timer = setInterval(tick, every);
process.on("SIGTERM", () => { clearInterval(timer); process.exit(0); });
