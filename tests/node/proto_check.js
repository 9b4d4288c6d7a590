#!/usr/bin/env node
// proto_check.js — holds a request body to Google's own protos: the ones that
// @google-cloud/run ships (build/protos/protos.json: google.cloud.run.v2 with
// google.iam.v1, google.longrunning, google.protobuf), read by protobufjs.
// A body passes when it is a valid proto3 JSON form of TYPE, as Google's front
// end reads one: every key a field of its message (by its JSON name or its
// proto name, once), every value of the field's type (int64 as a number or a
// decimal string, bytes as base64, enums by name or number, Duration,
// Timestamp and FieldMask in their string forms, null for "not set"), at most
// one member of a oneof. Unknown fields and wrong types fail, naming the path.
//
// Usage:
//   node proto_check.js TYPE [--path FIELD=VALUE]... [--required] < body.json
//   node proto_check.js --query TYPE [--path FIELD=VALUE]... [--required] < query.txt
//   node proto_check.js --lines < checks.txt
// TYPE is a full message name (google.cloud.run.v2.RunJobRequest,
// google.iam.v1.SetIamPolicyRequest). --query reads a URL query string instead
// (a=1&b.c=x, as the REST mapping sends a GET's fields: dotted paths, a
// repeated field as the parameter repeated, values percent-encoded). --path
// adds a field that the REST mapping carries in the URL (resource=projects/...),
// and --required then fails a request that lacks a field Google marks REQUIRED.
// --lines checks many at once: each line is "TYPE JSON" or "TYPE ?QUERY"; each
// is answered "ok" or "FAIL TYPE: why" on stdout.
// Exit status: 0 valid, 1 invalid (why on stderr), 2 bad usage.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const PROTOS = path.join(__dirname, 'node_modules', '@google-cloud', 'run', 'build', 'protos', 'protos.json');

let root;
let protobuf;
function load() {
  if (root) return root;
  protobuf = require(path.join(__dirname, 'node_modules', 'protobufjs'));
  root = protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(PROTOS, 'utf8')));
  root.resolveAll();
  return root;
}

class Invalid extends Error {}
function fail(at, why) {
  throw new Invalid(`${at || '(the body)'}: ${why}`);
}

// A field's proto name from its JSON name: requestedPolicyVersion -> requested_policy_version.
function protoName(jsonName) {
  return jsonName.replace(/[A-Z]/g, c => '_' + c.toLowerCase());
}

function show(v) {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

const INT = /^-?(0|[1-9][0-9]*)$/;
const RANGES = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n], sint32: [-(2n ** 31n), 2n ** 31n - 1n], sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n], fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n], sint64: [-(2n ** 63n), 2n ** 63n - 1n], sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n], fixed64: [0n, 2n ** 64n - 1n],
};

// An integer of a proto type: a whole JSON number, or a decimal string, within the type's range.
function checkInteger(type, v, at) {
  let n;
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (!Number.isSafeInteger(v) && /64/.test(type)) fail(at, `${type} ${show(v)} is past 2^53: send it as a string`);
    n = BigInt(v);
  } else if (typeof v === 'string' && INT.test(v)) {
    n = BigInt(v);
  } else {
    fail(at, `expected ${type} (a whole number or its decimal string), got ${show(v)}`);
  }
  const [lo, hi] = RANGES[type];
  if (n < lo || n > hi) fail(at, `${show(v)} is out of range for ${type}`);
}

function checkFloat(type, v, at) {
  if (typeof v === 'string' && (v === 'NaN' || v === 'Infinity' || v === '-Infinity')) return;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) fail(at, `expected ${type}, got ${show(v)}`);
  if (type === 'float' && Math.abs(n) > 3.4028234663852886e38) fail(at, `${show(v)} is out of range for float`);
}

