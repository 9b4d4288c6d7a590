-- gcloud's template flags (issue 23) on `cloudrun jobs create|update|deploy`, one
-- table of cases run twice: against the in-tree fake Google (cr-fake-google's Cloud
-- Run jobs, reached with a service-account key and CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN),
-- where the body each command sent is read back exactly; and against the emulator,
-- where `jobs describe` shows what it kept. Every body sent is then held to Google's
-- own protos (google.cloud.run.v2.Job from @google-cloud/run, through protobufjs),
-- strictly: unknown fields, wrong types, two members of a oneof, a REQUIRED field
-- missing or an OUTPUT_ONLY one sent all fail. (A small checker of its own, below:
-- tests/node/proto_check.js was not on main when this was written.)
local h = require("helpers")
local cloudrun = require("cloudrun")
local json = cloudrun.json

local CLI = h.sh_quote(h.bin .. "/cloudrun")
local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE: the cr-fake-google binary")
local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"), "CLOUDRUN_SOURCE_DIR: the source tree")
local PROJECT, REGION = "tflags-project", "us-central1"

local function full(job)
  return ("projects/%s/locations/%s/jobs/%s"):format(PROJECT, REGION, job)
end

-- ---- what a case expects ---------------------------------------------------------------

local function task(t) return { template = { template = t } } end
local function secret_env(name, secret, version)
  return { name = name, valueSource = { secretKeyRef = { secret = secret, version = version } } }
end
local function mount(name, path) return { name = name, mountPath = path } end
local function secret_volume(name, secret, items)
  local list = {}
  for i, it in ipairs(items) do list[i] = { path = it[1], version = it[2] } end
  return { name = name, secret = { secret = secret, items = list } }
end
local CLOUDSQL = "cloudsql"

