#!/usr/bin/env node
// The README's main job. For now: what this machine would run on.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { runtimeInfo } = require('../dist/index.js');
console.log(JSON.stringify(runtimeInfo(), null, 2));
