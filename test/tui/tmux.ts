/**
 * A program in a real terminal: one tmux server on a socket of its own
 * (`tmux -L`), so the tests never touch the user's tmux, and killed at the
 * end. Keys go in with `send-keys`; the screen comes out with
 * `capture-pane -p`. `waitFor` polls the screen until the text is there,
 * failing after a deadline with the screen as it was.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function tmux(socket: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-L', socket, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tmux ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

export class TmuxPane {
  readonly socket = `contacts-test-${process.pid}-${randomBytes(3).toString('hex')}`;

  /** Runs `command` (a shell command line) in a detached session of `cols` x `rows`. */
  async start(command: string, cols: number, rows: number, env: Record<string, string> = {}): Promise<void> {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    await tmux(this.socket, ['-f', '/dev/null', 'new-session', '-d', '-x', String(cols), '-y', String(rows), ...envArgs, command]);
  }

  /** Sends keys by tmux name (`Enter`, `Escape`, `Tab`, `C-s`, `j`…). */
  async keys(...keys: string[]): Promise<void> {
    await tmux(this.socket, ['send-keys', ...keys]);
  }

  /** Types text literally. */
  async type(text: string): Promise<void> {
    await tmux(this.socket, ['send-keys', '-l', text]);
  }

  /** Any other tmux command on this server (`display-message -p …`). */
  async run(args: string[]): Promise<string> {
    return tmux(this.socket, args);
  }

  async capture(): Promise<string> {
    return tmux(this.socket, ['capture-pane', '-p']);
  }

  /** Resolves with the screen once it shows `what`; fails after `timeoutMs` showing the screen. */
  async waitFor(what: string | RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    for (;;) {
      screen = await this.capture().catch((e: Error) => `(capture failed: ${e.message})`);
      if (typeof what === 'string' ? screen.includes(what) : what.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${String(what)} within ${timeoutMs} ms; it shows:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills the tmux server and everything in it. */
  async kill(): Promise<void> {
    await tmux(this.socket, ['kill-server']).catch(() => undefined);
  }
}
