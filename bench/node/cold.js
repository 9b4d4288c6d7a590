// (f) Google's Node client, cold: what one trigger costs as a process of its
// own (bench/measure.c execs it and times it): require the client, load a
// service-account key (GOOGLE_APPLICATION_CREDENTIALS; the client signs its
// own JWT, as it does by default), one runJob with the overrides every path
// sends, close, exit.
//   node cold.js HOST:PORT
'use strict';
const {JobsClient} = require('@google-cloud/run').v2;

const [host, port] = process.argv[2].split(':');

async function main() {
  const jobs = new JobsClient({fallback: true, protocol: 'http', apiEndpoint: host, port: Number(port)});
  const [op] = await jobs.runJob({
    name: 'projects/bench/locations/local/jobs/noop',
    overrides: {containerOverrides: [{args: ['--id=42'], env: [{name: 'ID', value: '42'}]}]},
  });
  if (!op.name) throw new Error('no operation name');
  await jobs.close();
}
main().catch(err => { console.error(err); process.exit(1); });
