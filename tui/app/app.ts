/**
 * The contacts TUI: a full-screen blessed application over a Feed (what
 * the cluster holds), a ContactsApi (writes) and a LinkedClient (where we
 * are attached).
 *
 * How this works. State lives in plain models (model/): the contact list
 * with its filter and cursor, the cluster's members and event log, the
 * form. Views (views/) draw the models into blessed boxes; nothing keeps
 * state in a widget. A keypress is named (keys.ts), goes to the topmost
 * dialog if there is one, else to the current view's key table, changes
 * a model, and the screen is drawn again at once, so a key costs one
 * draw. Data from the feed is drawn on the next turn of the event loop
 * (several arrivals, one draw). A one-second tick redraws what ages: "synced
 * 2 s ago", "last heard", the bottom line's message. Writes and their
 * dialogs are in actions.ts.
 */
import type blessed from 'blessed';
import type { Contact } from '../../protocol/contacts/model.ts';
import { ContactsApi } from './remote/api.ts';
import type { LinkedClient } from './remote/link.ts';
import type { Feed, FeedSink, Link, Member, SyncState } from './remote/types.ts';
import { actionFor, barText, CLUSTER_KEYS, FILTER_KEYS, GLOBAL_KEYS, isText, keyName, LIST_KEYS, type Binding, type KeyEvent } from './keys.ts';
import { ClusterState, EventLog, type EventKind } from './model/cluster-state.ts';
import { ContactList } from './model/contact-list.ts';
import { LineEditor } from './model/line-editor.ts';
import type { Theme } from './theme.ts';
import { ContactActions } from './actions.ts';
import { ClusterView } from './views/cluster-view.ts';
import { ContactsView } from './views/contacts-view.ts';
import type { Modal } from './views/dialog.ts';
import { Frame, type Flash, type ViewName } from './views/frame.ts';
import { count, displayText } from './text.ts';

export interface AppOptions {
  screen: blessed.Widgets.Screen;
  theme: Theme;
  feed: Feed;
  client: LinkedClient;
  /** Called once when the user quits. */
  onQuit(): void;
  /** A line for the event log at start (e.g. an unknown TERM). */
  notices?: string[];
}

/** How long a message stays in the bottom line. */
const FLASH_MS = 5000;
/** Contacts indexed per slice of idle time: a few ms (a key pressed meanwhile waits for the slice). */
const INDEX_SLICE = 500;
/** Two clicks on one row within this time open it. */
const DOUBLE_CLICK_MS = 500;

export class App {
  readonly contacts = new ContactList();
  readonly cluster = new ClusterState();
  readonly events = new EventLog();
  readonly api: ContactsApi;
  view: ViewName = 'contacts';
  /** Typing a filter after `/`. */
  filtering = false;
  readonly filterEditor = new LineEditor();
  sync: SyncState = { kind: 'loading' };
  private readonly modals: Modal[] = [];
  private flashMsg: Flash | undefined;
  private loaded = false;
  private renderQueued = false;
  private indexing = false;
  private ticker: NodeJS.Timeout | undefined;
  private lastClick = { index: -1, atMs: 0 };
  /** The server of the first attach, logged once the member list can name it. */
  private attachToLog: string | undefined;
  private quitting = false;
  private readonly frame: Frame;
  private readonly contactsView: ContactsView;
  private readonly clusterView: ClusterView;
  readonly actions: ContactActions;
  readonly screen: blessed.Widgets.Screen;
  readonly theme: Theme;

  constructor(private readonly opts: AppOptions) {
    this.screen = opts.screen;
    this.theme = opts.theme;
    this.api = new ContactsApi(opts.client);
    this.frame = new Frame(this.screen, this.theme);
    this.contactsView = new ContactsView(this.screen, this.theme, {
      click: (i) => this.clickRow(i),
      wheel: (d) => this.wheelList(d),
    });
    this.clusterView = new ClusterView(this.screen, this.theme, (d) => this.scrollLog(d * 3));
    this.actions = new ContactActions(this);
    this.frame.top.on('click', (data: { x: number }) => {
      const tab = this.frame.tabs.find((t) => data.x >= t.from && data.x < t.to);
      if (tab) this.switchTo(tab.view);
    });
    this.screen.on('keypress', (ch: string | undefined, key: KeyEvent) => {
      const name = keyName(ch, key);
      if (name !== undefined) this.key(name);
    });
    this.screen.on('resize', () => this.render());
    opts.client.onChange((link, prev) => this.onLink(link, prev));
    for (const n of opts.notices ?? []) {
      this.log('info', n);
      this.flash('warn', n);
    }
  }

