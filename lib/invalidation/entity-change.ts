import type { OutputCacheProvider } from '../provider/output-cache.provider.js';

/** What happened to an entity. */
export type EntityChangeKind = 'insert' | 'update' | 'delete' | 'soft-delete' | 'recover';

/** One entity change, as the TypeORM subscriber reports it (applied after commit). */
export interface EntityChange {
  kind: EntityChangeKind;
  /** The entity class (TypeORM metadata target), or its name for non-class entities. */
  target: Function | string;
  /** The entity's metadata name (`Product`). */
  entityName: string;
  /** The entity, or undefined for bulk writes (query builder, `update(criteria)`, `delete(criteria)`). */
  entity: Record<string, any> | undefined;
  /** The row as loaded before the change, when TypeORM had it. */
  databaseEntity: Record<string, any> | undefined;
  /** The entity's primary key (`42`, or `1,2` when composite); undefined when not known. */
  id: string | undefined;
  /** Property names of the changed columns (updates through `save`), else empty. */
  changedColumns: string[];
}

/**
 * What an entity observer gets (as Smartstore's `ObserveEntity`): set `handled = true` to stop
 * later observers and the default eviction.
 */
export interface EntityChangeEvent<T = any> {
  readonly kind: EntityChangeKind;
  /** The changed entity; undefined for bulk writes, whose ids are not known. */
  readonly entity: T | undefined;
  readonly changedColumns: readonly string[];
  /** Evict through this. */
  readonly cache: OutputCacheProvider;
  handled: boolean;
}

/** An app's entity observer. */
export type EntityObserver<T = any> = (event: EntityChangeEvent<T>) => unknown;

/** What a setting observer gets. */
export interface SettingChangeEvent {
  readonly kind: EntityChangeKind;
  readonly key: string;
  readonly oldValue: string | undefined;
  readonly newValue: string | undefined;
  readonly cache: OutputCacheProvider;
  handled: boolean;
}

/** An app's setting observer. */
export type SettingObserver = (event: SettingChangeEvent) => unknown;

/** The `settings` option: which entity holds the app's settings. */
export interface SettingsSource {
  /** The settings entity class. */
  entity: Function;
  /** Property holding the key (`CatalogSettings.ShowProductSku`). Default `key`. */
  keyColumn?: string;
  /** Property holding the value. Default `value`. */
  valueColumn?: string;
}
