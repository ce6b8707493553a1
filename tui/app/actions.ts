/**
 * What the user does to contacts: add, edit, delete, resolve conflicts,
 * open a card, read a history; and the dialogs that go with them.
 *
 * How this works. Each action opens a dialog (views/) on the app's stack
 * and, when confirmed, sends one write through ContactsApi. A write keeps
 * its op id for as long as the user retries the same thing, so one that
 * reached a server which then died is applied once however often it is
 * sent (the client library re-sends it to the next server by itself; the
 * user's Ctrl-S after "no server answered" re-sends it too). While no
 * server answers, new writes are refused with a message (the screen is
 * read-only), but a form already open stays open with what was typed.
 * Answers update the list at once; the feed confirms them later.
 */
import { isNoServer, isRequestError } from './remote/errors.ts';
import type { Contact, FieldConflict } from '../../protocol/contacts/model.ts';
import { newId, resolveOp } from '../writes.ts';
import { historyLines } from '../format.ts';
import type { App } from './app.ts';
import type { Link } from './remote/types.ts';
import { CARD_KEYS, helpLines, PAGER_KEYS } from './keys.ts';
import { ContactForm } from './model/contact-form.ts';
import { paint } from './theme.ts';
import { displayText, escapeTags, fit } from './text.ts';
import { ConfirmDialog } from './views/confirm.ts';
import { ConflictDialog } from './views/conflict-dialog.ts';
import { detailLines } from './views/details.ts';
import { FormDialog } from './views/form-dialog.ts';
import { PagerDialog } from './views/pager.ts';

/** An error as one line for the user. */
function errorText(err: unknown): string {
  if (isNoServer(err)) return `no server answered (tried ${err.tried.join(', ')})`;
  if (isRequestError(err)) return displayText(err.message);
  return displayText((err as Error).message ?? String(err));
}

export class ContactActions {
  constructor(private readonly app: App) {}

  add(): void {
    if (this.refuseOffline('add a contact')) return;
    this.openForm(new ContactForm(undefined));
  }

  edit(c = this.app.contacts.selected()): void {
    if (!c) return this.app.flash('info', 'no contact selected');
    if (this.refuseOffline('edit')) return;
    this.openForm(new ContactForm(c));
  }

  remove(c = this.app.contacts.selected()): void {
    if (!c) return this.app.flash('info', 'no contact selected');
    if (this.refuseOffline('delete')) return;
    const opId = newId();
    this.confirm('Delete', `Delete ${displayText(c.formattedName)}?`, () => void this.sendDelete(c, opId));
  }

  conflicts(c = this.app.contacts.selected()): void {
    if (!c) return this.app.flash('info', 'no contact selected');
    if (c.conflicts.length === 0) return this.app.flash('info', `${displayText(c.formattedName)} holds no conflicts`);
    const { app } = this;
    let attempt: { key: string; opId: string } | undefined;
    const dialog: ConflictDialog = new ConflictDialog(app.screen, app.theme, c, app.nameOf, {
      close: () => app.closeModal(dialog),
      resolve: (contact, conflict, value) => {
        const key = JSON.stringify([contact.seen, conflict.field, conflict.uid, value]);
        if (attempt?.key !== key) attempt = { key, opId: newId() };
        void this.sendResolve(dialog, contact, conflict, value, attempt.opId);
      },
    });
    app.pushModal(dialog);
  }

  history(c = this.app.contacts.selected()): void {
    if (!c) return this.app.flash('info', 'no contact selected');
    const { app } = this;
    let lines: string[] = ['reading the history…'];
    const pager: PagerDialog = new PagerDialog(app.screen, app.theme, {
      title: `History of ${displayText(c.formattedName)}`, keys: PAGER_KEYS, maxCols: 100,
      lines: (cols) => lines.map((l) => escapeTags(fit(l, cols))),
      onAction: (a) => a === 'close' && app.closeModal(pager),
    });
    app.pushModal(pager);
    app.api.history(c.id).then(
      (h) => {
        lines = h.entries.length === 0 ? ['no writes remembered'] : historyLines(h);
      },
      (err: unknown) => {
        lines = isRequestError(err) && err.code === 'unknown-op'
          ? ['This server does not serve history (it predates the "history" op).', 'The contact\'s card (Enter) shows its writes by node.']
          : [`could not read the history: ${errorText(err)}`];
      },
    ).finally(() => app.render());
  }