  /** Starts the feed and the tick, and draws the first screen. */
  start(): void {
    this.render();
    this.opts.feed.start(this.sink);
    this.ticker = setInterval(() => this.render(), 1000);
  }

  /** Stops the feed and the tick (the caller destroys the screen). */
  stop(): void {
    this.opts.feed.stop();
    clearInterval(this.ticker);
  }

  get link(): Link {
    return this.opts.client.link;
  }

  /** True when no server answers: the data on screen is the last read, and writes are refused. */
  get offline(): boolean {
    return this.link.kind === 'offline';
  }

  get feed(): Feed {
    return this.opts.feed;
  }

  /** A member's name for a node id or address, if known. */
  readonly nameOf = (idOrAddress: string): string | undefined => this.cluster.nameOf(idOrAddress);

  // ---- what the feed tells us ----

  private readonly sink: FeedSink = {
    snapshot: (contacts, _atMs) => {
      const diff = this.contacts.replaceAll(contacts);
      if (!this.loaded) {
        const n = this.contacts.conflicted();
        this.log('info', `${count(contacts.length)} contacts loaded${n > 0 ? `; ${n} hold conflicts (n jumps to the next)` : ''}`);
      } else {
        for (const c of diff.added) this.noteConflicts(undefined, c);
        for (const [before, after] of diff.changed) this.noteConflicts(before, after);
      }
      this.loaded = true;
      this.afterDataChange();
    },
    changed: (c) => {
      const before = this.contacts.get(c.id);
      if (this.contacts.upsert(c)) {
        this.noteConflicts(before, c);
        this.afterDataChange();
      }
    },
    removed: (id) => {
      if (this.contacts.remove(id)) this.afterDataChange();
    },
    members: (members: readonly Member[], atMs) => {
      const events = this.cluster.update(members, atMs);
      if (this.attachToLog !== undefined) this.log('info', `attached to ${this.cluster.describe(this.attachToLog)}`);
      this.attachToLog = undefined;
      for (const e of events) this.events.add(e);
      this.renderSoon();
    },
    sync: (state) => {
      this.sync = state;
      this.renderSoon();
    },
    note: (kind, message) => {
      this.log(kind, message);
      this.renderSoon();
    },
  };

  private noteConflicts(before: Contact | undefined, after: Contact): void {
    const had = new Set((before?.conflicts ?? []).map((f) => f.field + (f.uid ?? '')));
    const fresh = after.conflicts.filter((f) => !had.has(f.field + (f.uid ?? '')));
    if (fresh.length === 0) return;
    const nodes = [...new Set(fresh.flatMap((f) => f.values.map((v) => this.nameOf(v.origin) ?? v.origin.slice(0, 8))))];
    this.log('conflict', `conflict on ${displayText(after.formattedName)}: ${fresh.map((f) => f.field).join(', ')} written concurrently at ${nodes.join(' and ')}`);
  }

  private afterDataChange(): void {
    this.actions.dataChanged();
    this.indexSoon();
    this.renderSoon();
  }

  /** Builds the search index in idle slices, so the first `/` at 100,000 contacts does not wait for it. */
  private indexSoon(): void {
    if (this.indexing) return;
    this.indexing = true;
    const slice = (): void => {
      if (this.quitting) return;
      if (this.contacts.indexSome(INDEX_SLICE)) setImmediate(slice);
      else this.indexing = false;
    };
    setImmediate(slice);
  }

  // ---- where we are attached ----