--[[
same(want, got) -> nil, or where they differ first. A wanted string "PREFIX-?TAG"
is a name the CLI made: PREFIX-xxx-yyy (two three-letter words), the same one
wherever the same TAG is wanted.
]]
local function same(want, got, binds, at)
  binds, at = binds or {}, at or "body"
  if type(want) == "string" and want:find("%-%?") then
    local prefix = want:match("^(.*)%-%?")
    if type(got) ~= "string" or got:sub(1, #prefix + 1) ~= prefix .. "-" or not got:sub(#prefix + 2):match("^%l%l%l%-%l%l%l$") then
      return at .. ": wanted a name " .. prefix .. "-xxx-yyy, got " .. tostring(got)
    end
    if binds[want] and binds[want] ~= got then return at .. ": wanted " .. binds[want] .. " again, got " .. got end
    binds[want] = got
    return nil
  end
  if type(want) ~= "table" or type(got) ~= "table" then
    if want ~= got then return at .. ": wanted " .. tostring(want) .. ", got " .. tostring(got) end
    return nil
  end
  for k in pairs(got) do
    if want[k] == nil then return at .. "." .. tostring(k) .. ": not wanted, got " .. json.encode(got[k]) end
  end
  for k, w in pairs(want) do
    if got[k] == nil then return at .. "." .. tostring(k) .. ": missing" end
    local d = same(w, got[k], binds, at .. "." .. tostring(k))
    if d then return d end
  end
  return nil
end

--[[
The cases: args (the command, %s the job), before (commands run first), want
(the Job the last command sent: for an update, the whole job, its name aside;
emulator_want, when the emulator shows it otherwise).
]]
local cases = {
  { "a plain job", args = "create %s --image img", want = task{ containers = { { image = "img" } } } },
  { "secrets as environment variables, of this project and of another",
    args = "create %s --image img --set-secrets=ENV=mysecret:latest,OTHER=projects/123/secrets/shared "
      .. "--set-secrets=THIRD=projects/123/secrets/s3/versions/4",
    want = task{ containers = { { image = "img", env = { secret_env("ENV", "mysecret", "latest"),
      secret_env("OTHER", "projects/123/secrets/shared", "latest"), secret_env("THIRD", "projects/123/secrets/s3", "4") } } } } },
  { "secrets as files: one volume for the directory, a file an item",
    args = "create %s --image img --set-secrets=/etc/secrets/key=mysecret:2,/etc/secrets/other=mysecret:1",
    want = task{ containers = { { image = "img", volumeMounts = { mount("mysecret-?a", "/etc/secrets") } } },
      volumes = { secret_volume("mysecret-?a", "mysecret", { { "key", "2" }, { "other", "1" } }) } } },
  { "--update-secrets adds a file to a directory and an environment variable, keeping the rest",
    before = { "create %s --image img --set-env-vars=PLAIN=1 --set-secrets=/etc/secrets/key=mysecret:2" },
    args = "update %s --update-secrets=/etc/secrets/more=mysecret:3,ENV=other:1",
    want = task{ containers = { { image = "img", env = { { name = "PLAIN", value = "1" }, secret_env("ENV", "other", "1") },
      volumeMounts = { mount("mysecret-?a", "/etc/secrets") } } },
      volumes = { secret_volume("mysecret-?a", "mysecret", { { "more", "3" }, { "key", "2" } }) } } },
  { "--remove-secrets takes a file and a variable away; the last file takes its volume",
    before = { "create %s --image img --set-secrets=/etc/a/key=one:1,/etc/b/key=two:1,/etc/b/k2=two:2,ENV=x:1,KEEP=y:2" },
    args = "update %s --remove-secrets=/etc/a/key,/etc/b/key,ENV",
    want = task{ containers = { { image = "img", env = { secret_env("KEEP", "y", "2") },
      volumeMounts = { mount("two-?b", "/etc/b") } } }, volumes = { secret_volume("two-?b", "two", { { "k2", "2" } }) } } },
  { "--clear-secrets removes every secret and leaves plain variables and other volumes",
    before = { "create %s --image img --set-env-vars=PLAIN=1 --set-secrets=/etc/s/key=s:1,ENV=x:1 "
      .. "--add-volume=name=mem,type=in-memory --add-volume-mount=volume=mem,mount-path=/mem" },
    args = "update %s --clear-secrets",
    want = task{ containers = { { image = "img", env = { { name = "PLAIN", value = "1" } },
      volumeMounts = { mount("mem", "/mem") } } }, volumes = { { name = "mem", emptyDir = { medium = "MEMORY" } } } } },
  { "--set-secrets replaces every secret",
    before = { "create %s --image img --set-secrets=/etc/s/key=s:1,ENV=x:1" },
    args = "update %s --set-secrets=NEW=n:5",
    want = task{ containers = { { image = "img", env = { secret_env("NEW", "n", "5") } } } } },
  { "volumes of each type, mounted",
    args = "create %s --image img --add-volume=name=mem,type=in-memory,size-limit=256Mi "
      .. "--add-volume='^|^name=gcs|type=cloud-storage|bucket=my-bucket|readonly=true|mount-options=implicit-dirs;uid=1000' "
      .. "--add-volume=name=share,type=nfs,location=10.0.0.2:/exports/data,readonly=false "
      .. "--add-volume-mount=volume=mem,mount-path=/mem --add-volume-mount=volume=gcs,mount-path=/data",
    want = task{ containers = { { image = "img", volumeMounts = { mount("mem", "/mem"), mount("gcs", "/data") } } },
      volumes = { { name = "mem", emptyDir = { medium = "MEMORY", sizeLimit = "256Mi" } },
        { name = "gcs", gcs = { bucket = "my-bucket", readOnly = true, mountOptions = { "implicit-dirs", "uid=1000" } } },
        { name = "share", nfs = { server = "10.0.0.2", path = "/exports/data" } } } } },
  { "--add-volume with mount-path mounts it, under a made name",
    args = "create %s --image img --add-volume=type=in-memory,mount-path=/cache",
    want = task{ containers = { { image = "img", volumeMounts = { mount("in-memory-?m", "/cache") } } },
      volumes = { { name = "in-memory-?m", emptyDir = { medium = "MEMORY" } } } } },
  { "--remove-volume, --remove-volume-mount, and a volume replaced in its place",
    before = { "create %s --image img --add-volume=name=a,type=in-memory --add-volume=name=b,type=in-memory "
      .. "--add-volume=name=c,type=in-memory --add-volume-mount=volume=a,mount-path=/a "
      .. "--add-volume-mount=volume=b,mount-path=/b" },
    args = "update %s --remove-volume=a --add-volume=name=b,type=nfs,location=host:/x --remove-volume-mount=/a",
    want = task{ containers = { { image = "img", volumeMounts = { mount("b", "/b") } } },
      volumes = { { name = "b", nfs = { server = "host", path = "/x" } }, { name = "c", emptyDir = { medium = "MEMORY" } } } } },
  { "--clear-volumes and --clear-volume-mounts",
    before = { "create %s --image img --add-volume=name=a,type=in-memory --add-volume-mount=volume=a,mount-path=/a" },
    args = "update %s --clear-volumes --clear-volume-mounts",
    want = task{ containers = { { image = "img" } } } },
  { "--set-cloudsql-instances: the volume cloudsql, mounted at /cloudsql",
    args = "create %s --image img --set-cloudsql-instances=db1,other-project:europe-west1:db2",
    want = task{ containers = { { image = "img", volumeMounts = { mount(CLOUDSQL, "/cloudsql") } } },
      volumes = { { name = CLOUDSQL, cloudSqlInstance = {
        instances = { PROJECT .. ":" .. REGION .. ":db1", "other-project:europe-west1:db2" } } } } } },
  { "--add-cloudsql-instances appends one not there yet",
    before = { "create %s --image img --set-cloudsql-instances=db1" },
    args = "update %s --add-cloudsql-instances=db1,p:r:db3",
    want = task{ containers = { { image = "img", volumeMounts = { mount(CLOUDSQL, "/cloudsql") } } },
      volumes = { { name = CLOUDSQL, cloudSqlInstance = { instances = { PROJECT .. ":" .. REGION .. ":db1", "p:r:db3" } } } } } },
  { "--remove-cloudsql-instances of the last one takes the volume and its mount away",
    before = { "create %s --image img --set-cloudsql-instances=db1" },
    args = "update %s --remove-cloudsql-instances=db1",
    want = task{ containers = { { image = "img" } } } },
  { "--clear-cloudsql-instances",
    before = { "create %s --image img --set-cloudsql-instances=p:r:db1,p:r:db2" },
    args = "update %s --clear-cloudsql-instances",
    want = task{ containers = { { image = "img" } } } },
  { "Direct VPC egress",
    args = "create %s --image img --network=default --subnet=sub-a --network-tags=a,b --vpc-egress=private-ranges-only",
    want = task{ containers = { { image = "img" } }, vpcAccess = { egress = "PRIVATE_RANGES_ONLY",
      networkInterfaces = { { network = "default", subnetwork = "sub-a", tags = { "a", "b" } } } } } },
  { "--clear-network-tags, --network= and --vpc-egress all (all-traffic)",
    before = { "create %s --image img --network=default --subnet=sub-a --network-tags=a" },
    args = "update %s --clear-network-tags --network= --vpc-egress=all",
    want = task{ containers = { { image = "img" } }, vpcAccess = { egress = "ALL_TRAFFIC",
      networkInterfaces = { { subnetwork = "sub-a" } } } } },
  { "--clear-network",
    before = { "create %s --image img --network=default --vpc-egress=all-traffic" },
    args = "update %s --clear-network",
    want = task{ containers = { { image = "img" } } } },
  { "--vpc-connector by name and in full",
    args = "create %s --image img --vpc-connector=conn --vpc-egress=all-traffic",
    want = task{ containers = { { image = "img" } }, vpcAccess = { egress = "ALL_TRAFFIC",
      connector = ("projects/%s/locations/%s/connectors/conn"):format(PROJECT, REGION) } } },
  { "--clear-vpc-connector",
    before = { "create %s --image img --vpc-connector=projects/p/locations/l/connectors/c --vpc-egress=all-traffic" },
    args = "update %s --clear-vpc-connector",
    want = task{ containers = { { image = "img" } } } },
  { "a GPU",
    args = "create %s --image img --cpu=4 --memory=16Gi --gpu=1 --gpu-type=nvidia-l4 --no-gpu-zonal-redundancy",
    want = task{ containers = { { image = "img", resources = { limits = { cpu = "4", memory = "16Gi", ["nvidia.com/gpu"] = "1" } } } },
      nodeSelector = { accelerator = "nvidia-l4" }, gpuZonalRedundancyDisabled = true } },
  { "--gpu-zonal-redundancy",
    before = { "create %s --image img --gpu=1 --gpu-type=nvidia-l4 --no-gpu-zonal-redundancy" },
    args = "update %s --gpu-zonal-redundancy",
    want = task{ containers = { { image = "img", resources = { limits = { ["nvidia.com/gpu"] = "1" } } } },
      nodeSelector = { accelerator = "nvidia-l4" }, gpuZonalRedundancyDisabled = false },
    -- The emulator reads gpuZonalRedundancyDisabled as a plain bool (schema.c), so an explicit
    -- false (a proto3 `optional`: it has presence) is not shown back. An emulator gap, not the CLI's.
    emulator_want = task{ containers = { { image = "img", resources = { limits = { ["nvidia.com/gpu"] = "1" } } } },
      nodeSelector = { accelerator = "nvidia-l4" } } },
  { "--gpu=0 takes the GPU, its type and zonal redundancy away",
    before = { "create %s --image img --memory=16Gi --gpu=1 --gpu-type=nvidia-l4 --no-gpu-zonal-redundancy" },
    args = "update %s --gpu=0",
    want = task{ containers = { { image = "img", resources = { limits = { memory = "16Gi" } } } } } },
  { "several containers, each with its flags, and --depends-on",
    args = "create %s --tasks=2 --container=main --image=app --args=run --depends-on=proxy "
      .. "--update-secrets=TOKEN=tok:1 --container=proxy --image=proxy:1 --workdir=/srv --cpu=1",
    want = { template = { taskCount = 2, template = { containers = {
      { name = "main", image = "app", args = { "run" }, dependsOn = { "proxy" }, env = { secret_env("TOKEN", "tok", "1") } },
      { name = "proxy", image = "proxy:1", workingDir = "/srv", resources = { limits = { cpu = "1" } } } } } } } },
  { "--container changes one container and adds one the job lacks",
    before = { "create %s --container=main --image=app --container=proxy --image=proxy:1" },
    args = "update %s --container=proxy --image=proxy:2 --container=extra --image=extra:1 --depends-on=main,proxy",
    want = task{ containers = { { name = "main", image = "app" }, { name = "proxy", image = "proxy:2" },
      { name = "extra", image = "extra:1", dependsOn = { "main", "proxy" } } } } },
  { "--remove-containers, and the dependencies on it",
    before = { "create %s --container=main --image=app --depends-on=proxy --container=proxy --image=proxy:1" },
    args = "update %s --remove-containers=proxy",
    want = task{ containers = { { name = "main", image = "app" } } } },
  { "--workdir, and --workdir= resets it",
    before = { "create %s --image img --workdir=/w" },
    args = "update %s --workdir= --command=sh",
    want = task{ containers = { { image = "img", command = { "sh" } } } } },
  { "CMEK, Binary Authorization and a breakglass justification",
    args = "create %s --image img --key=projects/p/locations/l/keyRings/r/cryptoKeys/k --binary-authorization=default "
      .. "--breakglass='an incident'",
    want = { binaryAuthorization = { useDefault = true, breakglassJustification = "an incident" },
      template = { template = { containers = { { image = "img" } },
        encryptionKey = "projects/p/locations/l/keyRings/r/cryptoKeys/k" } } } },
  { "an update clears the breakglass justification; a policy by name",
    before = { "create %s --image img --binary-authorization=default --breakglass=why" },
    args = "update %s --binary-authorization=projects/p/platforms/cloudRun/strict",
    want = { binaryAuthorization = { policy = "projects/p/platforms/cloudRun/strict" }, template = { template = {
      containers = { { image = "img" } } } } } },
  { "--clear-binary-authorization",
    before = { "create %s --image img --binary-authorization=default" },
    args = "update %s --clear-binary-authorization",
    want = task{ containers = { { image = "img" } } } },
  { "deploy creates a job with the flags",
    args = "deploy %s --image img --set-secrets=/s/k=s:1 --add-volume=name=m,type=in-memory,mount-path=/m",
    want = task{ containers = { { image = "img", volumeMounts = { mount("s-?s", "/s"), mount("m", "/m") } } },
      volumes = { secret_volume("s-?s", "s", { { "k", "1" } }), { name = "m", emptyDir = { medium = "MEMORY" } } } } },
  { "deploy updates one that exists, changing only what its flags name",
    before = { "create %s --image img --set-env-vars=A=1 --network=default" },
    args = "deploy %s --clear-network --update-secrets=B=b:1 --remove-containers=nothing",
    want = task{ containers = { { image = "img", env = { { name = "A", value = "1" }, secret_env("B", "b", "1") } } } } },
}

-- Lines that are bad usage (exit 2), naming the flag, before anything is sent.
local refused = {
  { "create %s --image img --set-secrets=ENV=mysecret", "no secret version for ENV" },
  { "create %s --image img --set-secrets=ENV=a:b:c", "--set-secrets" },
  { "create %s --image img --set-secrets=ENV=bad/name:1", "is not a valid secret name" },
  { "create %s --image img --set-secrets=/top=s:1", "must be in the form /<mountPath>/<path>" },
  { "create %s --image img --set-secrets=/a/k=s:1,/a/l=t:1", "a different secret" },
  { "create %s --image img --set-secrets=A=s:1 --clear-secrets", "cannot be used together" },
  { "create %s --image img --add-volume=name=v", "a volume needs a type" },
  { "create %s --image img --add-volume=name=v,type=disk", "volume type disk not supported" },
  { "create %s --image img --add-volume=name=v,type=in-memory,bucket=b", "unexpected parameter bucket" },
  { "create %s --image img --add-volume=name=v,type=cloud-storage", "requires the following parameters: bucket" },
  { "create %s --image img --add-volume=name=v,type=nfs,location=host", "IP_ADDRESS:/DIRECTORY" },
  { "create %s --image img --add-volume=type=in-memory", "needs name=NAME" },
  { "create %s --image img --add-volume-mount=volume=v,mount-path=/v,sub-path=x", "not recognized for volume mount" },
  { "create %s --image img --add-volume-mount=volume=v", "--add-volume-mount needs volume=NAME and mount-path" },
  { "create %s --image img --vpc-egress=some", "--vpc-egress" },
  { "create %s --image img --set-cloudsql-instances=a:b", "malformed Cloud SQL instance" },
  { "create %s --image img --gpu-zonal-redundancy --no-gpu-zonal-redundancy", "cannot be used together" },
  { "create %s --image img --clear-network", "unknown flag --clear-network" },
  { "create %s --image img --add-cloudsql-instances=db", "unknown flag --add-cloudsql-instances" },
  { "create %s --container=a --image=x --container=b --args=y", "containers b require a container image" },
  { "create %s --image=x --container=a --image=y", "with --container, --image goes after the --container it is for" },
  { "create %s --container=a --image=x --tasks=2", "--tasks is the job's, not container a's" },
  { "create %s --add-volume=type=in-memory,mount-path=/m --container=a --image=x", "mount-path cannot be given here" },
  { "create %s --container=a --image=x --add-volume=name=m,type=in-memory", "--add-volume is the job's, not container" },
  { "create %s --container=a --image=x --depends-on=b", "references nonexistent containers: b" },
  { "update %s --remove-containers=Bad_Name", "must conform to RFC 1123" },
  { "update %s --network=n --clear-network", "cannot be used together" },
  { "update %s --set-env-vars=SECRET=x", "already been set with a different type" },
  { "update %s --update-secrets=PLAIN=s:1", "already been set with a different type" },
}

-- ---- Google's protos -------------------------------------------------------------------

-- Each line of stdin a JSON body: "ok", or "FAIL where: why"; exit 1 when one failed.
local CHECKER = [==[
'use strict';
const fs = require('fs'), path = require('path');
const modules = process.argv[2];
const protobuf = require(path.join(modules, 'protobufjs'));
const root = protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(
  path.join(modules, '@google-cloud', 'run', 'build', 'protos', 'protos.json'), 'utf8')));
root.resolveAll();
const INT = /^-?(0|[1-9][0-9]*)$/;
const DURATION = /^-?[0-9]+(\.[0-9]{1,9})?s$/;
const TIMESTAMP = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$/;
const fail = (at, why) => { throw new Error(`${at}: ${why}`); };
const behaviour = (f, b) => [].concat((f.options || {})['(google.api.field_behavior)'] || []).includes(b);
function scalar(t, v, at) {
  if (t === 'string') { if (typeof v !== 'string') fail(at, 'expected a string'); return; }
  if (t === 'bool') { if (typeof v !== 'boolean') fail(at, 'expected true or false'); return; }
  if (/int32|fixed32/.test(t)) { if (!Number.isInteger(v) || Math.abs(v) > 2 ** 32) fail(at, `expected ${t}`); return; }
  if (/int64|fixed64/.test(t)) { if (!Number.isInteger(v) && !(typeof v === 'string' && INT.test(v))) fail(at, `expected ${t}`); return; }
  if (t === 'double' || t === 'float') { if (typeof v !== 'number') fail(at, `expected ${t}`); return; }
  fail(at, `a ${t} field (not checked here)`);
}
function value(f, type, v, at) {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Enum) {
    if (!(typeof v === 'string' && v in rt.values)) fail(at, `not a value of ${rt.name}: ${JSON.stringify(v)}`);
  } else if (rt instanceof protobuf.Type) message(rt, v, at);
  else scalar(type, v, at);
}
function message(type, v, at) {
  const name = type.fullName.replace(/^\./, '');
  if (name === 'google.protobuf.Duration') { if (typeof v !== 'string' || !DURATION.test(v)) fail(at, 'expected a Duration'); return; }
  if (name === 'google.protobuf.Timestamp') { if (typeof v !== 'string' || !TIMESTAMP.test(v)) fail(at, 'expected a Timestamp'); return; }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(at, `expected an object (${name})`);
  for (const [k, x] of Object.entries(v)) {
    const f = type.fields[k], p = `${at}.${k}`;
    if (!f) fail(p, `no such field in ${name}`);
    if (behaviour(f, 'OUTPUT_ONLY')) fail(p, 'output only: not for a request');
    if (f.map) {
      if (x === null || typeof x !== 'object' || Array.isArray(x)) fail(p, 'expected a map');
      for (const [mk, mv] of Object.entries(x)) value(f, f.type, mv, `${p}[${JSON.stringify(mk)}]`);
    } else if (f.repeated) {
      if (!Array.isArray(x)) fail(p, 'expected a list');
      x.forEach((e, i) => value(f, f.type, e, `${p}[${i}]`));
    } else value(f, f.type, x, p);
  }
  for (const o of type.oneofsArray) {
    const given = o.fieldsArray.filter(f => v[f.name] !== undefined);
    if (given.length > 1) fail(at, `oneof ${o.name}: ${given.map(f => f.name).join(' and ')}`);
  }
  for (const f of type.fieldsArray) {
    if (behaviour(f, 'REQUIRED') && v[f.name] === undefined) fail(`${at}.${f.name}`, 'required, missing');
  }
}
const Job = root.lookupType('google.cloud.run.v2.Job');
let bad = 0;
for (const line of fs.readFileSync(0, 'utf8').split('\n')) {
  if (!line) continue;
  try { message(Job, JSON.parse(line), 'Job'); console.log('ok'); } catch (e) { bad++; console.log(`FAIL ${e.message}`); }
}
process.exit(bad ? 1 : 0);
]==]