  openCard(c = this.app.contacts.selected()): void {
    if (!c) return;
    const { app } = this;
    const id = c.id;
    const pager: PagerDialog = new PagerDialog(app.screen, app.theme, {
      title: displayText(c.formattedName), keys: CARD_KEYS, maxCols: 90,
      lines: (cols) => {
        const now = app.contacts.get(id);
        if (!now) return [paint(app.theme, 'yellow', fit('This contact was deleted.', cols))];
        return detailLines(now, cols, app.theme, app.nameOf, true);
      },
      onAction: (action) => {
        const now = app.contacts.get(id);
        if (action === 'close') return app.closeModal(pager);
        if (!now) return app.flash('info', 'this contact was deleted');
        if (action === 'edit') this.edit(now);
        else if (action === 'delete') this.remove(now);
        else if (action === 'conflicts') this.conflicts(now);
        else if (action === 'history') this.history(now);
      },
    });
    app.pushModal(pager);
  }

  help(): void {
    const { app } = this;
    const pager: PagerDialog = new PagerDialog(app.screen, app.theme, {
      title: 'Keys', keys: PAGER_KEYS, maxCols: 90,
      lines: (cols) => helpLines().map((l) => escapeTags(fit(l, cols))),
      onAction: (a) => a === 'close' && app.closeModal(pager),
    });
    app.pushModal(pager);
  }

  /** Quits, after asking if a form holds unsaved changes. */
  quit(): void {
    const dirty = this.app.openModals.some((m) => m instanceof FormDialog && m.form.dirty());
    if (!dirty) return this.app.quitNow();
    if (this.app.topModal instanceof ConfirmDialog) return this.app.quitNow(); // Ctrl-C twice
    this.confirm('Quit', 'Quit and lose the unsaved form?', () => this.app.quitNow());
  }

  /** The feed brought new data: open conflict dialogs show the contact as it is now. */
  dataChanged(): void {
    for (const m of this.app.openModals) {
      if (m instanceof ConflictDialog && !m.busy) {
        const now = this.app.contacts.get(m.contact.id);
        if (now) m.update(now);
      }
    }
  }

  /** Where we are attached changed: a save in flight says where it is going. */
  linkChanged(link: Link): void {
    const d = (a: string) => this.app.cluster.describe(a);
    for (const m of this.app.openModals) {
      if (!(m instanceof FormDialog) || !m.form.saving) continue;
      if (link.kind === 'moving') m.form.message = `(${d(link.from)} is not answering; sending to ${d(link.to)})`;
      else if (link.kind === 'attached') m.form.message = `(sending to ${d(link.server)})`;
    }
  }

  // ---- the form ----

  private openForm(form: ContactForm): void {
    const { app } = this;
    const dialog: FormDialog = new FormDialog(app.screen, app.theme, form, {
      save: () => void this.save(dialog),
      cancel: () => {
        if (!form.dirty()) return app.closeModal(dialog);
        this.confirm('Discard', 'Discard what you typed?', () => app.closeModal(dialog));
      },
    });
    app.pushModal(dialog);
  }

