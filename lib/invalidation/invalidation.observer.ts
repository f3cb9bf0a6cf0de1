import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { EntityTagRegistry } from '../display-control/entity-tags.registry.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { OutputCacheProvider } from '../provider/output-cache.provider.js';
import type {
  EntityChange,
  EntityChangeEvent,
  EntityObserver,
  SettingChangeEvent,
  SettingObserver,
} from './entity-change.js';
import { TypeOrmInvalidationSubscriber } from './typeorm-invalidation.subscriber.js';

interface SettingRule {
  pattern: string;
  matches: (key: string) => boolean;
  observer: SettingObserver | undefined;
}

/**
 * Turns data changes into evictions (as Smartstore's `IOutputCacheInvalidationObserver`). One
 * singleton; the module hooks it into every TypeORM `DataSource`, so entity inserts, updates and
 * deletes evict the right pages after their transaction commits. Apps add their own rules in
 * `onModuleInit`.
 *
 * Default per change: the entity's tags (the same {@link EntityTagRegistry} that
 * `DisplayControl.announce` uses), plus its type tag (`Product`) on insert, delete, soft-delete
 * and recover; a bulk write (ids unknown) evicts the type's pages: `Product` and `Product:*`.
 *
 * @example
 * ```ts
 * onModuleInit() {
 *   this.observer.observeEntity(Product, async (event) => {
 *     if (event.changedColumns.every((c) => c === 'viewCount')) event.handled = true; // not shown
 *   });
 *   this.observer.observeSetting('CatalogSettings.*'); // evicts everything
 *   this.observer.observeSetting('Theme.Color', ({ cache }) => cache.invalidateByRoute('Home/index'));
 * }
 * ```
 */
@Injectable()
export class InvalidationObserver implements OnApplicationBootstrap {
  private readonly logger = new Logger('OutputCache');
  private readonly entityObservers = new Map<Function | string, EntityObserver[]>();
  private readonly settingRules: SettingRule[] = [];
  private readonly subscriber = new TypeOrmInvalidationSubscriber(this);

  constructor(
    private readonly cache: OutputCacheProvider,
    private readonly tags: EntityTagRegistry,
    private readonly discovery: DiscoveryService,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
  ) {}

