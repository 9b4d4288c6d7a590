// (f) Google's Node client, warm: one process, one JobsClient (REST over
// plain HTTP, a fixed access token: no lookups), runJob N times one after
// another against the stand-in with the overrides every path sends. Prints
// one JSON line: wall and this process's CPU (process.cpuUsage) per call after
// WARMUP calls (the connection, the JIT), and the process's peak RSS.
//   node warm.js HOST:PORT TOKEN N
'use strict';
const {JobsClient} = require('@google-cloud/run').v2;
const {OAuth2Client} = require('google-auth-library');

const [hostport, token, nArg] = process.argv.slice(2);
const n = Number(nArg);
const [host, port] = hostport.split(':');
const NAME = 'projects/bench/locations/local/jobs/noop';
const OVERRIDES = {containerOverrides: [{args: ['--id=42'], env: [{name: 'ID', value: '42'}]}]};
const WARMUP = Number(process.env.WARMUP || 50);

async function main() {
  const auth = new OAuth2Client();
  auth.setCredentials({access_token: token});
  const jobs = new JobsClient({fallback: true, protocol: 'http', apiEndpoint: host, port: Number(port), authClient: auth});
  for (let i = 0; i < WARMUP; i++) await jobs.runJob({name: NAME, overrides: OVERRIDES});
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const [op] = await jobs.runJob({name: NAME, overrides: OVERRIDES});
    if (!op.name) throw new Error('no operation name');
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const c = process.cpuUsage(c0);
  const cpu = c.user + c.system;
  await jobs.close();
  console.log(JSON.stringify({n, wall_us: wall / n, cpu_us: cpu / n, rss_kb: process.resourceUsage().maxRSS}));
}
main().catch(err => { console.error(err); process.exit(1); });