  private async save(dialog: FormDialog): Promise<void> {
    const { app } = this;
    const form = dialog.form;
    if (form.saving) return;
    form.saving = true;
    form.message = '';
    app.render();
    try {
      if (form.uncertain && form.changedSinceAttempt()) {
        // The last save may have landed before its server died: read what is there, so this save follows it.
        const stored = await app.api.get(form.contactId);
        if (stored) form.rebase(stored);
      }
      const built = form.build();
      if (built.kind !== 'write') {
        form.saving = false;
        if (built.kind === 'unchanged') form.message = 'Nothing changed. Esc closes the form.';
        return;
      }
      form.saving = true;
      const answer = await app.api.write('put', built.write.args);
      form.saving = false;
      app.closeModal(dialog);
      const saved = answer.contact ?? undefined;
      if (saved) {
        app.contacts.upsert(saved);
        if (!app.contacts.select(saved.id)) {
          app.contacts.setQuery('');
          app.contacts.select(saved.id);
        }
      }
      app.flash('ok', `${form.mode === 'add' ? 'added' : 'saved'} ${displayText(saved?.formattedName ?? form.value('formattedName'))}${answer.outcome === 'duplicate' ? ' (it had arrived already)' : ''}`);
      app.feed.wrote();
    } catch (err) {
      form.saving = false;
      if (isNoServer(err)) {
        form.settle(true);
        form.message = `${errorText(err)}. Nothing is lost: Ctrl-S sends the same write again (it is applied once).`;
      } else if (isRequestError(err)) {
        form.settle(false);
        if (err.issues.length > 0) form.showIssues(err.issues);
        else if (err.code === 'deleted') form.message = 'This contact was deleted on another node meanwhile. Esc discards the form.';
        else form.message = `refused: ${errorText(err)}`;
      } else {
        form.message = errorText(err);
      }
    } finally {
      app.render();
    }
  }

  // ---- delete and resolve ----

  private async sendDelete(c: Contact, opId: string): Promise<void> {
    const { app } = this;
    const name = displayText(c.formattedName);
    app.flash('info', `deleting ${name}…`);
    app.render();
    try {
      await app.api.write('delete', { opId, id: c.id, read: c.seen });
      app.contacts.remove(c.id);
      app.flash('ok', `deleted ${name}`);
      app.feed.wrote();
    } catch (err) {
      if (isRequestError(err) && err.code === 'not-found') {
        app.contacts.remove(c.id);
        app.flash('ok', `${name} was already deleted`);
      } else {
        app.flash('error', `${name} not deleted: ${errorText(err)}${isNoServer(err) ? '; the list shows what a server holds once one answers' : ''}`);
      }
    } finally {
      app.render();
    }
  }

  private async sendResolve(dialog: ConflictDialog, contact: Contact, conflict: FieldConflict, value: unknown, opId: string): Promise<void> {
    const { app } = this;
    dialog.busy = true;
    dialog.message = 'saving…';
    app.render();
    try {
      const answer = await app.api.write('resolve', { opId, id: contact.id, op: resolveOp(conflict, value), read: contact.seen });
      dialog.busy = false;
      dialog.message = '';
      if (answer.contact) {
        app.contacts.upsert(answer.contact);
        dialog.update(answer.contact);
        if (answer.contact.conflicts.length === 0) {
          app.closeModal(dialog);
          app.flash('ok', `conflicts of ${displayText(contact.formattedName)} resolved`);
        }
      }
      app.log('info', `resolved ${conflict.field} of ${displayText(contact.formattedName)}`);
      app.feed.wrote();
    } catch (err) {
      dialog.busy = false;
      dialog.message = isNoServer(err) ? `${errorText(err)}; Enter tries again (the same write, applied once)` : `refused: ${errorText(err)}`;
    } finally {
      app.render();
    }
  }

  // ---- helpers ----

  private confirm(title: string, question: string, yes: () => void): void {
    const { app } = this;
    const dialog: ConfirmDialog = new ConfirmDialog(app.screen, app.theme, title, question, (ok) => {
      app.closeModal(dialog);
      if (ok) yes();
    });
    app.pushModal(dialog);
  }

  private refuseOffline(what: string): boolean {
    if (!this.app.offline) return false;
    this.app.flash('error', `cannot ${what}: no server answers (read-only until one does)`);
    return true;
  }
}