// Standard or URL-safe base64, padded or not.
function checkBytes(v, at) {
  if (typeof v !== 'string') fail(at, `expected bytes (a base64 string), got ${show(v)}`);
  const bare = v.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]*$/.test(bare) || bare.length % 4 === 1 || v.length - bare.length > 2 ||
      (v.length !== bare.length && v.length % 4 !== 0) || (/[+/]/.test(bare) && /[-_]/.test(bare))) {
    fail(at, `${show(v)} is not base64`);
  }
}

const DURATION = /^(-)?([0-9]+)(\.[0-9]{1,9})?s$/;
const TIMESTAMP = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$/;
const FIELD_PATH = /^[a-z][a-zA-Z0-9]*(\.[a-z][a-zA-Z0-9]*)*$/;

// The well-known types whose JSON form is not an object of their fields.
const SPECIAL = {
  '.google.protobuf.Duration'(v, at) {
    const m = typeof v === 'string' && DURATION.exec(v);
    if (!m || BigInt(m[2]) > 315576000000n) fail(at, `expected a Duration such as "600s", got ${show(v)}`);
  },
  '.google.protobuf.Timestamp'(v, at) {
    const m = typeof v === 'string' && TIMESTAMP.exec(v);
    const ok = m && +m[1] >= 1 && +m[2] >= 1 && +m[2] <= 12 && +m[3] >= 1 && +m[3] <= 31 && +m[4] <= 23 &&
      +m[5] <= 59 && +m[6] <= 59 && !Number.isNaN(Date.parse(v.replace(/\.[0-9]+/, '')));
    if (!ok) fail(at, `expected an RFC 3339 Timestamp, got ${show(v)}`);
  },
  '.google.protobuf.FieldMask'(v, at) {
    if (typeof v !== 'string') fail(at, `expected a FieldMask (comma-separated camelCase paths), got ${show(v)}`);
    for (const p of v === '' ? [] : v.split(',')) {
      if (!FIELD_PATH.test(p)) fail(at, `FieldMask path ${show(p)} is not camelCase field names joined by dots`);
    }
  },
  '.google.protobuf.Empty'(v, at) {
    if (!isObject(v) || Object.keys(v).length) fail(at, `expected {} (google.protobuf.Empty), got ${show(v)}`);
  },
  '.google.protobuf.Struct'(v, at) {
    if (!isObject(v)) fail(at, `expected an object (google.protobuf.Struct), got ${show(v)}`);
  },
  '.google.protobuf.ListValue'(v, at) {
    if (!Array.isArray(v)) fail(at, `expected a list (google.protobuf.ListValue), got ${show(v)}`);
  },
  '.google.protobuf.Value'() {},
};
for (const [w, t] of [['Double', 'double'], ['Float', 'float'], ['Int64', 'int64'], ['UInt64', 'uint64'],
  ['Int32', 'int32'], ['UInt32', 'uint32'], ['Bool', 'bool'], ['String', 'string'], ['Bytes', 'bytes']]) {
  SPECIAL[`.google.protobuf.${w}Value`] = (v, at) => checkScalar(t, null, v, at);
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkScalar(type, resolved, v, at) {
  switch (type) {
  case 'string':
    if (typeof v !== 'string') fail(at, `expected a string, got ${show(v)}`);
    return;
  case 'bool':
    if (typeof v !== 'boolean') fail(at, `expected true or false, got ${show(v)}`);
    return;
  case 'double': case 'float':
    return checkFloat(type, v, at);
  case 'bytes':
    return checkBytes(v, at);
  default:
    if (RANGES[type]) return checkInteger(type, v, at);
  }
  if (resolved instanceof protobuf.Enum) {
    if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(resolved.values, v)) return;
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return;
    fail(at, `expected a value of ${resolved.fullName.slice(1)} (${Object.keys(resolved.values).join(', ')}), ` +
      `got ${show(v)}`);
  }
  checkMessage(resolved, v, at);
}

function checkValue(field, v, at) {
  const resolved = field.resolvedType;
  if (resolved && SPECIAL[resolved.fullName]) return SPECIAL[resolved.fullName](v, at);
  return checkScalar(field.type, resolved, v, at);
}

