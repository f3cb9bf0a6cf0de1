import { Injectable } from '@nestjs/common';

/** Maps one entity to the tags it stands for. */
export type EntityTagHandler<T = any> = (entity: T) => string[];

type Ctor = abstract new (...args: any[]) => any;

interface TypeOrmColumnArgs {
  target: unknown;
  propertyName: string;
  options?: { primary?: boolean };
}

/**
 * Turns entities into tags: a handler registered for the entity's class (or a base class), else
 * `{EntityName}:{id}` from the TypeORM primary columns (joined with `,` when composite), else
 * from an `id` property. The same registry serves `DisplayControl.announce` and eviction, so an
 * entity always maps to the same tags on both sides.
 */
@Injectable()
export class EntityTagRegistry {
  private readonly handlers = new Map<Ctor, EntityTagHandler>();
  private readonly primaryColumns = new WeakMap<object, string[]>();

  /**
   * Registers how an entity class maps to tags, e.g. a `ProductCategory` to its product's and
   * category's tags.
   *
   * @example
   * ```ts
   * registry.register(ProductCategory, (pc) => [`Product:${pc.productId}`, `Category:${pc.categoryId}`]);
   * ```
   */
  register<T>(entityClass: abstract new (...args: any[]) => T, handler: EntityTagHandler<T>): void {
    this.handlers.set(entityClass, handler);
  }

  /**
   * The tags of one entity (empty when it has neither a handler nor an id). `target` and `id`
   * override what the object itself says (a TypeORM event may carry a plain object).
   */
  tagsOf(entity: object, target?: Function | string, id?: string): string[] {
    if (entity === null || typeof entity !== 'object') return [];
    const ctor = (target ?? entity.constructor) as Ctor | string | undefined;
    if (typeof ctor === 'function') {
      for (let c: any = ctor; c && c !== Object; c = Object.getPrototypeOf(c)) {
        const handler = this.handlers.get(c);
        if (handler) return handler(entity);
      }
    }
    const key = id ?? this.idOf(entity, ctor);
    const name = typeof ctor === 'string' ? ctor : ctor?.name || 'Object';
    return key === undefined ? [] : [`${name}:${key}`];
  }

  /** The tag of a whole entity type (`Product`), which list pages announce. */
  typeTag(entityClass: Ctor | string): string {
    return typeof entityClass === 'string' ? entityClass : entityClass.name;
  }

  private idOf(entity: any, ctor: unknown): string | undefined {
    const columns = this.primaryColumnsOf(typeof ctor === 'function' ? ctor : entity.constructor);
    if (columns.length > 0) {
      const values = columns.map((c) => entity[c]);
      if (values.some((v) => v === undefined || v === null)) return undefined;
      return values.map(String).join(',');
    }
    const id = entity.id;
    return id === undefined || id === null ? undefined : String(id);
  }

  private primaryColumnsOf(ctor: any): string[] {
    if (!ctor || ctor === Object) return [];
    let columns = this.primaryColumns.get(ctor);
    if (columns) return columns;
    const storage = (globalThis as any).typeormMetadataArgsStorage as
      { columns: TypeOrmColumnArgs[] } | undefined;
    const chain: unknown[] = [];
    for (let c = ctor; c && c !== Object; c = Object.getPrototypeOf(c)) chain.push(c);
    columns = storage
      ? storage.columns
          .filter((col) => chain.includes(col.target) && col.options?.primary)
          .map((col) => col.propertyName)
      : [];
    this.primaryColumns.set(ctor, columns);
    return columns;
  }
}