  /** Hooks into the app's DataSources (those among its providers, and the `dataSources` option). */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.invalidation) return;
    const found = new Set<unknown>(this.options.dataSources);
    // Recognised by shape: the library never loads TypeORM itself (an app without it has none).
    for (const wrapper of this.discovery.getProviders()) {
      if (isDataSource(wrapper.instance)) found.add(wrapper.instance);
    }
    for (const dataSource of found) this.attach(dataSource as DataSource);
  }

  /** Observes one more DataSource (e.g. one created after bootstrap). */
  attach(dataSource: DataSource): void {
    const subscribers = dataSource.subscribers as unknown[];
    if (!Array.isArray(subscribers)) {
      throw new TypeError('InvalidationObserver.attach() needs a TypeORM DataSource');
    }
    if (!subscribers.includes(this.subscriber)) subscribers.push(this.subscriber);
  }

  /** Runs `observer` on every change of `entityClass` (and subclasses), in registration order. */
  observeEntity<T>(
    entityClass: abstract new (...args: any[]) => T,
    observer: EntityObserver<T>,
  ): void {
    const list = this.entityObservers.get(entityClass) ?? [];
    list.push(observer as EntityObserver);
    this.entityObservers.set(entityClass, list);
  }

  /**
   * Runs `observer` when a setting whose key matches `pattern` (exact, or `Prefix.*`) changes
   * value; without an observer such a change evicts everything.
   */
  observeSetting(pattern: string, observer?: SettingObserver): void {
    const matches = pattern.endsWith('.*')
      ? (
          (prefix) => (key: string) =>
            key.startsWith(prefix)
        )(pattern.slice(0, -1))
      : (key: string) => key === pattern;
    this.settingRules.push({ pattern, matches, observer });
  }

  /**
   * Applies committed changes: observers first, then the default tags of every change that no
   * observer handled, evicted in one call.
   */
  async apply(changes: readonly EntityChange[]): Promise<void> {
    const tags = new Set<string>();
    let all = false;
    for (const change of changes) {
      try {
        if (await this.applySetting(change)) all = true;
        if (await this.runEntityObservers(change)) continue;
        for (const tag of this.defaultTags(change)) tags.add(tag);
      } catch (error) {
        // An observer failed: fall back to the safe default for this change.
        this.logger.error(`invalidation of ${change.entityName} failed: ${String(error)}`);
        for (const tag of this.defaultTags(change)) tags.add(tag);
      }
    }
    if (all) {
      await this.cache.invalidateAll();
      return;
    }
    if (tags.size > 0) await this.cache.invalidateByTag(...tags);
  }

  /** The tags one change evicts when no observer handles it. */
  defaultTags(change: EntityChange): string[] {
    const typeTag = change.entityName;
    if (!change.entity || change.id === undefined) return [typeTag, `${typeTag}:*`];
    const tags = new Set(this.tags.tagsOf(change.entity, change.target, change.id));
    // The row as it was: a related entity may have pointed elsewhere before the change.
    if (change.databaseEntity) {
      for (const tag of this.tags.tagsOf(change.databaseEntity, change.target, change.id)) {
        tags.add(tag);
      }
    }
    if (change.kind !== 'update') tags.add(typeTag);
    return [...tags];
  }

  private async runEntityObservers(change: EntityChange): Promise<boolean> {
    const observers = this.observersOf(change.target);
    if (observers.length === 0) return false;
    const event: EntityChangeEvent = {
      kind: change.kind,
      entity: change.entity,
      changedColumns: change.changedColumns,
      cache: this.cache,
      handled: false,
    };
    for (const observer of observers) {
      await observer(event);
      if (event.handled) return true;
    }
    return false;
  }

  private observersOf(target: Function | string): EntityObserver[] {
    if (typeof target === 'string') return this.entityObservers.get(target) ?? [];
    const found: EntityObserver[] = [];
    const chain: Function[] = [];
    for (let c: any = target; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
      chain.unshift(c);
    }
    for (const c of chain) found.push(...(this.entityObservers.get(c) ?? []));
    return found;
  }

  /** Runs the setting observers of a settings entity change; true when everything must go. */
  private async applySetting(change: EntityChange): Promise<boolean> {
    const source = this.options.settings;
    if (!source || this.settingRules.length === 0 || change.target !== source.entity) return false;
    const keyColumn = source.keyColumn ?? 'key';
    const valueColumn = source.valueColumn ?? 'value';
    const key: unknown = change.entity?.[keyColumn] ?? change.databaseEntity?.[keyColumn];
    if (typeof key !== 'string') {
      // A bulk write to the settings: which keys changed is not known.
      return this.settingRules.some((rule) => !rule.observer);
    }
    const oldValue = change.databaseEntity?.[valueColumn];
    const newValue = change.kind === 'delete' ? undefined : change.entity?.[valueColumn];
    if (
      change.kind === 'update' &&
      change.databaseEntity !== undefined &&
      valueColumn in (change.entity ?? {}) &&
      String(oldValue) === String(newValue)
    ) {
      return false;
    }
    let all = false;
    const event: SettingChangeEvent = {
      kind: change.kind,
      key,
      oldValue: oldValue === undefined ? undefined : String(oldValue),
      newValue: newValue === undefined ? undefined : String(newValue),
      cache: this.cache,
      handled: false,
    };
    for (const rule of this.settingRules) {
      if (!rule.matches(key)) continue;
      if (!rule.observer) {
        all = true;
        continue;
      }
      await rule.observer(event);
      if (event.handled) break;
    }
    return all;
  }
}

/** A TypeORM DataSource, by shape (`instanceof` would need TypeORM loaded, and one copy of it). */
function isDataSource(value: unknown): boolean {
  const candidate = value as Partial<DataSource> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    Array.isArray(candidate.subscribers) &&
    typeof candidate.createQueryRunner === 'function' &&
    typeof candidate.getMetadata === 'function'
  );
}