  private onLink(link: Link, prev: Link): void {
    const d = (a: string) => this.cluster.describe(a);
    if (link.kind === 'attached') {
      // The first answer comes before the member list that names the server: say it once that is in.
      if (prev.kind === 'connecting') this.attachToLog = link.server;
      else if (prev.kind === 'offline') {
        this.log('info', `a server answers again: attached to ${d(link.server)}`);
        this.flash('ok', `back online: attached to ${d(link.server)}`);
      } else {
        const from = prev.kind === 'moving' ? prev.from : prev.kind === 'attached' ? prev.server : '?';
        this.log('failover', `failover: now attached to ${d(link.server)}; ${this.cluster.short(from)} stopped answering`);
        this.flash('warn', `moved to ${this.cluster.short(link.server)}: ${this.cluster.short(from)} stopped answering`);
      }
    } else if (link.kind === 'moving') {
      this.log('failover', `${d(link.from)} is not answering; trying ${d(link.to)}`);
    } else if (link.kind === 'offline' && prev.kind !== 'offline') {
      this.log('offline', `no server answers (tried ${link.tried.map(d).join(', ')}); showing the last data read-only and retrying`);
      this.flash('error', 'no server answers: read-only until one does');
    }
    this.actions.linkChanged(link);
    this.renderSoon();
  }

  // ---- helpers for actions.ts ----

  log(kind: EventKind, text: string): void {
    this.events.add({ atMs: Date.now(), kind, text });
  }

  flash(kind: Flash['kind'], text: string): void {
    this.flashMsg = { kind, text, untilMs: Date.now() + FLASH_MS };
  }

  pushModal(m: Modal): void {
    this.modals.push(m);
  }

  /** Closes dialog `m` (and any above it). */
  closeModal(m: Modal): void {
    const i = this.modals.indexOf(m);
    if (i < 0) return;
    for (const x of this.modals.splice(i)) x.destroy();
  }

  get topModal(): Modal | undefined {
    return this.modals[this.modals.length - 1];
  }

  get openModals(): readonly Modal[] {
    return this.modals;
  }

  // ---- keys ----

  /** Handles one named key (keys.ts) and redraws. */
  key(name: string): void {
    if (this.quitting) return;
    if (name === 'C-c') return this.actions.quit();
    if (this.frame.checkSize() && name !== 'q') return this.render();
    const modal = this.topModal;
    if (modal) {
      void modal.key(name);
      return this.render();
    }
    if (this.filtering) this.filterKey(name);
    else if (!this.viewKey(name)) this.globalKey(name);
    this.render();
  }

  private globalKey(name: string): void {
    switch (actionFor(GLOBAL_KEYS, name)) {
      case 'switchView': return this.switchTo(this.view === 'contacts' ? 'cluster' : 'contacts');
      case 'viewContacts': return this.switchTo('contacts');
      case 'viewCluster': return this.switchTo('cluster');
      case 'refresh':
        this.opts.feed.refresh();
        return this.flash('info', 'reading everything again…');
      case 'redraw':
        this.screen.realloc();
        return;
      case 'help': return this.actions.help();
      case 'quit': return this.actions.quit();
    }
  }

  /** The current view's keys; false when the key is not one of them. */
  private viewKey(name: string): boolean {
    if (this.view === 'cluster') {
      const page = this.clusterView.logRows() - 1;
      switch (actionFor(CLUSTER_KEYS, name)) {
        case 'down': this.scrollLog(-1); return true;
        case 'up': this.scrollLog(1); return true;
        case 'pageDown': this.scrollLog(-page); return true;
        case 'pageUp': this.scrollLog(page); return true;
        case 'first': this.clusterView.logBack = Number.MAX_SAFE_INTEGER; return true;
        case 'last': this.clusterView.logBack = 0; return true;
      }
      return false;
    }
    const list = this.contacts;
    const page = Math.max(1, this.contactsView.rows(list.query !== '') - 1);
    switch (actionFor(LIST_KEYS, name)) {
      case 'down': list.moveBy(1); return true;
      case 'up': list.moveBy(-1); return true;
      case 'pageDown': list.moveBy(page); list.top += page; return true;
      case 'pageUp': list.moveBy(-page); list.top -= page; return true;
      case 'first': list.moveTo(0); return true;
      case 'last': list.moveTo(list.size - 1); return true;
      case 'filter':
        this.filtering = true;
        this.filterEditor.set(list.query);
        return true;
      case 'clearFilter': list.setQuery(''); return true;
      case 'open': this.actions.openCard(); return true;
      case 'add': this.actions.add(); return true;
      case 'edit': this.actions.edit(); return true;
      case 'delete': this.actions.remove(); return true;
      case 'conflicts': this.actions.conflicts(); return true;
      case 'nextConflict':
        if (!list.nextConflict()) this.flash('info', 'no contact holds conflicts');
        return true;
      case 'history': this.actions.history(); return true;
    }
    return false;
  }