function requiredField(field) {
  const b = field.options && field.options['(google.api.field_behavior)'];
  return b === 'REQUIRED' || (Array.isArray(b) && b.includes('REQUIRED'));
}

let requireFields = false;

function checkMessage(type, obj, at) {
  if (SPECIAL[type.fullName]) return SPECIAL[type.fullName](obj, at);
  if (!isObject(obj)) fail(at, `expected an object (${type.fullName.slice(1)}), got ${show(obj)}`);
  const byName = new Map();
  for (const f of type.fieldsArray) {
    byName.set(f.name, f);
    byName.set(protoName(f.name), f);
  }
  const seen = new Map();
  const oneofs = new Map();
  for (const [key, v] of Object.entries(obj)) {
    const here = at ? `${at}.${key}` : key;
    const field = byName.get(key);
    if (!field) {
      fail(here, `unknown field of ${type.fullName.slice(1)} (it has ${type.fieldsArray.map(f => f.name).join(', ')})`);
    }
    if (seen.has(field.name)) fail(here, `field ${field.name} given twice (as ${seen.get(field.name)} and ${key})`);
    seen.set(field.name, key);
    if (v === null && field.resolvedType && field.resolvedType.fullName === '.google.protobuf.Value') continue;
    if (v === null) continue; // proto3 JSON: null is the field left unset
    if (field.partOf && !(field.partOf.name.startsWith('_') && field.partOf.oneof.length === 1)) {
      const other = oneofs.get(field.partOf.name);
      if (other) fail(here, `oneof ${field.partOf.name} has ${other} set already`);
      oneofs.set(field.partOf.name, key);
    }
    if (field.map) {
      if (!isObject(v)) fail(here, `expected a map (an object), got ${show(v)}`);
      for (const [k, item] of Object.entries(v)) {
        const kat = `${here}[${JSON.stringify(k)}]`;
        if (field.keyType === 'bool' && k !== 'true' && k !== 'false') fail(kat, 'a bool map key must be true or false');
        if (RANGES[field.keyType]) checkInteger(field.keyType, k, kat);
        if (item === null) fail(kat, 'a map value cannot be null');
        checkValue(field, item, kat);
      }
    } else if (field.repeated) {
      if (!Array.isArray(v)) fail(here, `expected a list, got ${show(v)}`);
      v.forEach((item, i) => {
        if (item === null) fail(`${here}[${i}]`, 'a list element cannot be null');
        checkValue(field, item, `${here}[${i}]`);
      });
    } else {
      checkValue(field, v, here);
    }
  }
  if (requireFields) {
    for (const f of type.fieldsArray) {
      if (requiredField(f) && (obj[f.name] === undefined || obj[f.name] === null) &&
          (obj[protoName(f.name)] === undefined || obj[protoName(f.name)] === null)) {
        fail(at ? `${at}.${f.name}` : f.name, `required by ${type.fullName.slice(1)} and missing`);
      }
    }
  }
}

