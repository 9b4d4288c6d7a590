// Google's official Node client (@google-cloud/run, REST transport over plain
// HTTP) against the cloudrun emulator, unchanged: the only settings a user
// gives are the endpoint options and credentials that never leave the machine.
//
// Run: CLOUDRUN_EMULATOR_BIN=/path/to/cloudrun-emulator node --test google_client.test.js
// (or pass the binary's path as the first argument after the script).
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {spawn} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const {JobsClient, ExecutionsClient, TasksClient} = require('@google-cloud/run').v2;
const {OAuth2Client} = require('google-auth-library');

const BIN = process.env.CLOUDRUN_EMULATOR_BIN || process.argv[2];
const PARENT = 'projects/node-test/locations/us-central1';

let emulator;   // the child process
let port;
let scratch;    // task output and logs
let jobs, executions, tasks;

// Credentials that are never refreshed or looked up: a fixed access token.
function noNetworkAuth() {
  const auth = new OAuth2Client();
  auth.setCredentials({access_token: 'emulator-needs-no-token'});
  return auth;
}

function startEmulator() {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--port', '0', '--quiet', '--log-dir', path.join(scratch, 'logs')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => reject(new Error('the emulator did not say where it listens within 10 s')), 10000);
    child.on('error', err => { clearTimeout(timer); reject(err); });
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`the emulator exited with ${code}`)); });
    const lines = readline.createInterface({input: child.stdout});
    lines.once('line', line => {
      clearTimeout(timer);
      const m = /^cloudrun emulator listening on http:\/\/([^ ]+):(\d+)$/.exec(line);
      if (!m) return reject(new Error(`unexpected first line: ${line}`));
      child.removeAllListeners('exit');
      resolve({child, port: Number(m[2])});
    });
  });
}

before(async () => {
  assert.ok(BIN, 'set CLOUDRUN_EMULATOR_BIN to the cloudrun-emulator program');
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-node-test-'));
  ({child: emulator, port} = await startEmulator());
  const opts = {fallback: true, protocol: 'http', apiEndpoint: '127.0.0.1', port, authClient: noNetworkAuth()};
  jobs = new JobsClient(opts);
  executions = new ExecutionsClient(opts);
  tasks = new TasksClient(opts);
});

after(async () => {
  await Promise.all([jobs, executions, tasks].map(c => c && c.close()));
  if (emulator) {
    const exited = new Promise(resolve => emulator.once('exit', resolve));
    emulator.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, 'the emulator exits cleanly on SIGTERM');
  }
  if (scratch) fs.rmSync(scratch, {recursive: true, force: true});
});

// A job whose container runs `/bin/sh -c SCRIPT`.
function shJob(script, {maxRetries = 0, env = []} = {}) {
  return {
    template: {
      template: {
        maxRetries,
        containers: [{image: 'us-docker.pkg.dev/cloudrun/container/job:latest', command: ['/bin/sh'],
                      args: ['-c', script], env}],
      },
    },
  };
}

async function createJob(jobId, job) {
  const [op] = await jobs.createJob({parent: PARENT, jobId, job});
  const [created] = await op.promise();
  return created;
}

// Condition.state as the client decodes it: the enum's name (JSON) or number (message).
function stateName(condition) {
  const names = ['STATE_UNSPECIFIED', 'CONDITION_PENDING', 'CONDITION_RECONCILING', 'CONDITION_FAILED',
                 'CONDITION_SUCCEEDED'];
  return typeof condition.state === 'number' ? names[condition.state] : condition.state;
}

function completed(resource) {
  return resource.conditions.find(c => c.type === 'Completed');
}

