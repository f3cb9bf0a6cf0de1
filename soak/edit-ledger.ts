/** An edit whose commit returned: from then on, its version (or a later one) must show. */
export interface CommittedEdit {
  /** `p7` for product 7, `s` for the store name setting. */
  subject: string;
  version: number;
  /** When the edit's response arrived (`performance.now()` ms). */
  at: number;
  instance: string;
  store: 'tiered' | 'redis';
}

/** What a page showed against what it had to show. */
export interface VersionCheck {
  subject: string;
  seen: number;
  /** The newest version committed before the request was sent. */
  required: number;
  /** The oldest edit the page missed: the one that made it stale. */
  missed: CommittedEdit;
}

/**
 * The version markers written by the soak's admin (`[p7v12]` in product names, `[s3]` in the
 * store name), and the edits committed so far, in order. Each subject is edited by one worker
 * in sequence, so versions rise with `at`.
 */
export class EditLedger {
  private readonly edits = new Map<string, CommittedEdit[]>();

  record(edit: CommittedEdit): void {
    const list = this.edits.get(edit.subject) ?? [];
    list.push(edit);
    this.edits.set(edit.subject, list);
  }

  /** Every marker in a body whose version is older than what was committed before `sentAt`. */
  stale(body: string, sentAt: number): VersionCheck[] {
    const out: VersionCheck[] = [];
    const seen = new Map<string, number>();
    for (const m of body.matchAll(/\[(p\d+)v(\d+)\]|\[s(\d+)\]/g)) {
      const subject = m[1] ?? 's';
      const version = Number(m[2] ?? m[3]);
      // A page shows one version of a subject; if it showed two, the oldest one counts.
      seen.set(subject, Math.min(seen.get(subject) ?? Infinity, version));
    }
    for (const [subject, version] of seen) {
      const list = this.edits.get(subject);
      if (!list) continue;
      let required = 0;
      let missed: CommittedEdit | undefined;
      for (const edit of list) {
        if (edit.at > sentAt) break;
        required = edit.version;
        if (edit.version > version && !missed) missed = edit;
      }
      if (missed) out.push({ subject, seen: version, required, missed });
    }
    return out;
  }

  /** The newest committed version of a subject. */
  latest(subject: string): number {
    return this.edits.get(subject)?.at(-1)?.version ?? 0;
  }
}