  private filterKey(name: string): void {
    const ed = this.filterEditor;
    switch (actionFor(FILTER_KEYS, name)) {
      case 'acceptFilter':
        this.filtering = false;
        if (ed.text.trim() === '') this.contacts.setQuery('');
        return;
      case 'clearFilter':
        this.filtering = false;
        this.contacts.setQuery('');
        return;
      case 'backspace':
        if (ed.text === '') this.filtering = false;
        ed.backspace();
        break;
      case 'killToStart': ed.killToStart(); break;
      case 'killWord': ed.killWord(); break;
      default:
        if (name === 'left') ed.left();
        else if (name === 'right') ed.right();
        else if (name === 'home' || name === 'C-a') ed.home();
        else if (name === 'end' || name === 'C-e') ed.end();
        else if (isText(name)) ed.insert(name);
        else return;
    }
    this.contacts.setQuery(ed.text);
  }

  private switchTo(view: ViewName): void {
    this.view = view;
    this.filtering = false;
    this.render();
  }

  private scrollLog(linesBack: number): void {
    this.clusterView.logBack = Math.max(0, this.clusterView.logBack + linesBack);
    this.render();
  }

  // ---- mouse ----

  private clickRow(index: number): void {
    if (this.topModal || this.view !== 'contacts') return;
    const now = Date.now();
    const again = this.lastClick.index === index && now - this.lastClick.atMs < DOUBLE_CLICK_MS;
    this.lastClick = { index, atMs: now };
    this.filtering = false;
    this.contacts.moveTo(index);
    if (again) this.actions.openCard();
    this.render();
  }

  private wheelList(direction: 1 | -1): void {
    if (this.topModal) return;
    this.contacts.moveBy(direction * 3);
    this.render();
  }

  // ---- drawing ----

  /** Draws on the next turn of the event loop (many data events, one draw). */
  renderSoon(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    setImmediate(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  /** Draws everything now. */
  render(): void {
    if (this.quitting) return;
    const now = Date.now();
    const small = this.frame.checkSize();
    const bars = !small;
    this.contactsView.show(bars && this.view === 'contacts');
    this.clusterView.show(bars && this.view === 'cluster');
    if (!small) {
      const counts = this.cluster.counts();
      this.frame.renderTop({
        view: this.view, link: this.link, describe: (a) => this.cluster.describe(a), short: (a) => this.cluster.short(a),
        alive: counts.alive, suspect: counts.suspect, sync: this.sync, nowMs: now,
      });
      if (this.view === 'contacts') {
        this.contactsView.render(this.contacts, {
          filtering: this.filtering, filterCursor: this.filterEditor.cursor, loading: !this.loaded, readOnly: this.offline,
        }, this.nameOf);
      } else {
        this.clusterView.render(this.cluster, this.events, this.link, now);
      }
      for (const m of this.modals) m.render();
      this.frame.renderBottom(barText(this.keyTables()), this.flashMsg, now);
    }
    for (const m of this.modals) m.setVisible(!small);
    this.screen.render();
  }

  /** The key tables that apply now (for the bottom line). */
  private keyTables(): (readonly Binding[])[] {
    const modal = this.topModal;
    if (modal) return [modal.keys];
    if (this.filtering) return [FILTER_KEYS];
    return [this.view === 'contacts' ? LIST_KEYS : CLUSTER_KEYS, GLOBAL_KEYS];
  }

  /** Ends the app: the caller's onQuit restores the terminal. */
  quitNow(): void {
    if (this.quitting) return;
    this.quitting = true;
    this.stop();
    this.opts.onQuit();
  }
}
