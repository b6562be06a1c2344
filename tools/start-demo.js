// `npm start`: run the project's own Node-RED (from node_modules, no global install) on
// 127.0.0.1:1880 with a project-local user directory (.nr-demo/), this package linked into it the
// way `npm install <path>` links a local package, and the sensor-window example deployed.
// Edits you deploy in the editor are kept in .nr-demo/flows.json; delete that file to get the
// example back.
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const userDir = path.join(root, '.nr-demo');
const port = Number(process.env.PORT || 1880);
const demoExample = path.join(root, 'examples', 'steel-rolling-window.json');

fs.mkdirSync(path.join(userDir, 'node_modules', ...pkg.name.split('/').slice(0, -1)), { recursive: true });
const link = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
if (!fs.existsSync(link)) fs.symlinkSync(root, link, 'dir');
fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'industrial-ai-demo', private: true, dependencies: { [pkg.name]: `file:${root}` } }, null, 2));

const flowFile = path.join(userDir, 'flows.json');
if (!fs.existsSync(flowFile)) fs.copyFileSync(demoExample, flowFile);

const settingsFile = path.join(userDir, 'settings.js');
fs.writeFileSync(settingsFile, `// written by tools/start-demo.js
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: 'industrial-ai-demo (local only)',
  editorTheme: { tours: false },
  logging: { console: { level: 'info' } },
};
`);

console.log(`Starting Node-RED on http://127.0.0.1:${port}/ with the ${path.basename(demoExample)} example (user directory ${userDir}).`);
console.log('Open the editor, then the debug sidebar (bug icon, top right) to watch the output. Ctrl-C stops it.');
const red = require.resolve('node-red/red.js', { paths: [root] });
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