async function waitFor(check, what, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

test('createJob resolves to the Job with server defaults', async () => {
  const job = await createJob('node-create', shJob('true'));
  assert.equal(job.name, `${PARENT}/jobs/node-create`);
  assert.equal(job.template.taskCount, 1);
  assert.equal(job.template.template.maxRetries, 0); // an explicit 0 stays 0
  assert.equal(stateName(job.terminalCondition), 'CONDITION_SUCCEEDED');
  const [got] = await jobs.getJob({name: job.name});
  assert.equal(got.uid, job.uid);
  const [list] = await jobs.listJobs({parent: PARENT});
  assert.ok(list.some(j => j.name === job.name));
});

test('runJob with overrides resolves to the finished Execution; executions and tasks are listed', async () => {
  const out = path.join(scratch, 'overrides');
  fs.mkdirSync(out);
  const job = await createJob('node-run', shJob('echo job', {env: [{name: 'OUT', value: out}]}));
  const [op] = await jobs.runJob({
    name: job.name,
    overrides: {
      containerOverrides: [{args: ['-c', 'echo "$0 $GREETING" > "$OUT/task.$CLOUD_RUN_TASK_INDEX"', 'hello'],
                            env: [{name: 'GREETING', value: 'from node'}]}],
      taskCount: 3,
    },
  });
  // The execution's name is known at once, from the operation's metadata.
  assert.match(op.metadata.name, new RegExp(`^${job.name}/executions/node-run-[a-z0-9]{5}$`));
  const [execution] = await op.promise();
  assert.equal(execution.name, op.metadata.name);
  assert.equal(execution.succeededCount, 3);
  assert.equal(execution.taskCount, 3);
  assert.equal(stateName(completed(execution)), 'CONDITION_SUCCEEDED');
  for (let i = 0; i < 3; i++)
    assert.equal(fs.readFileSync(path.join(out, `task.${i}`), 'utf8'), 'hello from node\n');

  const [got] = await executions.getExecution({name: execution.name});
  assert.equal(got.succeededCount, 3);
  assert.equal(got.job, 'node-run');
  const [listed] = await executions.listExecutions({parent: job.name});
  assert.deepEqual(listed.map(e => e.name), [execution.name]);

  const [taskList] = await tasks.listTasks({parent: execution.name});
  assert.equal(taskList.length, 3);
  taskList.forEach((t, i) => {
    assert.equal(t.index, i);
    assert.equal(t.name, `${execution.name}/tasks/${execution.name.split('/').pop()}-task${i}`);
    assert.equal(stateName(completed(t)), 'CONDITION_SUCCEEDED');
    assert.match(t.logUri, /^file:\/\//);
  });
  const [task] = await tasks.getTask({name: taskList[1].name});
  assert.equal(task.index, 1);
  // Paging through the client's own iterator.
  const names = [];
  let request = {parent: execution.name, pageSize: 2};
  for (let pages = 0; request && pages < 5; pages++) {
    const [page, next] = await tasks.listTasks(request, {autoPaginate: false});
    names.push(...page.map(t => t.name));
    request = next;
  }
  assert.deepEqual(names, taskList.map(t => t.name));
});

test('cancelExecution stops a running execution; runJob resolves to the cancelled Execution', async () => {
  const out = path.join(scratch, 'cancel');
  fs.mkdirSync(out);
  const job = await createJob('node-cancel',
                              shJob('touch "$OUT/started"; sleep 30', {env: [{name: 'OUT', value: out}]}));
  const [runOp] = await jobs.runJob({name: job.name});
  const name = runOp.metadata.name;
  await waitFor(() => fs.existsSync(path.join(out, 'started')), 'the task to start');
  const [cancelOp] = await executions.cancelExecution({name});
  const [cancelled] = await cancelOp.promise();
  assert.equal(cancelled.name, name);
  assert.equal(cancelled.cancelledCount, 1);
  const condition = completed(cancelled);
  assert.equal(stateName(condition), 'CONDITION_FAILED');
  assert.equal(condition.message, 'Cancelled by user.');
  const [fromRun] = await runOp.promise();
  assert.equal(fromRun.cancelledCount, 1);
  // A second cancel is refused as Cloud Run refuses it.
  await assert.rejects(executions.cancelExecution({name}), err => {
    assert.equal(err.code, 9); // FAILED_PRECONDITION
    assert.match(err.message, /cannot be cancelled because it is not running/);
    return true;
  });
});

test('a failing execution rejects the runJob operation with the error', async () => {
  const job = await createJob('node-fail', shJob('echo broken >&2; exit 3'));
  const [op] = await jobs.runJob({name: job.name});
  await assert.rejects(op.promise(), err => {
    assert.equal(err.code, 10);
    assert.match(err.message, /Task node-fail-[a-z0-9]{5}-task0 failed with exit code: 3/);
    return true;
  });
  const [execution] = await executions.getExecution({name: op.metadata.name});
  assert.equal(execution.failedCount, 1);
  const [taskList] = await tasks.listTasks({parent: execution.name});
  assert.equal(taskList[0].lastAttemptResult.exitCode, 3);
});

test('API errors reach the caller with their code', async () => {
  await assert.rejects(jobs.getJob({name: `${PARENT}/jobs/no-such-job`}), err => {
    assert.equal(err.code, 5); // NOT_FOUND
    assert.match(err.message, /Resource 'no-such-job' of kind 'JOB'/);
    return true;
  });
  await assert.rejects(createJob('node-create', shJob('true')), err => err.code === 6); // ALREADY_EXISTS
});

test('deleteExecution and deleteJob resolve and the resources are gone', async () => {
  const job = await createJob('node-delete', shJob('true'));
  const [op] = await jobs.runJob({name: job.name});
  const [execution] = await op.promise();
  const [delOp] = await executions.deleteExecution({name: execution.name});
  await delOp.promise();
  await assert.rejects(executions.getExecution({name: execution.name}), err => err.code === 5);
  const [delJob] = await jobs.deleteJob({name: job.name});
  const [deleted] = await delJob.promise();
  assert.equal(deleted.name, job.name);
  await assert.rejects(jobs.getJob({name: job.name}), err => err.code === 5);
});

test('a token deployment: createJob with startExecutionToken runs JOB-TOKEN once, a new token runs again', async () => {
  const deploy = token => ({...shJob('echo deployed'), startExecutionToken: token});
  const job = await createJob('node-deploy', deploy('deploy-1'));
  assert.equal(job.startExecutionToken, 'deploy-1');
  const name = `${job.name}/executions/node-deploy-deploy-1`;
  assert.equal(job.latestCreatedExecution.name, name);
  await waitFor(async () => (await executions.getExecution({name}))[0].completionTime, 'the execution to complete');
  const [execution] = await executions.getExecution({name});
  assert.equal(execution.succeededCount, 1);
  assert.equal(stateName(completed(execution)), 'CONDITION_SUCCEEDED');
  const [ready] = await jobs.getJob({name: job.name});
  assert.equal(stateName(ready.terminalCondition), 'CONDITION_SUCCEEDED');

  // The same deployment again (a re-run of the pipeline): a new generation, nothing started.
  const [again] = await jobs.updateJob({job: {...deploy('deploy-1'), name: job.name}});
  const [updated] = await again.promise();
  assert.equal(String(updated.generation), '2');
  assert.equal(updated.startExecutionToken, 'deploy-1');
  let [listed] = await executions.listExecutions({parent: job.name});
  assert.deepEqual(listed.map(e => e.name), [name]);

  // The next deployment, a new token (a run token: the job is ready once it has completed).
  const [next] = await jobs.updateJob({job: {...shJob('echo deployed'), name: job.name, runExecutionToken: 'deploy-2'}});
  const [second] = await next.promise();
  assert.equal(second.runExecutionToken, 'deploy-2');
  assert.equal(second.latestCreatedExecution.name, `${job.name}/executions/node-deploy-deploy-2`);
  await waitFor(async () => stateName((await jobs.getJob({name: job.name}))[0].terminalCondition) ===
                'CONDITION_SUCCEEDED', 'the job to be ready');
  [listed] = await executions.listExecutions({parent: job.name});
  assert.equal(listed.length, 2);
});

// The emulator's test control API (outside the Cloud Run API).
async function control(method, what, body) {
  const res = await fetch(`http://127.0.0.1:${port}/emulator/v1/${what}`, {
    method, body: body && JSON.stringify(body), headers: {'content-type': 'application/json'},
  });
  assert.equal(res.status, 200, `${method} /emulator/v1/${what}`);
  return res.json();
}

test('the client retries nothing by default: an injected 503 reaches the caller after one attempt', async () => {
  const job = await createJob('node-faults', shJob('true'));
  await control('DELETE', 'stats');
  await control('POST', 'faults', {method: 'GetJob', fault: 'unavailable', count: 1, retry_after: 1});
  await assert.rejects(jobs.getJob({name: job.name}), err => {
    assert.equal(err.code, 14); // UNAVAILABLE
    assert.match(err.message, /The service is currently unavailable/);
    return true;
  });
  const [again] = await jobs.getJob({name: job.name});
  assert.equal(again.name, job.name);
  const stats = await control('GET', 'stats');
  assert.equal(stats.calls.GetJob, 2);
  assert.equal(stats.faulted.GetJob, 1);
  // And a RunJob whose answer was lost started its execution all the same.
  await control('POST', 'faults', {method: 'RunJob', fault: 'reset_after_effect'});
  await assert.rejects(jobs.runJob({name: job.name}));
  const [listed] = await executions.listExecutions({parent: job.name});
  assert.equal(listed.length, 1);
});