// A GET's query as the REST mapping sends a request's fields: each parameter a
// dotted path to a scalar field (a repeated one may repeat), values
// percent-encoded; turned into the JSON object it stands for.
function queryToObject(type, query) {
  const out = {};
  const text = query.replace(/^\?/, '').replace(/\s+$/, '');
  for (const pair of text === '' ? [] : text.split('&')) {
    const eq = pair.indexOf('=');
    const decode = s => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch (e) {
        fail(null, `query parameter ${show(pair)} is not percent-encoded text`);
      }
    };
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1));
    let t = type;
    let obj = out;
    const parts = key.split('.');
    parts.forEach((part, i) => {
      const field = t.fieldsArray.find(f => f.name === part || protoName(f.name) === part);
      const at = parts.slice(0, i + 1).join('.');
      if (!field) fail(at, `query parameter: no such field in ${t.fullName.slice(1)}`);
      const last = i === parts.length - 1;
      const special = field.resolvedType && SPECIAL[field.resolvedType.fullName];
      if (!last) {
        if (!field.resolvedType || special || field.repeated || field.map || !field.resolvedType.fieldsArray) {
          fail(at, 'query parameter: only a (non-repeated) message field has fields under it');
        }
        obj[field.name] = obj[field.name] || {};
        obj = obj[field.name];
        t = field.resolvedType;
        return;
      }
      if (field.map || (field.resolvedType && field.resolvedType.fieldsArray && !special)) {
        fail(at, 'query parameter: a message or map field cannot be sent as one value');
      }
      let v = value;
      if (field.type === 'bool') {
        if (v !== 'true' && v !== 'false') fail(at, `expected true or false, got ${show(v)}`);
        v = v === 'true';
      }
      if (field.repeated) {
        (obj[field.name] = obj[field.name] || []).push(v);
      } else {
        if (obj[field.name] !== undefined) fail(at, 'query parameter given twice for a field that is not repeated');
        obj[field.name] = v;
      }
    });
  }
  return out;
}

// One check: the error's text, or null when valid.
function check(typeName, text, {query = false, pathFields = [], required = false} = {}) {
  let type;
  try {
    type = load().lookupType(typeName.replace(/^\./, ''));
  } catch (e) {
    return `${typeName}: no such message in the protos`;
  }
  requireFields = required;
  try {
    let body;
    if (query) {
      body = queryToObject(type, text);
    } else {
      try {
        body = JSON.parse(text);
      } catch (e) {
        return `the body is not JSON: ${e.message}`;
      }
    }
    if (pathFields.length) {
      if (!isObject(body)) fail(null, `expected an object (${type.fullName.slice(1)}), got ${show(body)}`);
      for (const [k, v] of pathFields) {
        if (body[k] !== undefined) fail(k, 'is carried by the URL, and must not be in the body too');
        body[k] = v;
      }
    }
    checkMessage(type, body, '');
    return null;
  } catch (e) {
    if (e instanceof Invalid) return e.message;
    throw e;
  }
}

function usage(msg) {
  process.stderr.write(`proto_check: ${msg}\n` +
    'usage: node proto_check.js [--query] TYPE [--path FIELD=VALUE]... [--required] < body\n' +
    '       node proto_check.js --lines < checks (each line "TYPE JSON" or "TYPE ?QUERY")\n');
  process.exit(2);
}

function main(argv) {
  const input = fs.readFileSync(0, 'utf8');
  if (argv[0] === '--lines') {
    if (argv.length !== 1) usage('--lines takes nothing more');
    let bad = 0;
    for (const line of input.split('\n')) {
      if (line.trim() === '') continue;
      const sp = line.indexOf(' ');
      if (sp < 0) usage(`a line needs "TYPE BODY": ${show(line)}`);
      const typeName = line.slice(0, sp);
      const rest = line.slice(sp + 1);
      const why = rest.startsWith('?') ? check(typeName, rest.slice(1), {query: true}) : check(typeName, rest);
      if (why) bad++;
      process.stdout.write(why ? `FAIL ${typeName}: ${why}\n` : 'ok\n');
    }
    return bad ? 1 : 0;
  }
  let query = false;
  let required = false;
  let typeName;
  const pathFields = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--query') query = true;
    else if (a === '--required') required = true;
    else if (a === '--path') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(argv[++i] || '');
      if (!m) usage('--path takes FIELD=VALUE');
      pathFields.push([m[1], m[2]]);
    } else if (a.startsWith('-')) usage(`unknown flag ${a}`);
    else if (typeName) usage('one TYPE only');
    else typeName = a;
  }
  if (!typeName) usage('which message? (e.g. google.cloud.run.v2.RunJobRequest)');
  const why = check(typeName, input, {query, pathFields, required});
  if (why) {
    process.stderr.write(`${typeName}: ${why}\n`);
    return 1;
  }
  return 0;
}

module.exports = {check};

if (require.main === module) process.exitCode = main(process.argv.slice(2));