local MODULES = SRC .. "/tests/node/node_modules"
local function node_ready()
  local _, rc = h.run("command -v node >/dev/null && test -f " .. h.sh_quote(MODULES .. "/@google-cloud/run/build/protos/protos.json"))
  return rc == 0
end

-- ---- the two backends -------------------------------------------------------------------

describe("gcloud's template flags", function()
  local dir, fake, emu
  local sent = {} -- every body the fake took, for the protos

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>&1 && "
      .. "openssl pkey -in key.pem -pubout -out pub.pem 2>&1"):format(h.sh_quote(dir)))
    assert(rc == 0, out)
    local s = h.spawn(("%s --port 0 --public-key %s"):format(h.sh_quote(FAKE), h.sh_quote(dir .. "/pub.pem")),
      "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    fake = { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
    h.write(dir .. "/sa.json", json.encode({
      type = "service_account", project_id = PROJECT, private_key_id = "kid-1",
      private_key = assert(h.read(dir .. "/key.pem")), client_email = "deployer@" .. PROJECT .. ".iam.gserviceaccount.com",
      client_id = "1", token_uri = "http://127.0.0.1:" .. fake.port .. "/token",
    }))
    h.write(dir .. "/check.js", CHECKER)
    emu = h.emulator()
  end)

  teardown(function()
    if fake then fake.stop() end
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  -- the CLI against the fake (Google with a key) or the emulator; stdout and stderr together
  local function run(backend, args)
    local env = backend == "fake"
      and ("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://127.0.0.1:%s/")
        :format(h.sh_quote(dir .. "/sa.json"), fake.port)
      or ("env CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=%s"):format(emu.host, PROJECT)
    return h.run(("%s CLOUDSDK_RUN_REGION=%s %s %s 2>&1"):format(env, REGION, CLI, args))
  end

  local function requests()
    return h.control_url("http://127.0.0.1:" .. fake.port .. "/run/requests").requests
  end

  -- What the emulator shows, without what it adds by itself (its defaults, output-only fields).
  local function kept(job, want)
    for _, k in ipairs({ "uid", "generation", "createTime", "updateTime", "etag", "observedGeneration",
      "terminalCondition", "launchStage", "executionCount", "name" }) do job[k] = nil end
    local t = job.template
    if t.taskCount == 1 and not (want.template and want.template.taskCount) then t.taskCount = nil end
    if t.template.maxRetries == 3 then t.template.maxRetries = nil end
    if t.template.timeout == "600s" then t.template.timeout = nil end
    return job
  end

  for i, case in ipairs(cases) do
    local name = ("tf-%02d"):format(i)
    it("sends " .. case[1] .. " (fake Google)", function()
      for _, b in ipairs(case.before or {}) do
        local out, rc = run("fake", "jobs " .. b:format(name))
        assert.are.equal(0, rc, out)
      end
      local out, rc = run("fake", "jobs " .. case.args:format(name))
      assert.are.equal(0, rc, out)
      local all = requests()
      local last = all[#all]
      local body = last.body
      sent[#sent + 1] = json.encode(body)
      if last.method == "PATCH" then
        assert.are.equal(full(name), body.name)
        body.name = nil
      else
        assert.are.equal(name, last.jobId)
      end
      local diff = same(case.want, body)
      assert(diff == nil, (diff or "") .. "\n  sent: " .. json.encode(body))
    end)

    it("keeps " .. case[1] .. " (the emulator, jobs describe)", function()
      for _, b in ipairs(case.before or {}) do
        local out, rc = run("emulator", "jobs " .. b:format(name))
        assert.are.equal(0, rc, out)
      end
      local out, rc = run("emulator", "jobs " .. case.args:format(name))
      assert.are.equal(0, rc, out)
      out, rc = run("emulator", "jobs describe " .. name .. " --format json")
      assert.are.equal(0, rc, out)
      local want = case.emulator_want or case.want
      local job = kept(json.decode(out), want)
      local diff = same(want, job)
      assert(diff == nil, (diff or "") .. "\n  described: " .. json.encode(job))
    end)
  end

  it("deploys the README's example as written (a secret, an in-memory volume, Direct VPC, a GPU)", function()
    local readme = assert(h.read(SRC .. "/README.md"))
    local block = assert(readme:match("\n    (cloudrun jobs deploy trainer .-)\n\n"), "the README's example")
    local line = block:gsub("\\\n%s*", "")
    local out, rc = run("fake", (line:gsub("^cloudrun ", "")))
    assert.are.equal(0, rc, out)
    local all = requests()
    local body = all[#all].body
    sent[#sent + 1] = json.encode(body)
    local diff = same({ template = { template = {
      containers = { { image = "us-docker.pkg.dev/my-project/ml/trainer:1",
        env = { secret_env("HF_TOKEN", "hf-token", "latest") },
        resources = { limits = { cpu = "4", memory = "16Gi", ["nvidia.com/gpu"] = "1" } },
        volumeMounts = { mount("db-password-?d", "/secrets/db"), mount("scratch", "/scratch") } } },
      volumes = { secret_volume("db-password-?d", "db-password", { { "password", "3" } }),
        { name = "scratch", emptyDir = { medium = "MEMORY", sizeLimit = "4Gi" } } },
      vpcAccess = { egress = "PRIVATE_RANGES_ONLY", networkInterfaces = { { network = "default", subnetwork = "default" } } },
      nodeSelector = { accelerator = "nvidia-l4" }, gpuZonalRedundancyDisabled = true, timeout = "3600s",
    } } }, body)
    assert(diff == nil, (diff or "") .. "\n  sent: " .. json.encode(body))
  end)

  it("refuses bad values with exit 2, naming the flag, and sends nothing", function()
    assert.are.equal(0, select(2, run("fake", "jobs create tf-refused --image img --set-env-vars=PLAIN=1 "
      .. "--set-secrets=SECRET=s:1")))
    local before = #requests()
    for _, case in ipairs(refused) do
      local out, rc = run("fake", "jobs " .. case[1]:format("tf-refused"))
      assert.are.equal(2, rc, case[1] .. ": " .. out)
      assert.matches(case[2], out, 1, true)
      assert.matches("^cloudrun: ", out)
    end
    assert.are.equal(before, #requests())
  end)

  it("lists the new flags in each command's help, as gcloud has them", function()
    local everywhere = { "container", "set-secrets", "update-secrets", "remove-secrets", "clear-secrets", "add-volume",
      "add-volume-mount", "remove-volume", "remove-volume-mount", "clear-volumes", "clear-volume-mounts",
      "set-cloudsql-instances", "network", "subnet", "network-tags", "vpc-egress", "vpc-connector", "gpu", "gpu-type",
      "gpu-zonal-redundancy", "no-gpu-zonal-redundancy", "depends-on", "workdir", "key", "binary-authorization",
      "breakglass" }
    -- gcloud's create has no --clear-* for what it cannot have yet; deploy takes create's Cloud SQL,
    -- connector and Binary Authorization flags but update's network ones and --remove-containers
    local update_only = { "add-cloudsql-instances", "remove-cloudsql-instances", "clear-cloudsql-instances",
      "clear-vpc-connector", "clear-binary-authorization" }
    local not_create = { "clear-network", "clear-network-tags", "remove-containers" }
    for _, command in ipairs({ "create", "update", "deploy" }) do
      local out, rc = h.run(CLI .. " jobs " .. command .. " --help")
      assert.are.equal(0, rc, out)
      local listed = {}
      for flag in out:gmatch("\n  %-%-([%w%-]+)") do listed[flag] = true end
      for _, f in ipairs(everywhere) do assert.is_true(listed[f], command .. " lacks --" .. f) end
      for _, f in ipairs(update_only) do
        assert.are.equal(command == "update" or nil, listed[f], command .. ": --" .. f)
      end
      for _, f in ipairs(not_create) do
        assert.are.equal(command ~= "create" or nil, listed[f], command .. ": --" .. f)
      end
      assert.matches("Per container (after --container NAME", out, 1, true)
    end
  end)

  it("sent only bodies that are valid google.cloud.run.v2.Job messages", function()
    if not node_ready() then
      pending("node and tests/node/node_modules (@google-cloud/run) are needed: copy or npm ci them")
      return
    end
    assert.is_true(#sent >= #cases, "the fake cases ran first")
    h.write(dir .. "/bodies", table.concat(sent, "\n") .. "\n")
    local out, rc = h.run(("node %s %s < %s 2>&1"):format(h.sh_quote(dir .. "/check.js"), h.sh_quote(MODULES),
      h.sh_quote(dir .. "/bodies")))
    assert.are.equal(0, rc, out)
    -- and the checker does refuse what Google's protos refuse
    h.write(dir .. "/bad", table.concat({
      json.encode({ template = { template = { volumes = { { name = "v", emptyDir = { medium = "RAM" } } } } } }),
      json.encode({ template = { template = { containers = { { image = "i", volumeMounts = { { name = "v" } } } } } } }),
      json.encode({ template = { template = { vpcAccess = { egres = "ALL_TRAFFIC" } } } }),
      json.encode({ uid = "x", template = {} }),
      json.encode({ binaryAuthorization = { useDefault = true, policy = "p" }, template = {} }),
    }, "\n") .. "\n")
    out = h.run(("node %s %s < %s 2>&1"):format(h.sh_quote(dir .. "/check.js"), h.sh_quote(MODULES),
      h.sh_quote(dir .. "/bad")))
    local fails = select(2, out:gsub("FAIL ", ""))
    assert.are.equal(5, fails, out)
  end)
end)
