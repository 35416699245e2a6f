#!/usr/bin/env node
// Validates every JSON:API document the end-to-end tests captured (see
// JSONAPI_CAPTURE_DIR in crates/app/tests/integration/support.rs) against the
// JSON:API JSON Schema shipped by the npm package jsonapi-validator.
// Usage: node scripts/jsonapi-check.js VALIDATOR_DIR CAPTURE_DIR
'use strict';
const fs = require('fs');
const path = require('path');

const [validatorDir, captureDir] = process.argv.slice(2);
const { Validator } = require(path.resolve(validatorDir, 'node_modules/jsonapi-validator'));
const validator = new Validator();

let passed = 0;
let failed = 0;
for (const name of fs.readdirSync(captureDir).filter((n) => n.endsWith('.json')).sort()) {
  const file = path.join(captureDir, name);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  try {
    validator.validate(doc);
    passed += 1;
  } catch (e) {
    failed += 1;
    console.error(`${file}: ${JSON.stringify(e.errors || e.message)}`);
    console.error(`  document: ${JSON.stringify(doc).slice(0, 400)}`);
  }
}
if (passed + failed === 0) {
  console.error('jsonapi: no captured documents; did the end-to-end tests run?');
  process.exit(1);
}
console.log(`jsonapi: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
