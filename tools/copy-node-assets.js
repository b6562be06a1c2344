// Build step after tsc: Node-RED needs each node's editor .html, its locales/ and an icons/ folder
// beside the compiled .js (it looks next to the file that package.json's "node-red" section names).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

for (const [name, jsFile] of Object.entries(pkg['node-red'].nodes)) {
  const sourceDir = path.join(root, 'nodes', name);
  const targetDir = path.join(root, path.dirname(jsFile));
  if (!fs.existsSync(path.join(targetDir, `${name}.js`))) {
    throw new Error(`build: ${jsFile} was not compiled (is nodes/${name}/${name}.ts there?)`);
  }
  fs.copyFileSync(path.join(sourceDir, `${name}.html`), path.join(targetDir, `${name}.html`));
  const locales = path.join(sourceDir, 'locales');
  if (fs.existsSync(locales)) fs.cpSync(locales, path.join(targetDir, 'locales'), { recursive: true });
  fs.cpSync(path.join(root, 'icons'), path.join(targetDir, 'icons'), { recursive: true });
}
