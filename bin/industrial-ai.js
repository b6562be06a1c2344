#!/usr/bin/env node
// `industrial-ai optimize in.onnx -o out.onnx ...` (see `industrial-ai --help`): the compiled CLI in dist/.
'use strict';
const path = require('path');
let cli;
try {
  cli = require(path.join(__dirname, '..', 'dist', 'lib', 'optimize', 'cli.js'));
} catch (e) {
  console.error(`industrial-ai: cannot load dist/lib/optimize/cli.js (${e.message.split('\n')[0]}); run \`npm run build\` first`);
  process.exit(1);
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
