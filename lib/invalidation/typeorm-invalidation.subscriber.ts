import { Logger } from '@nestjs/common';
import type {
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  QueryRunner,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  UpdateEvent,
} from 'typeorm';
import type { EntityChange, EntityChangeKind } from './entity-change.js';

/** Where committed changes go (the InvalidationObserver). */
export interface ChangeSink {
  apply(changes: readonly EntityChange[]): Promise<void>;
}

/**
 * A TypeORM subscriber for every entity: a change inside a transaction is queued on that
 * transaction's query runner and applied after the outermost commit (a rollback drops it);
 * outside a transaction it is applied as soon as the write completed. Evicting before the commit
 * would let a concurrent request cache the old rows again.
 */
export class TypeOrmInvalidationSubscriber implements EntitySubscriberInterface {
  private readonly logger = new Logger('OutputCache');
  private readonly pending = new WeakMap<QueryRunner, EntityChange[]>();
  /** Applications under way (tests and shutdown can await them). */

  constructor(private readonly sink: ChangeSink) {}

  afterInsert(event: InsertEvent<any>): Promise<void> {
    return this.record(event.queryRunner, 'insert', event.metadata, event.entity, undefined, []);
  }

  afterUpdate(event: UpdateEvent<any>): Promise<void> {
    const changed = (event.updatedColumns ?? []).map((c) => c.propertyName);
    for (const relation of event.updatedRelations ?? []) changed.push(relation.propertyName);
    // A query-builder update reports the values it set, not the columns it changed.
    if (changed.length === 0 && event.entity) changed.push(...Object.keys(event.entity));
    return this.record(
      event.queryRunner,
      'update',
      event.metadata,
      event.entity,
      event.databaseEntity,
      changed,
    );
  }

  afterRemove(event: RemoveEvent<any>): Promise<void> {
    return this.record(
      event.queryRunner,
      'delete',
      event.metadata,
      event.entity ?? event.databaseEntity,
      event.databaseEntity,
      [],
      event.entityId,
    );
  }

  afterSoftRemove(event: SoftRemoveEvent<any>): Promise<void> {
    return this.record(
      event.queryRunner,
      'soft-delete',
      event.metadata,
      event.entity,
      event.databaseEntity,
      [],
      event.entityId,
    );
  }

  afterRecover(event: RecoverEvent<any>): Promise<void> {
    return this.record(
      event.queryRunner,
      'recover',
      event.metadata,
      event.entity,
      event.databaseEntity,
      [],
      event.entityId,
    );
  }

  afterTransactionCommit(event: TransactionCommitEvent): Promise<void> | void {
    const runner = event.queryRunner;
    // A released savepoint is not a commit: wait for the outermost one.
    if (runner.isTransactionActive) return;
    const changes = this.pending.get(runner);
    if (!changes) return;
    this.pending.delete(runner);
    return this.flush(changes);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    // Rolled back to a savepoint: what was queued may still commit; evicting more is harmless.
    if (event.queryRunner.isTransactionActive) return;
    this.pending.delete(event.queryRunner);
  }

  private record(
    runner: QueryRunner | undefined,
    kind: EntityChangeKind,
    metadata: EntityMetadata | undefined,
    entity: Record<string, any> | undefined,
    databaseEntity: Record<string, any> | undefined,
    changedColumns: string[],
    entityId?: unknown,
  ): Promise<void> {
    if (!metadata) return Promise.resolve();
    const change: EntityChange = {
      kind,
      target: metadata.target as Function | string,
      entityName: metadata.name,
      entity: entity && typeof entity === 'object' ? entity : undefined,
      databaseEntity,
      id: idOf(metadata, entity, databaseEntity, entityId),
      changedColumns,
    };
    if (runner?.isTransactionActive) {
      const queue = this.pending.get(runner) ?? [];
      queue.push(change);
      this.pending.set(runner, queue);
      return Promise.resolve();
    }
    return this.flush([change]);
  }

  private flush(changes: EntityChange[]): Promise<void> {
    const applied = this.sink
      .apply(changes)
      .catch((error) => this.logger.error(`eviction after a write failed: ${String(error)}`));
    // Awaited by TypeORM: the write returns once its pages are gone.
    return applied;
  }
}

/** The primary key of the changed row as a tag id (`42`, `1,2`), if it can be known. */
function idOf(
  metadata: EntityMetadata,
  entity: Record<string, any> | undefined,
  databaseEntity: Record<string, any> | undefined,
  entityId: unknown,
): string | undefined {
  const columns = metadata.primaryColumns;
  if (columns.length === 0) return undefined;
  for (const source of [entity, databaseEntity, entityIdObject(metadata, entityId)]) {
    if (!source || typeof source !== 'object') continue;
    const values = columns.map((c) => c.getEntityValue(source));
    if (values.every((v) => v !== undefined && v !== null)) return values.map(String).join(',');
  }
  return undefined;
}

function entityIdObject(
  metadata: EntityMetadata,
  entityId: unknown,
): Record<string, any> | undefined {
  if (entityId === undefined || entityId === null) return undefined;
  if (typeof entityId === 'object') return entityId as Record<string, any>;
  const [primary] = metadata.primaryColumns;
  return metadata.primaryColumns.length === 1 ? { [primary.propertyName]: entityId } : undefined;
}
