// proto_check.js held to what it promises: for each request type the tests
// check, a body Google takes passes and a wrong one fails naming the field; the
// command's exit statuses (0 valid, 1 invalid with why on stderr, 2 usage).
// Run: node --test proto_check.test.js (needs node_modules: see modules.sh).
'use strict';

const {test} = require('node:test');
const assert = require('node:assert/strict');
const {spawnSync} = require('node:child_process');
const path = require('node:path');

const {check} = require('./proto_check.js');

// {type, good: [body...], bad: [[body, what the reason names]...], query: true for a GET's query}
const cases = [
  {
    type: 'google.cloud.run.v2.RunJobRequest',
    good: ['{}', '{"overrides":{"containerOverrides":[{"name":"main","args":["a"],"env":[{"name":"A","value":"1"}],' +
      '"clearArgs":false}],"taskCount":3,"timeout":"600s"},"validateOnly":true,"etag":"e"}',
    '{"overrides":{"task_count":"3"}}', '{"overrides":null}'],
    bad: [['{"overrides":{"taskCount":1.5}}', 'overrides.taskCount'], ['{"overrides":{"tasks":1}}', 'overrides.tasks'],
      ['{"overrides":{"timeout":600}}', 'overrides.timeout'], ['[]', 'expected an object'],
      ['{"overrides":{"containerOverrides":{"name":"x"}}}', 'expected a list'],
      ['{"validateOnly":"true"}', 'validateOnly'], ['{"etag":"a","etag":"b" ', 'not JSON'],
      ['{"overrides":{"taskCount":3,"task_count":3}}', 'given twice']],
  },
  {
    type: 'google.cloud.run.v2.Job',
    good: ['{"labels":{"a":"b"},"launchStage":"BETA","template":{"taskCount":2,"template":{"maxRetries":3,' +
      '"timeout":"1.5s","executionEnvironment":"EXECUTION_ENVIRONMENT_GEN2","containers":[{"image":"i"}]}}}',
    '{"launchStage":2,"createTime":"2026-01-01T00:00:00.123Z"}'],
    bad: [['{"startExecutionToken":"a","runExecutionToken":"b"}', 'oneof'],
      ['{"launchStage":"NEARLY"}', 'launchStage'], ['{"labels":{"a":1}}', 'labels["a"]'],
      ['{"createTime":"yesterday"}', 'createTime'], ['{"generation":"1.0"}', 'generation']],
  },
  {
    type: 'google.iam.v1.SetIamPolicyRequest',
    good: ['{"policy":{"version":3,"bindings":[{"role":"roles/run.invoker","members":["user:a@example.com"],' +
      '"condition":{"expression":"true","title":"t","description":"d"}}],"etag":"BwYAAAAAAAE="}}',
    '{"policy":{"etag":"ACAB"},"updateMask":"bindings,etag"}', '{"policy":{"bindings":[]},"update_mask":""}'],
    bad: [['{"policy":{"etag":"not base64!"}}', 'policy.etag'], ['{"policy":{"bindings":[{"member":"x"}]}}', 'member'],
      ['{"policy":{"version":"three"}}', 'policy.version'], ['{"updateMask":"audit_configs"}', 'updateMask'],
      ['{"updateMask":["bindings"]}', 'updateMask'], ['{"policy":{"bindings":[{"condition":"x"}]}}', 'condition']],
  },
  {
    type: 'google.iam.v1.TestIamPermissionsRequest',
    good: ['{"permissions":["run.jobs.run","run.jobs.get"]}', '{"permissions":[]}'],
    bad: [['{"permissions":"run.jobs.run"}', 'permissions'], ['{"permissions":[1]}', 'permissions[0]'],
      ['{"permission":["x"]}', 'permission']],
  },
  {
    type: 'google.iam.v1.GetIamPolicyRequest', query: true,
    good: ['options.requestedPolicyVersion=3', 'options.requested_policy_version=1', ''],
    bad: [['options.requestedPolicyVersion=three', 'requestedPolicyVersion'], ['options=3', 'options'],
      ['options.version=3', 'options.version'],
      ['options.requestedPolicyVersion=3&options.requestedPolicyVersion=1', 'twice']],
  },
];

for (const c of cases) {
  test(`${c.type}: bodies Google takes pass`, () => {
    for (const body of c.good) assert.equal(check(c.type, body, {query: !!c.query}), null, body);
  });
  test(`${c.type}: wrong bodies fail, naming where`, () => {
    for (const [body, names] of c.bad) {
      const why = check(c.type, body, {query: !!c.query});
      assert.ok(why, `${body} should fail`);
      assert.ok(why.includes(names), `${body}: "${why}" should name ${names}`);
    }
  });
}

test('fields the URL carries: --path adds them, --required wants the REQUIRED ones', () => {
  const opts = {pathFields: [['resource', 'projects/p/locations/l/jobs/j']], required: true};
  assert.equal(check('google.iam.v1.SetIamPolicyRequest', '{"policy":{}}', opts), null);
  assert.match(check('google.iam.v1.SetIamPolicyRequest', '{}', opts), /policy: required/);
  assert.match(check('google.iam.v1.SetIamPolicyRequest', '{"policy":{},"resource":"x"}', opts), /carried by the URL/);
  assert.match(check('google.iam.v1.SetIamPolicyRequest', '{"policy":{}}', {required: true}), /resource: required/);
});

function run(args, input) {
  return spawnSync(process.execPath, [path.join(__dirname, 'proto_check.js'), ...args], {input, encoding: 'utf8'});
}

test('the command: 0 valid, 1 invalid with why on stderr, 2 bad usage', () => {
  let r = run(['google.iam.v1.TestIamPermissionsRequest'], '{"permissions":["run.jobs.run"]}');
  assert.equal(r.status, 0, r.stderr);
  r = run(['google.iam.v1.TestIamPermissionsRequest'], '{"permissions":"run.jobs.run"}');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^google\.iam\.v1\.TestIamPermissionsRequest: permissions: expected a list/);
  r = run(['--query', 'google.iam.v1.GetIamPolicyRequest'], 'options.requestedPolicyVersion=3\n');
  assert.equal(r.status, 0, r.stderr);
  r = run(['no.such.Type'], '{}');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no such message/);
  assert.equal(run([], '{}').status, 2);
  assert.equal(run(['--bogus', 'x'], '{}').status, 2);
});

test('--lines: one answer a line, 1 when any fails', () => {
  const r = run(['--lines'], 'google.iam.v1.TestIamPermissionsRequest {"permissions":[]}\n\n' +
    'google.iam.v1.GetIamPolicyRequest ?options.requestedPolicyVersion=x\n');
  assert.equal(r.status, 1);
  assert.deepEqual(r.stdout.trim().split('\n').map(l => l.split(':')[0]),
    ['ok', 'FAIL google.iam.v1.GetIamPolicyRequest']);
});
