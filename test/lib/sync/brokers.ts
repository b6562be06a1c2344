/** Brokers for the sync tests: embedded aedes, and Mosquitto when /usr/sbin/mosquitto exists. */
import { spawn, execFileSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { startEmbeddedBroker, freePort, EmbeddedBroker } from '../../../lib/sync/transport';

export interface TestBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** start again on the same port (after stop) */
  restart(): Promise<void>;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

export async function aedesBroker(): Promise<TestBroker> {
  let b: EmbeddedBroker | null = await startEmbeddedBroker({ port: 0 });
  const port = b.port;
  return {
    url: b.url,
    port,
    stop: async () => {
      if (b) await b.close();
      b = null;
    },
    restart: async () => {
      b = await startEmbeddedBroker({ port });
    },
  };
}

function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() - start > timeoutMs) reject(new Error(`nothing listens on 127.0.0.1:${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

/** Mosquitto on a free 127.0.0.1 port; with `users`, anonymous access is off and a password file made by mosquitto_passwd. */
export async function mosquittoBroker(users?: Record<string, string>): Promise<TestBroker> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mosq-'));
  const conf = path.join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, 'persistence false', 'max_inflight_messages 100', 'max_queued_messages 100000'];
  if (users) {
    const pw = path.join(dir, 'passwd');
    fs.writeFileSync(pw, '');
    fs.chmodSync(pw, 0o600);
    for (const [u, p] of Object.entries(users)) execFileSync(MOSQUITTO_PASSWD, ['-b', pw, u, p]);
    // run as the current user: started as root, mosquitto would switch to user "mosquitto", which cannot read this file
    lines.push('allow_anonymous false', `password_file ${pw}`, `user ${os.userInfo().username}`);
  } else lines.push('allow_anonymous true');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    await waitForPort(port);
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: async () => {
      const p = proc;
      proc = null;
      if (p && p.exitCode === null) {
        await new Promise<void>((resolve) => {
          p.once('exit', () => resolve());
          p.kill('SIGTERM');
        });
      }
    },
    restart: start,
  };
}
